#pragma once
// Readers for the file formats the data sets ship in: gzip and IDX.
// Every reader validates what it reads and throws std::runtime_error "<file>: <reason>".
#include <cstdint>
#include <string>
#include <vector>

namespace dida {

// Inflates a gzip member (RFC 1952), checking its CRC-32 and length: a truncated or corrupt
// file is an error, never a short result. At most the length the trailer declares is allocated,
// and a declared length above `max_bytes` is refused before inflating (a "gzip bomb" costs
// nothing); data that inflates past its declared length is an error.
constexpr std::size_t kMaxGunzipBytes = std::size_t{256} << 20;  // 256 MiB: the largest IDX file dida reads is 47 MB
std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& bytes, const std::string& origin,
                                 std::size_t max_bytes = kMaxGunzipBytes);
// Compresses into a single gzip member (used to write IDX files and in tests).
std::vector<std::uint8_t> gzip_compress(const std::vector<std::uint8_t>& data);
bool is_gzip(const std::vector<std::uint8_t>& bytes);
// Reads a file, inflating it when it is gzip.
std::vector<std::uint8_t> read_maybe_gzip(const std::string& path);

struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> data;  // unsigned bytes (the only type MNIST-style files use)
};
// IDX (the MNIST format): magic 0x00 0x00 0x08 <ndims>, big-endian uint32 dimensions, then data.
IdxArray parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& origin);
IdxArray read_idx(const std::string& path);  // gzipped or not
std::vector<std::uint8_t> encode_idx(const IdxArray& array);

std::uint32_t crc32(const std::uint8_t* data, std::size_t size);

}  // namespace dida
