#include "dida/digit_files.hpp"
#include "dida/json_text.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace dida {

std::vector<Image> parse_mnist_json(const std::vector<std::uint8_t>& bytes, const std::string& origin) {
  const auto* text = reinterpret_cast<const char*>(bytes.data());
  const nlohmann::json doc = parse_json(text, text + bytes.size(), origin);
  if (!doc.is_object() || !doc.contains("data") || !doc["data"].is_array())
    throw std::runtime_error(origin + ": expected {\"data\": [...]} with 784 values per digit");
  const auto& data = doc["data"];
  if (data.size() % 784 != 0) throw std::runtime_error(origin + ": data length is not a multiple of 784");
  std::vector<Image> images;
  for (std::size_t i = 0; i < data.size(); i += 784) {
    Image img(28, 28, 1);
    for (std::size_t j = 0; j < 784; ++j) {
      const auto& v = data[i + j];
      if (!v.is_number()) throw std::runtime_error(origin + ": value " + std::to_string(i + j) + " is not a number");
      const double x = v.get<double>();
      img.pixels[j] = static_cast<std::uint8_t>(std::lround(std::isfinite(x) ? std::clamp(x, 0.0, 1.0) * 255.0 : 0.0));
    }
    images.push_back(std::move(img));
  }
  return images;
}

LabelledImages parse_optdigits_csv(const std::vector<std::uint8_t>& bytes, const std::string& origin) {
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  LabelledImages out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<int> v;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',') && v.size() <= 65) {
      std::size_t used = 0;
      try {
        v.push_back(std::stoi(cell, &used));
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0) throw std::runtime_error(origin + ": line " + std::to_string(line_no) + ": not a number");
    }
    if (v.size() != 65 || v[64] < 0 || v[64] > 9)
      throw std::runtime_error(origin + ": line " + std::to_string(line_no) + ": expected 64 pixels and a label 0-9");
    Image img(8, 8, 1);
    for (int j = 0; j < 64; ++j) img.pixels[static_cast<std::size_t>(j)] = static_cast<std::uint8_t>(std::clamp(v[static_cast<std::size_t>(j)], 0, 16) * 255 / 16);
    out.images.push_back(std::move(img));
    out.labels.push_back(v[64]);
  }
  return out;
}

}  // namespace dida
