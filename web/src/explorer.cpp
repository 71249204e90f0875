#include "explorer.hpp"

#include <emscripten/emscripten.h>

#include <algorithm>

#include "findings.hpp"
#include "frame_work.hpp"
#include "imgui.h"
#include "palette.hpp"

namespace dida::web {

Explorer::Explorer() {
  auto samples = std::make_unique<SamplesPanel>();
  auto embeddings = std::make_unique<EmbeddingsPanel>();
  samples_ = samples.get(), embeddings_ = embeddings.get();
  std::vector<std::unique_ptr<Panel>> windows;
  windows.push_back(std::move(samples));
  windows.push_back(std::move(embeddings));
  windows.push_back(std::make_unique<SwapPanel>());
  windows.push_back(std::make_unique<DrawPanel>());
  std::vector<const Panel*> listed;
  for (const auto& p : windows) listed.push_back(p.get());
  panels_.push_back(std::make_unique<StoryPanel>(listed));
  for (auto& p : windows) panels_.push_back(std::move(p));
}

std::string Explorer::load(const std::string& config_text, std::vector<std::uint8_t> weights,
                           const std::vector<std::uint8_t>& samples, const std::string& origin) {
  const std::string error = m_.load(config_text, std::move(weights), samples, origin);
  if (!error.empty()) return error;
  thumbs_.samples_changed();  // uploaded at the next frame: a model can load before WebGL is set up
  compare_.keep_if_comparable(m_);
  return "";
}

std::string Explorer::load_compare(const std::string& config_text, std::vector<std::uint8_t> weights,
                                   const std::vector<std::uint8_t>& samples, const std::string& origin, int index) {
  const std::string error = compare_.load(m_, config_text, std::move(weights), samples, origin, index);
  if (error.empty()) compare_.model()->set_projection(m_.tsne());
  return error;
}

std::string Explorer::load_replay(std::vector<std::uint8_t> bytes, const std::string& origin) {
  const std::string e = m_.load_replay(std::move(bytes), origin);
  if (e.empty()) embeddings_->player().start(m_, -1.0);  // plays from the first frame on
  return e;
}

std::string Explorer::load_run_replay(const std::string& layouts, const std::string& log, const std::string& origin) {
  return m_.load_run_replay(layouts, log, origin);  // no playing: it shows the newest epoch as it comes
}

void Explorer::set_projection(bool tsne) {
  m_.set_projection(tsne);
  if (ExplorerModel* other = compare_.model()) other->set_projection(tsne);
}

const Tensor4& Explorer::user_input() {
  if (user_input_version_ != m_.user_version()) user_input_ = m_.user_input(), user_input_version_ = m_.user_version();
  return user_input_;
}

void Explorer::ask_ort_user() {
  if (ort_user_asked_ == m_.user_version() || m_.user_images().empty()) return;
  ort_user_asked_ = m_.user_version();
  emscripten_run_script("window.dida && window.dida.ortUser && window.dida.ortUser()");
}

void Explorer::begin_frame() {
  const ImVec2 d = ImGui::GetIO().DisplaySize;
  relayout_ = d.x != last_w_ || d.y != last_h_ || view_.scale != last_scale_;
  last_w_ = d.x, last_h_ = d.y, last_scale_ = view_.scale;
}

void Explorer::place(Slot slot) const {
  const auto S = [this](float v) { return view_.S(v); };
  const ImVec2 d = ImGui::GetIO().DisplaySize;
  const float m = S(10), left = std::clamp(0.42f * d.x, std::min(S(360), d.x - 2 * m), S(640));
  const float intro_h = S(250), right = d.x - left - 3 * m, top_h = std::max(S(240), 0.5f * d.y);
  const float swap_w = std::clamp(right, S(300), S(480));
  ImVec2 pos, size;
  if (view_.narrow()) {
    // A phone: the story on top, and below it one window at a time, full width (the buttons under
    // the story, or a chapter, bring the one to look at to the front).
    const float story_h = std::min(S(300), 0.4f * d.y);
    if (slot == Slot::Story) pos = ImVec2(m, m), size = ImVec2(d.x - 2 * m, story_h);
    else pos = ImVec2(m, story_h + 2 * m), size = ImVec2(d.x - 2 * m, d.y - story_h - 3 * m);
  } else {
    switch (slot) {
      case Slot::Story: pos = ImVec2(m, m), size = ImVec2(left, intro_h); break;
      case Slot::Left: pos = ImVec2(m, intro_h + 2 * m), size = ImVec2(left, std::max(S(200), d.y - intro_h - 3 * m)); break;
      case Slot::TopRight: pos = ImVec2(left + 2 * m, m), size = ImVec2(std::max(S(300), right), top_h); break;
      case Slot::BottomRight: pos = ImVec2(left + 2 * m, top_h + 2 * m), size = ImVec2(swap_w, std::max(S(200), d.y - top_h - 3 * m)); break;
      case Slot::BesideBottomRight: {  // beside the swap grid where there is room, over its lower part where there is not
        const float rest = right - swap_w - m;
        if (rest >= S(260)) pos = ImVec2(left + 3 * m + swap_w, top_h + 2 * m), size = ImVec2(rest, std::max(S(200), d.y - top_h - 3 * m));
        else pos = ImVec2(left + 2 * m, std::max(top_h + 2 * m, d.y - S(330))), size = ImVec2(std::max(S(300), right), S(320));
        break;
      }
    }
  }
  const ImGuiCond cond = relayout_ ? ImGuiCond_Always : ImGuiCond_FirstUseEver;
  ImGui::SetNextWindowPos(pos, cond);
  ImGui::SetNextWindowSize(size, cond);
}

void Explorer::draw() {
  do_frame_work(m_, compare_.model());
  thumbs_.update(m_);
  ask_ort_user();
  apply_chapter();
  const Panel* focused = nullptr;  // the window the chapter points at
  for (const auto& p : panels_) {
    if (!p->shown(view_)) continue;
    const bool focus = walk_.active() && p->answers(walk_.current().focus);
    if (focus) focused = p.get();
    place(p->slot());
    if (focus) {  // outlined
      ImGui::PushStyleColor(ImGuiCol_Border, kFocusColour);
      ImGui::PushStyleVar(ImGuiStyleVar_WindowBorderSize, view_.S(3.f));
    }
    ImGui::Begin(p->title());
    if (focus) ImGui::PopStyleVar(), ImGui::PopStyleColor();
    p->draw(view_);
    ImGui::End();
  }
  // The chapter's window in front, once all windows exist (a window seen first comes to the front).
  if (focus_pending_ > 0 && focused) {
    ImGui::SetWindowFocus(focused->title());
    --focus_pending_;
  }
}

void Explorer::apply_chapter() {
  if (!m_.loaded()) return;
  if (walk_applied_ != walk_.version()) {
    walk_applied_ = walk_.version();
    if (!walk_.active()) return;
    const Chapter& c = walk_.current();
    view_.colour_by_domain = c.colour_by_domain;
    focus_pending_ = 2;
    walk_select_pending_ = c.select_target_mistake;
    // The chapter's model of the pair shown: the page fetches it (window.dida.showMethod).
    if (m_.model().card().value("method", "") != c.method) {
      const std::string call = "window.dida && window.dida.showMethod('" + c.method + "')";
      emscripten_run_script(call.c_str());
    }
    // A second model beside it (or none): the page fetches it (window.dida.compareMethod).
    const std::string call = "window.dida && window.dida.compareMethod('" + c.compare_method + "')";
    emscripten_run_script(call.c_str());
  }
  if (walk_select_pending_ && m_.predicted_all() && walk_.active() && m_.model().card().value("method", "") == walk_.current().method) {
    walk_select_pending_ = false;
    for (const int i : m_.domain_items(1))
      if (m_.predicted()[static_cast<std::size_t>(i)] != m_.samples().images.labels[static_cast<std::size_t>(i)]) {
        m_.select(i);
        view_.scroll_to_selected = true;
        break;
      }
  }
}

namespace {
std::vector<float> head(const std::vector<float>& xy) {  // the first points of a layout (x0, y0, x1, y1, ...)
  return std::vector<float>(xy.begin(), xy.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(8, xy.size())));
}
}  // namespace

nlohmann::json Explorer::state() const {
  if (!m_.loaded())
    return {{"models", view_.model_names}, {"model_index", view_.model_index}, {"loaded", false}, {"chapter", walk_.chapter()}};
  const auto& sr = m_.swap_readout();
  const auto probe = [this](ExplorerModel::ProbeKind k) {
    const auto r = m_.probe(k);
    return nlohmann::json{{"accuracy", r.accuracy}, {"chance", r.chance}, {"progress", r.progress}};
  };
  nlohmann::json user = nlohmann::json::array();
  for (int i = 0; i < static_cast<int>(m_.user_images().size()); ++i) {
    const auto& u = m_.user_images()[static_cast<std::size_t>(i)];
    const auto a = m_.user_xy(i, true), b = m_.user_xy(i, false);
    user.push_back({{"name", u.name}, {"predicted", u.predicted}, {"confidence", u.confidence}, {"ort_predicted", u.ort_predicted},
                    {"inv_xy", {a[0], a[1]}}, {"spe_xy", {b[0], b[1]}}});
  }
  const StyleMixer& mix = m_.mixer();
  const ExplorerModel* other = compare_.model();
  nlohmann::json s = {
      {"loaded", true},
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
      {"model_index", view_.model_index},
      {"models", view_.model_names},
      {"selected", m_.selected()},
      {"colour_by_domain", view_.colour_by_domain},
      {"projection", m_.tsne() ? "tsne" : "pca"},
      {"inv_xy_head", head(m_.inv_xy())},  // the layout the view draws
      {"swap", {{"rows", m_.swap_rows()}, {"cols", m_.swap_cols()}, {"min_pair_mean_abs_diff", sr.min_pair_diff},
                {"min_cell_std", sr.min_cell_std}, {"ms", sr.ms}, {"ort_ms", sr.ort_ms}, {"ort_max_diff", sr.ort_max_diff},
                {"style_retrieval", sr.style_retrieval}}},
      {"mix", mix.ready() ? nlohmann::json{{"a", m_.mix_column(0)}, {"b", m_.mix_column(1)}, {"t", mix.mix()}, {"version", mix.version()},
                                           {"z_inv_shape", {mix.z_inv().n, mix.z_inv().c, mix.z_inv().h, mix.z_inv().w}},
                                           {"z_spe_shape", {mix.mixed_z_spe().n, mix.mixed_z_spe().c, mix.mixed_z_spe().h, mix.mixed_z_spe().w}},
                                           {"shown", m_.engine() == kOrt && m_.ort_mix_ready() ? "ort" : "core"},
                                           {"ort_ms", m_.mix_ort_ms()}, {"ort_max_diff", m_.mix_ort_max_diff()}}
                          : nlohmann::json(nullptr)},
      {"tsne_iteration", m_.tsne_iteration()},
      {"chapter", walk_.chapter()},
      {"shown_inv_xy_head", head(m_.shown_inv_xy())},
      {"compare", other ? nlohmann::json{{"index", compare_.index()}, {"method", other->model().card().value("method", "")},
                                         {"core_ready", other->predicted_all()}, {"target_accuracy", other->accuracy(1)},
                                         {"inv_xy_head", head(other->inv_xy())}}
                        : nlohmann::json(nullptr)},
      {"chapter_title", walk_.active() ? walk_.current().title : ""},
      {"findings", {{"probes", probe_findings(m_)}, {"swap", swap_findings(m_)}}},
      {"chapters", Walkthrough::count()},
      {"user", user},
      {"probes", {{"domain_inv", probe(ExplorerModel::kDomainInv)}, {"domain_spe", probe(ExplorerModel::kDomainSpe)},
                  {"class_spe", probe(ExplorerModel::kClassSpe)}}}};
  for (const auto& p : panels_) p->add_state(s);
  return s;
}

}  // namespace dida::web
