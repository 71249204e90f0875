#pragma once
// Records the training replay: after every epoch, where the page's sample set (the first N
// source-val and the first N target-test images, fewer where a split is smaller, as `dida data
// samples --n N` writes them) lies in z_inv and
// z_spe, as each space's 2-D PCA layout, one line per epoch in RUN/replay.jsonl (so a resumed run
// keeps the epochs before); at the end, with the log's losses and accuracies, aligned across epochs
// and written as BUNDLE/replay.safetensors (dida/replay.hpp).
#include <torch/torch.h>

#include <string>

#include "dida/data.hpp"
#include "model.hpp"

namespace dida {

class ReplayRecorder {
 public:
  ReplayRecorder(const std::string& run_dir, const DomainPair& pair, int per_domain);
  bool enabled() const { return sources_ + targets_ > 0; }
  // Drops lines of epochs after `epochs_kept` (a resumed run trains them again).
  void trim(int epochs_kept) const;
  void record(DidaNetImpl& net, int epoch, const torch::Device& device) const;
  // Writes BUNDLE/replay.safetensors from replay.jsonl and the run's log; returns the epochs written.
  // The last epoch's accuracies are the bundle's (source_val, target_test): after the epoch's last
  // step the bundle may take the weights' average and the erasure, and the replay ends on the model
  // it ships.
  int write(const std::string& bundle_dir, const std::string& log_path, const std::string& source, const std::string& target,
            double source_val, double target_test) const;

 private:
  std::string path_;
  int sources_ = 0, targets_ = 0;
  torch::Tensor x_;  // the probe images: source-val then target-test
};

}  // namespace dida
