#pragma once
// A run's data as tensors, and what is measured on them (accuracy, label-free statistics): shared
// by the training step, the run loop and `dida eval`.
#include <torch/torch.h>

#include <string>

#include "dida/data.hpp"
#include "dida/native/options.hpp"
#include "model.hpp"

namespace dida {

// The pair a run trains on, from its options (cache as configured).
DomainPair pair_for(const TrainOptions& o);

// Images (N x H x W x C bytes) -> float N x C x H x W in [-1, 1], the network's input.
torch::Tensor images_to_tensor(const Domain& d);
torch::Tensor labels_to_tensor(const Domain& d);

torch::Device pick_device(DeviceChoice device);

// Classification accuracy of a network on a domain (eval mode, batched).
double accuracy(DidaNetImpl& net, const torch::Tensor& x, const torch::Tensor& y, const torch::Device& device);

// What can be read from the unlabelled target images alone (the label-free criteria of
// docs/RESULTS.md): the mean top softmax probability, and the entropy of the predicted-class
// histogram over log(classes) (1: every class predicted equally often; 0: one class for all).
struct LabelFreeStats {
  double confidence = 0, balance = 0;
};
LabelFreeStats label_free_stats(DidaNetImpl& net, const torch::Tensor& x, const torch::Device& device);

// The first line of an error message (LibTorch's carry a stack trace after it).
std::string first_line(const std::string& s);

}  // namespace dida
