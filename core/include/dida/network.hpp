#pragma once
// The one description of the disentangling network (docs/METHOD.md), built from a ModelConfig.
// Every engine walks it: LibTorch builds its modules and runs its graphs (native/src/model.cpp),
// the core runs the inference graphs with Eigen (core/src/inference.cpp), and the exporter writes
// them as ONNX nodes (native/src/onnx_export.cpp). Parameter names and shapes come from here, and so
// does the rule which tensors only training needs.
//
// A network is a list of parameter modules (convolutions, batch norms, linear layers, in the order
// LibTorch registers them) and named graphs. A graph is an ordered list of layers; each layer reads
// named values and defines one. The parts:
//   encode      input -> f, z_inv, z_spe, p_f, p_inv, p_spe (and z_inv1, z_spe1 when progressive)
//   classifier  p_inv -> logits          dom_inv, dom_spe   p -> out (domain logits)
//   dom_inv1, dom_spe1  z -> out (progressive; average-pooled first)
//   mine        a, b -> t                feat_dec, pix_dec  z_inv, z_spe -> feat_rec / pix_rec
// and two graphs composed of them, what a bundle's ONNX files hold:
//   predict     input -> logits, probs, z_inv, z_spe, dom_inv, dom_spe
//   swap        content, style -> swap = pix_dec(z_inv(content), z_spe(style))
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dida/model_config.hpp"

namespace dida {

enum class Op {
  Standardize,    // per image: (x - mean) / sqrt(var + kInputNormEps) over channels and pixels
  Conv,           // module: padding kernel / 2 ('same' at stride 1), the module's stride, with bias
  BatchNorm,      // module: per channel, eps 1e-5 (running statistics at inference)
  Linear,         // module: [N, in] -> [N, out]
  Relu, Elu, Tanh,
  LeakyRelu,      // slope 0.2 below zero (the image critic's)
  SoftClip,       // 10 tanh(x / 10), squeezed to [N]: MINE's bounded statistic
  MaxPool2,       // 2 x 2, stride 2
  Upsample2,      // nearest, x 2
  GlobalAvgPool,  // [N, C, H, W] -> [N, C]
  Flatten,        // [N, C, H, W] -> [N, C H W]
  Add, Sub,       // elementwise, two inputs
  Concat,         // along channels (or features), two inputs
  Softmax,        // along features
  InstanceNorm,   // per image and channel: (x - mean) / sqrt(var + kInputNormEps) over the pixels, no parameters
  SpatialMean,    // per image and channel: every position set to the channel's mean over the pixels
  AdaIn,          // inputs x [N, C, H, W], shift [N, C], scale [N, C]: x instance-normalised, times scale, plus shift
  UnflattenAs,    // inputs x [N, D], ref [N, C, H, W] with C H W = D: x in ref's shape (Flatten's inverse)
};
const char* op_name(Op op);

// What a module is part of (METHOD.md's network): training picks modules by group, never by name
// (the staged optimisation's steps, the terms that train one part alone).
enum class ModuleGroup {
  Encoder,            // E
  Split,              // I and S (and the progressive first split)
  Classifier,         // C
  InvariantDomain,    // D_inv (behind the GRL)
  SpecificDomain,     // D_spe
  Statistics,         // T, MINE's statistics network
  FeatureDecoder,     // R_feat
  PixelDecoder,       // R_pix
  Erasure,            // z_inv's erasure of the domain's mean direction: set from statistics, not trained
  Critic,             // L_critic's image critic: trained in a step of its own, never in a bundle
};
// The staged optimisation (METHOD.md): step 0 trains every module; step 1 I, S, C, D_spe and T;
// step 2 I, S and R.
bool staged_step_trains(ModuleGroup group, int step);

struct ParamModule {
  std::string name;  // e.g. "encoder.conv1": its tensors are name + ".weight", ".bias", ...
  Op kind;           // Conv, BatchNorm or Linear
  int in = 0, out = 0, kernel = 0;  // BatchNorm: in = out = channels
  ModuleGroup group = ModuleGroup::Encoder;
  bool training_only = false;       // no inference graph (predict, swap, feat_dec, pix_dec) uses it
  int stride = 1;                   // Conv: 1 everywhere but in the critic (the core runs stride 1 only)
};

struct Layer {
  Op op;
  std::vector<std::string> in;  // value names read
  std::string out;              // value name defined
  std::string module;           // Conv, BatchNorm, Linear: the ParamModule's name
};

struct Graph {
  std::vector<std::string> inputs, outputs;
  std::vector<Layer> layers;
};

struct Network {
  ModelConfig config;
  std::vector<ParamModule> modules;
  std::map<std::string, Graph> graphs;

  const Graph& graph(const std::string& name) const;        // throws std::out_of_range naming it
  const ParamModule& module(const std::string& name) const;  // idem
  // The module a tensor belongs to ("pix_dec.conv1.weight" -> pix_dec.conv1); throws std::out_of_range.
  const ParamModule& module_of_tensor(const std::string& tensor) const;
  // One graph alone with the modules it uses (same names): e.g. a second, training-only copy of a head.
  Network part(const std::string& graph) const;
  // The graphs inference uses (what the core runs and the ONNX files hold).
  static const std::vector<std::string>& inference_graphs();
};

Network describe_network(const ModelConfig& config);
// MINE's statistics network T alone (graph "mine", inputs a and b of in / 2 features each).
Network describe_mine(int in, int hidden);
// L_critic's image critic (graph "critic": image -> out, one score per domain): three 3x3
// convolutions of stride 2 with leaky ReLUs (a DCGAN-style critic: a quarter of the work of
// convolving at full size and pooling), then a linear layer. Modules critic.conv1..3, critic.out.
Network describe_critic(const ModelConfig& config);

struct ParamSpec {
  std::string name;
  std::vector<std::int64_t> shape;
  bool training_only = false;  // of a module only training uses (MINE's T, the progressive heads)
};
// Every tensor a bundle of this config holds (parameters and batch-norm statistics), in the
// LibTorch module's naming, e.g. "encoder.conv1.weight", "encoder.bn1.running_mean".
std::vector<ParamSpec> parameter_specs(const ModelConfig& config);
std::vector<ParamSpec> parameter_specs(const ParamModule& m);
// Names of the tensors only training uses: a bundle for inference may leave them out.
std::vector<std::string> training_only_tensors(const ModelConfig& config);

// The shape of every value of a graph, per image (without the batch dimension); the graph's inputs
// are images of the config's size, or take `inputs` when given.
std::map<std::string, std::vector<std::int64_t>> value_shapes(const Network& net, const Graph& g,
                                                              std::map<std::string, std::vector<std::int64_t>> inputs = {});

}  // namespace dida
