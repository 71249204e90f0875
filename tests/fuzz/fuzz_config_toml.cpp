// libFuzzer target: the TOML/INI reader behind `dida train --config FILE` (CLI11's, as dida uses it).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    for (const auto& item : CLI::ConfigTOML().from_config(in)) (void)item.fullname();
  } catch (const std::exception&) {  // CLI11 reports bad files with its own exceptions
  }
  return 0;
}
