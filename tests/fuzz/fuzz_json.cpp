// libFuzzer target: the JSON reader every file of anywhere goes through (parse_json), then what an
// error shows of a value (json_excerpt). A crash, a stack overflow or an error of more than one
// line is a finding.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "dida/json_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json j = dida::parse_json(text, "fuzz.json");
    const std::string shown = dida::json_excerpt(j);
    if (shown.size() > 200) std::abort();  // an excerpt is one short line
    if (j.is_object())
      for (const auto& [key, value] : j.items()) (void)dida::json_excerpt(value, 20);
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    if (what.find('\n') != std::string::npos || what.size() > 400) std::abort();  // one line, naming the file
    if (what.rfind("fuzz.json: ", 0) != 0) std::abort();
  }
  return 0;
}
