#include "thumbnails.hpp"

#include <cmath>

#include "cell_texture.hpp"
#include "imgui.h"

namespace dida::web {
namespace {
ImTextureID texture_id(unsigned id) { return reinterpret_cast<ImTextureID>(static_cast<intptr_t>(id)); }
}  // namespace

void Thumbnails::update(const ExplorerModel& m) {
  if (!m.loaded()) return;
  if (atlas_stale_) build_atlas(m.samples().images), atlas_stale_ = false;
  if (user_version_ != m.user_version()) upload_users(m);
}

void Thumbnails::build_atlas(const Domain& d) {
  samples_ = d.size();
  cols_ = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(samples_))));
  rows_ = (samples_ + cols_ - 1) / cols_;
  std::vector<std::uint8_t> rgba(static_cast<std::size_t>(cols_ * d.width) * rows_ * d.height * 4, 255);
  for (int i = 0; i < samples_; ++i) {
    const Image img = d.image(i);
    const int ox = (i % cols_) * d.width, oy = (i / cols_) * d.height;
    for (int y = 0; y < d.height; ++y)
      for (int x = 0; x < d.width; ++x)
        for (int c = 0; c < 3; ++c)
          rgba[(static_cast<std::size_t>(oy + y) * cols_ * d.width + ox + x) * 4 + c] = img.at(y, x, d.channels == 3 ? c : 0);
  }
  upload_rgba(atlas_, cols_ * d.width, rows_ * d.height, rgba);
}

void Thumbnails::upload_users(const ExplorerModel& m) {
  user_version_ = m.user_version();
  const auto& users = m.user_images();
  user_count_ = static_cast<int>(users.size());
  if (users.empty()) return;
  const ModelConfig& c = m.model().config();
  const int s = c.image_size;
  std::vector<std::uint8_t> rgba(static_cast<std::size_t>(s) * s * user_count_ * 4, 255);  // a column of thumbnails
  for (int i = 0; i < user_count_; ++i)
    for (int p = 0; p < s * s; ++p)
      for (int ch = 0; ch < 3; ++ch)
        rgba[(static_cast<std::size_t>(i) * s * s + p) * 4 + ch] =
            users[static_cast<std::size_t>(i)].pixels[static_cast<std::size_t>(p) * c.in_channels + (c.in_channels == 3 ? ch : 0)];
  upload_rgba(users_, s, s * user_count_, rgba);
}

void Thumbnails::sample(int i, float size) const {
  if (!atlas_ || i < 0 || i >= samples_) return ImGui::Dummy(ImVec2(size, size));
  const float u = 1.f / cols_, v = 1.f / rows_;
  const ImVec2 uv0((i % cols_) * u, (i / cols_) * v);
  ImGui::Image(texture_id(atlas_), ImVec2(size, size), uv0, ImVec2(uv0.x + u, uv0.y + v));
}

void Thumbnails::user(int i, float size) const {
  if (!users_ || i < 0 || i >= user_count_) return ImGui::Dummy(ImVec2(size, size));
  ImGui::Image(texture_id(users_), ImVec2(size, size), ImVec2(0, static_cast<float>(i) / user_count_),
               ImVec2(1, static_cast<float>(i + 1) / user_count_));
}

}  // namespace dida::web
