#include <emscripten/emscripten.h>

#include "panels.hpp"

namespace dida::web {

void SwapPanel::draw(ViewState& v) {
  ExplorerModel& m = v.model;
  const int r = static_cast<int>(m.swap_rows().size()), c = static_cast<int>(m.swap_cols().size());
  // New cells from the core while ONNX Runtime Web is the engine: the page computes its own with
  // swap.onnx (it reads the rows and columns from the state and calls dida_set_ort_swap).
  if (cells_.update(m.swap_version(), m.swap_pixels(), r, c, m.samples().images) && m.engine() == ExplorerModel::kOrt &&
      !m.ort_swap_ready())
    emscripten_run_script("window.dida && window.dida.ortSwap && window.dida.ortSwap()");
  if (!cells_.ready() || m.swap_pixels().empty() || r == 0 || c == 0) return;
  const float cell = v.S(56.f);
  auto thumb = [&](int entry) { v.thumbs.entry(entry, cell); };
  ImGui::TextWrapped("Each cell is R(z_inv(row), z_spe(column)): the content of a source sample in the style of a "
                     "target sample. Select a sample, then:");
  if (ImGui::Button("use selected as content row")) m.use_selected_as_row();
  ImGui::SameLine();
  if (ImGui::Button("use selected as style column")) m.use_selected_as_column();
  ImGui::Dummy(ImVec2(cell, cell));
  for (int j = 0; j < c; ++j) {
    ImGui::SameLine();
    thumb(m.swap_cols()[static_cast<std::size_t>(j)]);
  }
  for (int i = 0; i < r; ++i) {
    thumb(m.swap_rows()[static_cast<std::size_t>(i)]);
    for (int j = 0; j < c; ++j) {
      ImGui::SameLine();
      cells_.draw(i, j, cell);
    }
  }
  const auto& sr = m.swap_readout();
  ImGui::Text("core (wasm): %d swaps in %.1f ms", r * c, sr.ms);
  if (sr.style_retrieval >= 0)
    ImGui::TextWrapped("cells nearest their own column's colours (mean and spread): %.0f %% (chance %.0f %%)",
                       100 * sr.style_retrieval, 100.0 / c);
  if (m.ort_swap_ready() && m.engine() == ExplorerModel::kOrt)
    ImGui::Text("shown: ONNX Runtime Web (swap.onnx), %.1f ms; max |ORT - core| %.1e", sr.ort_ms, sr.ort_max_diff);
  mixer_.draw(m, cell, thumb);
}

}  // namespace dida::web
