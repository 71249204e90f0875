#include "dida/json_text.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace dida {

namespace {

// The deepest nesting of arrays and objects, outside strings; stops counting past the limit.
int nesting(const char* p, const char* end) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (; p != end; ++p) {
    const char c = *p;
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > kMaxJsonDepth) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

nlohmann::json parse_json(const char* begin, const char* end, const std::string& what) {
  const std::size_t bytes = static_cast<std::size_t>(end - begin);
  if (bytes > kMaxJsonBytes)
    throw std::runtime_error(what + ": " + std::to_string(bytes) + " bytes of JSON, over the " +
                             std::to_string(kMaxJsonBytes >> 20) + " MiB dida reads");
  if (nesting(begin, end) > kMaxJsonDepth)
    throw std::runtime_error(what + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels (refused)");
  try {
    return nlohmann::json::parse(begin, end);
  } catch (const nlohmann::json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> from "line" on.
    std::string why = e.what();
    const auto at = why.find("line ");
    why = at == std::string::npos ? "byte " + std::to_string(e.byte) : why.substr(at);
    if (why.size() > 120) why = why.substr(0, 117) + "...";
    throw std::runtime_error(what + ": not valid JSON (" + why + ")");
  } catch (const nlohmann::json::exception& e) {
    // out_of_range.406 "number overflow parsing '1e9999'" (found by tests/fuzz/fuzz_json): a number
    // no double holds; any other error of the parser is one line too.
    std::string why = e.what();
    const auto tag = why.find("] ");
    if (tag != std::string::npos) why = why.substr(tag + 2);
    if (why.size() > 120) why = why.substr(0, 117) + "...";
    throw std::runtime_error(what + ": not valid JSON (" + why + ")");
  }
}

nlohmann::json parse_json(const std::string& text, const std::string& what) {
  return parse_json(text.data(), text.data() + text.size(), what);
}

nlohmann::json read_json_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw std::runtime_error(path + ": not a regular file");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw std::runtime_error(path + ": cannot be read (" + ec.message() + ")");
  if (size > kMaxJsonBytes)
    throw std::runtime_error(path + ": " + std::to_string(size) + " bytes of JSON, over the " +
                             std::to_string(kMaxJsonBytes >> 20) + " MiB dida reads");
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) throw std::runtime_error(path + ": cannot be read");
  return parse_json(text, path);
}

std::string json_excerpt(const nlohmann::json& value, std::size_t max) {
  std::string s = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > max) s = s.substr(0, max) + "…";
  return s;
}

}  // namespace dida
