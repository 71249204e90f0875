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

}  // namespace dida
