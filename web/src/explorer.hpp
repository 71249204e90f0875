#pragma once
// The explorer: a trained model and a sample set, run by the core in wasm, shown as a sample grid
// with predictions and two linked scatter plots (z_inv, z_spe).
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dida/data.hpp"
#include "dida/inference.hpp"
#include "dida/projection.hpp"

namespace dida::web {

class Explorer {
 public:
  // Loads a bundle (config.json text + model.safetensors bytes) and a sample set; runs the model
  // on every sample and projects z_inv and z_spe with PCA. Returns "" or a one-line error.
  std::string load(const std::string& config_text, std::vector<std::uint8_t> weights,
                   const std::vector<std::uint8_t>& samples, const std::string& origin);
  bool loaded() const { return model_ != nullptr; }
  bool predicted_all() const { return core_.ready; }
  void draw();  // the ImGui windows
  nlohmann::json state() const;
  // "pca" or "tsne" (t-SNE starts, a few iterations per frame).
  void set_projection(bool tsne);
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

  // Engines. The core (wasm) always runs; ONNX Runtime Web's outputs for the same input arrive
  // from the page. The chosen engine drives predictions and plots.
  enum Engine { kCore = 0, kOrt = 1 };
  const Tensor4& input() const { return input_; }
  // probs: n x classes; z_inv, z_spe: the maps, n x f x s x s (NCHW), as the ONNX model outputs them.
  void set_ort_outputs(double ms, int threads, const float* probs, const float* z_inv, const float* z_spe);
  void set_ort_status(std::string s) { ort_status_ = std::move(s); }
  // ONNX Runtime Web's swap.onnx on the swap grid's cells (rows x columns, as the state lists them).
  void set_ort_swap(double ms, const float* swap);
  void use_engine(Engine e);
  // Mean milliseconds of the core's forward pass over `batch` images (the samples, tiled), `reps` calls.
  double bench_core(int batch, int reps) const;

 private:
  void build_atlas();
  void draw_model_picker();
  void draw_model_card();
  void draw_samples();
  void compute_swap();
  void show_swap(const Tensor4& out);  // cells -> pixels, readouts, texture
  void draw_swap();
  void draw_scatter(const char* title, const std::vector<float>& xy, float width, float height);
  void draw_engines();
  void apply_engine();
  // The core predicts the samples in chunks: the first at load, then one per frame, so the first
  // predictions show at once and the page stays responsive; plots and swaps follow when all are in.
  static constexpr int kFirstChunk = 32, kChunk = 64;
  void predict_next(int count);
  int predicted_count_ = 0;  // predictions, accuracies and projections from the chosen engine's outputs
  float S(float v) const { return v * scale_; }

  // One engine's outputs on all samples.
  struct EngineOutputs {
    std::vector<float> probs, z_inv, z_spe;
    double ms = 0;
    bool ready = false;
  };

  std::unique_ptr<Model> model_;
  SampleSet samples_;
  std::vector<int> predicted_;
  std::vector<int> domain_items_[2];  // sample indices of each domain, in order
  std::vector<float> confidence_;
  std::vector<float> inv_xy_, spe_xy_;  // n x 2, what the plots show
  std::vector<float> inv_pca_, spe_pca_, inv_feat_, spe_feat_;
  int inv_dim_ = 0, spe_dim_ = 0;
  // t-SNE runs a few iterations per frame so the page stays responsive.
  std::unique_ptr<Tsne> tsne_inv_, tsne_spe_;
  bool use_tsne_ = false;
  unsigned texture_ = 0;
  int atlas_cols_ = 0;
  int selected_ = -1;
  double accuracy_[2] = {0, 0};  // on the samples: source, target
  bool colour_by_domain_ = false;
  std::vector<std::vector<float>> thumb_rects_;
  Tensor4 input_;  // the samples as the model's input
  EngineOutputs core_, ort_;
  Engine engine_ = kCore;
  double engine_max_diff_ = -1;  // max |core - ORT| over probs, z_inv, z_spe; -1 before ORT ran
  int ort_threads_ = 0;
  std::string ort_status_ = "not loaded";
  float scale_ = 1.f;
  float last_w_ = 0, last_h_ = 0, last_scale_ = 0;
  bool relayout_ = true;
  std::int64_t parameter_count_ = 0;  // values inference uses (without T)
  std::string pair_warning_;  // the samples are of another pair than the model's (sample_pair_mismatch)
  std::vector<std::string> model_names_;
  int model_index_ = 0;
  // Swap grid: rows are contents (source samples), columns styles (target samples).
  std::vector<int> swap_rows_, swap_cols_;
  std::vector<std::uint8_t> swap_pixels_;  // rows*cols images, NHWC
  Tensor4 swap_core_;                      // the core's cells, [-1, 1]
  struct OrtSwap {
    double ms = 0, max_diff = 0;  // max |ORT - core| over the cells
    Tensor4 cells;
  };
  std::optional<OrtSwap> ort_swap_;
  unsigned swap_texture_ = 0;
  double swap_min_pair_diff_ = 0, swap_min_std_ = 0, swap_ms_ = 0;
  int next_row_ = 0, next_col_ = 0;
};

}  // namespace dida::web
