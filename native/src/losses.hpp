#pragma once
// The losses of METHOD.md, each a function of tensors so that tests can check them by hand.
#include <torch/torch.h>

#include <functional>

#include "model.hpp"

namespace dida {

// L_task: cross-entropy of the task head on source labels.
torch::Tensor task_loss(const torch::Tensor& logits, const torch::Tensor& labels);

// L_adv / L_dom: cross-entropy of a domain head (0 source, 1 target).
torch::Tensor domain_loss(const torch::Tensor& domain_logits, const torch::Tensor& domains);

// L_rel: mean |softmax_row(P_inv P_inv^T) - softmax_row(P P^T)|, P = L2-normalised rows.
// The structure of F is the target (no gradient into p_f).
torch::Tensor relation_loss(const torch::Tensor& p_inv, const torch::Tensor& p_f);

// L_orth: || P_inv^T P_spe ||_F^2 with L2-normalised rows.
torch::Tensor orthogonality_loss(const torch::Tensor& p_inv, const torch::Tensor& p_spe);

// Feature reconstruction: || R(z) - sg(F) ||^2 / n (mean over elements).
torch::Tensor feature_reconstruction_loss(const torch::Tensor& f_hat, const torch::Tensor& f);

// Pixel reconstruction: mean squared error over every value.
torch::Tensor pixel_mse(const torch::Tensor& x_hat, const torch::Tensor& x);

// L_cons (an extension, docs/METHOD.md): pseudo-labels are the clean view's arg-max where its
// softmax confidence exceeds `threshold` (no gradient through them); the strong view's
// cross-entropy to them, summed over the kept images and divided by the batch size. `kept`, when
// given, receives the fraction of the batch above the threshold.
torch::Tensor consistency_loss(const torch::Tensor& clean_logits, const torch::Tensor& strong_logits, double threshold,
                               torch::Tensor* kept = nullptr);

// L_bal (an extension, docs/METHOD.md): KL(p_mean || uniform) = log K + sum_k p_mean,k log p_mean,k,
// p_mean the batch's mean softmax. Zero when the batch's predictions are spread evenly over the
// classes, log K when all fall into one.
torch::Tensor balance_loss(const torch::Tensor& logits);

// Scale-invariant MSE (DSN): per sample, (1/k)||d||^2 - (1/k^2)(d . 1)^2 with d = x - x_hat; mean.
torch::Tensor scale_invariant_mse(const torch::Tensor& x_hat, const torch::Tensor& x);

// MINE's statistics network T(a, b) -> one value per row (the graph "mine" of a LayerNet).
using StatisticsNet = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;

// MINE: the Donsker-Varadhan bound I(a; b) >= mean T(a_i, b_i) - log mean exp T(a_i, b_perm(i)),
// with the moving-average correction of the log-denominator's gradient.
class MineEstimator {
 public:
  explicit MineEstimator(double ma_rate = 0.01) : rate_(ma_rate) {}
  struct Result {
    torch::Tensor bound;      // the DV estimate (for logging and tests), differentiable
    torch::Tensor surrogate;  // same value at the optimum, gradient with the corrected denominator
  };
  // `perm`: a permutation of 0..n-1 pairing a_i with b_perm(i) for the product of marginals.
  Result operator()(const StatisticsNet& t, const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& perm);
  // Read on the host only for checkpoints; during training it stays where the network is (a
  // 0-dim float64 tensor), so a step needs no host synchronisation.
  double moving_average() const { return ma_.defined() ? ma_.item<double>() : start_; }
  void set_moving_average(double v) { ma_ = torch::Tensor(), start_ = v; }

 private:
  double rate_;
  torch::Tensor ma_;     // undefined until the first step (or a restored value) puts it on the device
  double start_ = -1.0;  // a restored value not yet on the device; < 0: not started
};

// The min-max of L_mi in one backward pass: T sees its inputs through a gradient reversal, so
// minimising the returned loss (= -surrogate) makes T raise the bound and the features lower it.
torch::Tensor mine_minmax_loss(MineEstimator& mine, const StatisticsNet& t, const torch::Tensor& p_inv, const torch::Tensor& p_spe,
                               const torch::Tensor& perm, torch::Tensor* bound_out = nullptr);

}  // namespace dida
