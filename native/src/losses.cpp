#include "losses.hpp"

#include <cmath>

namespace dida {
namespace F = torch::nn::functional;

torch::Tensor task_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  return F::cross_entropy(logits, labels);
}

torch::Tensor domain_loss(const torch::Tensor& domain_logits, const torch::Tensor& domains) {
  return F::cross_entropy(domain_logits, domains);
}

torch::Tensor relation_loss(const torch::Tensor& p_inv, const torch::Tensor& p_f) {
  const auto a = F::normalize(p_inv, F::NormalizeFuncOptions().dim(1));
  const auto b = F::normalize(p_f.detach(), F::NormalizeFuncOptions().dim(1));
  return (torch::softmax(a.matmul(a.t()), 1) - torch::softmax(b.matmul(b.t()), 1)).abs().mean();
}

torch::Tensor orthogonality_loss(const torch::Tensor& p_inv, const torch::Tensor& p_spe) {
  const auto a = F::normalize(p_inv, F::NormalizeFuncOptions().dim(1));
  const auto b = F::normalize(p_spe, F::NormalizeFuncOptions().dim(1));
  return a.t().matmul(b).pow(2).sum();
}

torch::Tensor feature_reconstruction_loss(const torch::Tensor& f_hat, const torch::Tensor& f) {
  return (f_hat - f.detach()).pow(2).mean();
}

torch::Tensor pixel_mse(const torch::Tensor& x_hat, const torch::Tensor& x) { return (x_hat - x).pow(2).mean(); }

torch::Tensor consistency_loss(const torch::Tensor& clean_logits, const torch::Tensor& strong_logits, double threshold,
                               torch::Tensor* kept) {
  const auto probs = torch::softmax(clean_logits.detach(), 1);
  const auto best = probs.max(1);
  const auto mask = std::get<0>(best).gt(threshold).to(strong_logits.scalar_type());
  if (kept) *kept = mask.mean().detach();
  const auto ce = F::cross_entropy(strong_logits, std::get<1>(best), F::CrossEntropyFuncOptions().reduction(torch::kNone));
  return (ce * mask).mean();
}

torch::Tensor balance_loss(const torch::Tensor& logits) {
  const auto p = torch::softmax(logits, 1).mean(0);
  return std::log(static_cast<double>(logits.size(1))) + (p * torch::log(p.clamp_min(1e-12))).sum();
}

torch::Tensor scale_invariant_mse(const torch::Tensor& x_hat, const torch::Tensor& x) {
  const auto d = (x - x_hat).flatten(1);
  const double k = static_cast<double>(d.size(1));
  return (d.pow(2).sum(1) / k - d.sum(1).pow(2) / (k * k)).mean();
}

MineEstimator::Result MineEstimator::operator()(const StatisticsNet& t, const torch::Tensor& a, const torch::Tensor& b,
                                                const torch::Tensor& perm) {
  const auto joint = t(a, b);
  const auto marginal = t(a, b.index_select(0, perm));
  const double n = static_cast<double>(a.size(0));
  Result r;
  r.bound = joint.mean() - (torch::logsumexp(marginal, 0) - std::log(n));
  const auto mean_exp = marginal.exp().mean();
  const auto current = mean_exp.detach().to(torch::kFloat64);
  if (!ma_.defined() && start_ >= 0) ma_ = torch::full({}, start_, current.options());
  ma_ = ma_.defined() ? ma_ * (1.0 - rate_) + current * rate_ : current.clone();
  // d/dθ log E[e^T] = E[∇e^T] / E[e^T]; MINE replaces the denominator by its moving average.
  // The surrogate's value is shifted to equal the bound, its gradient is the corrected one.
  const auto corrected = mean_exp / ma_.to(mean_exp.scalar_type());
  r.surrogate = joint.mean() - corrected + (corrected.detach() - (torch::logsumexp(marginal, 0).detach() - std::log(n)));
  return r;
}

torch::Tensor mine_minmax_loss(MineEstimator& mine, const StatisticsNet& t, const torch::Tensor& p_inv, const torch::Tensor& p_spe,
                               const torch::Tensor& perm, torch::Tensor* bound_out) {
  auto r = mine(t, grad_reverse(p_inv, 1.0), grad_reverse(p_spe, 1.0), perm);
  if (bound_out) *bound_out = r.bound.detach();
  return -r.surrogate;
}

}  // namespace dida
