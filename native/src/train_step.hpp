#pragma once
// One optimisation step of `dida train` (METHOD.md's losses, joint or staged) with the state it
// needs (the network, its optimisers, MINE's moving average, the data as tensors) and its
// checkpoints. The run loop around it (resume, progress, signals, log, bundle) is trainer.cpp.
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dida/data.hpp"
#include "dida/native/options.hpp"
#include "dida/rng.hpp"
#include "distributed.hpp"
#include "loss_terms.hpp"
#include "model.hpp"
#include "training_data.hpp"

namespace dida {

// The run's network: the options' model with the pair's image size, channels and classes.
ModelConfig model_config_for(const TrainOptions& o, const DomainPair& p);

class TrainStep {
 public:
  // With `ranks` of a data-parallel run (distributed.hpp), each rank trains on its own part of
  // every global batch (ranks x --batch-size images of each domain, the same permutation on every
  // rank), every optimiser's gradients are averaged over the ranks before it steps, and the
  // networks' buffers (batch norm's running statistics) follow rank 0's at each step.
  TrainStep(const TrainOptions& o, const DomainPair& pair, const torch::Device& device, Ranks ranks = Ranks());
  int iters_per_epoch() const;  // of global batches
  const Ranks& ranks() const { return ranks_; }
  DidaNetImpl& net() { return *net_; }
  void save_checkpoint(const std::string& path, int epoch, int iter);
  void load_checkpoint(const std::string& path, int& epoch, int& iter);
  // The checkpoint was taken inside an epoch by another number of ranks: its epoch starts over.
  bool epoch_started_over() const { return epoch_started_over_; }
  // One iteration (three steps when staged). Its loss values stay on the training device (no host
  // synchronisation per step); the three readers below copy them to the host.
  void step(int epoch, int iter, double progress);
  bool finite() const;             // every step so far had a finite total loss
  LossValues last_values() const;  // the last step's
  LossValues take_sum();           // summed over the steps since the last call
  double eval_accuracy(const torch::Tensor& x, const torch::Tensor& y) { return accuracy(*net_, x, y, device_); }
  LabelFreeStats target_train_stats() { return label_free_stats(*net_, xt_, device_); }
  // The erasure (ModelConfig::erase_domain_mean), set once training is over: the span of the
  // domains' mean differences on erase_directions disjoint parts of the training images of each
  // domain, up to kErasureImages in all (no labels; nothing when the method reads no target
  // images). One difference of all images left directions along which a held-out probe still read
  // the domain (docs/RESULTS.md, "the split").
  static constexpr int64_t kErasureImages = 20000;
  void set_erasure();
  // Then the parts that read z_inv learn again on the erased one, the encoder in inference mode and
  // untouched (o.erasure_retrain_iters iterations): C by L_task on source batches and by the
  // model's own predictions before the erasure on target batches (what L_cons and L_bal taught it
  // there, which source labels alone would not keep), R_pix by reconstructing source and target
  // batches, and both so that a source content in a target style is read by C as its label. Both
  // were trained on z_inv before the erasure.
  void retrain_readers();
  // --weight-average: the network takes the moving average of its weights (and buffers) over the
  // steps, in place of the last step's; once, after the last step. No-op when off.
  void use_weight_average();
  const torch::Tensor& x_val() const { return x_val_; }
  const torch::Tensor& y_val() const { return y_val_; }
  const torch::Tensor& x_test() const { return x_test_; }
  const torch::Tensor& y_test() const { return y_test_; }
  int64_t images_per_iter() const { return o_.batch_size * (uses_target_images(o_.method) ? 2 : 1); }
  // The terms this run computes (weight > 0), in the registry's order, with their weights.
  const std::vector<std::pair<const LossTerm*, double>>& active_terms() const { return active_; }

 private:
  // --weight-average's moving average of named_state(net) (parameters and buffers), and its steps.
  std::vector<torch::Tensor> average_;
  int64_t averaged_steps_ = 0;
  void update_weight_average();
  // The weighted terms of one pass that the stage optimises (`stage` < 0: joint), by name; their
  // logged values go to `values`.
  LossTerms losses(const torch::Tensor& xs, const torch::Tensor& ys, const torch::Tensor& xt, double grl,
                   const torch::Tensor& perm, LossTerms& values, int stage, bool warmup, Rng& aug_rng);
  void critic_step();  // the critic's own step on what L_critic saw
  // The training-only modules by checkpoint name, with their own optimisers where they have one.
  struct Extra {
    std::string name;
    std::shared_ptr<torch::nn::Module> module;
    torch::optim::Optimizer* optimizer;
  };
  std::vector<Extra> extras() const;
  // Every parameter, or every buffer, of the network and the training-only modules.
  std::vector<torch::Tensor> all_parameters() const;
  std::vector<torch::Tensor> all_buffers() const;
  static std::vector<torch::Tensor> params_of(const torch::optim::Optimizer& opt);

  TrainOptions o_;
  torch::Device device_;
  Ranks ranks_;
  std::vector<std::pair<const LossTerm*, double>> active_;
  torch::Tensor before_erasure_;  // C's probabilities on the target training images, before the erasure
  DidaNet net_{nullptr};
  TrainingModules modules_;
  std::vector<std::unique_ptr<torch::optim::Optimizer>> opts_;
  std::unique_ptr<torch::optim::Optimizer> critic_opt_;
  CriticBatch critic_batch_;
  MineEstimator mine_;
  torch::Tensor xs_, ys_, xt_, x_val_, y_val_, x_test_, y_test_;
  torch::Tensor xs_clean_;  // this step's source images before the strong view
  std::vector<int> src_order_, tgt_order_;
  int order_epoch_ = -1;
  bool epoch_started_over_ = false;
  torch::Tensor last_, sum_, finite_;  // on the training device
};

}  // namespace dida
