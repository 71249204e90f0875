#pragma once
// Renders SynDigits-style images (Ganin & Lempitsky's SynNumbers): a digit from a random font,
// with random size, position, small rotation, stroke and background colours, neighbouring
// digits cut by the frame, blur and noise.
#include <memory>
#include <string>
#include <vector>

#include "dida/image.hpp"
#include "dida/rng.hpp"

namespace dida {

class SyntheticDigitRenderer {
 public:
  // Loads every .ttf/.otf under the folders that has glyphs for all ten digits.
  // Throws naming the folders and `make deps` when none is found.
  explicit SyntheticDigitRenderer(const std::vector<std::string>& font_dirs);
  ~SyntheticDigitRenderer();
  Image render(int digit, int size, Rng& rng) const;
  int font_count() const;

 private:
  struct Fonts;
  std::unique_ptr<Fonts> fonts_;
};

}  // namespace dida
