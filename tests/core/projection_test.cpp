// PCA and t-SNE for the page's scatter plots: known structure must come out.
#include <gtest/gtest.h>

#include <cmath>

#include "dida/projection.hpp"
#include "dida/rng.hpp"

namespace dida {
namespace {
// Three well-separated Gaussian clusters in 10-D, 20 points each.
std::vector<float> clusters(int& n, int& d, std::vector<int>& label) {
  n = 60, d = 10;
  Rng rng(3);
  std::vector<float> x(static_cast<std::size_t>(n) * d);
  label.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    label[static_cast<std::size_t>(i)] = i / 20;
    for (int k = 0; k < d; ++k)
      x[static_cast<std::size_t>(i) * d + k] = static_cast<float>((k == label[static_cast<std::size_t>(i)] ? 10.0 : 0.0) + rng.uniform(-1, 1));
  }
  return x;
}
double dist(const std::vector<float>& y, int i, int j) { return std::hypot(y[2 * i] - y[2 * j], y[2 * i + 1] - y[2 * j + 1]); }
}  // namespace

TEST(Projection, PcaFindsTheDirectionOfLargestVariance) {
  // Points on the line (t, 2t, 0) plus tiny noise: the first component carries everything.
  std::vector<float> x;
  for (int i = 0; i < 20; ++i) x.insert(x.end(), {static_cast<float>(i), static_cast<float>(2 * i), static_cast<float>((i % 3) * 1e-3)});
  const auto y = pca_2d(x, 20, 3);
  for (int i = 1; i < 20; ++i) EXPECT_NEAR(y[2 * i] - y[2 * (i - 1)], std::sqrt(5.0), 1e-3);  // |(1, 2, 0)|
  for (int i = 0; i < 20; ++i) EXPECT_NEAR(y[2 * i + 1], 0.0, 1e-2);
  // More dimensions than points uses the other Gram matrix and gives the same layout.
  int n, d;
  std::vector<int> label;
  const auto c = clusters(n, d, label);
  std::vector<float> few(c.begin(), c.begin() + 5 * d);
  const auto a = pca_2d(few, 5, d);
  EXPECT_EQ(a.size(), 10u);
}

TEST(Projection, TsneKeepsClustersApartAndReportsProgress) {
  int n, d;
  std::vector<int> label;
  const auto x = clusters(n, d, label);
  TsneOptions o;
  o.perplexity = 10;
  o.iterations = 300;
  int calls = 0;
  const auto y = tsne_2d(x, n, d, o, [&](int, double) { return ++calls > 0; });
  EXPECT_GT(calls, 10);
  double within = 0, between = 0;
  int nw = 0, nb = 0;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) (label[static_cast<std::size_t>(i)] == label[static_cast<std::size_t>(j)] ? (within += dist(y, i, j), ++nw) : (between += dist(y, i, j), ++nb));
  EXPECT_GT(between / nb, 3 * within / nw);
  // Deterministic: the same input gives the same layout.
  EXPECT_EQ(tsne_2d(x, n, d, o), y);
  // Stopping early through the callback.
  int seen = 0;
  tsne_2d(x, n, d, o, [&](int it, double) { seen = it; return it < 50; });
  EXPECT_EQ(seen, 50);
}
}  // namespace dida
