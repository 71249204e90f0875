// libFuzzer target: IDX arrays, plain and inside gzip (the fashion-MNIST files, idx: specs).
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "dida/formats.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const auto plain = dida::is_gzip(bytes) ? dida::gunzip(bytes, "fuzz.idx.gz", std::size_t{64} << 20) : bytes;
    (void)dida::parse_idx(plain, "fuzz.idx");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
