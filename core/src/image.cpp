#include "dida/image.hpp"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>
#include <stdexcept>

#include "dida/safetensors.hpp"  // read_file_bytes, write_file_atomic

namespace dida {

namespace {

// Debian's stb_image writes past a fixed array (size[257]) when a JPEG's Huffman table declares
// more than 256 codes (found by tests/fuzz/fuzz_image). Every DHT segment is checked before stb
// sees the file; returns false for a table that would overflow.
bool jpeg_huffman_tables_fit(const std::vector<std::uint8_t>& b) {
  // stb takes a JPEG for one from its start of image (FF D8), after any number of FF fill bytes.
  std::size_t start = 0;
  while (start < b.size() && b[start] == 0xFF) ++start;
  if (start == 0 || start >= b.size() || b[start] != 0xD8) return true;  // not a JPEG
  std::size_t pos = start + 1;
  while (pos + 4 <= b.size()) {
    if (b[pos] != 0xFF) {  // entropy-coded data: skip to the next marker (FF not followed by 00 or RSTn)
      ++pos;
      continue;
    }
    const std::uint8_t marker = b[pos + 1];
    if (marker == 0xFF || marker == 0x00 || marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) {
      pos += marker == 0xFF ? 1 : 2;
      continue;
    }
    if (marker == 0xD9) break;  // end of image
    const std::size_t len = static_cast<std::size_t>(b[pos + 2]) << 8 | b[pos + 3];
    if (marker == 0xC4) {  // DHT: tables of 16 counts and their symbols, read as stb reads them:
      // while the segment's length is not used up, even past its end (bytes past the file read as 0)
      std::size_t q = pos + 4;
      long left = static_cast<long>(len) - 2;
      while (left > 0) {
        std::size_t codes = 0;
        for (std::size_t i = 1; i <= 16; ++i) codes += q + i < b.size() ? b[q + i] : 0;
        if (codes > 256) return false;
        q += 17 + codes;
        left -= static_cast<long>(17 + codes);
      }
    }
    pos = pos + 2 + len;
  }
  return true;
}

// stb grows its buffer of PNG image data to a chunk's declared length before reading the chunk: a
// 100-byte file declaring a 1 GiB IDAT made it allocate 2 GiB (found by tests/fuzz/fuzz_image).
// Returns "" when every chunk's declared length fits in the file (or it is not a PNG).
std::string png_chunks_overrun(const std::vector<std::uint8_t>& b) {
  static const std::uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (b.size() < 8 || !std::equal(sig, sig + 8, b.begin())) return "";
  std::size_t pos = 8;
  while (pos + 8 <= b.size()) {
    const std::uint64_t len = (std::uint64_t{b[pos]} << 24) | (b[pos + 1] << 16) | (b[pos + 2] << 8) | b[pos + 3];
    if (len + 12 > b.size() - pos)
      return "truncated PNG (a chunk declares " + std::to_string(len) + " bytes, the file has " + std::to_string(b.size() - pos - 8) +
             " left)";
    if (b[pos + 4] == 'I' && b[pos + 5] == 'E' && b[pos + 6] == 'N' && b[pos + 7] == 'D') break;
    pos += 12 + static_cast<std::size_t>(len);
  }
  return "";
}

std::uint32_t le32(const std::vector<std::uint8_t>& b, std::size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (static_cast<std::uint32_t>(b[at + 3]) << 24);
}

// stb decodes a file cut short as if the missing pixels were zero: a 254-byte BMP or a truncated
// JPEG that declares 8000 x 8000 would become a black image, silently. Returns why a BMP or JPEG
// lacks pixels its header declares ("" when complete, or not one of the two).
std::string missing_pixels(const std::vector<std::uint8_t>& b, std::int64_t w, std::int64_t h) {
  if (b.size() >= 34 && b[0] == 'B' && b[1] == 'M') {
    const std::uint32_t offset = le32(b, 10), compression = le32(b, 30);
    const int bpp = b[28] | (b[29] << 8);
    if (compression == 0 || compression == 3) {  // uncompressed rows (RLE is not read at all)
      const std::int64_t stride = (w * bpp + 31) / 32 * 4, need = std::int64_t{offset} + stride * h;
      if (static_cast<std::int64_t>(b.size()) < need)
        return "truncated BMP (" + std::to_string(b.size()) + " bytes, its header declares " + std::to_string(need) + ")";
    }
    return "";
  }
  if (b.size() >= 2 && b[0] == 0xFF && b[1] == 0xD8) {
    // An end-of-image marker (FF D9) cannot occur in entropy-coded data (an FF there is followed
    // by 00 or a restart code), so after the first start of scan it marks the scan complete.
    std::size_t sos = 2;
    while (sos + 1 < b.size() && !(b[sos] == 0xFF && b[sos + 1] == 0xDA)) ++sos;
    for (std::size_t i = sos; i + 1 < b.size(); ++i)
      if (b[i] == 0xFF && b[i + 1] == 0xD9) return "";
    return "truncated JPEG (no end-of-image marker after its scan data)";
  }
  return "";
}

}  // namespace

Image decode_image(const std::vector<std::uint8_t>& bytes, const std::string& origin, int channels) {
  if (bytes.empty()) throw std::runtime_error(origin + ": empty file (0 bytes), not an image");
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) throw std::runtime_error(origin + ": image file too large");
  if (!jpeg_huffman_tables_fit(bytes))
    throw std::runtime_error(origin + ": corrupt JPEG (a Huffman table declares more than 256 codes)");
  if (const std::string overrun = png_chunks_overrun(bytes); !overrun.empty()) throw std::runtime_error(origin + ": " + overrun);
  int w = 0, h = 0, c = 0;
  // The dimensions come from the header: a small file can declare a huge image.
  const bool known = stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &c);
  // A BMP stored top-down declares a negative height; stb reads it the right way up.
  if (known) w = std::abs(std::max(w, -INT_MAX)), h = std::abs(std::max(h, -INT_MAX));
  if (known && static_cast<std::int64_t>(w) * h > kMaxImagePixels)
    throw std::runtime_error(origin + ": image is " + std::to_string(w) + " x " + std::to_string(h) + ", more than the limit of " +
                             std::to_string(kMaxImagePixels) + " pixels");
  if (known && (w < 1 || h < 1 || std::int64_t{h} > 4096LL * w || std::int64_t{w} > 4096LL * h))
    throw std::runtime_error(origin + ": image is " + std::to_string(w) + " x " + std::to_string(h) +
                             ", too thin to resize (more than 4096:1)");
  if (known) {
    const std::string missing = missing_pixels(bytes, w, h);
    if (!missing.empty()) throw std::runtime_error(origin + ": " + missing);
  }
  stbi_uc* data = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &c, channels);
  if (!data) throw std::runtime_error(origin + ": cannot decode image (" + stbi_failure_reason() + ")");
  Image img;
  img.height = h;
  img.width = w;
  img.channels = channels ? channels : c;
  img.pixels.assign(data, data + static_cast<std::size_t>(w) * h * img.channels);
  stbi_image_free(data);
  return img;
}

Image load_image(const std::string& path, int channels) {
  return decode_image(read_file_bytes(path, kMaxImageFileBytes, "an image file"), path, channels);
}

Image resize_image(const Image& in, int height, int width) {
  if (in.height == height && in.width == width) return in;
  // stb_image_resize computes NaN filter ranges for empty or extremely thin images (found by
  // tests/fuzz/fuzz_image): refuse them.
  if (in.height < 1 || in.width < 1 || std::int64_t{in.height} > 4096LL * in.width || std::int64_t{in.width} > 4096LL * in.height)
    throw std::runtime_error("image of " + std::to_string(in.width) + " x " + std::to_string(in.height) +
                             " pixels: too thin to resize");
  Image out(height, width, in.channels);
  if (!stbir_resize_uint8(in.pixels.data(), in.width, in.height, 0, out.pixels.data(), width, height, 0,
                          in.channels))
    throw std::runtime_error("image resize failed");
  return out;
}

Image convert_channels(const Image& in, int channels) {
  if (in.channels == channels) return in;
  Image out(in.height, in.width, channels);
  const std::size_t n = static_cast<std::size_t>(in.height) * in.width;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = &in.pixels[i * in.channels];
    std::uint8_t grey;
    if (in.channels >= 3)
      grey = static_cast<std::uint8_t>((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000);
    else
      grey = p[0];
    for (int c = 0; c < channels; ++c)
      out.pixels[i * channels + c] = (in.channels >= 3 && channels >= 3 && c < 3) ? p[c] : grey;
  }
  return out;
}

std::vector<std::uint8_t> encode_png(const Image& img) {
  std::vector<std::uint8_t> out;
  auto sink = [](void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<std::uint8_t>*>(ctx);
    v->insert(v->end(), static_cast<std::uint8_t*>(data), static_cast<std::uint8_t*>(data) + size);
  };
  if (!stbi_write_png_to_func(sink, &out, img.width, img.height, img.channels, img.pixels.data(),
                              img.width * img.channels))
    throw std::runtime_error("PNG encoding failed");
  return out;
}

void write_png(const std::string& path, const Image& img) {
  const auto bytes = encode_png(img);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace dida
