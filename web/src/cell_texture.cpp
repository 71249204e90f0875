#include "cell_texture.hpp"

#include <GLES3/gl3.h>

#include <cstdint>

#include "imgui.h"

namespace dida::web {

void upload_rgba(unsigned& id, int width, int height, const std::vector<std::uint8_t>& rgba) {
  if (!id) glGenTextures(1, &id);
  glBindTexture(GL_TEXTURE_2D, id);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, width, height, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba.data());
}

bool CellTexture::update(int version, const std::vector<std::uint8_t>& px, int rows, int cols, const Domain& d) {
  if (version == version_) return false;
  version_ = version;
  if (px.empty() || rows == 0 || cols == 0) return false;
  rows_ = rows, cols_ = cols;
  const int w = cols * d.width, h = rows * d.height;
  std::vector<std::uint8_t> rgba(static_cast<std::size_t>(w) * h * 4, 255);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j)
      for (int y = 0; y < d.height; ++y)
        for (int x = 0; x < d.width; ++x)
          for (int ch = 0; ch < 3; ++ch)
            rgba[(static_cast<std::size_t>(i * d.height + y) * w + j * d.width + x) * 4 + ch] =
                px[(static_cast<std::size_t>(i * cols + j) * d.height * d.width + y * d.width + x) * d.channels + (d.channels == 3 ? ch : 0)];
  upload_rgba(id_, w, h, rgba);
  return true;
}

void CellTexture::draw(int row, int col, float size) const {
  if (!id_ || rows_ == 0 || cols_ == 0) return;
  ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(id_)), ImVec2(size, size),
               ImVec2(static_cast<float>(col) / cols_, static_cast<float>(row) / rows_),
               ImVec2(static_cast<float>(col + 1) / cols_, static_cast<float>(row + 1) / rows_));
}

}  // namespace dida::web
