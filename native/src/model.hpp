#pragma once
// The disentangling network of METHOD.md in LibTorch, built from the core's one description of it
// (dida/network.hpp). Parameter names are those of dida::parameter_specs().
#include <torch/torch.h>

#include <map>
#include <memory>

#include "dida/network.hpp"

namespace dida {

// Gradient reversal: identity forward, -lambda * grad backward.
torch::Tensor grad_reverse(const torch::Tensor& x, double lambda);

// Each image minus its mean, over sqrt(variance + eps), across channels and pixels (input_norm).
torch::Tensor standardize_images(const torch::Tensor& x);

// A forward pass's values by their names in the description's "encode" graph (f, z_inv, z_spe,
// p_f, p_inv, p_spe: what the heads see; z_inv1, z_spe1 when progressive) and the classifier's
// "logits" (C(p_inv)).
class Outputs {
 public:
  Outputs() = default;
  explicit Outputs(std::map<std::string, torch::Tensor> values) : values_(std::move(values)) {}
  const torch::Tensor& operator[](const std::string& name) const;  // throws std::out_of_range naming it
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  const std::map<std::string, torch::Tensor>& values() const { return values_; }

 private:
  std::map<std::string, torch::Tensor> values_;
};

// Outputs of two batches as if they had been one (every value concatenated along the batch).
Outputs concat_outputs(const Outputs& a, const Outputs& b);

// Modules and graphs of a dida::Network: the parameter modules are registered under their dotted
// names (nested modules, so that "encoder.conv1.weight" is a parameter's name) in the description's
// order, and any graph runs on named tensors.
struct LayerNetImpl : torch::nn::Module {
  explicit LayerNetImpl(Network network);
  // Runs graph `name` on its inputs (in the graph's order); every value it defined, by name.
  std::map<std::string, torch::Tensor> run(const std::string& name, const std::vector<torch::Tensor>& inputs);
  // A graph with one output: that output.
  torch::Tensor apply(const std::string& name, const std::vector<torch::Tensor>& inputs);

  Network network;

 private:
  torch::nn::Module& container(const std::string& dotted_parent);
  std::map<std::string, std::shared_ptr<torch::nn::Module>> containers_;
  std::map<std::string, torch::nn::Conv2d> convs_;
  std::map<std::string, torch::nn::BatchNorm2d> bns_;
  std::map<std::string, torch::nn::Linear> linears_;
};
TORCH_MODULE(LayerNet);

// The disentangling network of a ModelConfig (dida::describe_network).
struct DidaNetImpl : LayerNetImpl {
  explicit DidaNetImpl(const ModelConfig& c);
  Outputs forward(const torch::Tensor& x);
  // A head on what it sees: "dom_inv", "dom_spe" (on p), "dom_inv1", "dom_spe1" (on z maps).
  torch::Tensor head(const std::string& name, const torch::Tensor& x) { return apply(name, {x}); }
  torch::Tensor mine(const torch::Tensor& a, const torch::Tensor& b) { return apply("mine", {a, b}); }
  // R: feature and pixel reconstructions of [z_inv, z_spe].
  torch::Tensor reconstruct_features(const torch::Tensor& z_inv, const torch::Tensor& z_spe);
  torch::Tensor reconstruct_pixels(const torch::Tensor& z_inv, const torch::Tensor& z_spe);
  // The erasure (ModelConfig::erase_domain_mean): Q, the orthonormal basis [D, k] of what the
  // network projects out of the flattened z_inv (a zero column erases nothing).
  torch::Tensor erasure_basis();
  void set_erasure_basis(const torch::Tensor& q);
  // Q from mean differences [k, D]: an orthonormal basis of their span (Gram-Schmidt by QR); a
  // difference that adds no new direction (zero, or in the span of those before) gives a zero column.
  static torch::Tensor basis_of(const torch::Tensor& gaps);
  // The mean differences of the flattened z_inv before the erasure, [parts, D]: row c is the mean
  // over part c of `source` minus the mean over part c of `target` (`parts` disjoint runs of
  // consecutive images each), in inference mode (as inference reads it), without gradient.
  torch::Tensor measure_domain_gaps(const torch::Tensor& source, const torch::Tensor& target, int parts);

  ModelConfig config;
};
TORCH_MODULE(DidaNet);

// Named tensors (parameters and buffers, without num_batches_tracked) in dida's naming.
std::vector<std::pair<std::string, torch::Tensor>> named_state(DidaNetImpl& net);

}  // namespace dida
