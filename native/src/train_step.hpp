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
#include "losses.hpp"
#include "model.hpp"
#include "trainer.hpp"

namespace dida {

struct LossValues {
  double task = 0, adv = 0, dom = 0, mi = 0, rec = 0, rel = 0, orth = 0, cons = 0, swap = 0, bal = 0, total = 0;
  double cons_kept = 0;  // fraction of target images with a confident pseudo-label (L_cons)
  double critic = 0;     // L_critic, R_pix's side: how far the critic is from taking the swaps for real
  // The fields in a fixed order: a step's values travel as one tensor of these.
  static constexpr const char* kNames[] = {"task", "adv", "dom", "mi", "rec", "rel", "orth", "cons", "swap", "bal", "total", "cons_kept", "critic"};
  static constexpr int kTotal = 10;
  std::vector<double> as_vector() const { return {task, adv, dom, mi, rec, rel, orth, cons, swap, bal, total, cons_kept, critic}; }
  static LossValues from(const std::vector<double>& x) {
    LossValues v;
    v.task = x.at(0), v.adv = x.at(1), v.dom = x.at(2), v.mi = x.at(3), v.rec = x.at(4), v.rel = x.at(5), v.orth = x.at(6);
    v.cons = x.at(7), v.swap = x.at(8), v.bal = x.at(9), v.total = x.at(10), v.cons_kept = x.at(11), v.critic = x.at(12);
    return v;
  }
  nlohmann::json to_json(double scale) const {
    return {{"task", task * scale}, {"adv", adv * scale},   {"dom", dom * scale},   {"mi", mi * scale},
            {"rec", rec * scale},   {"rel", rel * scale},   {"orth", orth * scale}, {"cons", cons * scale},
            {"swap", swap * scale}, {"bal", bal * scale}, {"cons_kept", cons_kept * scale}, {"critic", critic * scale},
            {"total", total * scale}};
  }
};

using LossTerms = std::map<std::string, torch::Tensor>;

ModelConfig model_config_for(const TrainOptions& o, const DomainPair& p);
std::string first_line(const std::string& s);

class TrainStep {
 public:
  TrainStep(const TrainOptions& o, const DomainPair& pair, const torch::Device& device);
  int iters_per_epoch() const;
  DidaNetImpl& net() { return *net_; }
  void save_checkpoint(const std::string& path, int epoch, int iter);
  void load_checkpoint(const std::string& path, int& epoch, int& iter);
  // One iteration (three steps when staged). Its loss values stay on the training device (no host
  // synchronisation per step); the three readers below copy them to the host.
  void step(int epoch, int iter, double progress);
  bool finite() const;             // every step so far had a finite total loss
  LossValues last_values() const;  // the last step's
  LossValues take_sum();           // summed over the steps since the last call
  double eval_accuracy(const torch::Tensor& x, const torch::Tensor& y) { return accuracy(*net_, x, y, device_); }
  LabelFreeStats target_train_stats() { return label_free_stats(*net_, xt_, device_); }
  const torch::Tensor& x_val() const { return x_val_; }
  const torch::Tensor& y_val() const { return y_val_; }
  const torch::Tensor& x_test() const { return x_test_; }
  const torch::Tensor& y_test() const { return y_test_; }
  int64_t images_per_iter() const { return o_.batch_size * (w_.uses_target ? 2 : 1); }

 private:
  // The weighted loss terms the method uses and the stage optimises (`stage` < 0: joint), by
  // name: "task", "adv", "dom", "mi", "rec", "rel", "orth", "cons", "swap", "bal".
  LossTerms losses(const torch::Tensor& xs, const torch::Tensor& ys, const torch::Tensor& xt, double grl,
                                    const torch::Tensor& perm, LossTerms& v, int stage, bool warmup, Rng& aug_rng);
  TrainOptions o_;
  LossWeights w_;
  torch::Device device_;
  DidaNet net_{nullptr};
  std::vector<std::unique_ptr<torch::optim::Optimizer>> opts_;
  MineEstimator mine_;
  torch::Tensor xs_, ys_, xt_, x_val_, y_val_, x_test_, y_test_;
  std::vector<int> src_order_, tgt_order_;
  int order_epoch_ = -1;
  torch::Tensor last_, sum_, finite_;  // on the training device
  // The per-domain image critic (--lambda-critic; training only, not part of a bundle): for each
  // domain, real images of it against swaps rendered in its style. Its inputs of the current step.
  torch::nn::Sequential critic_{nullptr};
  // Training-only copies of the recipe's modules (not in a bundle, kept in the checkpoint), under
  // the read-out options: D_spe's (--dom-inference-bn-trains readout) and R_pix's
  // (--pixel-decoder-features readout); the bundle's D_spe and R_pix then learn as read-outs.
  LayerNet dom_spe_train_{nullptr}, pix_dec_train_{nullptr};
  std::vector<std::pair<std::string, LayerNet>> training_copies() const;
  std::unique_ptr<torch::optim::Optimizer> critic_opt_;
  torch::Tensor critic_real_, critic_real_domain_, critic_fake_, critic_fake_domain_, xs_clean_;
};

}  // namespace dida
