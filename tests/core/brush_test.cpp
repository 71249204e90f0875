// The drawing pad's brush: strokes stamped along the pointer's path, clipped to the grid.
#include <gtest/gtest.h>

#include <cmath>

#include "brush.hpp"

namespace dida::web {

namespace {
int inked(const Brush& b) {
  int n = 0;
  for (const float v : b.ink()) n += v > 0;
  return n;
}
}  // namespace

TEST(Brush, AStampIsASoftDiscOfMnistsStrokeWidth) {
  Brush b;
  EXPECT_EQ(inked(b), 0);
  b.stroke_to(28, 28);
  const float radius = Brush::kSize / 14.f;  // 4 cells
  EXPECT_FLOAT_EQ(b.at(28, 28), 1.f);       // the centre, full ink
  EXPECT_FLOAT_EQ(b.at(28 + 5, 28), 0.f);   // beyond the radius and its soft edge
  EXPECT_GT(b.at(28 + 3, 28), 0.5f);
  EXPECT_LT(b.at(28 + 3, 28), 1.f) << "the edge is soft";
  // About the disc's area (pi r^2 plus half the one-cell edge ring).
  EXPECT_NEAR(inked(b), M_PI * (radius + 0.5f) * (radius + 0.5f), 12.0);
  EXPECT_EQ(b.version(), 1);
}

TEST(Brush, AFastStrokeIsAContinuousLineAndALiftedPenStartsAnew) {
  Brush b;
  b.stroke_to(5, 20);
  b.stroke_to(50, 20);  // one frame, 45 cells apart
  for (int x = 5; x <= 50; ++x) EXPECT_FLOAT_EQ(b.at(x, 20), 1.f) << x;
  b.lift();
  b.stroke_to(5, 45);  // a new stroke: no line from the last point
  EXPECT_FLOAT_EQ(b.at(28, 32), 0.f);
  EXPECT_FLOAT_EQ(b.at(5, 45), 1.f);
}

TEST(Brush, StrokesOutsideThePadAreClippedAndClearEmptiesIt) {
  Brush b;
  b.stroke_to(-30, -30);
  b.stroke_to(-1, 10);  // the disc's right half reaches column 0..3
  EXPECT_GT(b.at(0, 10), 0.f);
  EXPECT_EQ(b.ink().size(), static_cast<std::size_t>(Brush::kSize) * Brush::kSize);
  b.stroke_to(Brush::kSize + 100.f, Brush::kSize + 100.f);  // far outside: clipped, no crash
  const int v = b.version();
  b.clear();
  EXPECT_EQ(inked(b), 0);
  EXPECT_GT(b.version(), v) << "the model is given the empty drawing";
}

}  // namespace dida::web
