#include "synth_digits.hpp"

#include <stb/stb_truetype.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "dida/safetensors.hpp"  // read_file_bytes

namespace fs = std::filesystem;

namespace dida {

struct SyntheticDigitRenderer::Fonts {
  struct Font {
    std::string path;
    std::vector<std::uint8_t> bytes;
    stbtt_fontinfo info{};
  };
  std::vector<std::unique_ptr<Font>> list;
};

SyntheticDigitRenderer::SyntheticDigitRenderer(const std::vector<std::string>& font_dirs)
    : fonts_(std::make_unique<Fonts>()) {
  std::vector<std::string> files;
  for (const auto& dir : font_dirs) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".ttf" || ext == ".otf")) files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    // Symbol and dingbat fonts map the digit code points to pictures.
    const std::string name = fs::path(f).filename().string();
    if (name.find("D050000L") != std::string::npos || name.find("Symbol") != std::string::npos ||
        name.find("Dingbat") != std::string::npos)
      continue;
    auto font = std::make_unique<Fonts::Font>();
    font->path = f;
    font->bytes = read_file_bytes(f);
    const int offset = stbtt_GetFontOffsetForIndex(font->bytes.data(), 0);
    if (offset < 0 || !stbtt_InitFont(&font->info, font->bytes.data(), offset)) continue;
    bool all = true;
    for (char ch = '0'; ch <= '9'; ++ch) all = all && stbtt_FindGlyphIndex(&font->info, ch) != 0;
    if (all) fonts_->list.push_back(std::move(font));
  }
  if (fonts_->list.empty()) {
    std::string dirs;
    for (const auto& d : font_dirs) dirs += (dirs.empty() ? "" : ", ") + d;
    throw std::runtime_error(dirs + ": no usable TrueType/OpenType fonts (Debian fonts-dejavu-core, "
                             "fonts-liberation, ...): run `make deps`");
  }
}

SyntheticDigitRenderer::~SyntheticDigitRenderer() = default;

int SyntheticDigitRenderer::font_count() const { return static_cast<int>(fonts_->list.size()); }

Image SyntheticDigitRenderer::render(int digit, int size, Rng& rng) const {
  const auto& font = *fonts_->list[rng.below(fonts_->list.size())];
  // Colours: background and stroke with a clear luminance difference.
  float bg[3], fg[3];
  for (;;) {
    for (int c = 0; c < 3; ++c) bg[c] = static_cast<float>(rng.uniform(0, 255)), fg[c] = static_cast<float>(rng.uniform(0, 255));
    const float lb = 0.299f * bg[0] + 0.587f * bg[1] + 0.114f * bg[2];
    const float lf = 0.299f * fg[0] + 0.587f * fg[1] + 0.114f * fg[2];
    if (std::fabs(lb - lf) > 70.f) break;
  }
  const float px_height = static_cast<float>(size) * static_cast<float>(rng.uniform(0.55, 0.95));
  const float scale = stbtt_ScaleForPixelHeight(&font.info, px_height);
  const double angle = rng.uniform(-0.2, 0.2);  // radians, about +-11 degrees
  const float cx = static_cast<float>(size) / 2.f + static_cast<float>(rng.uniform(-2.5, 2.5));
  const float cy = static_cast<float>(size) / 2.f + static_cast<float>(rng.uniform(-2.5, 2.5));

  // Coverage: the centre digit and, sometimes, neighbours on either side (as in house numbers).
  std::vector<float> cover(static_cast<std::size_t>(size) * size, 0.f);
  auto stamp = [&](int d, float dx) {
    int w = 0, h = 0, xoff = 0, yoff = 0;
    unsigned char* bmp = stbtt_GetCodepointBitmap(&font.info, scale, scale, '0' + d, &w, &h, &xoff, &yoff);
    if (!bmp) return;
    const float gw = static_cast<float>(w), gh = static_cast<float>(h);
    const float ca = static_cast<float>(std::cos(angle)), sa = static_cast<float>(std::sin(angle));
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        // Inverse rotation about the digit's centre, then bilinear sampling of the glyph.
        const float rx = static_cast<float>(x) + 0.5f - cx - dx, ry = static_cast<float>(y) + 0.5f - cy;
        const float gx = ca * rx + sa * ry + gw / 2.f - 0.5f, gy = -sa * rx + ca * ry + gh / 2.f - 0.5f;
        const int x0 = static_cast<int>(std::floor(gx)), y0 = static_cast<int>(std::floor(gy));
        const float fx = gx - static_cast<float>(x0), fy = gy - static_cast<float>(y0);
        float v = 0.f;
        for (int j = 0; j < 2; ++j)
          for (int i = 0; i < 2; ++i) {
            const int sx = x0 + i, sy = y0 + j;
            if (sx < 0 || sy < 0 || sx >= w || sy >= h) continue;
            v += (i ? fx : 1 - fx) * (j ? fy : 1 - fy) * bmp[sy * w + sx] / 255.f;
          }
        float& c = cover[static_cast<std::size_t>(y) * size + x];
        c = std::max(c, v);
      }
    stbtt_FreeBitmap(bmp, nullptr);
  };
  stamp(digit, 0.f);
  int advance = 0, lsb = 0;
  stbtt_GetCodepointHMetrics(&font.info, '0' + digit, &advance, &lsb);
  const float step = static_cast<float>(advance) * scale * 1.05f;
  if (rng.uniform() < 0.5) stamp(static_cast<int>(rng.below(10)), -step);
  if (rng.uniform() < 0.5) stamp(static_cast<int>(rng.below(10)), step);

  // Blur (Gaussian, sigma 0 to 1.2) and noise.
  const float sigma = static_cast<float>(rng.uniform(0.0, 1.2));
  if (sigma > 0.2f) {
    float k[5], sum = 0;
    for (int i = -2; i <= 2; ++i) sum += k[i + 2] = std::exp(-0.5f * static_cast<float>(i * i) / (sigma * sigma));
    for (float& v : k) v /= sum;
    std::vector<float> tmp(cover.size());
    for (int pass = 0; pass < 2; ++pass) {
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          float acc = 0;
          for (int i = -2; i <= 2; ++i) {
            const int sx = pass == 0 ? std::clamp(x + i, 0, size - 1) : x;
            const int sy = pass == 1 ? std::clamp(y + i, 0, size - 1) : y;
            acc += k[i + 2] * cover[static_cast<std::size_t>(sy) * size + sx];
          }
          tmp[static_cast<std::size_t>(y) * size + x] = acc;
        }
      cover.swap(tmp);
    }
  }
  const float noise = static_cast<float>(rng.uniform(0.0, 10.0));
  Image img(size, size, 3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const float a = cover[static_cast<std::size_t>(y) * size + x];
      const float n = noise * static_cast<float>(rng.uniform(-1.0, 1.0));
      for (int c = 0; c < 3; ++c)
        img.at(y, x, c) = static_cast<std::uint8_t>(std::clamp(bg[c] + a * (fg[c] - bg[c]) + n, 0.f, 255.f));
    }
  return img;
}

}  // namespace dida
