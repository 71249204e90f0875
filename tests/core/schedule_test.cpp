#include "dida/schedule.hpp"
#include "dida/version.hpp"

#include <cmath>
#include <algorithm>
#include <string>
#include <gtest/gtest.h>

namespace dida {
TEST(Schedule, GrlLambdaEndpointsAndMidpoint) {
  EXPECT_DOUBLE_EQ(grl_lambda(0.0), 0.0);
  // 2 / (1 + e^-5) - 1, computed by hand: e^-5 = 0.006737947
  EXPECT_NEAR(grl_lambda(0.5), 0.986614298, 1e-9);
  EXPECT_NEAR(grl_lambda(1.0), 2.0 / (1.0 + std::exp(-10.0)) - 1.0, 1e-15);
  EXPECT_DOUBLE_EQ(grl_lambda(-1.0), 0.0);  // clamped
  for (double p = 0.0; p < 1.0; p += 0.05) EXPECT_LT(grl_lambda(p), grl_lambda(p + 0.05));
}

TEST(Schedule, LearningRateAnnealing) {
  EXPECT_DOUBLE_EQ(lr_factor(0.0), 1.0);
  EXPECT_NEAR(lr_factor(1.0), 1.0 / std::pow(11.0, 0.75), 1e-15);
  EXPECT_NEAR(lr_factor(1.0), 0.165560, 1e-6);
  for (double p = 0.0; p < 1.0; p += 0.1) EXPECT_GT(lr_factor(p), lr_factor(p + 0.1));
}

TEST(Version, IsSemverAndNamesTheBuild) {
  const std::string v = version();
  EXPECT_EQ(std::count(v.begin(), v.end(), '.'), 2) << v;
  const std::string kind = build_kind();
#ifdef __EMSCRIPTEN__
  EXPECT_EQ(kind, "wasm");
#else
  EXPECT_EQ(kind, "native");
#endif
}
}  // namespace dida
