#pragma once
// The explorer: a trained model and a sample set, run by the core in wasm, shown as a sample grid
// with predictions, two linked scatter plots (z_inv, z_spe) and the swap grid.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dida/data.hpp"
#include "dida/inference.hpp"
#include "dida/projection.hpp"
#include "explorer_model.hpp"

namespace dida::web {

// The ImGui view of an ExplorerModel: the model card and picker, the sample grid, the two linked
// scatter plots, the swap grid and the engine switch. It owns the GL textures; everything it shows
// is computed by the model (web/model/explorer_model.hpp).
class Explorer {
 public:
  using Engine = ExplorerModel::Engine;
  static constexpr Engine kCore = ExplorerModel::kCore, kOrt = ExplorerModel::kOrt;

  // Loads a bundle and a sample set (ExplorerModel::load) and builds the thumbnail atlas.
  std::string load(const std::string& config_text, std::vector<std::uint8_t> weights,
                   const std::vector<std::uint8_t>& samples, const std::string& origin);
  bool loaded() const { return m_.loaded(); }
  bool predicted_all() const { return m_.predicted_all(); }
  void draw();  // the ImGui windows
  nlohmann::json state() const;
  // "pca" or "tsne" (t-SNE starts, a few iterations per frame).
  void set_projection(bool tsne) { m_.set_projection(tsne); }
  // Screen rectangle (ImGui pixels) of sample i's thumbnail in the grid, for tests.
  std::vector<float> thumbnail_rect(int i) const;

  // The windows tile the canvas and are laid out again whenever its size changes; in between they
  // can be moved. Call begin_frame() once per frame, then next_window(w) before each window.
  enum Window { kIntro = 0, kCard = 1, kEmbeddings = 2, kSwap = 3 };
  void begin_frame();
  void next_window(Window w) const;

  // Sizes in the UI are multiplied by this (the device pixel ratio: ImGui works in device pixels).
  void set_ui_scale(float s) { scale_ = s; }
  // The bundles the page lists (names shown in the picker) and which one is loaded.
  void set_models(std::vector<std::string> names, int current);

  // Engines: the core (wasm) always runs; ONNX Runtime Web's outputs arrive from the page.
  const Tensor4& input() const { return m_.input(); }
  void set_ort_outputs(double ms, int threads, const float* probs, const float* z_inv, const float* z_spe) {
    m_.set_ort_outputs(ms, threads, probs, z_inv, z_spe);
  }
  void set_ort_status(std::string s) { m_.set_ort_status(std::move(s)); }
  void set_ort_swap(double ms, const float* swap) { m_.set_ort_swap(ms, swap); }
  void use_engine(Engine e) { m_.use_engine(e); }
  double bench_core(int batch, int reps) const { return m_.bench_core(batch, reps); }

 private:
  void build_atlas();
  void upload_swap();  // the model's swap cells into the swap texture, when they changed
  void draw_model_picker();
  void draw_model_card();
  void draw_samples();
  void draw_swap();
  void draw_scatter(const char* title, const std::vector<float>& xy, float width, float height);
  void draw_engines();
  float S(float v) const { return v * scale_; }

  ExplorerModel m_;
  unsigned texture_ = 0;
  int atlas_cols_ = 0;
  bool colour_by_domain_ = false;
  std::vector<std::vector<float>> thumb_rects_;
  float scale_ = 1.f;
  float last_w_ = 0, last_h_ = 0, last_scale_ = 0;
  bool relayout_ = true;
  std::vector<std::string> model_names_;
  int model_index_ = 0;
  unsigned swap_texture_ = 0;
  int swap_texture_version_ = -1;
};

}  // namespace dida::web
