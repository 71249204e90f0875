#include "brush.hpp"

#include <algorithm>
#include <cmath>

namespace dida::web {

void Brush::stroke_to(float x, float y) {
  if (!down_) last_x_ = x, last_y_ = y;
  const float dx = x - last_x_, dy = y - last_y_;
  const int stamps = 1 + static_cast<int>(std::hypot(dx, dy) * 2);  // two stamps per cell travelled
  const float radius = kSize / 14.f;  // MNIST's stroke width, relative to the digit
  for (int t = 0; t <= stamps; ++t) {
    const float cx = last_x_ + dx * t / stamps, cy = last_y_ + dy * t / stamps;
    for (int yy = std::max(0, static_cast<int>(cy - radius - 1)); yy <= std::min(kSize - 1, static_cast<int>(cy + radius + 1)); ++yy)
      for (int xx = std::max(0, static_cast<int>(cx - radius - 1)); xx <= std::min(kSize - 1, static_cast<int>(cx + radius + 1)); ++xx) {
        const float r = std::hypot(xx + 0.5f - cx, yy + 0.5f - cy);
        float& v = ink_[static_cast<std::size_t>(yy) * kSize + xx];
        v = std::max(v, std::clamp(radius + 0.5f - r, 0.f, 1.f));  // a soft edge one cell wide
      }
  }
  last_x_ = x, last_y_ = y;
  down_ = true;
  ++version_;
}

void Brush::clear() {
  std::fill(ink_.begin(), ink_.end(), 0.f);
  ++version_;
}

}  // namespace dida::web
