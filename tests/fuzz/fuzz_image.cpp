// libFuzzer target: image files through stb (PNG, JPEG, BMP, ...), as `dida predict` and folder:
// domains read them, then the conversions the pair building applies.
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "dida/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const dida::Image img = dida::decode_image(bytes, "fuzz.img", 3);
    (void)dida::resize_image(dida::convert_channels(img, 1), 32, 32);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
