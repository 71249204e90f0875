#include "dida/probe.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dida {

LinearProbe::LinearProbe(const std::vector<float>& x, int n, int d, const std::vector<int>& y, int classes,
                         const std::vector<int>& fit, const std::vector<int>& test)
    : d_(d), k_(classes) {
  if (n < 1 || d < 1 || classes < 2 || x.size() != static_cast<std::size_t>(n) * d || y.size() != static_cast<std::size_t>(n))
    throw std::invalid_argument("LinearProbe: x must be n x d and y n labels, with at least 2 classes");
  if (fit.size() < 2 || test.empty()) throw std::invalid_argument("LinearProbe: needs at least 2 fitting rows and 1 test row");
  for (const int i : fit)
    if (i < 0 || i >= n || y[static_cast<std::size_t>(i)] < 0 || y[static_cast<std::size_t>(i)] >= classes)
      throw std::invalid_argument("LinearProbe: a fitting row or its label is out of range");
  for (const int i : test)
    if (i < 0 || i >= n || y[static_cast<std::size_t>(i)] < 0 || y[static_cast<std::size_t>(i)] >= classes)
      throw std::invalid_argument("LinearProbe: a test row or its label is out of range");
  // Mean and (unbiased) std of the fitting rows, as torch's std(0, unbiased) in dida eval.
  std::vector<double> mean(static_cast<std::size_t>(d), 0.0), sd(static_cast<std::size_t>(d), 0.0);
  for (const int i : fit)
    for (int j = 0; j < d; ++j) mean[static_cast<std::size_t>(j)] += x[static_cast<std::size_t>(i) * d + j];
  for (auto& m : mean) m /= static_cast<double>(fit.size());
  for (const int i : fit)
    for (int j = 0; j < d; ++j) {
      const double t = x[static_cast<std::size_t>(i) * d + j] - mean[static_cast<std::size_t>(j)];
      sd[static_cast<std::size_t>(j)] += t * t;
    }
  for (auto& s : sd) s = std::sqrt(s / static_cast<double>(fit.size() - 1)) + 1e-6;
  auto standardise = [&](const std::vector<int>& rows, std::vector<double>& out, std::vector<int>& labels) {
    out.resize(rows.size() * static_cast<std::size_t>(d));
    for (std::size_t r = 0; r < rows.size(); ++r) {
      labels.push_back(y[static_cast<std::size_t>(rows[r])]);
      for (int j = 0; j < d; ++j)
        out[r * d + j] = (x[static_cast<std::size_t>(rows[r]) * d + j] - mean[static_cast<std::size_t>(j)]) / sd[static_cast<std::size_t>(j)];
    }
  };
  standardise(fit, a_, ya_);
  standardise(test, b_, yb_);
  w_.assign(static_cast<std::size_t>(d) * k_, 0.0);
  bias_.assign(static_cast<std::size_t>(k_), 0.0);
  m_.assign(w_.size() + bias_.size(), 0.0);
  v_.assign(m_.size(), 0.0);
  std::vector<int> count(static_cast<std::size_t>(k_), 0);
  for (const int l : ya_) ++count[static_cast<std::size_t>(l)];
  const int majority = static_cast<int>(std::max_element(count.begin(), count.end()) - count.begin());
  chance_ = static_cast<double>(std::count(yb_.begin(), yb_.end(), majority)) / static_cast<double>(yb_.size());
}

void LinearProbe::add_rows(std::size_t end) {
  const std::size_t n = ya_.size(), d = static_cast<std::size_t>(d_), k = static_cast<std::size_t>(k_);
  if (g_.empty()) g_.assign(m_.size(), 0.0);
  std::vector<double> logits(k);
  // Mean cross-entropy's gradient: (softmax - one-hot) / n, through x^T.
  for (; row_ < end; ++row_) {
    const double* xr = &a_[row_ * d];
    for (std::size_t c = 0; c < k; ++c) logits[c] = bias_[c];
    for (std::size_t j = 0; j < d; ++j)
      for (std::size_t c = 0; c < k; ++c) logits[c] += xr[j] * w_[j * k + c];
    const double top = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (auto& l : logits) sum += (l = std::exp(l - top));
    for (std::size_t c = 0; c < k; ++c) logits[c] = (logits[c] / sum - (static_cast<int>(c) == ya_[row_] ? 1.0 : 0.0)) / static_cast<double>(n);
    for (std::size_t j = 0; j < d; ++j)
      for (std::size_t c = 0; c < k; ++c) g_[j * k + c] += xr[j] * logits[c];
    for (std::size_t c = 0; c < k; ++c) g_[d * k + c] += logits[c];
  }
}

void LinearProbe::update() {
  const std::size_t dk = static_cast<std::size_t>(d_) * k_;
  for (std::size_t i = 0; i < dk; ++i) g_[i] += 2e-3 * w_[i];  // the L2 term 1e-3 |w|^2
  // Adam as torch has it (beta 0.9, 0.999, eps 1e-8, bias-corrected).
  ++iteration_;
  const double lr = 0.05, b1 = 0.9, b2 = 0.999, c1 = 1 - std::pow(b1, iteration_), c2 = 1 - std::pow(b2, iteration_);
  for (std::size_t i = 0; i < g_.size(); ++i) {
    m_[i] = b1 * m_[i] + (1 - b1) * g_[i];
    v_[i] = b2 * v_[i] + (1 - b2) * g_[i] * g_[i];
    double& p = i < dk ? w_[i] : bias_[i - dk];
    p -= lr * (m_[i] / c1) / (std::sqrt(v_[i] / c2) + 1e-8);
  }
  std::fill(g_.begin(), g_.end(), 0.0);
  row_ = 0;
}

CrossFitProbe::CrossFitProbe(const std::vector<float>& x, int n, int d, const std::vector<int>& y, int classes,
                             const std::vector<int>& half_a, const std::vector<int>& half_b)
    : a_(x, n, d, y, classes, half_a, half_b), b_(x, n, d, y, classes, half_b, half_a),
      rows_a_(static_cast<double>(half_a.size())), rows_b_(static_cast<double>(half_b.size())) {}

bool CrossFitProbe::step(int steps) {
  if (!a_.done()) return a_.step(steps), true;
  return b_.step(steps);
}

bool CrossFitProbe::advance(long work) {
  if (!a_.done()) return a_.advance(work), true;
  return b_.advance(work);
}

// Weighted by the rows each tests: the share of all rows labelled right.
double CrossFitProbe::test_accuracy() const {
  return (a_.test_accuracy() * rows_b_ + b_.test_accuracy() * rows_a_) / std::max(rows_a_ + rows_b_, 1.0);
}
double CrossFitProbe::chance() const { return (a_.chance() * rows_b_ + b_.chance() * rows_a_) / std::max(rows_a_ + rows_b_, 1.0); }

std::vector<ProbeDraw> page_probe_draws(const std::vector<int>& source_rows, const std::vector<int>& target_rows) {
  std::vector<ProbeDraw> draws;
  const std::size_t k = std::min(source_rows.size(), target_rows.size());
  if (k == 0) return draws;
  const std::size_t larger = std::max(source_rows.size(), target_rows.size());
  const std::size_t count = std::min<std::size_t>(kMaxProbeDraws, (larger + k - 1) / k);
  const bool source_smaller = source_rows.size() == k;
  for (std::size_t j = 0; j < count; ++j) {
    std::vector<int> s(k), t(k);
    for (std::size_t i = 0; i < k; ++i) {
      const std::size_t next = (j * k + i) % larger;  // the larger domain's next k rows, wrapping
      s[i] = source_smaller ? source_rows[i] : source_rows[next];
      t[i] = source_smaller ? target_rows[next] : target_rows[i];
    }
    ProbeDraw d;
    for (std::size_t i = 0; i < k; ++i) {
      auto& half = i % 2 ? d.domain_test : d.domain_fit;
      half.push_back(s[i]), half.push_back(t[i]);
    }
    for (std::size_t i = 0; i < 2 * k; ++i) (i % 2 ? d.class_test : d.class_fit).push_back(i < k ? s[i] : t[i - k]);
    draws.push_back(std::move(d));
  }
  return draws;
}

bool ProbeOverDraws::advance(long work) {
  for (auto& p : probes_)
    if (!p.done()) return p.advance(work), true;
  return false;
}
bool ProbeOverDraws::done() const {
  for (const auto& p : probes_)
    if (!p.done()) return false;
  return true;
}
double ProbeOverDraws::progress() const {
  if (probes_.empty()) return 0;
  double steps = 0;
  for (const auto& p : probes_) steps += p.iteration();
  return steps / (static_cast<double>(CrossFitProbe::kSteps) * static_cast<double>(probes_.size()));
}
double ProbeOverDraws::test_accuracy() const {
  double sum = 0;
  for (const auto& p : probes_) sum += p.test_accuracy();
  return probes_.empty() ? 0 : sum / static_cast<double>(probes_.size());
}
double ProbeOverDraws::chance() const {
  double sum = 0;
  for (const auto& p : probes_) sum += p.chance();
  return probes_.empty() ? 0 : sum / static_cast<double>(probes_.size());
}

bool LinearProbe::step(int steps) {
  for (int s = 0; s < steps && iteration_ < kSteps; ++s) {
    add_rows(ya_.size());
    update();
  }
  return iteration_ < kSteps;
}

bool LinearProbe::advance(long work) {
  const long per_row = std::max<long>(1, static_cast<long>(d_) * k_);
  long rows = std::max<long>(1, work / per_row);
  while (rows > 0 && iteration_ < kSteps) {
    const std::size_t end = std::min(ya_.size(), row_ + static_cast<std::size_t>(rows));
    rows -= static_cast<long>(end - row_);
    add_rows(end);
    if (row_ == ya_.size()) update();
  }
  return iteration_ < kSteps;
}

double LinearProbe::test_accuracy() const {
  const std::size_t d = static_cast<std::size_t>(d_), k = static_cast<std::size_t>(k_);
  int right = 0;
  std::vector<double> logits(k);
  for (std::size_t r = 0; r < yb_.size(); ++r) {
    for (std::size_t c = 0; c < k; ++c) logits[c] = bias_[c];
    for (std::size_t j = 0; j < d; ++j)
      for (std::size_t c = 0; c < k; ++c) logits[c] += b_[r * d + j] * w_[j * k + c];
    right += static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin()) == yb_[r];
  }
  return static_cast<double>(right) / static_cast<double>(yb_.size());
}

}  // namespace dida
