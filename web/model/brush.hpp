#pragma once
// The drawing pad's ink: a soft round brush stamped along the pointer's path on a square grid of
// cells (0..1, white on black), which ExplorerModel::set_drawing turns into the model's input.
// GL-free: the view (web/src/draw_panel.cpp) passes the pointer in cells and paints the grid.
#include <vector>

namespace dida::web {

class Brush {
 public:
  static constexpr int kSize = 56;  // cells per side: twice MNIST's, so strokes stay smooth when scaled down
  Brush() : ink_(static_cast<std::size_t>(kSize) * kSize, 0.f) {}
  // The pointer is down at (x, y), in cells (may lie outside the grid): stamps from where it was
  // (or here, when the stroke starts), so a fast stroke stays a continuous line.
  void stroke_to(float x, float y);
  void lift() { down_ = false; }  // the stroke ends
  void clear();
  const std::vector<float>& ink() const { return ink_; }  // kSize x kSize, row-major
  float at(int x, int y) const { return ink_[static_cast<std::size_t>(y) * kSize + x]; }
  // Grows with every change of the ink: the model is given the drawing again.
  int version() const { return version_; }

 private:
  std::vector<float> ink_;
  bool down_ = false;
  float last_x_ = 0, last_y_ = 0;
  int version_ = 0;
};

}  // namespace dida::web
