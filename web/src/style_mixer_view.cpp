#include "style_mixer_view.hpp"

#include <emscripten/emscripten.h>

#include "imgui.h"

namespace dida::web {

bool StyleMixerView::begin(ExplorerModel& m) {
  if (!m.mixer().ready()) return false;
  const int cols = static_cast<int>(m.swap_cols().size());
  rows_ = m.mixer().row().n;
  // New cells from the core while ONNX Runtime Web is the engine: the page decodes them again with
  // decoder.onnx (window.dida.ortMix reads the mixer's inputs and calls dida_set_ort_mix).
  if (texture_.update(m.mix_version(), m.mix_pixels(), 1, rows_, m.samples().images) && m.engine() == ExplorerModel::kOrt &&
      !m.ort_mix_ready())
    emscripten_run_script("window.dida && window.dida.ortMix && window.dida.ortMix()");
  ImGui::Separator();
  ImGui::TextUnformatted("Style mixer");
  ImGui::TextWrapped("Each row's content with a style slid from column A's z_spe to column B's: "
                     "R(z_inv(row), (1 - t) z_spe(A) + t z_spe(B)). t = 0 is column A of the grid, t = 1 column B.");
  int a = m.mix_column(0) + 1, b = m.mix_column(1) + 1;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  const bool pick_a = ImGui::SliderInt("A (column)", &a, 1, cols);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  const bool pick_b = ImGui::SliderInt("B (column)", &b, 1, cols);
  if (pick_a || pick_b) m.set_mix_columns(a - 1, b - 1);
  float t = static_cast<float>(m.mixer().mix());
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 14);
  if (ImGui::SliderFloat("t", &t, 0.f, 1.f, "%.2f")) m.set_mix(t);
  return texture_.ready();
}

void StyleMixerView::end(const ExplorerModel& m) {
  if (m.engine() == ExplorerModel::kOrt && m.ort_mix_ready())
    ImGui::Text("shown: ONNX Runtime Web (decoder.onnx), %.1f ms; max |ORT - core| %.1e", m.mix_ort_ms(), m.mix_ort_max_diff());
  else
    ImGui::TextUnformatted("shown: the core (wasm)");
}

}  // namespace dida::web
