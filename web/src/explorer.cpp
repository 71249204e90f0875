#include "explorer.hpp"

#include <GLES3/gl3.h>
#include <emscripten/emscripten.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "dida/version.hpp"
#include "imgui.h"

namespace dida::web {
namespace {

ImU32 class_colour(int k) {
  static const ImU32 kPalette[10] = {IM_COL32(31, 119, 180, 255), IM_COL32(255, 127, 14, 255), IM_COL32(44, 160, 44, 255),
                                     IM_COL32(214, 39, 40, 255),  IM_COL32(148, 103, 189, 255), IM_COL32(140, 86, 75, 255),
                                     IM_COL32(227, 119, 194, 255), IM_COL32(127, 127, 127, 255), IM_COL32(188, 189, 34, 255),
                                     IM_COL32(23, 190, 207, 255)};
  return kPalette[((k % 10) + 10) % 10];
}
const ImU32 kSourceColour = IM_COL32(90, 180, 255, 255), kTargetColour = IM_COL32(255, 170, 60, 255);
const ImU32 kUserColour = IM_COL32(255, 235, 80, 255);  // your images' stars
const ImVec4 kFocusColour(1.f, 0.85f, 0.3f, 1.f);        // the window a chapter points at

}  // namespace

std::string Explorer::load(const std::string& config_text, std::vector<std::uint8_t> weights,
                           const std::vector<std::uint8_t>& samples, const std::string& origin) {
  const std::string error = m_.load(config_text, std::move(weights), samples, origin);
  if (!error.empty()) return error;
  atlas_stale_ = true;  // uploaded at the next frame: a model can load before WebGL is set up
  // The model side by side stays only on the same samples (the same pair).
  auto pair = [](const ExplorerModel& mm) {
    const auto d = mm.model().card().value("data", nlohmann::json::object());
    return d.value("source", "") + ">" + d.value("target", "");
  };
  if (other_ && (!other_->loaded() || pair(*other_) != pair(m_) || other_->samples().images.size() != m_.samples().images.size()))
    close_compare();
  return "";
}

void Explorer::upload_swap() {
  // New cells from the core while ONNX Runtime Web is the engine: the page computes its own with
  // swap.onnx (it reads the rows and columns from the state and calls dida_set_ort_swap).
  if (swap_texture_.update(m_.swap_version(), m_.swap_pixels(), static_cast<int>(m_.swap_rows().size()),
                           static_cast<int>(m_.swap_cols().size()), m_.samples().images) &&
      m_.engine() == kOrt && !m_.ort_swap_ready())
    emscripten_run_script("window.dida && window.dida.ortSwap && window.dida.ortSwap()");
}

void Explorer::set_models(std::vector<std::string> names, int current) {
  model_names_ = std::move(names);
  model_index_ = current;
}

void Explorer::draw_engines() {
  const int n = m_.samples().images.size();
  if (!m_.predicted_all()) {  // the engines are compared on all samples: the switch comes when the core has them
    ImGui::Text("core (wasm): predicting, %d of %d images", m_.predicted_count(), n);
    return;
  }
  ImGui::TextUnformatted("engine:");
  ImGui::SameLine();
  if (ImGui::RadioButton("core (wasm)", m_.engine() == kCore) && m_.engine() != kCore) {
    emscripten_run_script("window.dida && window.dida.setEngine('core')");
  }
  ImGui::SameLine();
  if (ImGui::RadioButton("ONNX Runtime Web", m_.engine() == kOrt) && m_.engine() != kOrt) {
    emscripten_run_script("window.dida && window.dida.setEngine('ort')");
  }
  ImGui::Text("core (wasm): %d images in %.1f ms", n, m_.core_outputs().ms);
  if (m_.ort_outputs().ready) {
    ImGui::Text("ONNX Runtime Web: %d images in %.1f ms (%d thread%s)", n, m_.ort_outputs().ms, m_.ort_threads(), m_.ort_threads() == 1 ? "" : "s");
    const bool ok = m_.engine_max_diff() < 1e-4;
    ImGui::TextColored(ok ? ImVec4(0.4f, 0.9f, 0.4f, 1) : ImVec4(1, 0.5f, 0.4f, 1), "max |core - ORT| = %.2e (probs, z_inv, z_spe; relative above 1)",
                       m_.engine_max_diff());
  } else {
    ImGui::TextDisabled("ONNX Runtime Web: %s", m_.ort_status().c_str());
  }
}

void Explorer::draw_swap() {
  const Domain& d = m_.samples().images;
  const int r = static_cast<int>(m_.swap_rows().size()), c = static_cast<int>(m_.swap_cols().size());
  upload_swap();
  if (!swap_texture_.ready() || m_.swap_pixels().empty() || r == 0 || c == 0) return;
  const float cell = S(56.f);
  const float aw = static_cast<float>(atlas_cols_ * d.width);
  const float ah = static_cast<float>(((d.size() + atlas_cols_ - 1) / atlas_cols_) * d.height);
  auto thumb = [&](int i) {
    if (i >= d.size()) return user_thumb(i - d.size(), cell);  // one of your images
    const ImVec2 uv0((i % atlas_cols_) * d.width / aw, (i / atlas_cols_) * d.height / ah);
    ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(texture_)), ImVec2(cell, cell), uv0,
                 ImVec2(uv0.x + d.width / aw, uv0.y + d.height / ah));
  };
  ImGui::TextWrapped("Each cell is R(z_inv(row), z_spe(column)): the content of a source sample in the style of a "
                     "target sample. Select a sample, then:");
  if (ImGui::Button("use selected as content row")) m_.use_selected_as_row();
  ImGui::SameLine();
  if (ImGui::Button("use selected as style column")) m_.use_selected_as_column();
  ImGui::Dummy(ImVec2(cell, cell));
  for (int j = 0; j < c; ++j) {
    ImGui::SameLine();
    thumb(m_.swap_cols()[static_cast<std::size_t>(j)]);
  }
  for (int i = 0; i < r; ++i) {
    thumb(m_.swap_rows()[static_cast<std::size_t>(i)]);
    for (int j = 0; j < c; ++j) {
      ImGui::SameLine();
      swap_texture_.draw(i, j, cell);
    }
  }
  const auto& sr = m_.swap_readout();
  ImGui::Text("core (wasm): %d swaps in %.1f ms", r * c, sr.ms);
  if (m_.ort_swap_ready() && m_.engine() == kOrt)
    ImGui::Text("shown: ONNX Runtime Web (swap.onnx), %.1f ms; max |ORT - core| %.1e", sr.ort_ms, sr.ort_max_diff);
  mixer_view_.draw(m_, cell, thumb);
}

void Explorer::build_atlas() {
  const Domain& d = m_.samples().images;
  const int n = d.size();
  atlas_cols_ = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int rows = (n + atlas_cols_ - 1) / atlas_cols_;
  std::vector<std::uint8_t> rgba(static_cast<std::size_t>(atlas_cols_ * d.width) * rows * d.height * 4, 255);
  for (int i = 0; i < n; ++i) {
    const Image img = d.image(i);
    const int ox = (i % atlas_cols_) * d.width, oy = (i / atlas_cols_) * d.height;
    for (int y = 0; y < d.height; ++y)
      for (int x = 0; x < d.width; ++x)
        for (int c = 0; c < 3; ++c)
          rgba[(static_cast<std::size_t>(oy + y) * atlas_cols_ * d.width + ox + x) * 4 + c] = img.at(y, x, d.channels == 3 ? c : 0);
  }
  if (texture_) glDeleteTextures(1, &texture_);
  glGenTextures(1, &texture_);
  glBindTexture(GL_TEXTURE_2D, texture_);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, atlas_cols_ * d.width, rows * d.height, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba.data());
}

nlohmann::json Explorer::probe_state(int kind) const {
  const auto r = m_.probe(static_cast<ExplorerModel::ProbeKind>(kind));
  return {{"accuracy", r.accuracy}, {"chance", r.chance}, {"progress", r.progress}};
}

nlohmann::json Explorer::user_state() const {
  nlohmann::json out = nlohmann::json::array();
  for (int i = 0; i < static_cast<int>(m_.user_images().size()); ++i) {
    const auto& u = m_.user_images()[static_cast<std::size_t>(i)];
    const auto a = m_.user_xy(i, true), b = m_.user_xy(i, false);
    out.push_back({{"name", u.name}, {"predicted", u.predicted}, {"confidence", u.confidence}, {"ort_predicted", u.ort_predicted},
                   {"inv_xy", {a[0], a[1]}}, {"spe_xy", {b[0], b[1]}}});
  }
  return out;
}

nlohmann::json Explorer::state() const {
  if (!m_.loaded()) return {{"models", model_names_}, {"model_index", model_index_}, {"loaded", false}, {"chapter", walk_.chapter()}};
  const auto& sr = m_.swap_readout();
  const auto& xy = m_.inv_xy();
  return {{"loaded", true},
          {"pair_warning", m_.pair_warning()},
          {"method", m_.model().card().value("method", "")},
          {"samples", m_.samples().images.size()},
          {"predictions", m_.predicted()},
          {"source_accuracy", m_.accuracy(0)},
          {"target_accuracy", m_.accuracy(1)},
          {"forward_ms", m_.core_outputs().ms},
          {"predicted", m_.predicted_count()},
          {"core_ready", m_.predicted_all()},
          {"engine", m_.engine() == kOrt ? "ort" : "core"},
          {"input_shape", {m_.input().n, m_.input().c, m_.input().h, m_.input().w}},
          {"ort", {{"status", m_.ort_status()}, {"ready", m_.ort_outputs().ready}, {"ms", m_.ort_outputs().ms}, {"threads", m_.ort_threads()}}},
          {"engine_max_diff", m_.engine_max_diff()},
          {"model_index", model_index_},
          {"models", model_names_},
          {"selected", m_.selected()},
          {"colour_by_domain", colour_by_domain_},
          {"projection", m_.tsne() ? "tsne" : "pca"},
          // The first points the z_inv plot shows (x0, y0, x1, y1, ...): the layout the view draws.
          {"inv_xy_head", std::vector<float>(xy.begin(), xy.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(8, xy.size())))},
          {"swap", {{"rows", m_.swap_rows()}, {"cols", m_.swap_cols()}, {"min_pair_mean_abs_diff", sr.min_pair_diff},
                    {"min_cell_std", sr.min_cell_std}, {"ms", sr.ms}, {"ort_ms", sr.ort_ms}, {"ort_max_diff", sr.ort_max_diff}}},
          {"mix", m_.mixer().ready() ? nlohmann::json{{"a", m_.mix_column(0)}, {"b", m_.mix_column(1)}, {"t", m_.mixer().mix()},
                                                      {"version", m_.mixer().version()},
                                                      {"z_inv_shape", {m_.mixer().z_inv().n, m_.mixer().z_inv().c, m_.mixer().z_inv().h, m_.mixer().z_inv().w}},
                                                      {"z_spe_shape", {m_.mixer().mixed_z_spe().n, m_.mixer().mixed_z_spe().c, m_.mixer().mixed_z_spe().h, m_.mixer().mixed_z_spe().w}},
                                                      {"shown", m_.engine() == kOrt && m_.ort_mix_ready() ? "ort" : "core"},
                                                      {"ort_ms", m_.mix_ort_ms()}, {"ort_max_diff", m_.mix_ort_max_diff()}}
                                     : nlohmann::json(nullptr)},
          {"tsne_iteration", m_.tsne_iteration()},
          {"chapter", walk_.chapter()},
          {"pad_rect", pad_rect_},
          {"replay", m_.has_replay() ? nlohmann::json{{"epochs", m_.replay().epoch_count()}, {"epoch", m_.replay_epoch()}, {"playing", playing_},
                                                      {"slider_rect", replay_slider_rect_}}
                                     : nlohmann::json(nullptr)},
          {"shown_inv_xy_head", std::vector<float>(m_.shown_inv_xy().begin(), m_.shown_inv_xy().begin() + std::min<std::ptrdiff_t>(8, static_cast<std::ptrdiff_t>(m_.shown_inv_xy().size())))},
          {"compare", other_ && other_->loaded() ? nlohmann::json{{"index", other_index_}, {"method", other_->model().card().value("method", "")},
                                                                  {"core_ready", other_->predicted_all()}, {"target_accuracy", other_->accuracy(1)},
                                                                  {"inv_xy_head", std::vector<float>(other_->inv_xy().begin(), other_->inv_xy().begin() + std::min<std::ptrdiff_t>(8, static_cast<std::ptrdiff_t>(other_->inv_xy().size())))}}
                                                : nlohmann::json(nullptr)},
          {"chapter_title", walk_.active() ? walk_.current().title : ""},
          {"chapters", Walkthrough::count()},
          {"user", user_state()},
          {"probes", {{"domain_inv", probe_state(ExplorerModel::kDomainInv)}, {"domain_spe", probe_state(ExplorerModel::kDomainSpe)},
                      {"class_spe", probe_state(ExplorerModel::kClassSpe)}}}};
}

std::vector<float> Explorer::thumbnail_rect(int i) const {
  if (i < 0 || static_cast<std::size_t>(i) >= thumb_rects_.size()) return {};
  return thumb_rects_[static_cast<std::size_t>(i)];
}

void Explorer::draw_model_picker() {
  if (model_names_.empty()) return;
  ImGui::SetNextItemWidth(S(300));
  // model_index_ < 0: none loaded yet (the first one failed): the combo says so, every entry is pickable.
  const int current = model_index_ < static_cast<int>(model_names_.size()) ? model_index_ : -1;
  if (ImGui::BeginCombo("model", current >= 0 ? model_names_[static_cast<std::size_t>(current)].c_str() : "(none loaded: pick one)")) {
    for (int i = 0; i < static_cast<int>(model_names_.size()); ++i) {
      if (ImGui::Selectable(model_names_[static_cast<std::size_t>(i)].c_str(), i == current) && i != current) {
        char call[64];  // the page fetches the bundle and hands it back through dida_load
        std::snprintf(call, sizeof call, "window.dida && window.dida.selectModel(%d)", i);
        emscripten_run_script(call);
      }
    }
    ImGui::EndCombo();
  }
}

void Explorer::draw_model_card() {
  draw_model_picker();
  const auto& card = m_.model().card();
  const auto data = card.value("data", nlohmann::json::object());
  const auto metrics = card.value("metrics", nlohmann::json::object());
  const auto training = card.value("training", nlohmann::json::object());
  const auto options = training.value("options", nlohmann::json::object());
  const ModelConfig& c = m_.model().config();
  ImGui::Text("method: %s%s    pair: %s -> %s", card.value("method", "?").c_str(),
              card.value("oracle", false) ? " (ORACLE: trained with target labels)" : "", data.value("source", "?").c_str(),
              data.value("target", "?").c_str());
  if (metrics.contains("target_test_accuracy"))
    ImGui::Text("accuracy: target-test %.1f %% (%d images), source-val %.1f %%", 100 * metrics.value("target_test_accuracy", 0.0),
                data.value("target_test", 0), 100 * metrics.value("source_val_accuracy", 0.0));
  if (!training.empty())
    ImGui::Text("trained: %d epochs x %d iterations, batch %d+%d, seed %d\n         %.0f s on %s, %d threads (%.0f images/s)",
                options.value("epochs", 0), options.value("iters_per_epoch", 0), options.value("batch_size", 0),
                options.value("batch_size", 0), options.value("seed", 0), training.value("seconds_this_session", 0.0),
                training.value("device", "?").c_str(), training.value("threads", 0), training.value("images_per_s", 0.0));
  ImGui::Text("network: width %d, %s pooling, %s, %lld values (without T)", c.width, c.pool.c_str(), c.variant.c_str(),
              static_cast<long long>(m_.parameter_count()));
  if (m_.predicted_all())
    ImGui::Text("on these %d samples: source %.1f %%, target %.1f %%", m_.samples().images.size(), 100 * m_.accuracy(0),
                100 * m_.accuracy(1));
  draw_engines();
}

void Explorer::draw_samples() {
  const Domain& d = m_.samples().images;
  const float cell = S(40.f), gap = S(4.f);
  const int per_row = std::max(1, static_cast<int>((ImGui::GetContentRegionAvail().x + gap) / (cell + gap)));
  thumb_rects_.assign(static_cast<std::size_t>(d.size()), {});
  const float aw = static_cast<float>(atlas_cols_ * d.width);
  const float ah = static_cast<float>(((d.size() + atlas_cols_ - 1) / atlas_cols_) * d.height);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  auto draw_one = [&](int i) {
    const ImVec2 uv0((i % atlas_cols_) * d.width / aw, (i / atlas_cols_) * d.height / ah);
    const ImVec2 uv1(uv0.x + d.width / aw, uv0.y + d.height / ah);
    ImGui::PushID(i);
    ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(texture_)), ImVec2(cell, cell), uv0, uv1);
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    thumb_rects_[static_cast<std::size_t>(i)] = {a.x, a.y, b.x - a.x, b.y - a.y};
    if (ImGui::IsItemClicked()) m_.select(i);
    const int predicted = m_.predicted()[static_cast<std::size_t>(i)];
    if (predicted < 0) {  // not predicted yet
      ImGui::PopID();
      return;
    }
    const bool wrong = predicted != d.labels[static_cast<std::size_t>(i)];
    if (wrong) dl->AddRect(a, b, IM_COL32(255, 60, 60, 255), 0, 0, S(2.f));
    if (i == m_.selected() && scroll_to_selected_) ImGui::SetScrollHereY(0.5f), scroll_to_selected_ = false;
    if (i == m_.selected()) dl->AddRect(ImVec2(a.x - S(2), a.y - S(2)), ImVec2(b.x + S(2), b.y + S(2)), IM_COL32(255, 255, 255, 255), 0, 0, S(2.f));
    const char* label = d.classes[static_cast<std::size_t>(predicted)].c_str();
    dl->AddText(ImVec2(a.x + S(2), b.y - ImGui::GetFontSize() - S(1)), wrong ? IM_COL32(255, 90, 90, 255) : IM_COL32(120, 255, 120, 255), label);
    if (ImGui::IsItemHovered()) {
      ImGui::BeginTooltip();
      ImGui::Text("true %s, predicted %s (%.0f %%)", d.classes[static_cast<std::size_t>(d.labels[static_cast<std::size_t>(i)])].c_str(),
                  label, 100 * m_.confidence()[static_cast<std::size_t>(i)]);
      ImGui::EndTooltip();
    }
    ImGui::PopID();
  };
  for (int dom = 0; dom < 2; ++dom) {
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(dom ? kTargetColour : kSourceColour), "%s: %s",
                       dom ? "target" : "source", dom ? m_.samples().target.c_str() : m_.samples().source.c_str());
    const std::vector<int>& items = m_.domain_items(dom);
    const int rows = (static_cast<int>(items.size()) + per_row - 1) / per_row;
    // Only the rows in view are laid out: thousands of samples stay cheap.
    ImGuiListClipper clipper;
    clipper.Begin(rows, cell + ImGui::GetStyle().ItemSpacing.y);
    if (scroll_to_selected_) {  // a chapter selected a sample: its row is laid out, then scrolled to
      const auto it = std::find(items.begin(), items.end(), m_.selected());
      if (it != items.end()) {
        const int row = static_cast<int>(it - items.begin()) / per_row;
        clipper.ForceDisplayRangeByIndices(row, row + 1);
      }
    }
    while (clipper.Step()) {
      for (int r = clipper.DisplayStart; r < clipper.DisplayEnd; ++r) {
        for (int c = 0; c < per_row; ++c) {
          const std::size_t k = static_cast<std::size_t>(r * per_row + c);
          if (k >= items.size()) break;
          if (c) ImGui::SameLine(0, gap);
          draw_one(items[k]);
        }
      }
    }
  }
}

void Explorer::draw_scatter(const ExplorerModel& mm, const char* title, bool inv, float width, float height) {
  const std::vector<float>& xy = inv ? mm.shown_inv_xy() : mm.shown_spe_xy();
  ImGui::BeginGroup();
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);  // the title wraps within its plot's width
  ImGui::TextWrapped("%s", title);
  ImGui::PopTextWrapPos();
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton(title, ImVec2(width, height));
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 p1(p0.x + width, p0.y + height);
  dl->AddRectFilled(p0, p1, IM_COL32(24, 26, 32, 255));
  dl->AddRect(p0, p1, IM_COL32(90, 90, 100, 255));
  const int n = static_cast<int>(xy.size() / 2);
  // Axes span the 1st to 99th percentile, so a few outliers do not squeeze the rest into a corner;
  // points beyond are drawn on the border.
  auto range = [&](int axis, float& lo, float& hi) {
    static std::vector<float> v;  // the page has one thread
    v.resize(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = xy[2 * static_cast<std::size_t>(i) + axis];
    const std::size_t a = n >= 50 ? static_cast<std::size_t>(n) / 100 : 0, b = static_cast<std::size_t>(n) - 1 - a;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(a), v.end());
    lo = v[a];
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(b), v.end());
    hi = v[b];
    const float margin = 0.03f * (hi - lo);
    lo -= margin, hi += margin;
  };
  float minx = 0, maxx = 1, miny = 0, maxy = 1;
  if (n > 0) range(0, minx, maxx), range(1, miny, maxy);
  const float pad = S(10.f);
  auto at = [&](int i) {
    const float u = std::clamp((xy[2 * i] - minx) / std::max(maxx - minx, 1e-6f), 0.f, 1.f);
    const float v = std::clamp((xy[2 * i + 1] - miny) / std::max(maxy - miny, 1e-6f), 0.f, 1.f);
    return ImVec2(p0.x + pad + u * (width - 2 * pad), p1.y - pad - v * (height - 2 * pad));
  };
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  int nearest = -1;
  float best = S(6.f) * S(6.f);
  const bool hovered = ImGui::IsItemHovered();
  // Points without anti-aliased fringes: a third of the vertices, so thousands of points stay cheap.
  const ImDrawListFlags flags = dl->Flags;
  dl->Flags &= ~ImDrawListFlags_AntiAliasedFill;
  for (int i = 0; i < n; ++i) {
    const ImVec2 q = at(i);
    const int dom = mm.samples().domains[static_cast<std::size_t>(i)];
    const ImU32 col = colour_by_domain_ ? (dom ? kTargetColour : kSourceColour) : class_colour(mm.samples().images.labels[static_cast<std::size_t>(i)]);
    if (dom) dl->AddRectFilled(ImVec2(q.x - S(2.5f), q.y - S(2.5f)), ImVec2(q.x + S(2.5f), q.y + S(2.5f)), col);
    else dl->AddNgonFilled(q, S(3.f), col, 8);
    const float dd = (q.x - mouse.x) * (q.x - mouse.x) + (q.y - mouse.y) * (q.y - mouse.y);
    if (hovered && dd < best) best = dd, nearest = i;
  }
  dl->Flags = flags;
  if (m_.selected() >= 0 && m_.selected() < n) dl->AddCircle(at(m_.selected()), S(7.f), IM_COL32(255, 255, 255, 255), 0, S(2.f));
  // Your images: stars, placed by the model (explorer_model.hpp: user_xy).
  int user_hover = -1;
  const int users = mm.replay_epoch() >= 0 ? 0 : static_cast<int>(mm.user_images().size());  // the replay: its own layouts
  for (int u = 0; u < users; ++u) {
    const auto p = mm.user_xy(u, inv);
    const float px = std::clamp((p[0] - minx) / std::max(maxx - minx, 1e-6f), 0.f, 1.f);
    const float py = std::clamp((p[1] - miny) / std::max(maxy - miny, 1e-6f), 0.f, 1.f);
    const ImVec2 q(p0.x + pad + px * (width - 2 * pad), p1.y - pad - py * (height - 2 * pad));
    ImVec2 star[10];
    for (int k = 0; k < 10; ++k) {
      const float r = S(k % 2 ? 3.5f : 9.f), a = -1.5707963f + k * 0.6283185f;
      star[k] = ImVec2(q.x + r * std::cos(a), q.y + r * std::sin(a));
    }
    for (int k = 0; k < 10; k += 2) dl->AddTriangleFilled(q, star[k], star[(k + 1) % 10], kUserColour), dl->AddTriangleFilled(q, star[k], star[(k + 9) % 10], kUserColour);
    dl->AddPolyline(star, 10, IM_COL32(20, 20, 20, 255), ImDrawFlags_Closed, S(1.f));
    const float dd = (q.x - mouse.x) * (q.x - mouse.x) + (q.y - mouse.y) * (q.y - mouse.y);
    if (hovered && dd < S(9.f) * S(9.f)) user_hover = u, nearest = -1;
  }
  if (user_hover >= 0) {
    const auto& u = mm.user_images()[static_cast<std::size_t>(user_hover)];
    ImGui::BeginTooltip();
    user_thumb(user_hover, S(64));
    ImGui::Text("yours: %s, predicted %s (%.0f %%)", u.name.c_str(), mm.samples().images.classes[static_cast<std::size_t>(u.predicted)].c_str(), 100 * u.confidence);
    ImGui::EndTooltip();
  }
  const bool replay = mm.replay_epoch() >= 0;
  dl->AddText(ImVec2(p0.x + S(4), p1.y - ImGui::GetFontSize() - S(2)), IM_COL32(150, 150, 160, 255), replay ? "PC 1 (aligned)" : mm.tsne() ? "t-SNE 1" : "PC 1");
  dl->AddText(ImVec2(p0.x + S(4), p0.y + S(2)), IM_COL32(150, 150, 160, 255), replay ? "PC 2 (aligned)" : mm.tsne() ? "t-SNE 2" : "PC 2");
  if (nearest >= 0) {
    if (ImGui::IsItemClicked()) m_.select(nearest);
    const Domain& d = mm.samples().images;
    ImGui::BeginTooltip();
    const float aw = static_cast<float>(atlas_cols_ * d.width);
    const float ah = static_cast<float>(((d.size() + atlas_cols_ - 1) / atlas_cols_) * d.height);
    const ImVec2 uv0((nearest % atlas_cols_) * d.width / aw, (nearest / atlas_cols_) * d.height / ah);
    ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(texture_)), ImVec2(S(64), S(64)), uv0,
                 ImVec2(uv0.x + d.width / aw, uv0.y + d.height / ah));
    ImGui::Text("%s, true %s, predicted %s", mm.samples().domains[static_cast<std::size_t>(nearest)] ? "target" : "source",
                d.classes[static_cast<std::size_t>(d.labels[static_cast<std::size_t>(nearest)])].c_str(),
                d.classes[static_cast<std::size_t>(mm.predicted()[static_cast<std::size_t>(nearest)])].c_str());
    ImGui::EndTooltip();
  }
  ImGui::EndGroup();
}

void Explorer::begin_frame() {
  const ImVec2 d = ImGui::GetIO().DisplaySize;
  relayout_ = d.x != last_w_ || d.y != last_h_ || scale_ != last_scale_;
  last_w_ = d.x, last_h_ = d.y, last_scale_ = scale_;
}

void Explorer::next_window(Window which) const {
  const ImVec2 d = ImGui::GetIO().DisplaySize;
  const float m = S(10), left = std::clamp(0.42f * d.x, std::min(S(360), d.x - 2 * m), S(640));
  const float intro_h = S(250), right = d.x - left - 3 * m, top_h = std::max(S(240), 0.5f * d.y);
  ImVec2 pos, size;
  if (narrow()) {
    // A phone: the story on top, and below it one window at a time, full width (the buttons under
    // the story, or a chapter, bring the one to look at to the front).
    const float story_h = std::min(S(300), 0.4f * d.y);
    if (which == kIntro) pos = ImVec2(m, m), size = ImVec2(d.x - 2 * m, story_h);
    else pos = ImVec2(m, story_h + 2 * m), size = ImVec2(d.x - 2 * m, d.y - story_h - 3 * m);
    const ImGuiCond cond = relayout_ ? ImGuiCond_Always : ImGuiCond_FirstUseEver;
    ImGui::SetNextWindowPos(pos, cond);
    ImGui::SetNextWindowSize(size, cond);
    return;
  }
  switch (which) {
    case kIntro: pos = ImVec2(m, m), size = ImVec2(left, intro_h); break;
    case kCard: pos = ImVec2(m, intro_h + 2 * m), size = ImVec2(left, std::max(S(200), d.y - intro_h - 3 * m)); break;
    case kEmbeddings: pos = ImVec2(left + 2 * m, m), size = ImVec2(std::max(S(300), right), top_h); break;
    case kSwap:
      pos = ImVec2(left + 2 * m, top_h + 2 * m);
      size = ImVec2(std::clamp(right, S(300), S(480)), std::max(S(200), d.y - top_h - 3 * m));
      break;
    case kDraw: {  // beside the swap grid where there is room, over its lower part where there is not
      const float swap_w = std::clamp(right, S(300), S(480)), rest = right - swap_w - m;
      if (rest >= S(260)) pos = ImVec2(left + 3 * m + swap_w, top_h + 2 * m), size = ImVec2(rest, std::max(S(200), d.y - top_h - 3 * m));
      else pos = ImVec2(left + 2 * m, std::max(top_h + 2 * m, d.y - S(330))), size = ImVec2(std::max(S(300), right), S(320));
      break;
    }
  }
  const ImGuiCond cond = relayout_ ? ImGuiCond_Always : ImGuiCond_FirstUseEver;
  ImGui::SetNextWindowPos(pos, cond);
  ImGui::SetNextWindowSize(size, cond);
}

void Explorer::draw() {
  if (atlas_stale_ && m_.loaded()) build_atlas(), atlas_stale_ = false;
  draw_intro();
  if (!m_.loaded()) {  // nothing loaded (the first model failed): the picker alone, to choose another
    if (model_names_.empty()) return;
    next_window(kCard);
    ImGui::Begin("Model and samples");
    draw_model_picker();
    ImGui::TextWrapped("No model is loaded: the one asked for could not be loaded (see the notice below). Pick another.");
    ImGui::End();
    return;
  }
  if (!m_.predicted_all()) m_.predict_next(ExplorerModel::kChunk);
  m_.step_probes(kProbeWorkPerFrame);
  apply_chapter();
  begin_window(kCard, "Model and samples", Chapter::kSamples);
  draw_model_card();
  ImGui::Separator();
  draw_samples();
  ImGui::End();

  begin_window(kEmbeddings, "Embeddings", walk_.active() && walk_.current().focus == Chapter::kProbes ? Chapter::kProbes : Chapter::kPlots);
  ImGui::TextUnformatted("projection:");
  ImGui::SameLine();
  if (ImGui::RadioButton("PCA", !m_.tsne())) set_projection(false);
  ImGui::SameLine();
  if (ImGui::RadioButton("t-SNE", m_.tsne()) && !m_.tsne()) set_projection(true);
  if (m_.tsne()) {
    m_.step_tsne(5);
    if (other_ && other_->predicted_all()) other_->step_tsne(5);
    ImGui::SameLine();
    ImGui::ProgressBar(static_cast<float>(m_.tsne_progress()), ImVec2(S(160), 0));
  }
  ImGui::SameLine();
  ImGui::TextUnformatted("   ");
  ImGui::SameLine();
  ImGui::TextUnformatted("colour by:");
  ImGui::SameLine();
  if (ImGui::RadioButton("class", !colour_by_domain_)) colour_by_domain_ = false;
  ImGui::SameLine();
  if (ImGui::RadioButton("domain", colour_by_domain_)) colour_by_domain_ = true;
  ImGui::SameLine();
  ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kSourceColour), "  o source");
  ImGui::SameLine();
  ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kTargetColour), "  # target");
  if (!m_.user_images().empty()) {
    ImGui::SameLine();
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kUserColour), "  * yours");
  }
  if (!colour_by_domain_) {  // the class legend
    ImGui::TextUnformatted("classes:");
    for (int k = 0; k < static_cast<int>(m_.samples().images.classes.size()) && k < 10; ++k) {
      ImGui::SameLine();
      ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(class_colour(k)), "%s", m_.samples().images.classes[static_cast<std::size_t>(k)].c_str());
    }
  }
  draw_compare_picker();
  draw_replay_bar();
  const bool two = other_ && other_->loaded() && other_->predicted_all();
  if (other_ && other_->loaded() && !other_->predicted_all()) other_->predict_next(ExplorerModel::kChunk);
  if (two && m_.probes_done()) other_->step_probes(kProbeWorkPerFrame);  // one probe at a time: the frame's share stays
  const float rows_h = ImGui::GetContentRegionAvail().y - (two ? 9 : 4) * ImGui::GetTextLineHeightWithSpacing() - S(4);
  const float w = (ImGui::GetContentRegionAvail().x - S(12)) / 2, h = std::max(S(120), two ? rows_h / 2 : rows_h);
  auto row = [&](const ExplorerModel& mm, const std::string& who) {
    ImGui::BeginGroup();
    draw_scatter(mm, (who + "z_inv, domain-invariant:\nshould cluster by class, domains mixed").c_str(), true, w, h);
    draw_probe_line(mm, true, w);
    ImGui::EndGroup();
    ImGui::SameLine(0, S(12));
    ImGui::BeginGroup();
    draw_scatter(mm, (who + "z_spe, domain-specific:\nshould separate the domains").c_str(), false, w, h);
    draw_probe_line(mm, false, w);
    ImGui::EndGroup();
  };
  auto label = [](const ExplorerModel& mm) {
    return mm.model().card().value("method", std::string("?")) + " (target " +
           std::to_string(static_cast<int>(std::lround(100 * mm.accuracy(1)))) + " % here): ";
  };
  row(m_, two ? label(m_) : "");
  if (two) row(*other_, label(*other_));
  ImGui::End();

  if (m_.model().config().pixel_decoder) {
    begin_window(kSwap, "Swap: content x style", Chapter::kSwap);
    draw_swap();
    ImGui::End();
  }
  begin_window(kDraw, "Draw a digit, drop your images", Chapter::kDraw);
  draw_pad();
  ImGui::End();
  // The chapter's window in front, once all windows exist (a window seen first comes to the front).
  if (focus_pending_ > 0 && walk_.active()) {
    static const char* kTitles[] = {"Model and samples", "Embeddings", "Embeddings", "Swap: content x style", "Draw a digit, drop your images"};
    ImGui::SetWindowFocus(kTitles[walk_.current().focus]);
    --focus_pending_;
  }
}

void Explorer::draw_replay_bar() {
  if (!m_.has_replay()) {
    if (ImGui::Button("replay the training")) emscripten_run_script("window.dida && window.dida.loadReplay()");
    ImGui::SameLine();
    ImGui::TextDisabled("(the plots epoch by epoch, with the losses and accuracies)");
    return;
  }
  const Replay& r = m_.replay();
  const int count = r.epoch_count();
  int e = m_.replay_epoch();
  if (e < 0) {
    if (ImGui::Button("replay the training")) m_.set_replay_epoch(0), playing_ = true, play_clock_ = ImGui::GetTime();
    return;
  }
  if (playing_ && ImGui::GetTime() - play_clock_ > 0.5) {  // two epochs a second
    play_clock_ = ImGui::GetTime();
    if (e + 1 < count) m_.set_replay_epoch(++e);
    else playing_ = false;
  }
  if (ImGui::Button(playing_ ? "pause" : "play")) {
    if (!playing_ && e + 1 >= count) m_.set_replay_epoch(e = 0);
    playing_ = !playing_, play_clock_ = ImGui::GetTime();
  }
  ImGui::SameLine();
  ImGui::SetNextItemWidth(S(200));
  int shown = e + 1;
  if (ImGui::SliderInt("##epoch", &shown, 1, count, "epoch %d")) m_.set_replay_epoch(shown - 1), playing_ = false;
  const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
  replay_slider_rect_ = {a.x, a.y, b.x - a.x, b.y - a.y};
  ImGui::SameLine();
  if (ImGui::Button("back to live")) m_.set_replay_epoch(-1), playing_ = false;
  // The curves up to the epoch shown, on the scale of the whole run.
  const std::size_t k = r.loss_names.size();
  auto curve = [&](const char* label, const std::vector<float>& all, float lo, float hi) {
    ImGui::SameLine();
    ImGui::BeginGroup();
    ImGui::Text("%s %.3g", label, all[static_cast<std::size_t>(e)]);
    ImGui::PlotLines((std::string("##") + label).c_str(), all.data(), e + 1, 0, nullptr, lo, hi, ImVec2(S(110), S(30)));
    ImGui::EndGroup();
  };
  auto column = [&](const std::string& name) {
    std::vector<float> v(static_cast<std::size_t>(count), 0.f);
    const auto at = static_cast<std::size_t>(std::find(r.loss_names.begin(), r.loss_names.end(), name) - r.loss_names.begin());
    if (at < k)
      for (int i = 0; i < count; ++i) v[static_cast<std::size_t>(i)] = r.losses[static_cast<std::size_t>(i) * k + at];
    return v;
  };
  const auto total = column("total"), task = column("task");
  curve("loss", total, 0, *std::max_element(total.begin(), total.end()));
  curve("task", task, 0, *std::max_element(task.begin(), task.end()));
  curve("source-val", r.source_val, 0, 1);
  curve("target-test", r.target_test, 0, 1);
}

void Explorer::draw_compare_picker() {
  if (model_names_.size() < 2) return;
  ImGui::SetNextItemWidth(S(300));
  const bool on = other_ && other_->loaded() && other_index_ >= 0 && other_index_ < static_cast<int>(model_names_.size());
  if (ImGui::BeginCombo("side by side with", on ? model_names_[static_cast<std::size_t>(other_index_)].c_str() : "(none)")) {
    if (ImGui::Selectable("(none)", !on)) other_.reset(), other_index_ = -1;
    for (int i = 0; i < static_cast<int>(model_names_.size()); ++i)
      if (i != model_index_ && ImGui::Selectable(model_names_[static_cast<std::size_t>(i)].c_str(), on && i == other_index_)) {
        char call[64];  // the page fetches the bundle and hands it back through dida_load_compare
        std::snprintf(call, sizeof call, "window.dida && window.dida.compareModel(%d)", i);
        emscripten_run_script(call);
      }
    ImGui::EndCombo();
  }
}

std::string Explorer::load_compare(const std::string& config_text, std::vector<std::uint8_t> weights,
                                   const std::vector<std::uint8_t>& samples, const std::string& origin, int index) {
  auto other = std::make_unique<ExplorerModel>();
  const std::string error = other->load(config_text, std::move(weights), samples, origin);
  if (!error.empty()) return error;
  if (other->samples().images.size() != m_.samples().images.size()) return origin + ": another sample set than the model shown";
  other_ = std::move(other), other_index_ = index;
  return "";
}

void Explorer::set_projection(bool tsne) {
  m_.set_projection(tsne);
  if (other_) other_->set_projection(tsne);
}

void Explorer::draw_probe_line(const ExplorerModel& mm, bool inv, float width) {
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  // Linear probes fitted here on half of the samples, tested on the other half (dida eval's recipe).
  auto line = [&](const char* what, ExplorerModel::ProbeKind k) {
    const auto r = mm.probe(k);
    if (r.accuracy < 0) {
      ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
      ImGui::TextWrapped("probe: %s ... %.0f %%", what, 100 * r.progress);
      ImGui::PopStyleColor();
      return;
    }
    ImGui::TextWrapped("probe: %s %.0f %% (chance %.0f %%)", what, 100 * r.accuracy, 100 * r.chance);
  };
  if (inv) {
    line("domain from z_inv", ExplorerModel::kDomainInv);
  } else {
    line("domain from z_spe", ExplorerModel::kDomainSpe);
    line("class from z_spe", ExplorerModel::kClassSpe);
  }
  ImGui::PopTextWrapPos();
}

bool Explorer::begin_window(Window w, const char* title, Chapter::Focus focus) {
  next_window(w);
  const bool focused = walk_.active() && walk_.current().focus == focus;
  if (focused) {
    ImGui::PushStyleColor(ImGuiCol_Border, kFocusColour);
    ImGui::PushStyleVar(ImGuiStyleVar_WindowBorderSize, S(3.f));
  }
  const bool open = ImGui::Begin(title);
  if (focused) ImGui::PopStyleVar(), ImGui::PopStyleColor();
  return open;
}

void Explorer::draw_intro() {
  next_window(kIntro);
  ImGui::Begin("dida");
  ImGuiIO& io = ImGui::GetIO();
  if (!io.WantTextInput) {  // arrow keys turn the pages
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_RightArrow)) && walk_.chapter() < Walkthrough::count()) walk_.next();
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_LeftArrow)) && walk_.chapter() > 1) walk_.previous();
  }
  if (narrow()) {  // one window at a time below: which one
    ImGui::TextDisabled("show:");
    const char* names[] = {"Model and samples", "Embeddings", "Swap: content x style", "Draw a digit, drop your images"};
    const char* labels[] = {"samples", "plots", "swap", "draw"};
    for (int k = 0; k < 4; ++k) {
      ImGui::SameLine();
      if (ImGui::SmallButton(labels[k])) ImGui::SetWindowFocus(names[k]);
    }
  }
  if (!walk_.active()) {
    ImGui::TextWrapped("dida %s: disentangled domain adaptation, running in your browser (the core built for %s).",
                       dida::version(), dida::build_kind());
    ImGui::Separator();
    ImGui::TextWrapped(
        "A network learnt to read digits from labelled images of one domain (the source, e.g. clean MNIST) and saw "
        "images of another (the target, e.g. digits on photographs) without their labels. dida splits its features in "
        "two: z_inv, the content the classifier uses, the same in both domains, and z_spe, each domain's style.");
    if (ImGui::Button("start the walkthrough (6 short chapters)")) walk_.open(1);
    ImGui::TextWrapped("Or explore freely: pick a model, colour the plots, click samples, read the swap grid, draw a digit.");
    ImGui::End();
    return;
  }
  const Chapter& c = walk_.current();
  ImGui::Text("chapter %d of %d: %s", walk_.chapter(), Walkthrough::count(), c.title.c_str());
  ImGui::Separator();
  ImGui::TextWrapped("%s", c.text.c_str());
  ImGui::Spacing();
  ImGui::BeginDisabled(walk_.chapter() <= 1);
  if (ImGui::Button("< previous")) walk_.previous();
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::BeginDisabled(walk_.chapter() >= Walkthrough::count());
  if (ImGui::Button("next >")) walk_.next();
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (ImGui::Button("free explorer")) walk_.close();
  ImGui::SameLine();
  ImGui::TextDisabled("(arrow keys turn the pages)");
  ImGui::End();
}

void Explorer::apply_chapter() {
  if (walk_applied_ != walk_.version()) {
    walk_applied_ = walk_.version();
    if (!walk_.active()) return;
    const Chapter& c = walk_.current();
    colour_by_domain_ = c.colour_by_domain;
    focus_pending_ = 2;
    walk_select_pending_ = c.select_target_mistake;
    // The chapter's model of the pair shown: the page fetches it (window.dida.showMethod).
    const std::string method = m_.model().card().value("method", "");
    if (method != c.method) {
      const std::string call = "window.dida && window.dida.showMethod('" + c.method + "')";
      emscripten_run_script(call.c_str());
    }
    // A second model beside it (or none): the page fetches it (window.dida.compareMethod).
    const std::string call = "window.dida && window.dida.compareMethod('" + c.compare_method + "')";
    emscripten_run_script(call.c_str());
  }
  if (walk_select_pending_ && m_.predicted_all() && walk_.active() &&
      m_.model().card().value("method", "") == walk_.current().method) {
    walk_select_pending_ = false;
    for (const int i : m_.domain_items(1))
      if (m_.predicted()[static_cast<std::size_t>(i)] != m_.samples().images.labels[static_cast<std::size_t>(i)]) {
        m_.select(i);
        scroll_to_selected_ = true;
        break;
      }
  }
}

const Tensor4& Explorer::user_input() {
  if (user_input_version_ != m_.user_version()) user_input_ = m_.user_input(), user_input_version_ = m_.user_version();
  return user_input_;
}

void Explorer::upload_user() {
  if (user_texture_version_ == m_.user_version()) return;
  user_texture_version_ = m_.user_version();
  const auto& users = m_.user_images();
  if (users.empty()) return;
  const ModelConfig& c = m_.model().config();
  const int s = c.image_size, n = static_cast<int>(users.size());
  std::vector<std::uint8_t> rgba(static_cast<std::size_t>(s) * s * n * 4, 255);  // a column of thumbnails
  for (int i = 0; i < n; ++i)
    for (int p = 0; p < s * s; ++p)
      for (int ch = 0; ch < 3; ++ch)
        rgba[(static_cast<std::size_t>(i) * s * s + p) * 4 + ch] = users[static_cast<std::size_t>(i)].pixels[static_cast<std::size_t>(p) * c.in_channels + (c.in_channels == 3 ? ch : 0)];
  if (!user_texture_) glGenTextures(1, &user_texture_);
  glBindTexture(GL_TEXTURE_2D, user_texture_);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, s, s * n, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba.data());
  // ONNX Runtime Web's answer on your images: the other engine's agreement (the page runs it).
  if (ort_user_asked_ != m_.user_version()) {
    ort_user_asked_ = m_.user_version();
    emscripten_run_script("window.dida && window.dida.ortUser && window.dida.ortUser()");
  }
}

void Explorer::user_thumb(int i, float size) {
  upload_user();
  const int n = static_cast<int>(m_.user_images().size());
  if (!user_texture_ || i < 0 || i >= n) return ImGui::Dummy(ImVec2(size, size));
  ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(user_texture_)), ImVec2(size, size),
               ImVec2(0, static_cast<float>(i) / n), ImVec2(1, static_cast<float>(i + 1) / n));
}

void Explorer::draw_pad() {
  upload_user();
  if (ink_.empty()) ink_.assign(static_cast<std::size_t>(kPadSize) * kPadSize, 0.f);
  const float side = std::clamp(ImGui::GetContentRegionAvail().x - S(130), S(110), S(220));
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("pad", ImVec2(side, side));
  pad_rect_ = {p0.x, p0.y, side, side};
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float cellw = side / kPadSize;
  // Strokes: a soft round brush stamped along the mouse's path (touch arrives as mouse events).
  if (ImGui::IsItemActive()) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    const float x = (m.x - p0.x) / cellw, y = (m.y - p0.y) / cellw;
    if (!pad_drawing_) pad_last_[0] = x, pad_last_[1] = y;
    const float dx = x - pad_last_[0], dy = y - pad_last_[1];
    const int stamps = 1 + static_cast<int>(std::hypot(dx, dy) * 2);
    const float radius = kPadSize / 14.f;
    for (int t = 0; t <= stamps; ++t) {
      const float cx = pad_last_[0] + dx * t / stamps, cy = pad_last_[1] + dy * t / stamps;
      for (int yy = std::max(0, static_cast<int>(cy - radius - 1)); yy <= std::min(kPadSize - 1, static_cast<int>(cy + radius + 1)); ++yy)
        for (int xx = std::max(0, static_cast<int>(cx - radius - 1)); xx <= std::min(kPadSize - 1, static_cast<int>(cx + radius + 1)); ++xx) {
          const float r = std::hypot(xx + 0.5f - cx, yy + 0.5f - cy);
          float& v = ink_[static_cast<std::size_t>(yy) * kPadSize + xx];
          v = std::max(v, std::clamp(radius + 0.5f - r, 0.f, 1.f));
        }
    }
    pad_last_[0] = x, pad_last_[1] = y;
    pad_drawing_ = true;
    ++pad_version_;
  } else {
    pad_drawing_ = false;
  }
  if (pad_version_ != pad_sent_version_) {  // predicted as you draw: the core needs well under a ms
    pad_sent_version_ = pad_version_;
    m_.set_drawing(ink_, kPadSize);
    if (other_) other_->set_drawing(ink_, kPadSize);
  }
  dl->AddRectFilled(p0, ImVec2(p0.x + side, p0.y + side), IM_COL32(0, 0, 0, 255));
  for (int y = 0; y < kPadSize; ++y)
    for (int x = 0; x < kPadSize; ++x) {
      const float v = ink_[static_cast<std::size_t>(y) * kPadSize + x];
      if (v <= 0) continue;
      const int g = static_cast<int>(255 * v);
      dl->AddRectFilled(ImVec2(p0.x + x * cellw, p0.y + y * cellw), ImVec2(p0.x + (x + 1) * cellw, p0.y + (y + 1) * cellw), IM_COL32(g, g, g, 255));
    }
  dl->AddRect(p0, ImVec2(p0.x + side, p0.y + side), IM_COL32(120, 120, 130, 255));
  const int di = m_.drawing_index();
  if (di < 0) dl->AddText(ImVec2(p0.x + S(8), p0.y + S(8)), IM_COL32(150, 150, 160, 255), "draw a digit here");
  ImGui::SameLine();
  ImGui::BeginGroup();
  const auto& classes = m_.samples().images.classes;
  if (di >= 0) {
    const auto& u = m_.user_images()[static_cast<std::size_t>(di)];
    ImGui::TextUnformatted("the model sees");
    user_thumb(di, S(48));
    // The active engine's answer first, the other's agreement under it.
    const bool ort_first = m_.engine() == kOrt && u.ort_predicted >= 0;
    const int shown = ort_first ? u.ort_predicted : u.predicted;
    ImGui::Text("%s  (%.0f %%)", classes[static_cast<std::size_t>(shown)].c_str(), 100 * (ort_first ? u.ort_confidence : u.confidence));
    ImGui::TextDisabled("%s", ort_first ? "ONNX Runtime Web" : "core (wasm)");
    if (u.ort_predicted >= 0) {
      const bool agree = u.ort_predicted == u.predicted;
      ImGui::TextColored(agree ? ImVec4(0.4f, 0.9f, 0.4f, 1) : ImVec4(1, 0.5f, 0.4f, 1), "%s: %s", ort_first ? "core" : "ORT Web",
                         agree ? "agrees" : classes[static_cast<std::size_t>(ort_first ? u.predicted : u.ort_predicted)].c_str());
    } else {
      ImGui::TextDisabled("ORT Web: ...");
    }
  }
  ImGui::EndGroup();
  if (ImGui::Button("clear")) {
    std::fill(ink_.begin(), ink_.end(), 0.f);
    ++pad_version_;
  }
  if (di >= 0 && m_.model().config().pixel_decoder) {
    ImGui::SameLine();
    if (ImGui::Button("as content row")) m_.use_user_as_row(di);
    ImGui::SameLine();
    if (ImGui::Button("as style column")) m_.use_user_as_column(di);
  }
  // Your other images: dropped on the page or chosen here.
  if (ImGui::Button("choose images...")) emscripten_run_script("window.dida && window.dida.chooseImages()");
  ImGui::SameLine();
  ImGui::TextDisabled("or drop them on the page");
  int shown = 0;
  for (int i = 0; i < static_cast<int>(m_.user_images().size()); ++i) {
    if (i == di) continue;
    const auto& u = m_.user_images()[static_cast<std::size_t>(i)];
    if (shown++ % 4) ImGui::SameLine();
    ImGui::BeginGroup();
    user_thumb(i, S(40));
    ImGui::Text("%s", classes[static_cast<std::size_t>(u.predicted)].c_str());
    ImGui::EndGroup();
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s: predicted %s (%.0f %%)%s", u.name.c_str(), classes[static_cast<std::size_t>(u.predicted)].c_str(),
                                                  100 * u.confidence, m_.model().config().pixel_decoder ? "; click: as content row" : "");
    if (ImGui::IsItemClicked()) m_.use_user_as_row(i);
  }
}

}  // namespace dida::web
