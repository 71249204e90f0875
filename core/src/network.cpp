#include "dida/network.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace dida {
namespace {

// Builds the modules and graphs; each helper adds a module (once) and the layer that uses it.
class Builder {
 public:
  explicit Builder(Network& n) : n_(n) {}

  // Declares a parameter module (in LibTorch's registration order: this order seeds initialisation),
  // in the group set by group() before it.
  void group(ModuleGroup g) { group_ = g; }
  void conv(const std::string& name, int in, int out, int k) { n_.modules.push_back({name, Op::Conv, in, out, k, group_}); }
  void bn(const std::string& name, int ch) { n_.modules.push_back({name, Op::BatchNorm, ch, ch, 0, group_}); }
  void linear(const std::string& name, int in, int out) { n_.modules.push_back({name, Op::Linear, in, out, 0, group_}); }

  Graph& start(const std::string& name, std::vector<std::string> inputs, std::vector<std::string> outputs) {
    g_ = &n_.graphs[name];
    g_->inputs = std::move(inputs), g_->outputs = std::move(outputs);
    return *g_;
  }
  std::string op(Op op, std::vector<std::string> in, const std::string& out, const std::string& module = "") {
    g_->layers.push_back({op, std::move(in), out, module});
    return out;
  }
  std::string conv_bn_relu(const std::string& x, const std::string& conv, const std::string& bn, const std::string& out) {
    return op(Op::Relu, {op(Op::BatchNorm, {op(Op::Conv, {x}, out + ".conv", conv)}, out + ".bn", bn)}, out);
  }
  std::string mlp(const std::string& x, const std::string& name, const std::string& out) {  // fc1 -> ReLU -> fc2
    return op(Op::Linear, {op(Op::Relu, {op(Op::Linear, {x}, out + ".fc1", name + ".fc1")}, out + ".relu")}, out, name + ".fc2");
  }
  // Copies graph `src` into the current one: its inputs read the given values, every other value
  // is prefixed; returns the names its outputs got.
  std::map<std::string, std::string> inline_graph(const std::string& src, const std::map<std::string, std::string>& inputs,
                                                  const std::string& prefix) {
    const Graph s = n_.graphs.at(src);
    auto rename = [&](const std::string& v) { return inputs.count(v) ? inputs.at(v) : prefix + v; };
    for (const auto& l : s.layers) {
      Layer c = l;
      for (auto& i : c.in) i = rename(i);
      c.out = rename(l.out);
      g_->layers.push_back(c);
    }
    std::map<std::string, std::string> out;
    for (const auto& o : s.outputs) out[o] = rename(o);
    return out;
  }

 private:
  Network& n_;
  Graph* g_ = nullptr;
  ModuleGroup group_ = ModuleGroup::Encoder;
};

// MINE's statistics network T(a, b): [a, b] -> fc1 -> ELU -> fc2 -> ELU -> fc3 -> 10 tanh(. / 10).
void add_mine_modules(Builder& b, int in, int hidden) {
  b.group(ModuleGroup::Statistics);
  b.linear("mine.fc1", in, hidden);
  b.linear("mine.fc2", hidden, hidden);
  b.linear("mine.fc3", hidden, 1);
}
void add_mine_graph(Builder& b) {
  b.start("mine", {"a", "b"}, {"t"});
  std::string t = b.op(Op::Concat, {"a", "b"}, "ab");
  t = b.op(Op::Elu, {b.op(Op::Linear, {t}, "fc1", "mine.fc1")}, "elu1");
  t = b.op(Op::Elu, {b.op(Op::Linear, {t}, "fc2", "mine.fc2")}, "elu2");
  b.op(Op::SoftClip, {b.op(Op::Linear, {t}, "fc3", "mine.fc3")}, "t");
}

}  // namespace

Network describe_mine(int in, int hidden) {
  Network n;
  Builder b(n);
  add_mine_modules(b, in, hidden);
  add_mine_graph(b);
  for (auto& m : n.modules) m.training_only = true;
  return n;
}

Network describe_critic(const ModelConfig& config) {
  Network n;
  n.config = config;
  Builder b(n);
  b.group(ModuleGroup::Critic);
  const int channels[] = {config.in_channels, 16, 32, 64};
  b.start("critic", {"image"}, {"out"});
  std::string x = "image";
  for (int k = 1; k <= 3; ++k) {
    const std::string name = "critic.conv" + std::to_string(k);
    b.conv(name, channels[k - 1], channels[k], 3);
    n.modules.back().stride = 2;
    x = b.op(Op::LeakyRelu, {b.op(Op::Conv, {x}, "conv" + std::to_string(k), name)}, "lrelu" + std::to_string(k));
  }
  x = b.op(Op::Flatten, {x}, "flat");
  const auto flat = value_shapes(n, n.graphs.at("critic")).at(x);
  b.linear("critic.out", static_cast<int>(flat.at(0)), 2);
  b.op(Op::Linear, {x}, "out", "critic.out");
  // Declared (and so initialised) last layer first: the order the critic has been initialised in
  // since it was a hand-built nn::Sequential (whose arguments were constructed right to left), so a
  // run keeps its weights.
  std::reverse(n.modules.begin(), n.modules.end());
  for (auto& m : n.modules) m.training_only = true;
  return n;
}

const char* op_name(Op op) {
  switch (op) {
    case Op::Standardize: return "Standardize";
    case Op::Conv: return "Conv";
    case Op::BatchNorm: return "BatchNorm";
    case Op::Linear: return "Linear";
    case Op::Relu: return "Relu";
    case Op::Elu: return "Elu";
    case Op::Tanh: return "Tanh";
    case Op::LeakyRelu: return "LeakyRelu";
    case Op::SoftClip: return "SoftClip";
    case Op::MaxPool2: return "MaxPool2";
    case Op::Upsample2: return "Upsample2";
    case Op::GlobalAvgPool: return "GlobalAvgPool";
    case Op::Flatten: return "Flatten";
    case Op::Add: return "Add";
    case Op::Sub: return "Sub";
    case Op::Concat: return "Concat";
    case Op::Softmax: return "Softmax";
    case Op::InstanceNorm: return "InstanceNorm";
    case Op::SpatialMean: return "SpatialMean";
    case Op::AdaIn: return "AdaIn";
    case Op::UnflattenAs: return "UnflattenAs";
  }
  return "?";
}

bool staged_step_trains(ModuleGroup group, int step) {
  using G = ModuleGroup;
  switch (step) {
    case 0: return group != G::Erasure;
    case 1: return group == G::Split || group == G::Classifier || group == G::SpecificDomain || group == G::Statistics;
    case 2: return group == G::Split || group == G::FeatureDecoder || group == G::PixelDecoder;
    default: return false;
  }
}

const ParamModule& Network::module_of_tensor(const std::string& tensor) const {
  const auto dot = tensor.rfind('.');
  return module(dot == std::string::npos ? tensor : tensor.substr(0, dot));
}

const Graph& Network::graph(const std::string& name) const {
  const auto it = graphs.find(name);
  if (it == graphs.end()) throw std::out_of_range("network: no graph \"" + name + "\"");
  return it->second;
}

const ParamModule& Network::module(const std::string& name) const {
  for (const auto& m : modules)
    if (m.name == name) return m;
  throw std::out_of_range("network: no module \"" + name + "\"");
}

Network Network::part(const std::string& name) const {
  Network n;
  n.config = config;
  const Graph& g = graph(name);
  n.graphs[name] = g;
  for (const auto& m : modules)
    for (const auto& l : g.layers)
      if (l.module == m.name) {
        n.modules.push_back(m);
        break;
      }
  return n;
}

const std::vector<std::string>& Network::inference_graphs() {
  static const std::vector<std::string> names = {"predict", "swap", "feat_dec", "pix_dec"};
  return names;
}

Network describe_network(const ModelConfig& c) {
  c.validate();
  Network n;
  n.config = c;
  Builder b(n);
  const int w = c.width, f = c.feature_channels(), pf = c.pooled_size(), h = c.head_hidden;

  // Modules, in registration order.
  using G = ModuleGroup;
  // E's three blocks (the style variant's S has the same, under "spe"; a light S, 3x3 kernels; a
  // pointwise S, 1x1 kernels: it sees only colours, and through its poolings 8x8 patches).
  const auto three_blocks = [&](const std::string& p, int k, int k3) {
    b.conv(p + ".conv1", c.in_channels, w, k);
    b.bn(p + ".bn1", w);
    b.conv(p + ".conv2", w, 2 * w, k);
    b.bn(p + ".bn2", 2 * w);
    b.conv(p + ".conv3", 2 * w, f, k3);
    b.bn(p + ".bn3", f);
  };
  b.group(G::Encoder);
  three_blocks("encoder", 5, 3);
  if (c.progressive) {
    b.group(G::Split);
    b.conv("inv1.conv", w, w, 3);
    b.bn("inv1.bn", w);
    b.conv("spe1.conv", w, w, 5);
    b.bn("spe1.bn", w);
    b.group(G::InvariantDomain);
    b.linear("dom_inv1.fc1", w, h);
    b.linear("dom_inv1.fc2", h, 2);
    b.group(G::SpecificDomain);
    b.linear("dom_spe1.fc1", w, h);
    b.linear("dom_spe1.fc2", h, 2);
  }
  b.group(G::Split);
  b.conv("inv.conv", f, f, 3);
  b.bn("inv.bn", f);
  if (c.variant == "branch") {
    b.conv("spe.conv", f, f, 5);
    b.bn("spe.bn", f);
  }
  if (c.variant == "style")  // S: an encoder of its own, on the image before standardisation
    three_blocks("spe", c.style_encoder == "light" ? 3 : c.style_encoder == "pointwise" ? 1 : 5,
                 c.style_encoder == "pointwise" ? 1 : 3);
  b.group(G::Classifier);
  b.linear("classifier.fc1", pf, h);
  b.linear("classifier.fc2", h, c.num_classes);
  b.group(G::InvariantDomain);
  b.linear("dom_inv.fc1", pf, h);
  b.linear("dom_inv.fc2", h, 2);
  b.group(G::SpecificDomain);
  b.linear("dom_spe.fc1", pf, h);
  b.linear("dom_spe.fc2", h, 2);
  add_mine_modules(b, 2 * pf, c.mine_hidden);
  b.group(G::FeatureDecoder);
  b.conv("feat_dec", 2 * f, f, 1);
  // R_pix: 3x3 convs with ReLU; a x2 nearest up-sampling before each of the given scales' first;
  // the last conv (to the image's channels) ends in tanh.
  struct DecoderConv {
    std::string name;
    int in, out;
    bool upsample_before;
  };
  std::vector<DecoderConv> dec;
  if (c.decoder == "wide")
    dec = {{"conv1", 2 * f, 4 * w, false}, {"conv2", 4 * w, 2 * w, true}, {"conv2b", 2 * w, 2 * w, false},
           {"conv3", 2 * w, 2 * w, true},  {"conv3b", 2 * w, w, false},    {"conv4", w, w, true},
           {"conv5", w, c.in_channels, false}};
  else
    dec = {{"conv1", 2 * f, 2 * w, false}, {"conv2", 2 * w, w, true}, {"conv3", w, w, true}, {"conv4", w, c.in_channels, true}};
  b.group(G::PixelDecoder);
  if (c.pixel_decoder) {
    for (const auto& d : dec) b.conv("pix_dec." + d.name, d.in, d.out, 3);
    if (c.decoder_style == "adain") {  // the image's colour statistics, read from z_spe's global average
      b.linear("pix_dec.shift", f, c.in_channels);
      b.linear("pix_dec.scale", f, c.in_channels);
    }
  }
  // The erasure: z_inv (flattened) minus up(down(z_inv)), with up's weight Q, an orthonormal basis
  // of the domains' mean differences (one column per direction), and down's its transpose (biases
  // 0): the projection on their span. Training sets them once it is over (TrainStep::set_erasure);
  // registered last, so that the other modules' initial weights do not depend on it.
  const int zd = f * c.feature_size() * c.feature_size();
  if (c.erase_domain_mean) {
    b.group(G::Erasure);
    b.linear("inv_erase.down", zd, c.erase_directions);
    b.linear("inv_erase.up", c.erase_directions, zd);
  }

  // E, then the split: I and S (or z_spe = F - I(F)), and what the heads see.
  std::vector<std::string> encoded = {"f", "z_inv", "z_spe", "p_f", "p_inv", "p_spe"};
  if (c.progressive) encoded.insert(encoded.end(), {"z_inv1", "z_spe1"});
  b.start("encode", {"input"}, encoded);
  const std::string x = c.input_norm == "standardize" ? b.op(Op::Standardize, {"input"}, "standardized") : "input";
  std::string h1 = b.op(Op::MaxPool2, {b.conv_bn_relu(x, "encoder.conv1", "encoder.bn1", "e1")}, "e1.pool");
  if (c.progressive) {
    b.conv_bn_relu(h1, "inv1.conv", "inv1.bn", "z_inv1");
    b.conv_bn_relu(h1, "spe1.conv", "spe1.bn", "z_spe1");
    h1 = b.op(Op::Add, {h1, "z_inv1"}, "h1");  // only the invariant part flows on
  }
  const std::string h2 = b.op(Op::MaxPool2, {b.conv_bn_relu(h1, "encoder.conv2", "encoder.bn2", "e2")}, "e2.pool");
  b.op(Op::MaxPool2, {b.conv_bn_relu(h2, "encoder.conv3", "encoder.bn3", "e3")}, "f");
  if (c.erase_domain_mean) {
    const std::string raw = b.conv_bn_relu("f", "inv.conv", "inv.bn", "z_inv.raw");
    const std::string flat = b.op(Op::Flatten, {raw}, "z_inv.flat");
    const std::string along = b.op(Op::Linear, {b.op(Op::Linear, {flat}, "z_inv.gap_coord", "inv_erase.down")}, "z_inv.along_gap", "inv_erase.up");
    b.op(Op::UnflattenAs, {b.op(Op::Sub, {flat, along}, "z_inv.erased"), raw}, "z_inv");
  } else {
    b.conv_bn_relu("f", "inv.conv", "inv.bn", "z_inv");
  }
  if (c.variant == "vector") {
    b.op(Op::Sub, {"f", "z_inv"}, "z_spe");
  } else if (c.variant == "style") {
    // One code per image (each channel's mean, at every position): the image's look, which the
    // standardisation takes from E, without the layout of its content.
    const bool half = c.style_encoder != "full";
    const std::string seen = half ? b.op(Op::MaxPool2, {"input"}, "s0.pool") : "input";
    std::string s = b.op(Op::MaxPool2, {b.conv_bn_relu(seen, "spe.conv1", "spe.bn1", "s1")}, "s1.pool");
    s = b.op(Op::MaxPool2, {b.conv_bn_relu(s, "spe.conv2", "spe.bn2", "s2")}, "s2.pool");
    s = b.conv_bn_relu(s, "spe.conv3", "spe.bn3", "s3");
    // The light S started at half size: its third block is already at z_inv's size.
    if (!half) s = b.op(Op::MaxPool2, {s}, "s3.pool");
    b.op(Op::SpatialMean, {s}, "z_spe");
  } else {
    b.conv_bn_relu("f", "spe.conv", "spe.bn", "z_spe");
  }
  const Op pool = c.pool == "avg" ? Op::GlobalAvgPool : Op::Flatten;
  for (const char* z : {"f", "z_inv", "z_spe"}) b.op(pool, {z}, std::string("p_") + (z[0] == 'f' ? "f" : z + 2));

  b.start("classifier", {"p_inv"}, {"logits"});
  b.mlp("p_inv", "classifier", "logits");
  for (const char* head : {"dom_inv", "dom_spe"}) {
    b.start(head, {"p"}, {"out"});
    b.mlp("p", head, "out");
  }
  if (c.progressive)
    for (const char* head : {"dom_inv1", "dom_spe1"}) {
      b.start(head, {"z"}, {"out"});
      b.mlp(b.op(Op::GlobalAvgPool, {"z"}, "p"), head, "out");
    }
  add_mine_graph(b);

  // decoder_style "adain": the image's colour statistics (a mean and a spread per channel) as z_spe's
  // global average says them; R_pix gives its output these, and L_stats trains them on their own.
  const auto style_stats = [&b]() {
    const std::string code = b.op(Op::GlobalAvgPool, {"z_spe"}, "style");
    const std::string shift = b.op(Op::Linear, {code}, "shift", "pix_dec.shift");
    return std::make_pair(shift, b.op(Op::Linear, {code}, "scale", "pix_dec.scale"));
  };
  if (c.pixel_decoder && c.decoder_style == "adain") {
    b.start("style_stats", {"z_spe"}, {"shift", "scale"});
    style_stats();
  }

  b.start("feat_dec", {"z_inv", "z_spe"}, {"feat_rec"});
  b.op(Op::Conv, {b.op(Op::Concat, {"z_inv", "z_spe"}, "z")}, "feat_rec", "feat_dec");
  if (c.pixel_decoder) {
    b.start("pix_dec", {"z_inv", "z_spe"}, {"pix_rec"});
    // decoder_norm "instance": z_inv normalised per image and channel first, so the first-order
    // statistics (where the style lives) reach R_pix only through z_spe.
    const std::string content = c.decoder_norm == "instance" ? b.op(Op::InstanceNorm, {"z_inv"}, "z_inv.norm") : "z_inv";
    std::string r = b.op(Op::Concat, {content, "z_spe"}, "z");
    const bool adain = c.decoder_style == "adain";
    for (std::size_t k = 0; k < dec.size(); ++k) {
      const auto& d = dec[k];
      if (d.upsample_before) r = b.op(Op::Upsample2, {r}, d.name + ".up");
      r = b.op(Op::Conv, {r}, d.name, "pix_dec." + d.name);
      if (k + 1 < dec.size()) r = b.op(Op::Relu, {r}, d.name + ".relu");
      else if (!adain) b.op(Op::Tanh, {r}, "pix_rec");
    }
    if (adain) {
      // decoder_style "adain": the decoded image normalised per channel, then given the mean (shift)
      // and spread (scale) that z_spe says, as AdaIN gives a content its style's statistics.
      const auto [shift, scale] = style_stats();
      b.op(Op::AdaIn, {r, shift, scale}, "pix_rec");
    }
  }

  // The composed graphs: what a bundle's ONNX files hold and the core runs.
  b.start("predict", {"input"}, {"logits", "probs", "z_inv", "z_spe", "dom_inv", "dom_spe"});
  const auto e = b.inline_graph("encode", {{"input", "input"}, {"z_inv", "z_inv"}, {"z_spe", "z_spe"}, {"f", "f"},
                                           {"p_inv", "p_inv"}, {"p_spe", "p_spe"}}, "enc/");
  b.inline_graph("classifier", {{"p_inv", e.at("p_inv")}, {"logits", "logits"}}, "classifier/");
  b.op(Op::Softmax, {"logits"}, "probs");
  b.inline_graph("dom_inv", {{"p", e.at("p_inv")}, {"out", "dom_inv"}}, "dom_inv/");
  b.inline_graph("dom_spe", {{"p", e.at("p_spe")}, {"out", "dom_spe"}}, "dom_spe/");
  if (c.pixel_decoder) {
    b.start("swap", {"content", "style"}, {"swap"});
    const auto ec = b.inline_graph("encode", {{"input", "content"}}, "content/");
    const auto es = b.inline_graph("encode", {{"input", "style"}}, "style/");
    b.inline_graph("pix_dec", {{"z_inv", ec.at("z_inv")}, {"z_spe", es.at("z_spe")}, {"pix_rec", "swap"}}, "dec/");
  }

  // A graph keeps only the layers its outputs need (the composed ones inline whole parts).
  for (auto& [name, g] : n.graphs) {
    std::set<std::string> needed(g.outputs.begin(), g.outputs.end());
    std::vector<Layer> kept;
    for (auto it = g.layers.rbegin(); it != g.layers.rend(); ++it)
      if (needed.count(it->out)) {
        needed.insert(it->in.begin(), it->in.end());
        kept.insert(kept.begin(), *it);
      }
    g.layers = std::move(kept);
  }
  // Training-only: modules no inference graph uses.
  std::set<std::string> used;
  for (const auto& name : Network::inference_graphs())
    if (n.graphs.count(name))
      for (const auto& l : n.graphs.at(name).layers)
        if (!l.module.empty()) used.insert(l.module);
  for (auto& m : n.modules) m.training_only = !used.count(m.name);
  return n;
}

std::vector<ParamSpec> parameter_specs(const ParamModule& m) {
  switch (m.kind) {
    case Op::Conv:
      return {{m.name + ".weight", {m.out, m.in, m.kernel, m.kernel}, m.training_only}, {m.name + ".bias", {m.out}, m.training_only}};
    case Op::BatchNorm: {
      std::vector<ParamSpec> p;
      for (const char* s : {".weight", ".bias", ".running_mean", ".running_var"}) p.push_back({m.name + s, {m.out}, m.training_only});
      return p;
    }
    case Op::Linear:
      return {{m.name + ".weight", {m.out, m.in}, m.training_only}, {m.name + ".bias", {m.out}, m.training_only}};
    default:
      throw std::logic_error(std::string("network: a module cannot be a ") + op_name(m.kind));
  }
}

std::vector<ParamSpec> parameter_specs(const ModelConfig& config) {
  std::vector<ParamSpec> p;
  for (const auto& m : describe_network(config).modules)
    for (auto& s : parameter_specs(m)) p.push_back(std::move(s));
  return p;
}

std::vector<std::string> training_only_tensors(const ModelConfig& config) {
  std::vector<std::string> names;
  for (const auto& s : parameter_specs(config))
    if (s.training_only) names.push_back(s.name);
  return names;
}

std::map<std::string, std::vector<std::int64_t>> value_shapes(const Network& net, const Graph& g,
                                                              std::map<std::string, std::vector<std::int64_t>> shapes) {
  const ModelConfig& c = net.config;
  for (const auto& in : g.inputs)
    if (!shapes.count(in)) shapes[in] = {c.in_channels, c.image_size, c.image_size};
  for (const auto& l : g.layers) {
    auto s = shapes.at(l.in[0]);
    switch (l.op) {
      case Op::Conv: {
        const ParamModule& m = net.module(l.module);
        const int64_t pad = m.kernel / 2;
        s = {m.out, (s[1] + 2 * pad - m.kernel) / m.stride + 1, (s[2] + 2 * pad - m.kernel) / m.stride + 1};
        break;
      }
      case Op::Linear: s = {net.module(l.module).out}; break;
      case Op::MaxPool2: s[1] /= 2, s[2] /= 2; break;
      case Op::Upsample2: s[1] *= 2, s[2] *= 2; break;
      case Op::GlobalAvgPool: s = {s[0]}; break;
      case Op::Flatten: s = {s[0] * s[1] * s[2]}; break;
      case Op::Concat: s[0] += shapes.at(l.in[1])[0]; break;
      case Op::UnflattenAs: s = shapes.at(l.in[1]); break;
      case Op::SoftClip: s = {}; break;
      default: break;  // elementwise: the same shape
    }
    shapes[l.out] = s;
  }
  return shapes;
}

}  // namespace dida
