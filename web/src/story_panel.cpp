#include <string>

#include "dida/version.hpp"
#include "findings.hpp"
#include "panels.hpp"

namespace dida::web {

void StoryPanel::draw(ViewState& v) {
  Walkthrough& walk = v.walk;
  if (!ImGui::GetIO().WantTextInput) {  // arrow keys turn the pages
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_RightArrow)) && walk.chapter() < Walkthrough::count()) walk.next();
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_LeftArrow)) && walk.chapter() > 1) walk.previous();
  }
  if (v.narrow()) {  // a phone, one window at a time below: which one
    ImGui::TextDisabled("show:");
    for (const Panel* p : others_) {
      if (!*p->label() || !p->shown(v)) continue;
      ImGui::SameLine();
      if (ImGui::SmallButton(p->label())) ImGui::SetWindowFocus(p->title());
    }
  }
  if (!walk.active()) {
    ImGui::TextWrapped("dida %s: disentangled domain adaptation, running in your browser (the core built for %s).",
                       dida::version(), dida::build_kind());
    ImGui::Separator();
    ImGui::TextWrapped(
        "A network learnt to read digits from labelled images of one domain (the source, e.g. clean MNIST) and saw "
        "images of another (the target, e.g. digits on photographs) without their labels. dida splits its features in "
        "two: z_inv, the content the classifier uses, the same in both domains, and z_spe, each image's style.");
    const std::string start = "start the walkthrough (" + std::to_string(Walkthrough::count()) + " short chapters)";
    if (ImGui::Button(start.c_str())) walk.open(1);
    ImGui::TextWrapped("Or explore freely: pick a model, colour the plots, click samples, read the swap grid, draw a digit.");
    return;
  }
  const Chapter& c = walk.current();
  ImGui::Text("chapter %d of %d: %s", walk.chapter(), Walkthrough::count(), c.title.c_str());
  ImGui::Separator();
  ImGui::TextWrapped("%s", c.text.c_str());
  // What the chapter claims about this model, measured here on it.
  const std::string found = c.focus == Chapter::kProbes ? probe_findings(v.model)
                            : c.focus == Chapter::kSwap ? swap_findings(v.model)
                                                        : std::string();
  if (!found.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.f, 0.85f, 0.45f, 1.f));
    ImGui::TextWrapped("%s", found.c_str());
    ImGui::PopStyleColor();
  }
  ImGui::Spacing();
  ImGui::BeginDisabled(walk.chapter() <= 1);
  if (ImGui::Button("< previous")) walk.previous();
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::BeginDisabled(walk.chapter() >= Walkthrough::count());
  if (ImGui::Button("next >")) walk.next();
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (ImGui::Button("free explorer")) walk.close();
  ImGui::SameLine();
  ImGui::TextDisabled("(arrow keys turn the pages)");
}

}  // namespace dida::web
