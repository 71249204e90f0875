#include "dida/messages.hpp"

#include <cstdio>
#include <filesystem>
#include <new>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace dida {

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto escape = [&out](unsigned char c) {
    char buf[5];
    std::snprintf(buf, sizeof buf, "\\x%02X", c);
    out += buf;
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) {
      escape(c), ++i;
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c), ++i;
      continue;
    }
    // A UTF-8 sequence: its length from the lead byte, each continuation 10xxxxxx, no overlong
    // two-byte form; C1 controls (U+0080..U+009F, C2 80..C2 9F) are escaped like C0 ones.
    const std::size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) ok = false;
    if (!ok) {
      escape(c), ++i;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

std::string describe_error(const std::exception& e) {
  std::string what;
  if (dynamic_cast<const std::bad_alloc*>(&e)) {
    what = "out of memory (the input or the options ask for more than this machine has)";
  } else if (dynamic_cast<const std::length_error*>(&e)) {
    what = "a size too large to hold in memory (" + std::string(e.what()) + ")";
  } else if (const auto* f = dynamic_cast<const std::filesystem::filesystem_error*>(&e)) {
    what = (f->path1().empty() ? std::string("a file") : f->path1().string()) + ": " + f->code().message();
  } else if (dynamic_cast<const nlohmann::json::exception*>(&e)) {
    what = e.what();
    if (what.rfind("[json.exception.", 0) == 0 && what.find("] ") != std::string::npos) what = what.substr(what.find("] ") + 2);
    what = "JSON: " + what;
  } else {
    what = e.what();
  }
  return printable(what);
}

}  // namespace dida
