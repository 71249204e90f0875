// libFuzzer target: safetensors files (bundle weights) and sample sets (plain and gzip).
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "dida/data.hpp"
#include "dida/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const auto f = dida::SafeTensorsFile::parse(bytes, "fuzz.safetensors");
    for (const auto& name : f.names()) {
      const auto& info = f.info(name);
      if (info.dtype == dida::DType::F32) (void)f.to_f32(name);
      if (info.dtype == dida::DType::I64) (void)f.to_i64(name);
    }
  } catch (const std::runtime_error&) {
  }
  try {
    (void)dida::read_sample_set(bytes, "fuzz.safetensors");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
