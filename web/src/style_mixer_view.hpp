#pragma once
// The style mixer's panel, under the swap grid: two of the grid's columns as styles A and B, a
// slider t between them, and the grid's rows decoded with the code slid from z_spe(A) to
// z_spe(B) (ExplorerModel's StyleMixer computes it; this draws it).
#include "cell_texture.hpp"
#include "explorer_model.hpp"
#include "imgui.h"

namespace dida::web {

class StyleMixerView {
 public:
  // cell: a cell's size in pixels; thumb(entry) draws a swap entry's image (a sample or yours).
  template <class Thumb>
  void draw(ExplorerModel& m, float cell, Thumb&& thumb) {
    if (!begin(m)) return;
    thumb(m.swap_cols()[static_cast<std::size_t>(m.mix_column(0))]);
    for (int i = 0; i < rows_; ++i) {
      ImGui::SameLine();
      texture_.draw(0, i, cell);
    }
    ImGui::SameLine();
    thumb(m.swap_cols()[static_cast<std::size_t>(m.mix_column(1))]);
    end(m);
  }

 private:
  bool begin(ExplorerModel& m);  // the text, the pickers and the slider; false: nothing to draw
  void end(const ExplorerModel& m);  // which engine drew the row
  CellTexture texture_;
  int rows_ = 0;
};

}  // namespace dida::web
