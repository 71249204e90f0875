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
}

TEST(Projection, PcaRecoversAPlaneInHighDimensionsOnBothPaths) {
  // Points (a_i, b_i) of a plane, placed in 20-D along two orthonormal directions u, v: PCA's
  // layout must reproduce every pairwise distance of the plane (signs and rotation aside). With
  // 5 points (fewer than the dimensions) PCA works on the points' Gram matrix, with 50 on the
  // covariance matrix: both must give the plane.
  const int d = 20;
  std::vector<double> u(d, 0), v(d, 0);
  for (int k = 0; k < d; ++k) u[static_cast<std::size_t>(k)] = (k % 2 ? 1 : -1) / std::sqrt(20.0);
  for (int k = 0; k < 4; ++k) v[static_cast<std::size_t>(k)] = (k < 2 ? 1 : -1) / 2.0;  // orthogonal to u
  for (const int n : {5, 50}) {
    Rng rng(static_cast<std::uint64_t>(n));
    std::vector<double> a(static_cast<std::size_t>(n)), b(static_cast<std::size_t>(n));
    std::vector<float> x(static_cast<std::size_t>(n) * d);
    for (int i = 0; i < n; ++i) {
      a[static_cast<std::size_t>(i)] = rng.uniform(-10, 10), b[static_cast<std::size_t>(i)] = rng.uniform(-3, 3);
      for (int k = 0; k < d; ++k)
        x[static_cast<std::size_t>(i) * d + k] =
            static_cast<float>(a[static_cast<std::size_t>(i)] * u[static_cast<std::size_t>(k)] + b[static_cast<std::size_t>(i)] * v[static_cast<std::size_t>(k)]);
    }
    const auto y = pca_2d(x, n, d);
    ASSERT_EQ(y.size(), static_cast<std::size_t>(2 * n));
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j)
        EXPECT_NEAR(dist(y, i, j), std::hypot(a[static_cast<std::size_t>(i)] - a[static_cast<std::size_t>(j)], b[static_cast<std::size_t>(i)] - b[static_cast<std::size_t>(j)]), 1e-3)
            << n << " points, pair " << i << " " << j;
    // A new point of the plane, not among the fitted ones, lands where its distances say.
    const PcaPlane plane = pca_plane(x, n, d);
    const double na = 7.5, nb = -2.0;
    std::vector<float> p(d), q(2);
    for (int k = 0; k < d; ++k) p[static_cast<std::size_t>(k)] = static_cast<float>(na * u[static_cast<std::size_t>(k)] + nb * v[static_cast<std::size_t>(k)]);
    plane.project(p.data(), q.data());
    for (int i = 0; i < n; ++i)
      EXPECT_NEAR(std::hypot(q[0] - y[2 * i], q[1] - y[2 * i + 1]), std::hypot(na - a[static_cast<std::size_t>(i)], nb - b[static_cast<std::size_t>(i)]), 1e-3)
          << n << " points, new point to " << i;
  }
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
