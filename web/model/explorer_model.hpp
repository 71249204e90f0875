#pragma once
// What the page's explorer knows and computes, without GL, ImGui or the browser: a loaded model and
// sample set, the core's predictions (a chunk at a time), ONNX Runtime Web's outputs and how far
// they are from the core's, the accuracies, the 2-D projections of z_inv and z_spe, the selection
// and the swap grid. The ImGui view (web/src/explorer.cpp) draws it; tests run it natively and as
// wasm (tests/core/explorer_model_test.cpp).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dida/data.hpp"
#include "dida/inference.hpp"
#include "dida/projection.hpp"

namespace dida::web {

class ExplorerModel {
 public:
  enum Engine { kCore = 0, kOrt = 1 };
  // The core predicts the samples in chunks: the first at load, then one per frame, so the first
  // predictions show at once and the page stays responsive; plots and swaps follow when all are in.
  static constexpr int kFirstChunk = 32, kChunk = 64;
  static constexpr int kSwapSize = 4;  // rows (source contents) and columns (target styles)

  // Loads a bundle (config.json text + model.safetensors bytes) and a sample set and predicts the
  // first chunk. Returns "" or a one-line error (the model loaded before stays then).
  std::string load(const std::string& config_text, std::vector<std::uint8_t> weights,
                   const std::vector<std::uint8_t>& samples, const std::string& origin);
  bool loaded() const { return model_ != nullptr; }
  // The core predicts the next `count` samples; when all are in: accuracies, projections, swaps.
  void predict_next(int count = kChunk);
  bool predicted_all() const { return core_.ready; }
  int predicted_count() const { return predicted_count_; }

  // ONNX Runtime Web's outputs on input(): probs (n x classes), z_inv and z_spe maps (NCHW).
  void set_ort_outputs(double ms, int threads, const float* probs, const float* z_inv, const float* z_spe);
  void set_ort_status(std::string s) { ort_status_ = std::move(s); }
  // swap.onnx on the swap grid's cells (rows x columns, row-major), [-1, 1].
  void set_ort_swap(double ms, const float* swap);
  void use_engine(Engine e);  // ORT only once its outputs are in
  Engine engine() const { return engine_; }

  // "pca" or "tsne": t-SNE starts and advances with step_tsne().
  void set_projection(bool tsne);
  bool tsne() const { return use_tsne_; }
  void step_tsne(int iterations);
  double tsne_progress() const;  // 0..1
  int tsne_iteration() const;

  void select(int i);
  int selected() const { return selected_; }
  // The selected sample becomes the next content row / style column of the swap grid (in turn).
  void use_selected_as_row();
  void use_selected_as_column();
  // Grows whenever the cells shown change (new cells, ORT's cells, another engine): the view
  // uploads its texture again, and asks ORT for its cells when it is the engine.
  int swap_version() const { return swap_version_; }
  bool ort_swap_ready() const { return ort_swap_.has_value(); }

  // Mean milliseconds of the core's forward pass over `batch` images (the samples, tiled).
  double bench_core(int batch, int reps) const;

  const Model& model() const { return *model_; }
  const SampleSet& samples() const { return samples_; }
  const Tensor4& input() const { return input_; }
  const std::vector<int>& predicted() const { return predicted_; }  // -1: not yet
  const std::vector<float>& confidence() const { return confidence_; }
  const std::vector<int>& domain_items(int domain) const { return domain_items_[domain ? 1 : 0]; }
  double accuracy(int domain) const { return accuracy_[domain ? 1 : 0]; }
  const std::vector<float>& inv_xy() const { return inv_xy_; }  // n x 2, what the plots show
  const std::vector<float>& spe_xy() const { return spe_xy_; }
  std::int64_t parameter_count() const { return parameter_count_; }  // values inference uses
  const std::string& pair_warning() const { return pair_warning_; }
  const std::vector<int>& swap_rows() const { return swap_rows_; }
  const std::vector<int>& swap_cols() const { return swap_cols_; }
  const std::vector<std::uint8_t>& swap_pixels() const { return swap_pixels_; }  // cells, NHWC bytes

  struct EngineOutputs {  // one engine's outputs on all samples
    std::vector<float> probs, z_inv, z_spe;
    double ms = 0;
    bool ready = false;
  };
  const EngineOutputs& core_outputs() const { return core_; }
  const EngineOutputs& ort_outputs() const { return ort_; }
  int ort_threads() const { return ort_threads_; }
  const std::string& ort_status() const { return ort_status_; }
  // Max |core - ORT| over probs, z_inv, z_spe (relative above magnitude 1); -1 before ORT ran.
  double engine_max_diff() const { return engine_max_diff_; }
  struct SwapReadout {
    double ms = 0;                 // the core's time for the cells
    double min_pair_diff = 0;      // smallest mean |difference| between two cells (0..255)
    double min_cell_std = 0;       // smallest spread of one cell's pixels: a blank cell has 0
    double ort_ms = -1, ort_max_diff = -1;  // swap.onnx's time and max |ORT - core|; -1 before
  };
  const SwapReadout& swap_readout() const { return swap_readout_; }

 private:
  void apply_engine();
  void compute_swap();
  void show_swap(const Tensor4& cells);

  std::unique_ptr<Model> model_;
  SampleSet samples_;
  Tensor4 input_;
  std::vector<int> predicted_;
  std::vector<float> confidence_;
  std::vector<int> domain_items_[2];
  int predicted_count_ = 0;
  double accuracy_[2] = {0, 0};
  std::vector<float> inv_xy_, spe_xy_, inv_pca_, spe_pca_, inv_feat_, spe_feat_;
  int inv_dim_ = 0, spe_dim_ = 0;
  std::unique_ptr<Tsne> tsne_inv_, tsne_spe_;
  bool use_tsne_ = false;
  int selected_ = -1;
  EngineOutputs core_, ort_;
  Engine engine_ = kCore;
  double engine_max_diff_ = -1;
  int ort_threads_ = 0;
  std::string ort_status_ = "not loaded";
  std::int64_t parameter_count_ = 0;
  std::string pair_warning_;
  std::vector<int> swap_rows_, swap_cols_;
  int next_row_ = 0, next_col_ = 0;
  Tensor4 swap_core_;
  std::optional<Tensor4> ort_swap_;
  std::vector<std::uint8_t> swap_pixels_;
  SwapReadout swap_readout_;
  int swap_version_ = 0;
};

}  // namespace dida::web
