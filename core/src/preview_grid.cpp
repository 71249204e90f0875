// A preview of a pair: source and target images side by side with their class names.
#include <stb/stb_easy_font.h>

#include <algorithm>

#include "dida/data.hpp"
#include "dida/image.hpp"

namespace dida {
namespace {
// Draws text with stb_easy_font (a built-in bitmap-like font made of quads), scaled.
void draw_text(Image& img, int x0, int y0, const std::string& text, int scale, std::uint8_t r, std::uint8_t g,
               std::uint8_t b) {
  static char buffer[99999];
  const int quads = stb_easy_font_print(0, 0, const_cast<char*>(text.c_str()), nullptr, buffer, sizeof buffer);
  const float* v = reinterpret_cast<const float*>(buffer);
  for (int q = 0; q < quads; ++q) {
    const float* quad = v + q * 16;  // 4 vertices of x, y, z, colour
    const int qx0 = static_cast<int>(quad[0]), qy0 = static_cast<int>(quad[1]);
    const int qx1 = static_cast<int>(quad[8]), qy1 = static_cast<int>(quad[9]);
    for (int y = qy0 * scale; y < qy1 * scale; ++y)
      for (int x = qx0 * scale; x < qx1 * scale; ++x) {
        const int px = x0 + x, py = y0 + y;
        if (px < 0 || py < 0 || px >= img.width || py >= img.height) continue;
        img.at(py, px, 0) = r, img.at(py, px, 1) = g, img.at(py, px, 2) = b;
      }
  }
}
}  // namespace

Image pair_grid(const DomainPair& p, int n) {
  const Domain& s = p.source_train;
  const Domain& t = p.target_test;  // labelled, for display only
  const int cols = 8, zoom = 2, cell_w = s.width * zoom + 6, cell_h = s.height * zoom + 18;
  const int ns = std::min(n, s.size()), nt = std::min(n, t.size());
  const int rows = (std::max(ns, nt) + cols - 1) / cols;
  const int panel_w = cols * cell_w + 10, title_h = 30;
  Image grid(title_h + rows * cell_h + 6, 2 * panel_w + 10, 3, 24);
  auto panel = [&](const Domain& d, int count, int x_off, const std::string& title) {
    draw_text(grid, x_off + 6, 8, title, 2, 235, 235, 235);
    for (int i = 0; i < count; ++i) {
      const Image img = convert_channels(d.image(i), 3);
      const int cx = x_off + 6 + (i % cols) * cell_w, cy = title_h + (i / cols) * cell_h;
      for (int y = 0; y < d.height * zoom; ++y)
        for (int x = 0; x < d.width * zoom; ++x)
          for (int c = 0; c < 3; ++c) grid.at(cy + y, cx + x, c) = img.at(y / zoom, x / zoom, c);
      const int label = d.labels[static_cast<std::size_t>(i)];
      draw_text(grid, cx + 2, cy + d.height * zoom + 3, label >= 0 ? d.classes[static_cast<std::size_t>(label)] : "?", 1,
                255, 200, 90);
    }
  };
  panel(s, ns, 0, "source: " + p.source_spec + " (train)");
  panel(t, nt, panel_w + 10, "target: " + p.target_spec + " (test)");
  return grid;
}

}  // namespace dida
