#include "dida/formats.hpp"

#include <stb/stb_image.h>  // stbi_zlib_decode_noheader_buffer: inflate without zlib

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <cstdlib>
#include <stdexcept>

#include "dida/safetensors.hpp"  // read_file_bytes

// Deflate from stb_image_write (compiled in stb_impl.cpp).
extern "C" unsigned char* stbi_zlib_compress(unsigned char* data, int data_len, int* out_len, int quality);

namespace dida {

std::uint32_t crc32(const std::uint8_t* data, std::size_t size) {
  static std::uint32_t table[256] = {0};
  static bool ready = false;
  if (!ready) {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = true;
  }
  std::uint32_t crc = 0xffffffffu;
  for (std::size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

bool is_gzip(const std::vector<std::uint8_t>& b) { return b.size() >= 2 && b[0] == 0x1f && b[1] == 0x8b; }

std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& b, const std::string& origin, std::size_t max_bytes) {
  auto fail = [&](const std::string& what) { throw std::runtime_error(origin + ": " + what); };
  if (b.size() < 18) fail("truncated gzip file (" + std::to_string(b.size()) + " bytes)");
  if (!is_gzip(b)) fail("not a gzip file (bad magic)");
  if (b[2] != 8) fail("unsupported gzip compression method");
  const std::uint8_t flags = b[3];
  std::size_t pos = 10;
  if (flags & 0x04) {  // FEXTRA
    if (pos + 2 > b.size()) fail("truncated gzip header");
    pos += 2 + (b[pos] | (b[pos + 1] << 8));
  }
  for (std::uint8_t f : {std::uint8_t{0x08}, std::uint8_t{0x10}}) {  // FNAME, FCOMMENT
    if (flags & f) {
      while (pos < b.size() && b[pos] != 0) ++pos;
      ++pos;
    }
  }
  if (flags & 0x02) pos += 2;  // FHCRC
  if (pos + 8 > b.size()) fail("truncated gzip header");
  const std::size_t trailer = b.size() - 8;
  const std::uint32_t want_crc = b[trailer] | (b[trailer + 1] << 8) | (b[trailer + 2] << 16) |
                                 (static_cast<std::uint32_t>(b[trailer + 3]) << 24);
  const std::uint32_t want_size = b[trailer + 4] | (b[trailer + 5] << 8) | (b[trailer + 6] << 16) |
                                  (static_cast<std::uint32_t>(b[trailer + 7]) << 24);
  if (trailer - pos > static_cast<std::size_t>(INT_MAX)) fail("gzip file too large");
  if (want_size > max_bytes || want_size >= static_cast<std::uint32_t>(INT_MAX))
    fail("gzip data would inflate to " + std::to_string(want_size) + " bytes, more than the limit of " +
         std::to_string(std::min<std::size_t>(max_bytes, INT_MAX)) + " for this file");
  // Inflated into a buffer of the declared length plus one byte: more data than declared fails
  // there, without growing the buffer. The trailer stays in the input: the decoder may look a few
  // bytes past the final block.
  // The buffer is not zero-filled: a file that declares much but holds little only touches (and
  // so only really uses) the pages it inflates into.
  const std::size_t capacity = static_cast<std::size_t>(want_size) + 1;
  const std::unique_ptr<char[]> buffer(new char[capacity]);
  const int out_len = stbi_zlib_decode_noheader_buffer(buffer.get(), static_cast<int>(capacity),
                                                       reinterpret_cast<const char*>(b.data() + pos), static_cast<int>(b.size() - pos));
  if (out_len < 0) fail("corrupt or truncated gzip data, or more data than its trailer declares");
  std::vector<std::uint8_t> result(reinterpret_cast<const std::uint8_t*>(buffer.get()),
                                   reinterpret_cast<const std::uint8_t*>(buffer.get()) + out_len);
  if (static_cast<std::uint32_t>(result.size()) != want_size || crc32(result.data(), result.size()) != want_crc)
    fail("gzip checksum mismatch: truncated or corrupt file");
  return result;
}

std::vector<std::uint8_t> gzip_compress(const std::vector<std::uint8_t>& data) {
  if (data.size() > static_cast<std::size_t>(INT_MAX)) throw std::runtime_error("gzip_compress: input too large");
  int zlen = 0;
  unsigned char* z = stbi_zlib_compress(const_cast<unsigned char*>(data.data()), static_cast<int>(data.size()), &zlen, 8);
  if (!z || zlen < 6) throw std::runtime_error("gzip_compress: deflate failed");
  // A zlib stream is a 2-byte header, raw deflate, and a 4-byte Adler-32: keep the deflate part.
  static const std::uint8_t kHeader[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};
  const std::size_t body = static_cast<std::size_t>(zlen) - 6;
  std::vector<std::uint8_t> out(10 + body + 8);
  std::memcpy(out.data(), kHeader, 10);
  std::memcpy(out.data() + 10, z + 2, body);
  free(z);
  const std::uint32_t crc = crc32(data.data(), data.size());
  const std::uint32_t size = static_cast<std::uint32_t>(data.size());
  for (int i = 0; i < 4; ++i) {
    out[10 + body + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(crc >> (8 * i));
    out[14 + body + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(size >> (8 * i));
  }
  return out;
}

std::vector<std::uint8_t> encode_idx(const IdxArray& a) {
  std::vector<std::uint8_t> out = {0, 0, 0x08, static_cast<std::uint8_t>(a.dims.size())};
  for (std::uint32_t d : a.dims)
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(d >> s));
  out.insert(out.end(), a.data.begin(), a.data.end());
  return out;
}

std::vector<std::uint8_t> read_maybe_gzip(const std::string& path) {
  auto bytes = read_file_bytes(path);
  return is_gzip(bytes) ? gunzip(bytes, path) : bytes;
}

IdxArray parse_idx(const std::vector<std::uint8_t>& b, const std::string& origin) {
  auto fail = [&](const std::string& what) { throw std::runtime_error(origin + ": " + what); };
  if (b.size() < 4) fail("not an IDX file: " + std::to_string(b.size()) + " bytes");
  if (b[0] != 0 || b[1] != 0) fail("not an IDX file (bad magic)");
  if (b[2] != 0x08) fail("IDX element type " + std::to_string(b[2]) + " is not unsigned byte (0x08)");
  const int ndims = b[3];
  if (ndims < 1 || ndims > 4) fail("IDX with " + std::to_string(ndims) + " dimensions (expected 1 to 4)");
  if (b.size() < 4u + 4u * ndims) fail("truncated IDX header");
  IdxArray a;
  std::uint64_t total = 1;
  for (int i = 0; i < ndims; ++i) {
    const std::uint8_t* p = &b[4 + 4 * i];
    const std::uint32_t d = (std::uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
    a.dims.push_back(d);
    total *= d;
    if (total > (1ull << 34)) fail("IDX dimensions too large");
  }
  const std::size_t header = 4u + 4u * ndims;
  if (b.size() - header != total)
    fail("IDX dimensions need " + std::to_string(total) + " bytes of data, file has " +
         std::to_string(b.size() - header));
  a.data.assign(b.begin() + static_cast<std::ptrdiff_t>(header), b.end());
  return a;
}

IdxArray read_idx(const std::string& path) { return parse_idx(read_maybe_gzip(path), path); }

}  // namespace dida
