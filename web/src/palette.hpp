#pragma once
// The page's colours: classes (matplotlib's ten), the two domains, your images, the chapter's focus.
#include "imgui.h"

namespace dida::web {

inline ImU32 class_colour(int k) {
  static const ImU32 kPalette[10] = {IM_COL32(31, 119, 180, 255), IM_COL32(255, 127, 14, 255), IM_COL32(44, 160, 44, 255),
                                     IM_COL32(214, 39, 40, 255),  IM_COL32(148, 103, 189, 255), IM_COL32(140, 86, 75, 255),
                                     IM_COL32(227, 119, 194, 255), IM_COL32(127, 127, 127, 255), IM_COL32(188, 189, 34, 255),
                                     IM_COL32(23, 190, 207, 255)};
  return kPalette[((k % 10) + 10) % 10];
}
inline const ImU32 kSourceColour = IM_COL32(90, 180, 255, 255), kTargetColour = IM_COL32(255, 170, 60, 255);
inline const ImU32 kUserColour = IM_COL32(255, 235, 80, 255);  // your images' stars
inline const ImVec4 kFocusColour(1.f, 0.85f, 0.3f, 1.f);        // the window a chapter points at
inline const ImVec4 kAgreeColour(0.4f, 0.9f, 0.4f, 1), kDisagreeColour(1, 0.5f, 0.4f, 1);

}  // namespace dida::web
