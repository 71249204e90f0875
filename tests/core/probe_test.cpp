// The page's live linear probe: a hand-computed Adam step, and what it finds on known data.
#include <gtest/gtest.h>

#include <cmath>

#include "dida/probe.hpp"
#include "dida/rng.hpp"

namespace dida {

TEST(Probe, OneStepMatchesAHandComputation) {
  // Fitting rows x = 0 (class 0) and 2 (class 1): standardised to -1/sqrt2 and +1/sqrt2. At w = 0
  // the softmax is (1/2, 1/2), so dL/dw = mean of x (p - onehot) = (+0.3536, -0.3536) and the bias
  // gradient is 0. Adam's first bias-corrected step is lr * sign(g): w = (-0.05, +0.05).
  const std::vector<float> x = {0.f, 2.f, 3.f, -1.f};
  const std::vector<int> y = {0, 1, 1, 0};
  LinearProbe p(x, 4, 1, y, 2, {0, 1}, {2, 3});
  EXPECT_DOUBLE_EQ(p.chance(), 0.5);  // a tie in the fitting rows: the first class, right on one test row
  p.step(1);
  ASSERT_EQ(p.weights().size(), 2u);
  EXPECT_NEAR(p.weights()[0], -0.05, 1e-7);  // eps and the std's 1e-6 aside
  EXPECT_NEAR(p.weights()[1], 0.05, 1e-7);
  EXPECT_DOUBLE_EQ(p.test_accuracy(), 1.0);  // x = 3 -> class 1, x = -1 -> class 0
  EXPECT_EQ(p.iteration(), 1);
  while (p.step(50)) {
  }
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.iteration(), LinearProbe::kSteps);
}

TEST(Probe, FindsALinearSignalAndNotANoiseOne) {
  // 400 points in 20-D; the label is the sign of one coordinate (linearly readable) or a coin
  // flip (not readable): the probe must read the first and stay near chance on the second.
  const int n = 400, d = 20;
  Rng rng(11);
  std::vector<float> x(static_cast<std::size_t>(n) * d);
  for (auto& v : x) v = static_cast<float>(rng.uniform(-1, 1));
  std::vector<int> signal(n), noise(n), fit, test;
  for (int i = 0; i < n; ++i) {
    signal[static_cast<std::size_t>(i)] = x[static_cast<std::size_t>(i) * d + 3] > 0;
    noise[static_cast<std::size_t>(i)] = rng.uniform(0, 1) > 0.5;
    (i % 2 ? test : fit).push_back(i);
  }
  LinearProbe a(x, n, d, signal, 2, fit, test), b(x, n, d, noise, 2, fit, test);
  while (a.step(100)) {
  }
  while (b.step(100)) {
  }
  EXPECT_GT(a.test_accuracy(), 0.95);
  EXPECT_LT(b.test_accuracy(), 0.65);
  EXPECT_NEAR(b.chance(), 0.5, 0.1);
  // Fitted in small pieces (as the page does over frames): the same weights as whole steps.
  LinearProbe c(x, n, d, signal, 2, fit, test);
  while (c.advance(7 * d * 2)) {
  }
  EXPECT_EQ(c.iteration(), LinearProbe::kSteps);
  for (std::size_t i = 0; i < a.weights().size(); ++i) ASSERT_NEAR(c.weights()[i], a.weights()[i], 1e-9) << i;
  EXPECT_THROW(LinearProbe(x, n, d, signal, 2, {0}, test), std::invalid_argument);
  EXPECT_THROW(LinearProbe(x, n, d - 1, signal, 2, fit, test), std::invalid_argument);
}

// The page's draws: with 3 source rows and 7 target rows, every draw reads the 3 source rows and
// the next 3 target rows, wrapping, until every target row has been read (3 draws); within a draw
// the i-th row of each domain fits for even i and tests for odd i, and the class probe alternates
// over [source rows, target rows].
TEST(Probe, ThePagesDrawsReadEveryRowOfTheLargerDomain) {
  const std::vector<int> s = {0, 1, 2}, t = {10, 11, 12, 13, 14, 15, 16};
  const auto draws = page_probe_draws(s, t);
  ASSERT_EQ(draws.size(), 3u);
  EXPECT_EQ(draws[0].domain_fit, (std::vector<int>{0, 10, 2, 12}));
  EXPECT_EQ(draws[0].domain_test, (std::vector<int>{1, 11}));
  EXPECT_EQ(draws[0].class_fit, (std::vector<int>{0, 2, 11}));
  EXPECT_EQ(draws[0].class_test, (std::vector<int>{1, 10, 12}));
  EXPECT_EQ(draws[1].domain_fit, (std::vector<int>{0, 13, 2, 15}));
  EXPECT_EQ(draws[2].domain_fit, (std::vector<int>{0, 16, 2, 11}));  // 16, then 10 and 11 again
  EXPECT_EQ(draws[2].domain_test, (std::vector<int>{1, 10}));
  // The larger domain may be either: the source's rows move, the target's stay.
  const auto swapped = page_probe_draws(t, s);
  ASSERT_EQ(swapped.size(), 3u);
  EXPECT_EQ(swapped[1].domain_fit, (std::vector<int>{13, 0, 15, 2}));
  // As many rows of each: one draw, every row read once.
  const auto even = page_probe_draws({0, 1, 2, 3}, {4, 5, 6, 7});
  ASSERT_EQ(even.size(), 1u);
  EXPECT_EQ(even[0].domain_fit, (std::vector<int>{0, 4, 2, 6}));
  EXPECT_EQ(even[0].class_test, (std::vector<int>{1, 3, 5, 7}));
  // At most kMaxProbeDraws draws; none without rows of both domains.
  EXPECT_EQ(page_probe_draws({0}, std::vector<int>(40, 1)).size(), static_cast<std::size_t>(kMaxProbeDraws));
  EXPECT_TRUE(page_probe_draws({}, {1, 2}).empty());
}

// A probe over draws: its figure is the mean of the draws' cross-fitted probes, stepped one after another.
TEST(Probe, AProbeOverDrawsIsTheMeanOfItsDraws) {
  const int n = 200, d = 5;
  Rng rng(5);
  std::vector<float> x(static_cast<std::size_t>(n) * d);
  for (auto& v : x) v = static_cast<float>(rng.uniform(-1, 1));
  std::vector<int> y(n), first, second, third, fourth;
  for (int i = 0; i < n; ++i) {
    y[static_cast<std::size_t>(i)] = x[static_cast<std::size_t>(i) * d] + 0.5f * static_cast<float>(rng.uniform(-1, 1)) > 0;
    (i < 50 ? first : i < 100 ? second : i < 150 ? third : fourth).push_back(i);
  }
  auto fitted = [](CrossFitProbe p) {
    while (p.step(CrossFitProbe::kSteps)) {
    }
    return p;
  };
  const CrossFitProbe a = fitted(CrossFitProbe(x, n, d, y, 2, first, second));
  const CrossFitProbe b = fitted(CrossFitProbe(x, n, d, y, 2, third, fourth));
  ProbeOverDraws over;
  over.add(CrossFitProbe(x, n, d, y, 2, first, second));
  over.add(CrossFitProbe(x, n, d, y, 2, third, fourth));
  EXPECT_EQ(over.draws(), 2);
  int calls = 0;
  while (over.advance(1000)) ++calls;
  EXPECT_GT(calls, 2);
  EXPECT_TRUE(over.done());
  EXPECT_DOUBLE_EQ(over.progress(), 1.0);
  EXPECT_NEAR(over.test_accuracy(), (a.test_accuracy() + b.test_accuracy()) / 2, 1e-9);
  EXPECT_NEAR(over.chance(), (a.chance() + b.chance()) / 2, 1e-12);
  EXPECT_NE(a.test_accuracy(), b.test_accuracy());  // else the mean would not show which draws it read
}

}  // namespace dida
