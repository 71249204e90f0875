#include "model.hpp"

namespace dida {
namespace {

class GradReverse : public torch::autograd::Function<GradReverse> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, double lambda) {
    ctx->saved_data["lambda"] = lambda;
    return x.view_as(x);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const double lambda = ctx->saved_data["lambda"].toDouble();
    return {grads[0].neg() * lambda, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor grad_reverse(const torch::Tensor& x, double lambda) { return GradReverse::apply(x, lambda); }

torch::Tensor standardize_images(const torch::Tensor& x) {
  const auto m = x.mean({1, 2, 3}, true);
  const auto c = x - m;
  return c / (c.pow(2).mean({1, 2, 3}, true) + ModelConfig::kInputNormEps).sqrt();
}

LayerNetImpl::LayerNetImpl(Network n) : network(std::move(n)) {
  for (const auto& m : network.modules) {
    const auto dot = m.name.rfind('.');
    torch::nn::Module& parent = dot == std::string::npos ? *this : container(m.name.substr(0, dot));
    const std::string leaf = dot == std::string::npos ? m.name : m.name.substr(dot + 1);
    if (m.kind == Op::Conv)
      convs_.emplace(m.name, parent.register_module(leaf, torch::nn::Conv2d(torch::nn::Conv2dOptions(m.in, m.out, m.kernel).stride(m.stride).padding(m.kernel / 2))));
    else if (m.kind == Op::BatchNorm)
      bns_.emplace(m.name, parent.register_module(leaf, torch::nn::BatchNorm2d(m.out)));
    else
      linears_.emplace(m.name, parent.register_module(leaf, torch::nn::Linear(m.in, m.out)));
  }
}

torch::nn::Module& LayerNetImpl::container(const std::string& dotted) {
  auto it = containers_.find(dotted);
  if (it != containers_.end()) return *it->second;
  const auto dot = dotted.rfind('.');
  torch::nn::Module& parent = dot == std::string::npos ? *this : container(dotted.substr(0, dot));
  auto child = parent.register_module(dot == std::string::npos ? dotted : dotted.substr(dot + 1), std::make_shared<torch::nn::Module>());
  return *(containers_[dotted] = child);
}

std::map<std::string, torch::Tensor> LayerNetImpl::run(const std::string& name, const std::vector<torch::Tensor>& inputs) {
  namespace F = torch::nn::functional;
  const Graph& g = network.graph(name);
  TORCH_CHECK(inputs.size() == g.inputs.size(), name, ": expected ", g.inputs.size(), " inputs");
  std::map<std::string, torch::Tensor> v;
  for (std::size_t i = 0; i < inputs.size(); ++i) v[g.inputs[i]] = inputs[i];
  for (const Layer& l : g.layers) {
    const torch::Tensor& x = v.at(l.in[0]);
    torch::Tensor y;
    switch (l.op) {
      case Op::Standardize: y = standardize_images(x); break;
      case Op::Conv: y = convs_.at(l.module)(x); break;
      case Op::BatchNorm: y = bns_.at(l.module)(x); break;
      case Op::Linear: y = linears_.at(l.module)(x); break;
      case Op::Relu: y = torch::relu(x); break;
      case Op::Elu: y = torch::elu(x); break;
      case Op::Tanh: y = torch::tanh(x); break;
      case Op::LeakyRelu: y = torch::leaky_relu(x, 0.2); break;
      case Op::SoftClip: y = 10.0 * torch::tanh(x.squeeze(1) / 10.0); break;  // bounded: exp() of it cannot overflow
      case Op::MaxPool2: y = torch::max_pool2d(x, 2); break;
      case Op::Upsample2:
        y = F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
        break;
      case Op::GlobalAvgPool: y = x.mean({2, 3}); break;
      case Op::Flatten: y = x.flatten(1); break;
      case Op::Add: y = x + v.at(l.in[1]); break;
      case Op::Sub: y = x - v.at(l.in[1]); break;
      case Op::Concat: y = torch::cat({x, v.at(l.in[1])}, 1); break;
      case Op::Softmax: y = torch::softmax(x, 1); break;
      case Op::SpatialMean: y = x.mean({2, 3}, true).expand_as(x); break;
      case Op::AdaIn: {
        const auto c = x - x.mean({2, 3}, true);
        const auto n = c / (c.pow(2).mean({2, 3}, true) + ModelConfig::kInputNormEps).sqrt();
        const auto per_channel = [&](const torch::Tensor& t) { return t.reshape({x.size(0), x.size(1), 1, 1}); };
        y = n * per_channel(v.at(l.in[2])) + per_channel(v.at(l.in[1]));
        break;
      }
      case Op::UnflattenAs: y = x.reshape_as(v.at(l.in[1])); break;
      case Op::InstanceNorm: {
        const auto c = x - x.mean({2, 3}, true);
        y = c / (c.pow(2).mean({2, 3}, true) + ModelConfig::kInputNormEps).sqrt();
        break;
      }
    }
    v[l.out] = y;
  }
  return v;
}

torch::Tensor LayerNetImpl::apply(const std::string& name, const std::vector<torch::Tensor>& inputs) {
  const Graph& g = network.graph(name);
  TORCH_CHECK(g.outputs.size() == 1, name, " has ", g.outputs.size(), " outputs");
  return run(name, inputs).at(g.outputs[0]);
}

DidaNetImpl::DidaNetImpl(const ModelConfig& c) : LayerNetImpl(describe_network(c)), config(c) {
  if (!c.erase_domain_mean) return;
  for (auto& p : named_parameters())
    if (network.module_of_tensor(p.key()).group == ModuleGroup::Erasure) p.value().requires_grad_(false);
  set_erasure_basis(torch::zeros({config.feature_channels() * config.feature_size() * config.feature_size(), c.erase_directions}));
}

torch::Tensor DidaNetImpl::erasure_basis() { return named_parameters()["inv_erase.up.weight"].detach().clone(); }

void DidaNetImpl::set_erasure_basis(const torch::Tensor& q) {
  torch::NoGradGuard no_grad;
  auto p = named_parameters();
  auto& up = p["inv_erase.up.weight"];
  TORCH_CHECK(q.sizes() == up.sizes(), "erasure basis of shape ", q.sizes(), ", the network's is ", up.sizes());
  const auto basis = q.to(up.options());
  up.copy_(basis);
  p["inv_erase.down.weight"].copy_(basis.t());
  p["inv_erase.up.bias"].zero_();
  p["inv_erase.down.bias"].zero_();
}

torch::Tensor DidaNetImpl::basis_of(const torch::Tensor& gaps) {
  const auto a = gaps.to(torch::kFloat64).t();  // D x k
  const auto [q, r] = torch::linalg_qr(a);      // reduced: Q is D x k
  // A column whose R diagonal is (relatively) nothing adds no direction: erase none for it.
  const auto scale = a.norm(2, 0).max().clamp_min(1e-30);
  const auto kept = r.diagonal().abs().gt(scale * 1e-6).to(torch::kFloat64);
  return (q * kept.unsqueeze(0)).to(gaps.dtype());
}

torch::Tensor DidaNetImpl::measure_domain_gaps(const torch::Tensor& source, const torch::Tensor& target, int parts) {
  torch::NoGradGuard no_grad;
  const bool training = is_training();
  eval();
  const auto mean_raw = [this](const torch::Tensor& x) {  // in pieces: the whole training set fits nowhere at once
    torch::Tensor sum;
    for (int64_t i = 0; i < x.size(0); i += 500) {
      const auto piece = run("encode", {x.slice(0, i, std::min(i + 500, x.size(0)))}).at("z_inv.raw").flatten(1).sum(0);
      sum = sum.defined() ? sum + piece : piece;
    }
    return sum / static_cast<double>(x.size(0));
  };
  const auto part = [parts](const torch::Tensor& x, int c) {
    const int64_t n = x.size(0);
    return x.slice(0, n * c / parts, n * (c + 1) / parts);
  };
  std::vector<torch::Tensor> gaps;
  for (int c = 0; c < parts; ++c) gaps.push_back(mean_raw(part(source, c)) - mean_raw(part(target, c)));
  train(training);
  return torch::stack(gaps);
}

const torch::Tensor& Outputs::operator[](const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) throw std::out_of_range("model: the forward pass has no value \"" + name + "\"");
  return it->second;
}

Outputs DidaNetImpl::forward(const torch::Tensor& x) {
  auto v = run("encode", {x});
  std::map<std::string, torch::Tensor> kept;
  for (const auto& name : network.graph("encode").outputs) kept[name] = v.at(name);
  kept["logits"] = apply("classifier", {kept.at("p_inv")});
  return Outputs(std::move(kept));
}

Outputs concat_outputs(const Outputs& a, const Outputs& b) {
  std::map<std::string, torch::Tensor> both;
  for (const auto& [name, x] : a.values()) both[name] = torch::cat({x, b[name]});
  return Outputs(std::move(both));
}

torch::Tensor DidaNetImpl::reconstruct_features(const torch::Tensor& z_inv, const torch::Tensor& z_spe) {
  return apply("feat_dec", {z_inv, z_spe});
}

torch::Tensor DidaNetImpl::reconstruct_pixels(const torch::Tensor& z_inv, const torch::Tensor& z_spe) {
  TORCH_CHECK(config.pixel_decoder, "this model has no pixel decoder");
  return apply("pix_dec", {z_inv, z_spe});
}

std::vector<std::pair<std::string, torch::Tensor>> named_state(DidaNetImpl& net) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : net.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : net.named_buffers())
    if (b.key().find("num_batches_tracked") == std::string::npos) out.emplace_back(b.key(), b.value());
  return out;
}

}  // namespace dida
