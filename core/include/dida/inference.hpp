#pragma once
// The trained network, run by the core: natively and in the browser (wasm), without LibTorch.
// Reads model bundles (docs/BUNDLE.md; bundle_loading.cpp) and computes everything the page shows:
// class logits and probabilities, z_inv and z_spe (maps and pooled vectors), both domain heads,
// the feature and pixel reconstructions, and the swap R(z_inv(a), z_spe(b)).
//
// It runs the inference graphs of the network's one description (dida/network.hpp), compiled once
// per bundle (inference.cpp). Batch norm is folded into the preceding convolution at load time;
// convolutions and linear layers run as direct convolutions on channels-last maps (dida/conv2d.hpp:
// SIMD natively and WebAssembly SIMD in wasm); a batch is split over worker threads natively
// (worker_pool.hpp). Results agree with LibTorch within 1e-4 (tests/core/inference_test.cpp and the
// parity matrix).
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dida/conv2d.hpp"
#include "dida/network.hpp"

namespace dida {

// NCHW float tensor.
struct Tensor4 {
  int n = 0, c = 0, h = 0, w = 0;
  std::vector<float> data;
  Tensor4() = default;
  Tensor4(int n_, int c_, int h_, int w_) : n(n_), c(c_), h(h_), w(w_), data(static_cast<std::size_t>(n_) * c_ * h_ * w_) {}
  std::size_t per_item() const { return static_cast<std::size_t>(c) * h * w; }
  float* item(int i) { return data.data() + per_item() * static_cast<std::size_t>(i); }
  const float* item(int i) const { return data.data() + per_item() * static_cast<std::size_t>(i); }
};

// A row-major matrix of n rows (one per image).
struct Rows {
  int n = 0, d = 0;
  std::vector<float> data;
  const float* row(int i) const { return data.data() + static_cast<std::size_t>(d) * static_cast<std::size_t>(i); }
};

// A validated bundle: its card (config.json), model config and every tensor of parameter_specs().
struct BundleData {
  nlohmann::json card;
  ModelConfig config;
  std::map<std::string, std::vector<float>> tensors;
};
// The bundle layout this dida writes and reads (docs/BUNDLE.md). 2: model.onnx has one input and
// swap.onnx holds the swap; config.json lists the training-only tensors. 1: one model.onnx with
// the inputs "input" and "style".
constexpr int kBundleFormatVersion = 2;
enum class BundleAge {
  Current,         // only bundles of kBundleFormatVersion; older ones get a message saying what to do
  ConvertibleToo,  // older layouts whose tensors are the same too (`dida export` converts them)
};
// Reads DIR/config.json and DIR/model.safetensors. Every problem is a std::runtime_error of one
// line naming the file and the tensor or field: missing or extra tensors, wrong shapes or dtypes,
// truncated data, unknown format, architecture or version.
BundleData read_bundle(const std::string& dir, BundleAge age = BundleAge::Current);
// A run folder (holding bundle/) or a bundle folder -> the bundle folder. Throws a one-line
// std::runtime_error when `path` is neither.
std::string resolve_bundle_dir(const std::string& path);
BundleData parse_bundle(const std::string& config_text, std::vector<std::uint8_t> weights, const std::string& origin,
                        BundleAge age = BundleAge::Current);

class Model {
 public:
  explicit Model(const BundleData& bundle);
  // Throws a one-line error naming the bundle when its outputs are not finite on a probe image.
  static Model load(const std::string& dir);
  static Model from(const BundleData& bundle, const std::string& origin);

  const ModelConfig& config() const { return config_; }
  const nlohmann::json& card() const { return card_; }
  std::vector<std::string> class_names() const;

  // What forward() keeps, each value under its name in the network description: the predict
  // graph's outputs (logits, probs, z_inv, z_spe, dom_inv, dom_spe; dom_* column 1: target) and
  // f, p_inv, p_spe (what the heads see). A value with one vector per image is rows (N x D), the
  // others maps (N x C x H x W).
  class Outputs {
   public:
    const Tensor4& map(const std::string& name) const;  // throws std::out_of_range naming it
    const Rows& rows(const std::string& name) const;    // idem
    void add(const std::string& name, Tensor4 value, bool as_rows);
    void append(const Outputs& next);  // the next images' values (the same names)

   private:
    std::map<std::string, Tensor4> maps_;
    std::map<std::string, Rows> rows_;
  };
  // x: N x C x S x S in [-1, 1] (pixel / 127.5 - 1). With threads > 1 (native builds), the batch
  // is split into that many parts, run side by side; the outputs are the same.
  Outputs forward(const Tensor4& x) const;
  // Threads forward() may use (1: the calling thread only; the wasm build always uses one).
  void set_threads(int n) { threads_ = n < 1 ? 1 : n; }
  int threads() const { return threads_; }
  Tensor4 reconstruct_features(const Tensor4& z_inv, const Tensor4& z_spe) const;
  Tensor4 reconstruct_pixels(const Tensor4& z_inv, const Tensor4& z_spe) const;  // [-1, 1]
  // Content of `content` in the style of `style`: R_pix(z_inv(content), z_spe(style)), pairwise.
  Tensor4 swap(const Tensor4& content, const Tensor4& style) const;
  // z_inv or z_spe maps -> what the heads see (global average or flattened, as config().pool says).
  Rows pool(const Tensor4& z) const;

 private:
  using Conv = PackedConv;  // batch norm folded in
  struct Scale {  // a lone batch norm: y = x * w + b per channel
    std::vector<float> w, b;
  };
  struct Step {
    Op op;
    std::vector<int> in;
    int out = 0, param = -1;  // param: index into convs_ (convolutions and linear layers) or scales_
    bool relu = false;        // a ReLU fused into a Conv or Linear step
  };
  struct Program {  // one graph of the network, compiled against the bundle's tensors
    std::map<std::string, int> values;
    std::vector<int> inputs;
    std::vector<Step> steps;
  };
  Program compile(const Graph& g, const BundleData& b);
  // Runs a compiled inference graph; every value it defined, by number (Program::values). The
  // graph's outputs and the values named in `wanted` are N x C x H x W; the others that ended
  // channels-last (the convolutions' layout) come back empty.
  std::vector<Tensor4> run(const std::string& graph, const std::vector<const Tensor4*>& inputs,
                           const std::vector<std::string>& wanted = {}) const;

  ModelConfig config_;
  nlohmann::json card_;
  Network network_;
  std::vector<Conv> convs_;  // filled by compile()
  std::vector<Scale> scales_;
  std::map<std::string, Program> programs_;
  int threads_ = 1;
  std::vector<std::string> kept_;  // the values forward() keeps (Outputs)
  std::map<std::string, bool> kept_as_rows_;
  Outputs forward_one_thread(const Tensor4& x) const;
  void refuse_non_finite_outputs() const;
};

// Each image minus its mean, over sqrt(variance + eps), across channels and pixels: the network's
// first step when config.input_norm is "standardize".
Tensor4 standardize_images(const Tensor4& x);
// Each image's each channel to zero mean, unit variance over its pixels (eps kInputNormEps).
Tensor4 instance_normalize(const Tensor4& x);
// Pixels (N x H x W x C bytes, the data layout) -> N x C x H x W floats in [-1, 1].
Tensor4 pixels_to_input(const std::vector<std::uint8_t>& pixels, int n, int h, int w, int c);
// A [-1, 1] image tensor -> bytes N x H x W x C.
std::vector<std::uint8_t> output_to_pixels(const Tensor4& x);
std::vector<float> softmax(const float* logits, int n);

}  // namespace dida
