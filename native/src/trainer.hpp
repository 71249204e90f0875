#pragma once
// `dida train`: the methods of METHOD.md on LibTorch, with checkpoints, logs and the model bundle.
#include <torch/torch.h>

#include "dida/data.hpp"
#include "dida/native/options.hpp"

namespace dida {

// Exit codes of run_training.
constexpr int kTrainDone = 0, kTrainInterrupted = 130, kTrainDiverged = 3;

// Trains (or, with resume, continues the run in options.out). Returns one of the codes above;
// throws std::runtime_error with a one-line reason for bad options, data or checkpoints.
int run_training(TrainOptions options, bool resume);

// Images (N x H x W x C bytes) -> float N x C x H x W in [-1, 1], the network's input.
torch::Tensor images_to_tensor(const Domain& d);
// Appends one line (and a newline) to a file, creating it.
void append_line(const std::string& path, const std::string& line);
// Keeps the lines of a JSON-lines file whose "epoch" is 1..epochs_kept (a resumed run trains the
// later ones again); nothing happens when the file does not exist.
void trim_epoch_lines(const std::string& path, int epochs_kept);
torch::Tensor labels_to_tensor(const Domain& d);

torch::Device pick_device(const std::string& device);

// Classification accuracy of a network on a domain (eval mode, batched).
struct DidaNetImpl;
double accuracy(DidaNetImpl& net, const torch::Tensor& x, const torch::Tensor& y, const torch::Device& device);

// What can be read from the unlabelled target images alone (the label-free criteria of
// docs/RESULTS.md): the mean top softmax probability, and the entropy of the predicted-class
// histogram over log(classes) (1: every class predicted equally often; 0: one class for all).
struct LabelFreeStats {
  double confidence = 0, balance = 0;
};
LabelFreeStats label_free_stats(DidaNetImpl& net, const torch::Tensor& x, const torch::Device& device);

// The pair a run trains on, from its options (cache as configured).
DomainPair pair_for(const TrainOptions& o);

// Which loss weights a method uses, from the options' lambdas.
struct LossWeights {
  double task = 1, adv = 0, dom = 0, mi = 0, rec = 0, rel = 0, orth = 0, cons = 0, swap = 0, bal = 0;
  bool uses_target = false;      // forward target images through the network (domain losses, BN)
  bool train_on_target = false;  // target-only: the oracle that trains on target labels
};
LossWeights weights_for(const TrainOptions& o);

}  // namespace dida
