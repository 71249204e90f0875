#include "dida/style_retrieval.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace dida {
namespace {

// Two channels of four pixels each: the descriptor is their means, then their population spreads.
TEST(StyleRetrieval, TheDescriptorIsEachChannelsMeanThenSpread) {
  const std::vector<float> planes = {1, 1, 3, 3, /* second channel */ 10, 10, 10, 10};
  const auto d = style_descriptor(planes.data(), 2, 4);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_DOUBLE_EQ(d[0], 2.0);
  EXPECT_DOUBLE_EQ(d[1], 10.0);
  EXPECT_DOUBLE_EQ(d[2], 1.0);
  EXPECT_DOUBLE_EQ(d[3], 0.0);
}

// K = 3 styles; cells of two rows: one row in each column's own style (all right), one row that
// keeps a single look (one right in three), the measure of the whole grid 4 of 6.
TEST(StyleRetrieval, CountsTheCellsNearestTheirOwnColumnsStyle) {
  const std::vector<StyleDescriptor> styles = {{0, 0}, {5, 1}, {10, 0}};
  EXPECT_EQ(nearest_style({4.4, 1.2}, styles), 1);
  EXPECT_EQ(nearest_style({9, 0}, styles), 2);
  EXPECT_EQ(nearest_style({5, 0}, {{0, 0}, {10, 0}}), 0) << "the first of equals";
  EXPECT_EQ(nearest_style({5, 0}, {}), -1);
  const std::vector<StyleDescriptor> own = {{0.5, 0}, {5.2, 1}, {9, 0.1}};
  const std::vector<StyleDescriptor> one_look = {{4.9, 1}, {4.9, 1}, {4.9, 1}};
  EXPECT_DOUBLE_EQ(style_retrieval(own, styles), 1.0);
  EXPECT_DOUBLE_EQ(style_retrieval(one_look, styles), 1.0 / 3.0);
  std::vector<StyleDescriptor> grid = own;
  grid.insert(grid.end(), one_look.begin(), one_look.end());
  EXPECT_DOUBLE_EQ(style_retrieval(grid, styles), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(style_retrieval({}, styles), 0.0);
}

}  // namespace
}  // namespace dida
