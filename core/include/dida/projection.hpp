#pragma once
// 2-D projections of feature vectors for the page's scatter plots (z_inv, z_spe):
// PCA at once, t-SNE iteratively with progress. Rows are samples.
#include <cstdint>
#include <functional>
#include <vector>

namespace dida {

// The plane of the top two principal axes of n x d row-major points (signs fixed so that each
// axis's largest |loading| is positive). It places new points in the same plane as the old ones:
// the page puts a drawn digit or a dropped image among the samples.
struct PcaPlane {
  int d = 0;
  std::vector<double> mean;  // d
  std::vector<double> axes;  // 2 x d, unit length (zero where the data has fewer axes)
  void project(const float* x, float* out2) const;
};
PcaPlane pca_plane(const std::vector<float>& x, int n, int d);

// n x d row-major input -> n x 2 row-major output: each row projected on pca_plane(x).
std::vector<float> pca_2d(const std::vector<float>& x, int n, int d);

struct TsneOptions {
  double perplexity = 30.0;
  int iterations = 500;
  double learning_rate = 200.0;
  double early_exaggeration = 12.0;
  int exaggeration_iterations = 100;
  std::uint64_t seed = 1;
};

// Exact t-SNE (van der Maaten & Hinton 2008), O(n^2) per iteration: meant for the few hundred to
// few thousand points the page shows. Starts from the PCA layout (deterministic). `progress`
// (optional) is called with (iteration, KL divergence every 50 iterations or -1) and may return
// false to stop early.
class Tsne {
 public:
  Tsne(const std::vector<float>& x, int n, int d, const TsneOptions& options = {});
  // Runs up to `steps` iterations; returns false once all iterations are done.
  bool step(int steps = 1);
  int iteration() const { return iter_; }
  int total_iterations() const { return options_.iterations; }
  const std::vector<float>& embedding() const { return y_; }  // n x 2
  double kl_divergence() const;

 private:
  int n_;
  TsneOptions options_;
  std::vector<double> p_;  // symmetric joint probabilities, n x n
  std::vector<float> y_;
  std::vector<double> gains_, velocity_;
  std::vector<double> q_, grad_;  // per-iteration work buffers, kept across step() calls
  int iter_ = 0;
};

std::vector<float> tsne_2d(const std::vector<float>& x, int n, int d, const TsneOptions& options = {},
                           const std::function<bool(int, double)>& progress = {});

}  // namespace dida
