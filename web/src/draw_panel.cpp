#include <emscripten/emscripten.h>

#include <algorithm>

#include "palette.hpp"
#include "panels.hpp"

namespace dida::web {

void DrawPanel::draw(ViewState& v) {
  draw_pad(v);
  ImGui::SameLine();
  draw_answer(v);
  draw_yours(v);
}

void DrawPanel::draw_pad(ViewState& v) {
  const float side = std::clamp(ImGui::GetContentRegionAvail().x - v.S(130), v.S(110), v.S(220));
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("pad", ImVec2(side, side));
  pad_rect_ = {p0.x, p0.y, side, side};
  const float cellw = side / Brush::kSize;
  // Strokes: the pointer held on the pad (touch arrives as mouse events).
  if (ImGui::IsItemActive()) {
    const ImVec2 at = ImGui::GetIO().MousePos;
    brush_.stroke_to((at.x - p0.x) / cellw, (at.y - p0.y) / cellw);
  } else {
    brush_.lift();
  }
  if (brush_.version() != sent_version_) {  // predicted as you draw: the core needs well under a ms
    sent_version_ = brush_.version();
    v.model.set_drawing(brush_.ink(), Brush::kSize);
    if (ExplorerModel* other = v.compare.model()) other->set_drawing(brush_.ink(), Brush::kSize);
  }
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->AddRectFilled(p0, ImVec2(p0.x + side, p0.y + side), IM_COL32(0, 0, 0, 255));
  for (int y = 0; y < Brush::kSize; ++y)
    for (int x = 0; x < Brush::kSize; ++x) {
      const float ink = brush_.at(x, y);
      if (ink <= 0) continue;
      const int g = static_cast<int>(255 * ink);
      dl->AddRectFilled(ImVec2(p0.x + x * cellw, p0.y + y * cellw), ImVec2(p0.x + (x + 1) * cellw, p0.y + (y + 1) * cellw), IM_COL32(g, g, g, 255));
    }
  dl->AddRect(p0, ImVec2(p0.x + side, p0.y + side), IM_COL32(120, 120, 130, 255));
  if (v.model.drawing_index() < 0) dl->AddText(ImVec2(p0.x + v.S(8), p0.y + v.S(8)), IM_COL32(150, 150, 160, 255), "draw a digit here");
}

void DrawPanel::draw_answer(ViewState& v) {
  const ExplorerModel& m = v.model;
  const int di = m.drawing_index();
  ImGui::BeginGroup();
  const auto& classes = m.samples().images.classes;
  if (di >= 0) {
    const auto& u = m.user_images()[static_cast<std::size_t>(di)];
    ImGui::TextUnformatted("the model sees");
    v.thumbs.user(di, v.S(48));
    // The active engine's answer first, the other's agreement under it.
    const bool ort_first = m.engine() == ExplorerModel::kOrt && u.ort_predicted >= 0;
    const int shown = ort_first ? u.ort_predicted : u.predicted;
    ImGui::Text("%s  (%.0f %%)", classes[static_cast<std::size_t>(shown)].c_str(), 100 * (ort_first ? u.ort_confidence : u.confidence));
    ImGui::TextDisabled("%s", ort_first ? "ONNX Runtime Web" : "core (wasm)");
    if (u.ort_predicted >= 0) {
      const bool agree = u.ort_predicted == u.predicted;
      ImGui::TextColored(agree ? kAgreeColour : kDisagreeColour, "%s: %s", ort_first ? "core" : "ORT Web",
                         agree ? "agrees" : classes[static_cast<std::size_t>(ort_first ? u.predicted : u.ort_predicted)].c_str());
    } else {
      ImGui::TextDisabled("ORT Web: ...");
    }
  }
  ImGui::EndGroup();
}

void DrawPanel::draw_yours(ViewState& v) {
  ExplorerModel& m = v.model;
  const int di = m.drawing_index();
  const bool swaps = m.model().config().pixel_decoder;
  if (ImGui::Button("clear")) brush_.clear();
  if (di >= 0 && swaps) {
    ImGui::SameLine();
    if (ImGui::Button("as content row")) m.use_user_as_row(di);
    ImGui::SameLine();
    if (ImGui::Button("as style column")) m.use_user_as_column(di);
  }
  // Your other images: dropped on the page or chosen here.
  if (ImGui::Button("choose images...")) emscripten_run_script("window.dida && window.dida.chooseImages()");
  ImGui::SameLine();
  ImGui::TextDisabled("or drop them on the page");
  const auto& classes = m.samples().images.classes;
  int shown = 0;
  for (int i = 0; i < static_cast<int>(m.user_images().size()); ++i) {
    if (i == di) continue;
    const auto& u = m.user_images()[static_cast<std::size_t>(i)];
    if (shown++ % 4) ImGui::SameLine();
    ImGui::BeginGroup();
    v.thumbs.user(i, v.S(40));
    ImGui::Text("%s", classes[static_cast<std::size_t>(u.predicted)].c_str());
    ImGui::EndGroup();
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("%s: predicted %s (%.0f %%)%s", u.name.c_str(), classes[static_cast<std::size_t>(u.predicted)].c_str(),
                        100 * u.confidence, swaps ? "; click: as content row" : "");
    if (ImGui::IsItemClicked()) m.use_user_as_row(i);
  }
}

}  // namespace dida::web
