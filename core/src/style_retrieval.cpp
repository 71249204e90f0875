#include "dida/style_retrieval.hpp"

#include <cmath>
#include <limits>

namespace dida {

StyleDescriptor style_descriptor(const float* planes, int channels, int pixels) {
  StyleDescriptor d(static_cast<std::size_t>(2 * channels), 0.0);
  if (pixels <= 0) return d;
  for (int c = 0; c < channels; ++c) {
    const float* p = planes + static_cast<std::size_t>(c) * static_cast<std::size_t>(pixels);
    double sum = 0;
    for (int i = 0; i < pixels; ++i) sum += p[i];
    const double mean = sum / pixels;
    double sq = 0;  // about the mean: no cancellation on bright, flat images
    for (int i = 0; i < pixels; ++i) sq += (p[i] - mean) * (p[i] - mean);
    d[static_cast<std::size_t>(c)] = mean;
    d[static_cast<std::size_t>(channels + c)] = std::sqrt(sq / pixels);
  }
  return d;
}

int nearest_style(const StyleDescriptor& d, const std::vector<StyleDescriptor>& styles) {
  int best = -1;
  double best_d = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < styles.size(); ++k) {
    double s = 0;
    for (std::size_t i = 0; i < d.size() && i < styles[k].size(); ++i) s += (d[i] - styles[k][i]) * (d[i] - styles[k][i]);
    if (s < best_d) best_d = s, best = static_cast<int>(k);
  }
  return best;
}

double style_retrieval(const std::vector<StyleDescriptor>& cells, const std::vector<StyleDescriptor>& styles) {
  if (cells.empty() || styles.empty()) return 0.0;
  std::size_t right = 0;
  for (std::size_t i = 0; i < cells.size(); ++i)
    right += nearest_style(cells[i], styles) == static_cast<int>(i % styles.size());
  return static_cast<double>(right) / static_cast<double>(cells.size());
}

}  // namespace dida
