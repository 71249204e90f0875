// The core's convolution kernel against the textbook sum, on shapes that exercise every path:
// kernels 1, 3 and 5; maps smaller than the kernel; widths that leave positions over after the
// full tiles; output channels that are not a multiple of any vector width (3, 10, 100); ReLU.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <random>

#include "dida/conv2d.hpp"

namespace {

// y[i][y][x][o] = b[o] + sum over ci, ky, kx of w[o][ci][ky][kx] * x[i][y + ky - k/2][x + kx - k/2][ci]
// (zero outside the image), both maps channels-last; in double. scale: the sum of the terms'
// magnitudes, which bounds float rounding in any order of summation.
std::vector<double> reference(const std::vector<float>& x, int n, int h, int w, int in, const std::vector<float>& wt,
                              const std::vector<float>& b, int out, int k, bool relu, std::vector<double>& scale) {
  std::vector<double> y(static_cast<std::size_t>(n) * h * w * out);
  scale.assign(y.size(), 0.0);
  const int pad = k / 2;
  for (int i = 0; i < n; ++i)
    for (int r = 0; r < h; ++r)
      for (int c = 0; c < w; ++c)
        for (int o = 0; o < out; ++o) {
          double s = b[static_cast<std::size_t>(o)], m = std::abs(s);
          for (int ci = 0; ci < in; ++ci)
            for (int ky = 0; ky < k; ++ky)
              for (int kx = 0; kx < k; ++kx) {
                const int sy = r + ky - pad, sx = c + kx - pad;
                if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
                const double t = static_cast<double>(wt[((static_cast<std::size_t>(o) * in + ci) * k + ky) * k + kx]) *
                                 x[((static_cast<std::size_t>(i) * h + sy) * w + sx) * in + ci];
                s += t, m += std::abs(t);
              }
          const std::size_t j = ((static_cast<std::size_t>(i) * h + r) * w + c) * out + o;
          y[j] = relu ? std::max(s, 0.0) : s;
          scale[j] = m;
        }
  return y;
}

struct Shape {
  int n, h, w, in, out, k;
  bool relu;
};
std::ostream& operator<<(std::ostream& os, const Shape& s) {
  return os << s.n << " x " << s.h << " x " << s.w << " x " << s.in << " -> " << s.out << ", kernel " << s.k
            << (s.relu ? ", ReLU" : "");
}

class Conv2dShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(Conv2dShapes, MatchesTheDirectSum) {
  const Shape s = GetParam();
  std::mt19937 rng(static_cast<unsigned>(s.h * 131 + s.in * 17 + s.out * 7 + s.k));
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(static_cast<std::size_t>(s.n) * s.h * s.w * s.in), w(static_cast<std::size_t>(s.out) * s.in * s.k * s.k),
      b(static_cast<std::size_t>(s.out));
  for (auto* v : {&x, &w, &b})
    for (float& e : *v) e = u(rng);
  const dida::PackedConv c = dida::pack_conv(s.in, s.out, s.k, w, b);
  EXPECT_EQ(c.out_padded % c.lanes, 0);
  EXPECT_GE(c.out_padded, s.out);
  // Sentinels after the output: the kernel writes exactly n * h * w * out values.
  std::vector<float> y(static_cast<std::size_t>(s.n) * s.h * s.w * s.out + 16, 12345.f);
  dida::conv2d_channels_last(c, x.data(), s.n, s.h, s.w, y.data(), s.relu);
  std::vector<double> scale;
  const auto want = reference(x, s.n, s.h, s.w, s.in, w, b, s.out, s.k, s.relu, scale);
  double worst = 0;  // the difference in units of the terms' magnitude: a wrong index gives ~0.1 or more
  for (std::size_t j = 0; j < want.size(); ++j) worst = std::max(worst, std::abs(want[j] - y[j]) / (scale[j] + 1e-6));
  EXPECT_LT(worst, 1e-5) << "largest difference from the direct sum, relative to the sum of |terms|";
  for (std::size_t j = want.size(); j < y.size(); ++j) ASSERT_EQ(y[j], 12345.f) << "wrote past the output at " << j;
  if (s.relu) {
    bool some_zero = false;
    for (std::size_t j = 0; j < want.size(); ++j) some_zero |= y[j] == 0.f;
    EXPECT_TRUE(some_zero) << "ReLU never clipped: the case does not test it";
  }
}

INSTANTIATE_TEST_SUITE_P(Core, Conv2dShapes,
                         ::testing::Values(Shape{2, 32, 32, 3, 16, 5, true},   // the first layer
                                           Shape{2, 16, 16, 16, 32, 5, true},  // the second
                                           Shape{3, 8, 8, 32, 64, 3, true},
                                           Shape{2, 4, 4, 64, 64, 5, true},    // map smaller than the kernel
                                           Shape{2, 3, 3, 8, 8, 5, false},     // 3 x 3: no full tile
                                           Shape{1, 6, 13, 5, 3, 3, false},    // RGB output, odd width
                                           Shape{1, 7, 7, 4, 10, 3, true},
                                           Shape{1, 1, 37, 50, 100, 1, true},  // a linear layer: 37 rows
                                           Shape{1, 1, 1, 9, 2, 1, false}));   // one row, two outputs

TEST(Conv2d, RejectsEvenKernelsAndMismatchedWeights) {
  EXPECT_THROW(dida::pack_conv(1, 1, 2, std::vector<float>(4), std::vector<float>(1)), std::invalid_argument);
  EXPECT_THROW(dida::pack_conv(2, 3, 3, std::vector<float>(10), std::vector<float>(3)), std::invalid_argument);
}

// A hand-made case: a 3 x 3 image, one channel, the kernel that sums the neighbourhood.
TEST(Conv2d, SumsTheNeighbourhoodOfEachPixel) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const dida::PackedConv c = dida::pack_conv(1, 1, 3, std::vector<float>(9, 1.f), {0.5f});
  std::vector<float> y(9);
  dida::conv2d_channels_last(c, x.data(), 1, 3, 3, y.data(), false);
  const std::vector<float> want = {12.5f, 21.5f, 16.5f, 27.5f, 45.5f, 33.5f, 24.5f, 39.5f, 28.5f};
  EXPECT_EQ(y, want);
}

}  // namespace
