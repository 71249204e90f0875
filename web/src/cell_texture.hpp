#pragma once
// A grid of image cells (the model's input size, NHWC bytes, rows x columns, row-major) as one
// RGBA GL texture, uploaded again only when the cells' version changes; drawn a cell at a time.
#include <cstdint>
#include <vector>

#include "dida/data.hpp"

namespace dida::web {

// Uploads RGBA bytes (width x height) into GL texture `id`, made first when 0; nearest filtering.
void upload_rgba(unsigned& id, int width, int height, const std::vector<std::uint8_t>& rgba);

class CellTexture {
 public:
  // Uploads `cells` when `version` is not the one on the texture; true when it did.
  bool update(int version, const std::vector<std::uint8_t>& cells, int rows, int cols, const Domain& d);
  bool ready() const { return id_ != 0; }
  // ImGui::Image of cell (row, col), `size` pixels square.
  void draw(int row, int col, float size) const;

 private:
  unsigned id_ = 0;
  int version_ = -1, rows_ = 0, cols_ = 0;
};

}  // namespace dida::web
