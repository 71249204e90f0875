#include "explorer.hpp"

#include <GLES3/gl3.h>
#include <emscripten/emscripten.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

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

}  // namespace

std::string Explorer::load(const std::string& config_text, std::vector<std::uint8_t> weights,
                           const std::vector<std::uint8_t>& sample_bytes, const std::string& origin) {
  try {
    auto model = std::make_unique<Model>(parse_bundle(config_text, std::move(weights), origin));
    SampleSet s = read_sample_set(sample_bytes, "samples.safetensors");
    const ModelConfig& c = model->config();
    if (s.images.height != c.image_size || s.images.width != c.image_size || s.images.channels != c.in_channels)
      return "samples.safetensors: images are " + std::to_string(s.images.height) + "x" + std::to_string(s.images.width) +
             "x" + std::to_string(s.images.channels) + ", the model expects " + std::to_string(c.image_size) + "x" +
             std::to_string(c.image_size) + "x" + std::to_string(c.in_channels);
    const int n = s.images.size();
    input_ = pixels_to_input(s.images.pixels, n, s.images.height, s.images.width, s.images.channels);
    core_ = EngineOutputs{};
    ort_ = EngineOutputs{};
    engine_max_diff_ = -1;
    ort_status_ = "not run on this model";
    parameter_count_ = 0;  // what inference uses: tensors only training uses are not counted
    for (const auto& spec : parameter_specs(model->config())) {
      if (spec.training_only) continue;
      std::int64_t v = 1;
      for (const auto d : spec.shape) v *= d;
      parameter_count_ += v;
    }
    const auto data = model->card().value("data", nlohmann::json::object());
    pair_warning_ = sample_pair_mismatch(s, data.value("source", ""), data.value("target", ""));
    model_ = std::move(model);
    samples_ = std::move(s);
    for (int dom = 0; dom < 2; ++dom) domain_items_[dom].clear();
    for (int i = 0; i < n; ++i) domain_items_[samples_.domains[static_cast<std::size_t>(i)] ? 1 : 0].push_back(i);
    selected_ = -1;
    engine_ = kCore;
    predicted_.assign(static_cast<std::size_t>(n), -1);
    confidence_.assign(static_cast<std::size_t>(n), 0.f);
    inv_xy_.clear(), spe_xy_.clear();
    tsne_inv_.reset(), tsne_spe_.reset();
    build_atlas();
    swap_rows_.clear(), swap_cols_.clear();
    for (int i = 0; i < n; ++i) {
      auto& v = samples_.domains[static_cast<std::size_t>(i)] == 0 ? swap_rows_ : swap_cols_;
      if (v.size() < 4) v.push_back(i);
    }
    swap_pixels_.clear();
    swap_core_ = Tensor4();
    ort_swap_.reset();
    predicted_count_ = 0;
    accuracy_[0] = accuracy_[1] = 0;
    predict_next(kFirstChunk);  // the first predictions at once, the rest a chunk per frame
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

void Explorer::predict_next(int count) {
  if (!model_ || core_.ready) return;
  const int n = input_.n, begin = predicted_count_, end = std::min(n, begin + count);
  Tensor4 x(end - begin, input_.c, input_.h, input_.w);
  std::copy_n(input_.item(begin), x.data.size(), x.data.data());
  const double t0 = emscripten_get_now();
  const auto out = model_->forward(x);
  core_.ms += emscripten_get_now() - t0;
  core_.probs.insert(core_.probs.end(), out.probs.data.begin(), out.probs.data.end());
  core_.z_inv.insert(core_.z_inv.end(), out.z_inv.data.begin(), out.z_inv.data.end());
  core_.z_spe.insert(core_.z_spe.end(), out.z_spe.data.begin(), out.z_spe.data.end());
  for (int i = begin; i < end; ++i) {
    const float* p = out.probs.row(i - begin);
    const int best = static_cast<int>(std::max_element(p, p + out.probs.d) - p);
    predicted_[static_cast<std::size_t>(i)] = best;
    confidence_[static_cast<std::size_t>(i)] = p[best];
  }
  predicted_count_ = end;
  if (end < n) return;
  core_.ready = true;
  apply_engine();
  if (model_->config().pixel_decoder) compute_swap();
}

void Explorer::apply_engine() {
  const EngineOutputs& e = engine_ == kOrt && ort_.ready ? ort_ : core_;
  if (!swap_core_.data.empty()) show_swap(engine_ == kOrt && ort_swap_ ? ort_swap_->cells : swap_core_);
  const Domain& d = samples_.images;
  const int n = d.size(), k = model_->config().num_classes;
  predicted_.assign(static_cast<std::size_t>(n), 0);
  confidence_.assign(static_cast<std::size_t>(n), 0.f);
  int correct[2] = {0, 0}, count[2] = {0, 0};
  for (int i = 0; i < n; ++i) {
    const float* p = e.probs.data() + static_cast<std::size_t>(i) * k;
    const int best = static_cast<int>(std::max_element(p, p + k) - p);
    predicted_[static_cast<std::size_t>(i)] = best;
    confidence_[static_cast<std::size_t>(i)] = p[best];
    const int dom = samples_.domains[static_cast<std::size_t>(i)] ? 1 : 0;
    ++count[dom];
    correct[dom] += best == d.labels[static_cast<std::size_t>(i)];
  }
  for (int dom = 0; dom < 2; ++dom) accuracy_[dom] = count[dom] ? static_cast<double>(correct[dom]) / count[dom] : 0.0;
  // The plots show what the heads see: the maps pooled as the model pools them.
  const ModelConfig& c = model_->config();
  const int f = c.feature_channels(), fs = c.feature_size();
  auto pooled = [&](const std::vector<float>& maps) {
    Tensor4 z(n, f, fs, fs);
    z.data = maps;
    return model_->pool(z);
  };
  const Rows pi = pooled(e.z_inv), ps = pooled(e.z_spe);
  inv_feat_ = pi.data, spe_feat_ = ps.data;
  inv_dim_ = pi.d, spe_dim_ = ps.d;
  inv_xy_ = inv_pca_ = pca_2d(inv_feat_, n, inv_dim_);
  spe_xy_ = spe_pca_ = pca_2d(spe_feat_, n, spe_dim_);
  const bool was_tsne = use_tsne_;
  use_tsne_ = false;
  tsne_inv_.reset(), tsne_spe_.reset();
  if (was_tsne) set_projection(true);
}

void Explorer::set_models(std::vector<std::string> names, int current) {
  model_names_ = std::move(names);
  model_index_ = current;
}

void Explorer::set_ort_outputs(double ms, int threads, const float* probs, const float* z_inv, const float* z_spe) {
  if (!model_ || !core_.ready) return;  // outputs for all samples, compared with the core's
  ort_.probs.assign(probs, probs + core_.probs.size());
  ort_.z_inv.assign(z_inv, z_inv + core_.z_inv.size());
  ort_.z_spe.assign(z_spe, z_spe + core_.z_spe.size());
  ort_.ms = ms;
  ort_.ready = true;
  ort_threads_ = threads;
  // Absolute difference up to magnitude 1, relative above: on the features (magnitudes above 1) the
  // two engines' float32 arithmetic (other summation orders, batch norm folded in the core) differed
  // by up to 1.2e-4 in absolute terms on the shipped models.
  double m = 0;
  auto cmp = [&m](const std::vector<float>& a, const std::vector<float>& b) {
    for (std::size_t i = 0; i < a.size(); ++i)
      m = std::max(m, static_cast<double>(std::abs(a[i] - b[i])) / std::max(1.0, static_cast<double>(std::abs(a[i]))));
  };
  cmp(core_.probs, ort_.probs), cmp(core_.z_inv, ort_.z_inv), cmp(core_.z_spe, ort_.z_spe);
  engine_max_diff_ = m;
  ort_status_ = "ready";
  if (engine_ == kOrt) apply_engine();
}

void Explorer::use_engine(Engine e) {
  if (!model_ || (e == kOrt && !ort_.ready) || e == engine_) return;
  engine_ = e;
  apply_engine();
}

double Explorer::bench_core(int batch, int reps) const {
  if (!model_ || batch < 1 || reps < 1) return -1;
  const std::size_t per = input_.per_item();
  Tensor4 x(batch, input_.c, input_.h, input_.w);
  for (int i = 0; i < batch; ++i)
    std::copy_n(input_.item(i % input_.n), per, x.item(i));
  model_->forward(x);  // warm-up: buffers sized once
  // The mean over `reps` calls: the page's clock is coarse (0.1 ms without cross-origin isolation).
  const double t0 = emscripten_get_now();
  for (int r = 0; r < reps; ++r) model_->forward(x);
  return (emscripten_get_now() - t0) / reps;
}

void Explorer::draw_engines() {
  const int n = samples_.images.size();
  if (!core_.ready) {  // the engines are compared on all samples: the switch comes when the core has them
    ImGui::Text("core (wasm): predicting, %d of %d images", predicted_count_, n);
    return;
  }
  ImGui::TextUnformatted("engine:");
  ImGui::SameLine();
  if (ImGui::RadioButton("core (wasm)", engine_ == kCore) && engine_ != kCore) {
    emscripten_run_script("window.dida && window.dida.setEngine('core')");
  }
  ImGui::SameLine();
  if (ImGui::RadioButton("ONNX Runtime Web", engine_ == kOrt) && engine_ != kOrt) {
    emscripten_run_script("window.dida && window.dida.setEngine('ort')");
  }
  ImGui::Text("core (wasm): %d images in %.1f ms", n, core_.ms);
  if (ort_.ready) {
    ImGui::Text("ONNX Runtime Web: %d images in %.1f ms (%d thread%s)", n, ort_.ms, ort_threads_, ort_threads_ == 1 ? "" : "s");
    const bool ok = engine_max_diff_ < 1e-4;
    ImGui::TextColored(ok ? ImVec4(0.4f, 0.9f, 0.4f, 1) : ImVec4(1, 0.5f, 0.4f, 1), "max |core - ORT| = %.2e (probs, z_inv, z_spe; relative above 1)",
                       engine_max_diff_);
  } else {
    ImGui::TextDisabled("ONNX Runtime Web: %s", ort_status_.c_str());
  }
}

void Explorer::compute_swap() {
  const Domain& d = samples_.images;
  const int r = static_cast<int>(swap_rows_.size()), c = static_cast<int>(swap_cols_.size());
  if (r == 0 || c == 0) return;
  std::vector<std::uint8_t> content, style;
  for (int i = 0; i < r; ++i)
    for (int j = 0; j < c; ++j) {
      const auto a = d.image(swap_rows_[static_cast<std::size_t>(i)]), b = d.image(swap_cols_[static_cast<std::size_t>(j)]);
      content.insert(content.end(), a.pixels.begin(), a.pixels.end());
      style.insert(style.end(), b.pixels.begin(), b.pixels.end());
    }
  const double t0 = emscripten_get_now();
  swap_core_ = model_->swap(pixels_to_input(content, r * c, d.height, d.width, d.channels),
                            pixels_to_input(style, r * c, d.height, d.width, d.channels));
  swap_ms_ = emscripten_get_now() - t0;
  ort_swap_.reset();
  show_swap(swap_core_);
  // ONNX Runtime Web computes the same cells with swap.onnx when it is the engine (the page's script
  // reads the rows and columns from the state and calls dida_set_ort_swap).
  if (engine_ == kOrt) emscripten_run_script("window.dida && window.dida.ortSwap && window.dida.ortSwap()");
}

void Explorer::set_ort_swap(double ms, const float* swap) {
  if (!model_ || swap_core_.data.empty()) return;
  Tensor4 t(swap_core_.n, swap_core_.c, swap_core_.h, swap_core_.w);
  t.data.assign(swap, swap + swap_core_.data.size());
  double m = 0;  // the images are in [-1, 1]: an absolute difference
  for (std::size_t i = 0; i < t.data.size(); ++i) m = std::max(m, static_cast<double>(std::abs(t.data[i] - swap_core_.data[i])));
  ort_swap_ = OrtSwap{ms, m, std::move(t)};
  if (engine_ == kOrt) show_swap(ort_swap_->cells);
}

void Explorer::show_swap(const Tensor4& out) {
  const int r = static_cast<int>(swap_rows_.size()), c = static_cast<int>(swap_cols_.size());
  swap_pixels_ = output_to_pixels(out);
  // How different the cells are from each other and from a blank image (for readouts and tests).
  const int cells = r * c;
  const std::size_t cell_bytes = swap_pixels_.size() / static_cast<std::size_t>(cells);
  swap_min_pair_diff_ = 1e9, swap_min_std_ = 1e9;
  for (int a = 0; a < cells; ++a) {
    double sum = 0, sq = 0;
    for (std::size_t k = 0; k < cell_bytes; ++k) {
      const double v = swap_pixels_[a * cell_bytes + k];
      sum += v, sq += v * v;
    }
    const double mean = sum / cell_bytes;
    swap_min_std_ = std::min(swap_min_std_, std::sqrt(std::max(0.0, sq / cell_bytes - mean * mean)));
    for (int b = a + 1; b < cells; ++b) {
      double diff = 0;
      for (std::size_t k = 0; k < cell_bytes; ++k)
        diff += std::abs(static_cast<int>(swap_pixels_[a * cell_bytes + k]) - static_cast<int>(swap_pixels_[b * cell_bytes + k]));
      swap_min_pair_diff_ = std::min(swap_min_pair_diff_, diff / cell_bytes);
    }
  }
  // Texture: r rows x c columns of cells, RGBA.
  const int w = c * out.w, h = r * out.h;
  std::vector<std::uint8_t> rgba(static_cast<std::size_t>(w) * h * 4, 255);
  for (int i = 0; i < r; ++i)
    for (int j = 0; j < c; ++j)
      for (int y = 0; y < out.h; ++y)
        for (int x = 0; x < out.w; ++x)
          for (int ch = 0; ch < 3; ++ch)
            rgba[(static_cast<std::size_t>(i * out.h + y) * w + j * out.w + x) * 4 + ch] =
                swap_pixels_[(static_cast<std::size_t>(i * c + j) * out.h * out.w + y * out.w + x) * out.c + (out.c == 3 ? ch : 0)];
  if (!swap_texture_) glGenTextures(1, &swap_texture_);
  glBindTexture(GL_TEXTURE_2D, swap_texture_);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, w, h, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba.data());
}

void Explorer::draw_swap() {
  const Domain& d = samples_.images;
  const int r = static_cast<int>(swap_rows_.size()), c = static_cast<int>(swap_cols_.size());
  if (!swap_texture_ || swap_pixels_.empty() || r == 0 || c == 0) return;
  const float cell = S(56.f);
  const float aw = static_cast<float>(atlas_cols_ * d.width);
  const float ah = static_cast<float>(((d.size() + atlas_cols_ - 1) / atlas_cols_) * d.height);
  auto thumb = [&](int i) {
    const ImVec2 uv0((i % atlas_cols_) * d.width / aw, (i / atlas_cols_) * d.height / ah);
    ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(texture_)), ImVec2(cell, cell), uv0,
                 ImVec2(uv0.x + d.width / aw, uv0.y + d.height / ah));
  };
  ImGui::TextWrapped("Each cell is R(z_inv(row), z_spe(column)): the content of a source sample in the style of a "
                     "target sample. Select a sample, then:");
  if (ImGui::Button("use selected as content row") && selected_ >= 0) {
    swap_rows_[static_cast<std::size_t>(next_row_)] = selected_;
    next_row_ = (next_row_ + 1) % r;
    compute_swap();
  }
  ImGui::SameLine();
  if (ImGui::Button("use selected as style column") && selected_ >= 0) {
    swap_cols_[static_cast<std::size_t>(next_col_)] = selected_;
    next_col_ = (next_col_ + 1) % c;
    compute_swap();
  }
  ImGui::Dummy(ImVec2(cell, cell));
  for (int j = 0; j < c; ++j) {
    ImGui::SameLine();
    thumb(swap_cols_[static_cast<std::size_t>(j)]);
  }
  for (int i = 0; i < r; ++i) {
    thumb(swap_rows_[static_cast<std::size_t>(i)]);
    for (int j = 0; j < c; ++j) {
      ImGui::SameLine();
      ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(swap_texture_)), ImVec2(cell, cell),
                   ImVec2(static_cast<float>(j) / c, static_cast<float>(i) / r),
                   ImVec2(static_cast<float>(j + 1) / c, static_cast<float>(i + 1) / r));
    }
  }
  ImGui::Text("core (wasm): %d swaps in %.1f ms", r * c, swap_ms_);
  if (ort_swap_ && engine_ == kOrt)
    ImGui::Text("shown: ONNX Runtime Web (swap.onnx), %.1f ms; max |ORT - core| %.1e", ort_swap_->ms, ort_swap_->max_diff);
}

void Explorer::build_atlas() {
  const Domain& d = samples_.images;
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

nlohmann::json Explorer::state() const {
  if (!model_) return {{"models", model_names_}, {"model_index", model_index_}, {"loaded", false}};
  return {{"loaded", true},
          {"pair_warning", pair_warning_},
          {"method", model_->card().value("method", "")},
          {"samples", samples_.images.size()},
          {"predictions", predicted_},
          {"source_accuracy", accuracy_[0]},
          {"target_accuracy", accuracy_[1]},
          {"forward_ms", core_.ms},
          {"predicted", predicted_count_},
          {"core_ready", core_.ready},
          {"engine", engine_ == kOrt ? "ort" : "core"},
          {"input_shape", {input_.n, input_.c, input_.h, input_.w}},
          {"ort", {{"status", ort_status_}, {"ready", ort_.ready}, {"ms", ort_.ms}, {"threads", ort_threads_}}},
          {"engine_max_diff", engine_max_diff_},
          {"model_index", model_index_},
          {"models", model_names_},
          {"selected", selected_},
          {"colour_by_domain", colour_by_domain_},
          {"projection", use_tsne_ ? "tsne" : "pca"},
          // The first points the z_inv plot shows (x0, y0, x1, y1, ...): the layout the view draws.
          {"inv_xy_head", std::vector<float>(inv_xy_.begin(), inv_xy_.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(8, inv_xy_.size())))},
          {"swap", {{"rows", swap_rows_}, {"cols", swap_cols_}, {"min_pair_mean_abs_diff", swap_min_pair_diff_},
                    {"min_cell_std", swap_min_std_}, {"ms", swap_ms_},
                    {"ort_ms", ort_swap_ ? ort_swap_->ms : -1.0}, {"ort_max_diff", ort_swap_ ? ort_swap_->max_diff : -1.0}}},
          {"tsne_iteration", tsne_inv_ ? tsne_inv_->iteration() : 0}};
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
  const auto& card = model_->card();
  const auto data = card.value("data", nlohmann::json::object());
  const auto metrics = card.value("metrics", nlohmann::json::object());
  const auto training = card.value("training", nlohmann::json::object());
  const auto options = training.value("options", nlohmann::json::object());
  const ModelConfig& c = model_->config();
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
              static_cast<long long>(parameter_count_));
  if (core_.ready)
    ImGui::Text("on these %d samples: source %.1f %%, target %.1f %%", samples_.images.size(), 100 * accuracy_[0],
                100 * accuracy_[1]);
  draw_engines();
}

void Explorer::draw_samples() {
  const Domain& d = samples_.images;
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
    if (ImGui::IsItemClicked()) selected_ = i;
    const int predicted = predicted_[static_cast<std::size_t>(i)];
    if (predicted < 0) {  // not predicted yet
      ImGui::PopID();
      return;
    }
    const bool wrong = predicted != d.labels[static_cast<std::size_t>(i)];
    if (wrong) dl->AddRect(a, b, IM_COL32(255, 60, 60, 255), 0, 0, S(2.f));
    if (i == selected_) dl->AddRect(ImVec2(a.x - S(2), a.y - S(2)), ImVec2(b.x + S(2), b.y + S(2)), IM_COL32(255, 255, 255, 255), 0, 0, S(2.f));
    const char* label = d.classes[static_cast<std::size_t>(predicted)].c_str();
    dl->AddText(ImVec2(a.x + S(2), b.y - ImGui::GetFontSize() - S(1)), wrong ? IM_COL32(255, 90, 90, 255) : IM_COL32(120, 255, 120, 255), label);
    if (ImGui::IsItemHovered()) {
      ImGui::BeginTooltip();
      ImGui::Text("true %s, predicted %s (%.0f %%)", d.classes[static_cast<std::size_t>(d.labels[static_cast<std::size_t>(i)])].c_str(),
                  label, 100 * confidence_[static_cast<std::size_t>(i)]);
      ImGui::EndTooltip();
    }
    ImGui::PopID();
  };
  for (int dom = 0; dom < 2; ++dom) {
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(dom ? kTargetColour : kSourceColour), "%s: %s",
                       dom ? "target" : "source", dom ? samples_.target.c_str() : samples_.source.c_str());
    const std::vector<int>& items = domain_items_[dom];
    const int rows = (static_cast<int>(items.size()) + per_row - 1) / per_row;
    // Only the rows in view are laid out: thousands of samples stay cheap.
    ImGuiListClipper clipper;
    clipper.Begin(rows, cell + ImGui::GetStyle().ItemSpacing.y);
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

void Explorer::draw_scatter(const char* title, const std::vector<float>& xy, float width, float height) {
  ImGui::BeginGroup();
  ImGui::TextUnformatted(title);
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
    thread_local std::vector<float> v;
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
    const int dom = samples_.domains[static_cast<std::size_t>(i)];
    const ImU32 col = colour_by_domain_ ? (dom ? kTargetColour : kSourceColour) : class_colour(samples_.images.labels[static_cast<std::size_t>(i)]);
    if (dom) dl->AddRectFilled(ImVec2(q.x - S(2.5f), q.y - S(2.5f)), ImVec2(q.x + S(2.5f), q.y + S(2.5f)), col);
    else dl->AddNgonFilled(q, S(3.f), col, 8);
    const float dd = (q.x - mouse.x) * (q.x - mouse.x) + (q.y - mouse.y) * (q.y - mouse.y);
    if (hovered && dd < best) best = dd, nearest = i;
  }
  dl->Flags = flags;
  if (selected_ >= 0 && selected_ < n) dl->AddCircle(at(selected_), S(7.f), IM_COL32(255, 255, 255, 255), 0, S(2.f));
  dl->AddText(ImVec2(p0.x + S(4), p1.y - ImGui::GetFontSize() - S(2)), IM_COL32(150, 150, 160, 255), use_tsne_ ? "t-SNE 1" : "PC 1");
  dl->AddText(ImVec2(p0.x + S(4), p0.y + S(2)), IM_COL32(150, 150, 160, 255), use_tsne_ ? "t-SNE 2" : "PC 2");
  if (nearest >= 0) {
    if (ImGui::IsItemClicked()) selected_ = nearest;
    const Domain& d = samples_.images;
    ImGui::BeginTooltip();
    const float aw = static_cast<float>(atlas_cols_ * d.width);
    const float ah = static_cast<float>(((d.size() + atlas_cols_ - 1) / atlas_cols_) * d.height);
    const ImVec2 uv0((nearest % atlas_cols_) * d.width / aw, (nearest / atlas_cols_) * d.height / ah);
    ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(texture_)), ImVec2(S(64), S(64)), uv0,
                 ImVec2(uv0.x + d.width / aw, uv0.y + d.height / ah));
    ImGui::Text("%s, true %s, predicted %s", samples_.domains[static_cast<std::size_t>(nearest)] ? "target" : "source",
                d.classes[static_cast<std::size_t>(d.labels[static_cast<std::size_t>(nearest)])].c_str(),
                d.classes[static_cast<std::size_t>(predicted_[static_cast<std::size_t>(nearest)])].c_str());
    ImGui::EndTooltip();
  }
  ImGui::EndGroup();
}

void Explorer::set_projection(bool tsne) {
  if (!model_ || !core_.ready) return;
  use_tsne_ = tsne;
  if (!tsne) {
    inv_xy_ = inv_pca_, spe_xy_ = spe_pca_;
    return;
  }
  if (!tsne_inv_) {
    const int n = samples_.images.size();
    tsne_inv_ = std::make_unique<Tsne>(inv_feat_, n, inv_dim_);
    tsne_spe_ = std::make_unique<Tsne>(spe_feat_, n, spe_dim_);
  }
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
  switch (which) {
    case kIntro: pos = ImVec2(m, m), size = ImVec2(left, intro_h); break;
    case kCard: pos = ImVec2(m, intro_h + 2 * m), size = ImVec2(left, std::max(S(200), d.y - intro_h - 3 * m)); break;
    case kEmbeddings: pos = ImVec2(left + 2 * m, m), size = ImVec2(std::max(S(300), right), top_h); break;
    case kSwap:
      pos = ImVec2(left + 2 * m, top_h + 2 * m);
      size = ImVec2(std::clamp(right, S(300), S(480)), std::max(S(200), d.y - top_h - 3 * m));
      break;
  }
  const ImGuiCond cond = relayout_ ? ImGuiCond_Always : ImGuiCond_FirstUseEver;
  ImGui::SetNextWindowPos(pos, cond);
  ImGui::SetNextWindowSize(size, cond);
}

void Explorer::draw() {
  if (!model_) {  // nothing loaded (the first model failed): the picker alone, to choose another
    if (model_names_.empty()) return;
    next_window(kCard);
    ImGui::Begin("Model and samples");
    draw_model_picker();
    ImGui::TextWrapped("No model is loaded: the one asked for could not be loaded (see the notice below). Pick another.");
    ImGui::End();
    return;
  }
  if (!core_.ready) predict_next(kChunk);
  next_window(kCard);
  ImGui::Begin("Model and samples");
  draw_model_card();
  ImGui::Separator();
  draw_samples();
  ImGui::End();

  next_window(kEmbeddings);
  ImGui::Begin("Embeddings");
  ImGui::TextUnformatted("projection:");
  ImGui::SameLine();
  if (ImGui::RadioButton("PCA", !use_tsne_)) set_projection(false);
  ImGui::SameLine();
  if (ImGui::RadioButton("t-SNE", use_tsne_) && !use_tsne_) set_projection(true);
  if (use_tsne_ && tsne_inv_) {
    if (tsne_inv_->iteration() < tsne_inv_->total_iterations()) {
      tsne_inv_->step(5);
      tsne_spe_->step(5);
    }
    inv_xy_ = tsne_inv_->embedding(), spe_xy_ = tsne_spe_->embedding();
    ImGui::SameLine();
    ImGui::ProgressBar(static_cast<float>(tsne_inv_->iteration()) / tsne_inv_->total_iterations(), ImVec2(S(160), 0));
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
  if (!colour_by_domain_) {  // the class legend
    ImGui::TextUnformatted("classes:");
    for (int k = 0; k < static_cast<int>(samples_.images.classes.size()) && k < 10; ++k) {
      ImGui::SameLine();
      ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(class_colour(k)), "%s", samples_.images.classes[static_cast<std::size_t>(k)].c_str());
    }
  }
  const float w = (ImGui::GetContentRegionAvail().x - S(12)) / 2,
              h = std::max(S(150), ImGui::GetContentRegionAvail().y - 2 * ImGui::GetTextLineHeightWithSpacing() - S(4));
  draw_scatter("z_inv, domain-invariant:\nshould cluster by class, domains mixed", inv_xy_, w, h);
  ImGui::SameLine(0, S(12));
  draw_scatter("z_spe, domain-specific:\nshould separate the domains", spe_xy_, w, h);
  ImGui::End();

  if (model_->config().pixel_decoder) {
    next_window(kSwap);
    ImGui::Begin("Swap: content x style");
    draw_swap();
    ImGui::End();
  }
}

}  // namespace dida::web
