// libFuzzer target: a bundle's config.json, with the real weights of the fresh parity fixture, and
// the first model it yields run on one image.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "dida/inference.hpp"
#include "dida/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::uint8_t> weights =
      dida::read_file_bytes(std::string(DIDA_SOURCE_DIR) + "/tests/fixtures/parity/branch-flatten-progressive/model.safetensors");
  const std::string config(reinterpret_cast<const char*>(data), size);
  try {
    const dida::Model m(dida::parse_bundle(config, weights, "fuzz"));
    const auto& c = m.config();
    dida::Tensor4 x(1, c.in_channels, c.image_size, c.image_size);
    (void)m.forward(x);
    (void)m.class_names();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
