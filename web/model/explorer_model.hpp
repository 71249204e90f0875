#pragma once
// What the page's explorer knows and computes, without GL, ImGui or the browser: a loaded model and
// sample set, the core's predictions (a chunk at a time), ONNX Runtime Web's outputs and how far
// they are from the core's, the accuracies, the 2-D projections of z_inv and z_spe, the selection
// and the swap grid. The ImGui view (web/src/explorer.cpp) draws it; tests run it natively and as
// wasm (tests/core/explorer_model_test.cpp).
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dida/data.hpp"
#include "dida/inference.hpp"
#include "dida/probe.hpp"
#include "dida/projection.hpp"
#include "dida/replay.hpp"
#include "style_mixer.hpp"

namespace dida::web {

class ExplorerModel {
 public:
  enum Engine { kCore = 0, kOrt = 1 };
  // The core predicts the samples in chunks: the first at load, then one per frame, so the first
  // predictions show at once and the page stays responsive; plots and swaps follow when all are in.
  static constexpr int kFirstChunk = 8, kChunk = 64;  // the first chunk runs before the wasm code is optimised
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

  // The style mixer (style_mixer.hpp): the swap grid's rows, each in a style slid between two of
  // its columns' z_spe (columns a and b, 0-based; the first two at load).
  void set_mix_columns(int a, int b);
  void set_mix(double t);
  const StyleMixer& mixer() const { return mixer_; }
  int mix_column(int which) const { return which ? mix_b_ : mix_a_; }
  // Grows whenever the row shown changes (a new mix, ORT's row, another engine).
  int mix_version() const { return mix_version_; }
  const std::vector<std::uint8_t>& mix_pixels() const { return mix_pixels_; }  // the row shown, NHWC bytes
  // decoder.onnx on the mixer's inputs (mixer().z_inv(), mixer().mixed_z_spe()) for mix `version`
  // (ignored if the row changed since), [-1, 1].
  void set_ort_mix(double ms, int version, const float* row);
  bool ort_mix_ready() const { return ort_mix_.has_value() && ort_mix_of_ == mixer_.version(); }
  double mix_ort_ms() const { return mix_ort_ms_; }
  double mix_ort_max_diff() const { return mix_ort_max_diff_; }  // max |ORT - core| on the row; -1 before

  // The visitor's own images ("yours"): the drawing pad's digit and dropped files. Each is
  // predicted by the core at once (ONNX Runtime Web's answer arrives through set_ort_user) and
  // placed in both plots: projected on the samples' PCA plane, or, under t-SNE (which has no
  // mapping for new points), on the sample nearest to it in feature space.
  struct UserImage {
    std::string name;
    std::vector<std::uint8_t> pixels;  // the model's input size, H x W x C bytes
    std::vector<float> probs, inv_feat, spe_feat;
    int predicted = -1;
    float confidence = 0;
    int ort_predicted = -1;  // -1: ONNX Runtime Web has not answered (yet)
    float ort_confidence = 0;
    int nearest_inv = -1, nearest_spe = -1;  // the nearest sample in each feature space
  };
  static constexpr const char* kDrawingName = "your drawing";
  static constexpr int kMaxUserImages = 64;
  // An image the browser decoded (RGBA bytes, width x height; the browser's decoders keep
  // stb_image out of the page's wasm): resized to the model's input and predicted. Returns "" or a
  // one-line error naming the file.
  std::string add_user_rgba(const std::string& name, const std::vector<std::uint8_t>& rgba, int width, int height);
  // The drawing pad: `ink` (size x size, 0..1, white on black) is cropped to its strokes, scaled
  // and centred as MNIST's digits are, then predicted. An empty drawing removes it.
  void set_drawing(const std::vector<float>& ink, int size);
  const std::vector<UserImage>& user_images() const { return user_; }
  int drawing_index() const;  // -1: none
  // Grows whenever the user images change (the view re-uploads their thumbnails; the page asks
  // ONNX Runtime Web for its answers on user_input()).
  int user_version() const { return user_version_; }
  Tensor4 user_input() const;  // all user images as the model's input (N x C x H x W)
  // ONNX Runtime Web's probs on user_input(), for `count` images (ignored if they changed since).
  void set_ort_user(int count, int version, const float* probs);
  // Where user image i lies in the z_inv (inv = true) or z_spe plot.
  std::array<float, 2> user_xy(int i, bool inv) const;

  // Swap rows and columns are sample indices; n + i stands for user image i.
  void use_user_as_row(int i);
  void use_user_as_column(int i);
  // The swap grid's inputs, cell by cell (rows x columns, row-major), for swap.onnx.
  const Tensor4& swap_content() const { return swap_content_; }
  const Tensor4& swap_style() const { return swap_style_; }
  // The pixels of a swap entry (a sample or a user image).
  std::vector<std::uint8_t> entry_pixels(int entry) const;

  // Live probes on the features the plots show, fitted a few steps per frame (step_probes) after
  // every change of model, engine or samples: domain from z_inv, domain from z_spe, class from
  // z_spe. Fitting half and test half as in dida eval (equal numbers from both domains).
  enum ProbeKind { kDomainInv = 0, kDomainSpe = 1, kClassSpe = 2 };
  static constexpr std::size_t kProbeRows = 500;  // rows to fit and to test, at most
  struct ProbeReadout {
    double accuracy = -1, chance = 0;  // accuracy -1: not fitted yet
    double progress = 0;               // 0..1
    int draws = 0;                     // the draws of rows whose mean it is (page_probe_draws)
  };
  // With the sample set's probe images (SampleSet::probe_images) the probes read them beside the
  // shown samples: their features come first, a chunk per call, from the core model.
  void step_probes(long work);  // about `work` multiply-adds of fitting
  bool probes_done() const;    // all three fitted (or none to fit)
  int probe_images() const { return samples_.probe_images.size(); }
  ProbeReadout probe(ProbeKind k) const;

  // The training replayed (the bundle's replay.safetensors, fetched on demand): per epoch, where
  // these samples lay in z_inv and z_spe. Returns "" or a one-line error (a replay of other samples
  // is refused). Replay epoch -1 shows the live plots; 0..E-1 an epoch's layouts.
  std::string load_replay(std::vector<std::uint8_t> bytes, const std::string& origin);
  // The same from a training run's RUN/replay.jsonl and RUN/log.jsonl as they are while it trains
  // (the live view, served by dida serve): the epochs so far; the epoch shown stays unless it was
  // the newest.
  std::string load_run_replay(const std::string& layouts, const std::string& log, const std::string& origin);
  bool has_replay() const { return replay_.has_value(); }
  const Replay& replay() const { return *replay_; }
  void set_replay_epoch(int e);
  int replay_epoch() const { return replay_epoch_; }
  // What the plots show: the live layouts, or the replay's at its epoch.
  const std::vector<float>& shown_inv_xy() const { return replay_epoch_ >= 0 ? replay_inv_ : inv_xy_; }
  const std::vector<float>& shown_spe_xy() const { return replay_epoch_ >= 0 ? replay_spe_ : spe_xy_; }

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
    // The shown cells nearest, by their colour statistics, to their own column's style image
    // (dida eval's style retrieval, on this grid): a share of the cells; -1 under two columns.
    double style_retrieval = -1;
  };
  const SwapReadout& swap_readout() const { return swap_readout_; }

 private:
  void apply_engine();
  void start_probes();
  void fit_probes();  // once the probe images' features are in
  void predict_probe_images(int count);
  void predict_user(std::size_t from);
  std::string add_user_image(const std::string& name, Image img);
  void compute_swap();
  void show_swap(const Tensor4& cells);
  void compute_mix();
  void show_mix();

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
  Tensor4 swap_core_, swap_content_, swap_style_;
  std::optional<Tensor4> ort_swap_;
  std::vector<std::uint8_t> swap_pixels_;
  SwapReadout swap_readout_;
  int swap_version_ = 0;
  StyleMixer mixer_;
  int mix_a_ = 0, mix_b_ = 1, mix_version_ = 0, ort_mix_of_ = -1;
  std::optional<Tensor4> ort_mix_;
  double mix_ort_ms_ = -1, mix_ort_max_diff_ = -1;
  std::vector<std::uint8_t> mix_pixels_;
  PcaPlane inv_plane_, spe_plane_;
  std::vector<UserImage> user_;
  int user_version_ = 0;
  std::unique_ptr<ProbeOverDraws> probes_[3];  // over the page's draws of its rows (page_probe_draws)
  Tensor4 probe_input_;                                   // the probe images, as the model reads them
  std::vector<float> probe_inv_feat_, probe_spe_feat_;    // their pooled features so far
  int probe_predicted_ = 0;
  bool probes_pending_ = false;  // waiting for the probe images' features
  std::string use_replay(Replay r, const std::string& origin, bool keep_epoch);
  std::optional<Replay> replay_;
  int replay_epoch_ = -1;
  std::vector<float> replay_inv_, replay_spe_;
};

}  // namespace dida::web
