#pragma once
// The disentangling network of METHOD.md in LibTorch, built from dida::ModelConfig (core).
// Parameter names are those of dida::parameter_specs().
#include <torch/torch.h>

#include "dida/model_config.hpp"

namespace dida {

// Gradient reversal: identity forward, -lambda * grad backward.
torch::Tensor grad_reverse(const torch::Tensor& x, double lambda);

// Each image minus its mean, over sqrt(variance + eps), across channels and pixels (input_norm).
torch::Tensor standardize_images(const torch::Tensor& x);

struct ConvBnImpl : torch::nn::Module {
  ConvBnImpl(int in, int out, int k);
  torch::Tensor forward(const torch::Tensor& x);  // ReLU(BN(conv(x)))
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvBn);

struct MlpHeadImpl : torch::nn::Module {  // fc1 -> ReLU -> fc2
  MlpHeadImpl(int in, int hidden, int out);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(MlpHead);

struct EncoderImpl : torch::nn::Module {
  explicit EncoderImpl(const ModelConfig& c);
  torch::Tensor block1(const torch::Tensor& x);  // -> width x S/2 x S/2
  torch::Tensor block23(const torch::Tensor& h);  // -> 4 width x S/8 x S/8 (F)
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
};
TORCH_MODULE(Encoder);

struct MineImpl : torch::nn::Module {  // T(z_inv, z_spe) -> scalar
  MineImpl(int in, int hidden);
  torch::Tensor forward(const torch::Tensor& a, const torch::Tensor& b);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
};
TORCH_MODULE(Mine);

struct PixelDecoderImpl : torch::nn::Module {
  PixelDecoderImpl(int in, int width, int out_channels);
  torch::Tensor forward(const torch::Tensor& z);  // -> image in [-1, 1], 8x the size of z
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr};
};
TORCH_MODULE(PixelDecoder);

struct Outputs {
  torch::Tensor f;                  // F
  torch::Tensor z_inv, z_spe;       // maps
  torch::Tensor p_f, p_inv, p_spe;  // pooled (global average)
  torch::Tensor logits;             // C(p_inv)
  torch::Tensor z_inv1, z_spe1;     // progressive first level (undefined otherwise)
};

// Outputs of two batches as if they had been one (every field concatenated along the batch).
Outputs concat_outputs(const Outputs& a, const Outputs& b);

struct DidaNetImpl : torch::nn::Module {
  explicit DidaNetImpl(const ModelConfig& c);
  Outputs forward(const torch::Tensor& x);
  // R: feature and pixel reconstructions of [z_inv, z_spe].
  torch::Tensor reconstruct_features(const torch::Tensor& z_inv, const torch::Tensor& z_spe);
  torch::Tensor reconstruct_pixels(const torch::Tensor& z_inv, const torch::Tensor& z_spe);

  ModelConfig config;
  Encoder encoder{nullptr};
  ConvBn inv{nullptr}, spe{nullptr}, inv1{nullptr}, spe1{nullptr};
  MlpHead classifier{nullptr}, dom_inv{nullptr}, dom_spe{nullptr}, dom_inv1{nullptr}, dom_spe1{nullptr};
  Mine mine{nullptr};
  torch::nn::Conv2d feat_dec{nullptr};
  PixelDecoder pix_dec{nullptr};
};
TORCH_MODULE(DidaNet);

// Named tensors (parameters and buffers, without num_batches_tracked) in dida's naming.
std::vector<std::pair<std::string, torch::Tensor>> named_state(DidaNetImpl& net);

}  // namespace dida
