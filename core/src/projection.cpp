#include "dida/projection.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dida {

PcaPlane pca_plane(const std::vector<float>& x, int n, int d) {
  if (n < 1 || d < 1 || x.size() != static_cast<std::size_t>(n) * d) throw std::invalid_argument("pca_2d: x must be n x d");
  Eigen::MatrixXd m = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(x.data(), n, d).cast<double>();
  const Eigen::RowVectorXd mean = m.colwise().mean();
  m.rowwise() -= mean;
  PcaPlane plane;
  plane.d = d;
  plane.mean.assign(mean.data(), mean.data() + d);
  plane.axes.assign(2 * static_cast<std::size_t>(d), 0.0);
  // The top eigenvectors of the smaller Gram matrix: d x d covariance or n x n kernel (whose
  // eigenvectors u give the axes m^T u).
  auto keep = [&](int k, Eigen::VectorXd v) {
    const double norm = v.norm();
    if (norm < 1e-300) return;
    v /= norm;
    Eigen::Index arg;
    v.cwiseAbs().maxCoeff(&arg);
    if (v(arg) < 0) v = -v;
    std::copy(v.data(), v.data() + d, plane.axes.begin() + static_cast<std::ptrdiff_t>(k) * d);
  };
  if (d <= n) {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(m.transpose() * m);
    for (int k = 0; k < std::min(2, d); ++k) keep(k, es.eigenvectors().col(d - 1 - k));
  } else {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(m * m.transpose());
    for (int k = 0; k < std::min(2, n); ++k)
      if (es.eigenvalues()(n - 1 - k) > 0) keep(k, m.transpose() * es.eigenvectors().col(n - 1 - k));
  }
  return plane;
}

void PcaPlane::project(const float* x, float* out2) const {
  for (int k = 0; k < 2; ++k) {
    double s = 0;
    const double* a = axes.data() + static_cast<std::size_t>(k) * d;
    for (int j = 0; j < d; ++j) s += (x[j] - mean[static_cast<std::size_t>(j)]) * a[j];
    out2[k] = static_cast<float>(s);
  }
}

std::vector<float> pca_2d(const std::vector<float>& x, int n, int d) {
  const PcaPlane plane = pca_plane(x, n, d);
  std::vector<float> out(static_cast<std::size_t>(n) * 2);
  for (int i = 0; i < n; ++i) plane.project(x.data() + static_cast<std::size_t>(i) * d, out.data() + 2 * i);
  return out;
}

Tsne::Tsne(const std::vector<float>& x, int n, int d, const TsneOptions& o) : n_(n), options_(o) {
  if (n < 4) throw std::invalid_argument("t-SNE needs at least 4 points");
  if (x.size() != static_cast<std::size_t>(n) * d) throw std::invalid_argument("t-SNE: x must be n x d");
  // Squared distances, then per-point Gaussian bandwidths by binary search on the perplexity.
  std::vector<double> dist(static_cast<std::size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      double s = 0;
      for (int k = 0; k < d; ++k) {
        const double t = x[static_cast<std::size_t>(i) * d + k] - x[static_cast<std::size_t>(j) * d + k];
        s += t * t;
      }
      dist[static_cast<std::size_t>(i) * n + j] = dist[static_cast<std::size_t>(j) * n + i] = s;
    }
  const double target = std::log(std::min(o.perplexity, (n - 1) / 3.0));
  p_.assign(static_cast<std::size_t>(n) * n, 0.0);
  std::vector<double> row(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    double beta = 1.0, lo = 0, hi = INFINITY;
    const double* di = &dist[static_cast<std::size_t>(i) * n];
    double dmin = INFINITY;
    for (int j = 0; j < n; ++j)
      if (j != i) dmin = std::min(dmin, di[j]);
    for (int t = 0; t < 64; ++t) {
      double sum = 0, hsum = 0;
      for (int j = 0; j < n; ++j) {
        row[static_cast<std::size_t>(j)] = j == i ? 0.0 : std::exp(-beta * (di[j] - dmin));
        sum += row[static_cast<std::size_t>(j)];
        hsum += row[static_cast<std::size_t>(j)] * (di[j] - dmin);
      }
      const double entropy = std::log(sum) + beta * hsum / sum;
      if (std::fabs(entropy - target) < 1e-5) break;
      if (entropy > target) {
        lo = beta;
        beta = std::isinf(hi) ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = (beta + lo) / 2;
      }
    }
    double sum = 0;
    for (int j = 0; j < n; ++j) sum += row[static_cast<std::size_t>(j)];
    for (int j = 0; j < n; ++j) p_[static_cast<std::size_t>(i) * n + j] = row[static_cast<std::size_t>(j)] / sum;
  }
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      const double v = (p_[static_cast<std::size_t>(i) * n + j] + p_[static_cast<std::size_t>(j) * n + i]) / (2.0 * n);
      p_[static_cast<std::size_t>(i) * n + j] = p_[static_cast<std::size_t>(j) * n + i] = std::max(v, 1e-12);
    }
  // Deterministic start: the PCA layout, scaled to a small spread.
  y_ = pca_2d(x, n, d);
  double spread = 1e-12;
  for (float v : y_) spread = std::max(spread, static_cast<double>(std::fabs(v)));
  for (float& v : y_) v = static_cast<float>(v / spread * 1e-2);
  gains_.assign(y_.size(), 1.0);
  velocity_.assign(y_.size(), 0.0);
}

bool Tsne::step(int steps) {
  const int n = n_;
  q_.resize(static_cast<std::size_t>(n) * n);
  grad_.resize(static_cast<std::size_t>(n) * 2);
  std::vector<double>& q = q_;
  std::vector<double>& grad = grad_;
  for (int s = 0; s < steps && iter_ < options_.iterations; ++s, ++iter_) {
    const double exaggeration = iter_ < options_.exaggeration_iterations ? options_.early_exaggeration : 1.0;
    const double momentum = iter_ < options_.exaggeration_iterations ? 0.5 : 0.8;
    double qsum = 0;
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) {
        const double dx = y_[2 * i] - y_[2 * j], dy = y_[2 * i + 1] - y_[2 * j + 1];
        const double w = 1.0 / (1.0 + dx * dx + dy * dy);
        q[static_cast<std::size_t>(i) * n + j] = q[static_cast<std::size_t>(j) * n + i] = w;
        qsum += 2 * w;
      }
    std::fill(grad.begin(), grad.end(), 0.0);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        if (i == j) continue;
        const double w = q[static_cast<std::size_t>(i) * n + j];
        const double f = 4.0 * (exaggeration * p_[static_cast<std::size_t>(i) * n + j] - w / qsum) * w;
        grad[2 * i] += f * (y_[2 * i] - y_[2 * j]);
        grad[2 * i + 1] += f * (y_[2 * i + 1] - y_[2 * j + 1]);
      }
    for (std::size_t k = 0; k < y_.size(); ++k) {
      gains_[k] = (grad[k] > 0) != (velocity_[k] > 0) ? gains_[k] + 0.2 : std::max(0.01, gains_[k] * 0.8);
      velocity_[k] = momentum * velocity_[k] - options_.learning_rate * gains_[k] * grad[k];
      y_[k] = static_cast<float>(y_[k] + velocity_[k]);
    }
  }
  return iter_ < options_.iterations;
}

double Tsne::kl_divergence() const {
  const int n = n_;
  double qsum = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j) {
        const double dx = y_[2 * i] - y_[2 * j], dy = y_[2 * i + 1] - y_[2 * j + 1];
        qsum += 1.0 / (1.0 + dx * dx + dy * dy);
      }
  double kl = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j) {
        const double dx = y_[2 * i] - y_[2 * j], dy = y_[2 * i + 1] - y_[2 * j + 1];
        const double qij = std::max(1.0 / (1.0 + dx * dx + dy * dy) / qsum, 1e-12);
        const double pij = p_[static_cast<std::size_t>(i) * n + j];
        kl += pij * std::log(pij / qij);
      }
  return kl;
}

std::vector<float> tsne_2d(const std::vector<float>& x, int n, int d, const TsneOptions& options,
                           const std::function<bool(int, double)>& progress) {
  Tsne t(x, n, d, options);
  while (t.step(10)) {
    if (progress && !progress(t.iteration(), t.iteration() % 50 == 0 ? t.kl_divergence() : -1.0)) break;
  }
  return t.embedding();
}

}  // namespace dida
