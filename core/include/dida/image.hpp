#pragma once
// 8-bit images in row-major HWC layout, and the file formats around them (stb_image,
// stb_image_write, stb_image_resize from Debian's libstb-dev).
#include <cstdint>
#include <string>
#include <vector>

namespace dida {

struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<std::uint8_t> pixels;  // height * width * channels
  Image() = default;
  Image(int h, int w, int c, std::uint8_t fill = 0)
      : height(h), width(w), channels(c), pixels(static_cast<std::size_t>(h) * w * c, fill) {}
  std::uint8_t& at(int y, int x, int ch) { return pixels[(static_cast<std::size_t>(y) * width + x) * channels + ch]; }
  std::uint8_t at(int y, int x, int ch) const { return pixels[(static_cast<std::size_t>(y) * width + x) * channels + ch]; }
};

// Largest image decode_image accepts (width x height), checked from the header before decoding.
constexpr std::int64_t kMaxImagePixels = 8192LL * 8192;
// Bytes of an image file read at most (refused by its size before reading): 256 MiB.
constexpr std::uint64_t kMaxImageFileBytes = std::uint64_t{256} << 20;

// Decodes PNG, JPEG, BMP (and the other formats stb_image reads) into `channels` channels
// (0: the file's own). Throws std::runtime_error "<origin>: <reason>" for empty or undecodable data.
Image decode_image(const std::vector<std::uint8_t>& bytes, const std::string& origin, int channels = 0);
Image load_image(const std::string& path, int channels = 0);
// Bilinear resize (stb_image_resize), any channel count.
Image resize_image(const Image& in, int height, int width);
// Grey to RGB by replication; RGB to grey by luminance; otherwise unchanged.
Image convert_channels(const Image& in, int channels);
// Writes a PNG atomically; throws std::runtime_error naming the file.
void write_png(const std::string& path, const Image& img);
std::vector<std::uint8_t> encode_png(const Image& img);

}  // namespace dida
