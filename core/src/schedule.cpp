#include "dida/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace dida {
double grl_lambda(double progress, double gamma) {
  const double p = std::clamp(progress, 0.0, 1.0);
  return 2.0 / (1.0 + std::exp(-gamma * p)) - 1.0;
}
double lr_factor(double progress, double alpha, double beta) {
  const double p = std::clamp(progress, 0.0, 1.0);
  return 1.0 / std::pow(1.0 + alpha * p, beta);
}
}  // namespace dida
