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

torch::nn::Conv2d conv(int in, int out, int k) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).padding(k / 2));
}

}  // namespace

torch::Tensor grad_reverse(const torch::Tensor& x, double lambda) { return GradReverse::apply(x, lambda); }

ConvBnImpl::ConvBnImpl(int in, int out, int k) {
  conv = register_module("conv", dida::conv(in, out, k));
  bn = register_module("bn", torch::nn::BatchNorm2d(out));
}
torch::Tensor ConvBnImpl::forward(const torch::Tensor& x) { return torch::relu(bn(conv(x))); }

MlpHeadImpl::MlpHeadImpl(int in, int hidden, int out) {
  fc1 = register_module("fc1", torch::nn::Linear(in, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, out));
}
torch::Tensor MlpHeadImpl::forward(const torch::Tensor& x) { return fc2(torch::relu(fc1(x))); }

EncoderImpl::EncoderImpl(const ModelConfig& c) {
  conv1 = register_module("conv1", conv(c.in_channels, c.width, 5));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(c.width));
  conv2 = register_module("conv2", conv(c.width, 2 * c.width, 5));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(2 * c.width));
  conv3 = register_module("conv3", conv(2 * c.width, c.feature_channels(), 3));
  bn3 = register_module("bn3", torch::nn::BatchNorm2d(c.feature_channels()));
}
torch::Tensor EncoderImpl::block1(const torch::Tensor& x) { return torch::max_pool2d(torch::relu(bn1(conv1(x))), 2); }
torch::Tensor EncoderImpl::block23(const torch::Tensor& h) {
  const auto h2 = torch::max_pool2d(torch::relu(bn2(conv2(h))), 2);
  return torch::max_pool2d(torch::relu(bn3(conv3(h2))), 2);
}

MineImpl::MineImpl(int in, int hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(in, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, hidden));
  fc3 = register_module("fc3", torch::nn::Linear(hidden, 1));
}
torch::Tensor MineImpl::forward(const torch::Tensor& a, const torch::Tensor& b) {
  const auto h = torch::elu(fc2(torch::elu(fc1(torch::cat({a, b}, 1)))));
  return 10.0 * torch::tanh(fc3(h).squeeze(1) / 10.0);  // bounded: exp() of it cannot overflow
}

PixelDecoderImpl::PixelDecoderImpl(int in, int width, int out_channels) {
  conv1 = register_module("conv1", conv(in, 2 * width, 3));
  conv2 = register_module("conv2", conv(2 * width, width, 3));
  conv3 = register_module("conv3", conv(width, width, 3));
  conv4 = register_module("conv4", conv(width, out_channels, 3));
}
torch::Tensor PixelDecoderImpl::forward(const torch::Tensor& z) {
  namespace F = torch::nn::functional;
  const auto up = F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest);
  auto h = torch::relu(conv1(z));
  h = torch::relu(conv2(F::interpolate(h, up)));
  h = torch::relu(conv3(F::interpolate(h, up)));
  return torch::tanh(conv4(F::interpolate(h, up)));
}

DidaNetImpl::DidaNetImpl(const ModelConfig& c) : config(c) {
  c.validate();
  const int w = c.width, f = c.feature_channels(), h = c.head_hidden, pf = c.pooled_size();
  encoder = register_module("encoder", Encoder(c));
  if (c.progressive) {
    inv1 = register_module("inv1", ConvBn(w, w, 3));
    spe1 = register_module("spe1", ConvBn(w, w, 5));
    dom_inv1 = register_module("dom_inv1", MlpHead(w, h, 2));
    dom_spe1 = register_module("dom_spe1", MlpHead(w, h, 2));
  }
  inv = register_module("inv", ConvBn(f, f, 3));
  if (c.variant == "branch") spe = register_module("spe", ConvBn(f, f, 5));
  classifier = register_module("classifier", MlpHead(pf, h, c.num_classes));
  dom_inv = register_module("dom_inv", MlpHead(pf, h, 2));
  dom_spe = register_module("dom_spe", MlpHead(pf, h, 2));
  mine = register_module("mine", Mine(2 * pf, c.mine_hidden));
  feat_dec = register_module("feat_dec", conv(2 * f, f, 1));
  if (c.pixel_decoder) pix_dec = register_module("pix_dec", PixelDecoder(2 * f, w, c.in_channels));
}

torch::Tensor standardize_images(const torch::Tensor& x) {
  const auto m = x.mean({1, 2, 3}, true);
  const auto c = x - m;
  return c / (c.pow(2).mean({1, 2, 3}, true) + ModelConfig::kInputNormEps).sqrt();
}

Outputs DidaNetImpl::forward(const torch::Tensor& x) {
  Outputs o;
  auto h = encoder->block1(config.input_norm == "standardize" ? standardize_images(x) : x);
  if (config.progressive) {
    o.z_inv1 = inv1(h);
    o.z_spe1 = spe1(h);
    h = h + o.z_inv1;  // only the invariant part flows on
  }
  o.f = encoder->block23(h);
  o.z_inv = inv(o.f);
  o.z_spe = config.variant == "vector" ? o.f - o.z_inv : spe(o.f);
  auto pool = [&](const torch::Tensor& m) { return config.pool == "avg" ? m.mean({2, 3}) : m.flatten(1); };
  o.p_f = pool(o.f);
  o.p_inv = pool(o.z_inv);
  o.p_spe = pool(o.z_spe);
  o.logits = classifier(o.p_inv);
  return o;
}

Outputs concat_outputs(const Outputs& a, const Outputs& b) {
  auto cat = [](const torch::Tensor& x, const torch::Tensor& y) { return x.defined() ? torch::cat({x, y}) : x; };
  Outputs o;
  o.f = cat(a.f, b.f), o.z_inv = cat(a.z_inv, b.z_inv), o.z_spe = cat(a.z_spe, b.z_spe);
  o.p_f = cat(a.p_f, b.p_f), o.p_inv = cat(a.p_inv, b.p_inv), o.p_spe = cat(a.p_spe, b.p_spe);
  o.logits = cat(a.logits, b.logits), o.z_inv1 = cat(a.z_inv1, b.z_inv1), o.z_spe1 = cat(a.z_spe1, b.z_spe1);
  return o;
}

torch::Tensor DidaNetImpl::reconstruct_features(const torch::Tensor& z_inv, const torch::Tensor& z_spe) {
  return feat_dec(torch::cat({z_inv, z_spe}, 1));
}

torch::Tensor DidaNetImpl::reconstruct_pixels(const torch::Tensor& z_inv, const torch::Tensor& z_spe) {
  TORCH_CHECK(config.pixel_decoder, "this model has no pixel decoder");
  return pix_dec(torch::cat({z_inv, z_spe}, 1));
}

std::vector<std::pair<std::string, torch::Tensor>> named_state(DidaNetImpl& net) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : net.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : net.named_buffers())
    if (b.key().find("num_batches_tracked") == std::string::npos) out.emplace_back(b.key(), b.value());
  return out;
}

}  // namespace dida
