#pragma once
// JSON from a file of anywhere (a bundle's config.json, a run's, a safetensors header): its size
// and nesting depth are checked before it is parsed, since parsing, destroying and showing a value
// in an error would otherwise go as deep as the file nests (a config.json nested 100,000 deep
// overflowed the stack), and an error shows a value cut to one short line.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace dida {

constexpr std::size_t kMaxJsonBytes = std::size_t{16} << 20;  // 16 MiB: a bundle's config.json is a few kB
constexpr int kMaxJsonDepth = 64;                              // dida's own files nest 4 deep

// Parses `text`; throws std::runtime_error "WHAT: why" in one line (too large, nested too deep, or
// not valid JSON with the parser's line and column).
nlohmann::json parse_json(const std::string& text, const std::string& what);
nlohmann::json parse_json(const char* begin, const char* end, const std::string& what);

// A JSON file: refused by its size before it is read (not a regular file, or over kMaxJsonBytes),
// then parse_json with the path as `what`.
nlohmann::json read_json_file(const std::string& path);

// A value as it would appear in an error: its JSON text, cut to `max` characters with "…" and
// never deeper than kMaxJsonDepth (a value parse_json returned is not).
std::string json_excerpt(const nlohmann::json& value, std::size_t max = 40);

}  // namespace dida
