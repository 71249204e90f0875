#include <emscripten/emscripten.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "palette.hpp"
#include "panels.hpp"

namespace dida::web {

void EmbeddingsPanel::draw(ViewState& v) {
  model_ = &v.model;
  draw_controls(v);
  draw_compare_picker(v);
  draw_replay_bar(v);
  ExplorerModel* other = v.compare.model();
  const bool two = other && other->predicted_all();
  const float rows_h = ImGui::GetContentRegionAvail().y - (two ? 9 : 4) * ImGui::GetTextLineHeightWithSpacing() - v.S(4);
  const float w = (ImGui::GetContentRegionAvail().x - v.S(12)) / 2, h = std::max(v.S(120), two ? rows_h / 2 : rows_h);
  // What each plot is for; the probe lines under it say how far the model gets there.
  auto row = [&](const ExplorerModel& mm, const std::string& who) {
    ImGui::BeginGroup();
    draw_scatter(v, mm, (who + "z_inv, the content the classifier reads:\nclasses apart, domains mixed is the aim").c_str(), true, w, h);
    draw_probe_lines(mm, true, w);
    ImGui::EndGroup();
    ImGui::SameLine(0, v.S(12));
    ImGui::BeginGroup();
    draw_scatter(v, mm, (who + "z_spe, the style:\ndomains apart, classes mixed is the aim").c_str(), false, w, h);
    draw_probe_lines(mm, false, w);
    ImGui::EndGroup();
  };
  auto label = [](const ExplorerModel& mm) {
    return mm.model().card().value("method", std::string("?")) + " (target " +
           std::to_string(static_cast<int>(std::lround(100 * mm.accuracy(1)))) + " % here): ";
  };
  row(v.model, two ? label(v.model) : "");
  if (two) row(*other, label(*other));
}

void EmbeddingsPanel::draw_controls(ViewState& v) {
  ExplorerModel& m = v.model;
  ImGui::TextUnformatted("projection:");
  ImGui::SameLine();
  auto project = [&](bool tsne) {
    m.set_projection(tsne);
    if (ExplorerModel* other = v.compare.model()) other->set_projection(tsne);
  };
  if (ImGui::RadioButton("PCA", !m.tsne())) project(false);
  ImGui::SameLine();
  if (ImGui::RadioButton("t-SNE", m.tsne()) && !m.tsne()) project(true);
  if (m.tsne()) {
    ImGui::SameLine();
    ImGui::ProgressBar(static_cast<float>(m.tsne_progress()), ImVec2(v.S(160), 0));
  }
  ImGui::SameLine();
  ImGui::TextUnformatted("   ");
  ImGui::SameLine();
  ImGui::TextUnformatted("colour by:");
  ImGui::SameLine();
  if (ImGui::RadioButton("class", !v.colour_by_domain)) v.colour_by_domain = false;
  ImGui::SameLine();
  if (ImGui::RadioButton("domain", v.colour_by_domain)) v.colour_by_domain = true;
  ImGui::SameLine();
  ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kSourceColour), "  o source");
  ImGui::SameLine();
  ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kTargetColour), "  # target");
  if (!m.user_images().empty()) {
    ImGui::SameLine();
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kUserColour), "  * yours");
  }
  if (!v.colour_by_domain) {  // the class legend
    ImGui::TextUnformatted("classes:");
    for (int k = 0; k < static_cast<int>(m.samples().images.classes.size()) && k < 10; ++k) {
      ImGui::SameLine();
      ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(class_colour(k)), "%s", m.samples().images.classes[static_cast<std::size_t>(k)].c_str());
    }
  }
}

void EmbeddingsPanel::draw_compare_picker(ViewState& v) {
  if (v.model_names.size() < 2) return;
  ImGui::SetNextItemWidth(v.S(300));
  const int at = v.compare.index();
  const bool on = v.compare.model() && at >= 0 && at < static_cast<int>(v.model_names.size());
  if (ImGui::BeginCombo("side by side with", on ? v.model_names[static_cast<std::size_t>(at)].c_str() : "(none)")) {
    if (ImGui::Selectable("(none)", !on)) v.compare.close();
    for (int i = 0; i < static_cast<int>(v.model_names.size()); ++i)
      if (i != v.model_index && ImGui::Selectable(v.model_names[static_cast<std::size_t>(i)].c_str(), on && i == at)) {
        char call[64];  // the page fetches the bundle and hands it back through dida_load_compare
        std::snprintf(call, sizeof call, "window.dida && window.dida.compareModel(%d)", i);
        emscripten_run_script(call);
      }
    ImGui::EndCombo();
  }
}

void EmbeddingsPanel::draw_replay_bar(ViewState& v) {
  ExplorerModel& m = v.model;
  if (!m.has_replay()) {
    if (ImGui::Button("replay the training")) emscripten_run_script("window.dida && window.dida.loadReplay()");
    ImGui::SameLine();
    ImGui::TextDisabled("(the plots epoch by epoch, with the losses and accuracies)");
    return;
  }
  if (m.replay_epoch() < 0) {
    if (ImGui::Button("replay the training")) player_.start(m, ImGui::GetTime());
    return;
  }
  player_.tick(m, ImGui::GetTime());
  if (ImGui::Button(player_.playing() ? "pause" : "play")) player_.toggle(m, ImGui::GetTime());
  ImGui::SameLine();
  ImGui::SetNextItemWidth(v.S(200));
  const Replay& r = m.replay();
  int shown = m.replay_epoch() + 1;
  if (ImGui::SliderInt("##epoch", &shown, 1, r.epoch_count(), "epoch %d")) player_.seek(m, shown - 1);
  const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
  slider_rect_ = {a.x, a.y, b.x - a.x, b.y - a.y};
  ImGui::SameLine();
  if (ImGui::Button("back to live")) return player_.back_to_live(m);
  // The curves up to the epoch shown, on the scale of the whole run.
  const int e = m.replay_epoch();
  auto curve = [&](const char* label, const std::vector<float>& all, float lo, float hi) {
    ImGui::SameLine();
    ImGui::BeginGroup();
    ImGui::Text("%s %.3g", label, all[static_cast<std::size_t>(e)]);
    ImGui::PlotLines((std::string("##") + label).c_str(), all.data(), e + 1, 0, nullptr, lo, hi, ImVec2(v.S(110), v.S(30)));
    ImGui::EndGroup();
  };
  const auto total = r.loss_curve("total"), task = r.loss_curve("task");
  curve("loss", total, 0, *std::max_element(total.begin(), total.end()));
  curve("task", task, 0, *std::max_element(task.begin(), task.end()));
  curve("source-val", r.source_val, 0, 1);
  curve("target-test", r.target_test, 0, 1);
}

void EmbeddingsPanel::add_state(nlohmann::json& s) const {
  if (!model_ || !model_->loaded() || !model_->has_replay()) return void(s["replay"] = nullptr);
  s["replay"] = {{"epochs", model_->replay().epoch_count()}, {"epoch", model_->replay_epoch()}, {"playing", player_.playing()},
                 {"slider_rect", slider_rect_}};
}

void EmbeddingsPanel::draw_probe_lines(const ExplorerModel& mm, bool inv, float width) {
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  // Linear probes fitted here on half of the held-out images (shown and probe images), tested on the other half (dida eval's recipe).
  auto line = [&](const char* what, ExplorerModel::ProbeKind k) {
    const auto r = mm.probe(k);
    if (r.accuracy < 0) {
      ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
      ImGui::TextWrapped("probe: %s ... %.0f %%", what, 100 * r.progress);
      ImGui::PopStyleColor();
      return;
    }
    // Halves rounded up, as the chapter's findings say them.
    ImGui::TextWrapped("probe: %s %ld %% (chance %ld %%)", what, std::lround(100 * r.accuracy), std::lround(100 * r.chance));
  };
  if (inv) {
    line("domain from z_inv", ExplorerModel::kDomainInv);
  } else {
    line("domain from z_spe", ExplorerModel::kDomainSpe);
    line("class from z_spe", ExplorerModel::kClassSpe);
  }
  ImGui::PopTextWrapPos();
}

void EmbeddingsPanel::draw_scatter(ViewState& v, const ExplorerModel& mm, const char* title, bool inv, float width, float height) {
  const std::vector<float>& xy = inv ? mm.shown_inv_xy() : mm.shown_spe_xy();
  ImGui::BeginGroup();
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);  // the title wraps within its plot's width
  ImGui::TextWrapped("%s", title);
  ImGui::PopTextWrapPos();
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton(title, ImVec2(width, height));
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 p1(p0.x + width, p0.y + height);
  dl->AddRectFilled(p0, p1, IM_COL32(24, 26, 32, 255));
  dl->AddRect(p0, p1, IM_COL32(90, 90, 100, 255));
  const int n = static_cast<int>(xy.size() / 2);
  // Axes span the 1st to 99th percentile, so a few outliers do not squeeze the rest into a corner;
  // points beyond are drawn on the border.
  auto range = [&](int axis, float& lo, float& hi) {
    static std::vector<float> vals;  // the page has one thread
    vals.resize(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) vals[static_cast<std::size_t>(i)] = xy[2 * static_cast<std::size_t>(i) + axis];
    const std::size_t a = n >= 50 ? static_cast<std::size_t>(n) / 100 : 0, b = static_cast<std::size_t>(n) - 1 - a;
    std::nth_element(vals.begin(), vals.begin() + static_cast<std::ptrdiff_t>(a), vals.end());
    lo = vals[a];
    std::nth_element(vals.begin(), vals.begin() + static_cast<std::ptrdiff_t>(b), vals.end());
    hi = vals[b];
    const float margin = 0.03f * (hi - lo);
    lo -= margin, hi += margin;
  };
  float minx = 0, maxx = 1, miny = 0, maxy = 1;
  if (n > 0) range(0, minx, maxx), range(1, miny, maxy);
  const float pad = v.S(10.f);
  auto place = [&](float x, float y) {
    const float u = std::clamp((x - minx) / std::max(maxx - minx, 1e-6f), 0.f, 1.f);
    const float w = std::clamp((y - miny) / std::max(maxy - miny, 1e-6f), 0.f, 1.f);
    return ImVec2(p0.x + pad + u * (width - 2 * pad), p1.y - pad - w * (height - 2 * pad));
  };
  auto at = [&](int i) { return place(xy[2 * i], xy[2 * i + 1]); };
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  auto dist2 = [&](ImVec2 q) { return (q.x - mouse.x) * (q.x - mouse.x) + (q.y - mouse.y) * (q.y - mouse.y); };
  int nearest = -1;
  float best = v.S(6.f) * v.S(6.f);
  const bool hovered = ImGui::IsItemHovered();
  // Points without anti-aliased fringes: a third of the vertices, so thousands of points stay cheap.
  const ImDrawListFlags flags = dl->Flags;
  dl->Flags &= ~ImDrawListFlags_AntiAliasedFill;
  for (int i = 0; i < n; ++i) {
    const ImVec2 q = at(i);
    const int dom = mm.samples().domains[static_cast<std::size_t>(i)];
    const ImU32 col = v.colour_by_domain ? (dom ? kTargetColour : kSourceColour) : class_colour(mm.samples().images.labels[static_cast<std::size_t>(i)]);
    if (dom) dl->AddRectFilled(ImVec2(q.x - v.S(2.5f), q.y - v.S(2.5f)), ImVec2(q.x + v.S(2.5f), q.y + v.S(2.5f)), col);
    else dl->AddNgonFilled(q, v.S(3.f), col, 8);
    if (hovered && dist2(q) < best) best = dist2(q), nearest = i;
  }
  dl->Flags = flags;
  if (v.model.selected() >= 0 && v.model.selected() < n) dl->AddCircle(at(v.model.selected()), v.S(7.f), IM_COL32(255, 255, 255, 255), 0, v.S(2.f));
  // Your images: stars, placed by the model (explorer_model.hpp: user_xy).
  int user_hover = -1;
  const int users = mm.replay_epoch() >= 0 ? 0 : static_cast<int>(mm.user_images().size());  // the replay: its own layouts
  for (int u = 0; u < users; ++u) {
    const auto p = mm.user_xy(u, inv);
    const ImVec2 q = place(p[0], p[1]);
    ImVec2 star[10];
    for (int k = 0; k < 10; ++k) {
      const float r = v.S(k % 2 ? 3.5f : 9.f), a = -1.5707963f + k * 0.6283185f;
      star[k] = ImVec2(q.x + r * std::cos(a), q.y + r * std::sin(a));
    }
    for (int k = 0; k < 10; k += 2)
      dl->AddTriangleFilled(q, star[k], star[(k + 1) % 10], kUserColour), dl->AddTriangleFilled(q, star[k], star[(k + 9) % 10], kUserColour);
    dl->AddPolyline(star, 10, IM_COL32(20, 20, 20, 255), ImDrawFlags_Closed, v.S(1.f));
    if (hovered && dist2(q) < v.S(9.f) * v.S(9.f)) user_hover = u, nearest = -1;
  }
  const Domain& d = mm.samples().images;
  if (user_hover >= 0) {
    const auto& u = mm.user_images()[static_cast<std::size_t>(user_hover)];
    ImGui::BeginTooltip();
    v.thumbs.user(user_hover, v.S(64));
    ImGui::Text("yours: %s, predicted %s (%.0f %%)", u.name.c_str(), d.classes[static_cast<std::size_t>(u.predicted)].c_str(), 100 * u.confidence);
    ImGui::EndTooltip();
  }
  const bool replay = mm.replay_epoch() >= 0;
  dl->AddText(ImVec2(p0.x + v.S(4), p1.y - ImGui::GetFontSize() - v.S(2)), IM_COL32(150, 150, 160, 255), replay ? "PC 1 (aligned)" : mm.tsne() ? "t-SNE 1" : "PC 1");
  dl->AddText(ImVec2(p0.x + v.S(4), p0.y + v.S(2)), IM_COL32(150, 150, 160, 255), replay ? "PC 2 (aligned)" : mm.tsne() ? "t-SNE 2" : "PC 2");
  if (nearest >= 0) {
    if (ImGui::IsItemClicked()) v.model.select(nearest);
    ImGui::BeginTooltip();
    v.thumbs.sample(nearest, v.S(64));
    ImGui::Text("%s, true %s, predicted %s", mm.samples().domains[static_cast<std::size_t>(nearest)] ? "target" : "source",
                d.classes[static_cast<std::size_t>(d.labels[static_cast<std::size_t>(nearest)])].c_str(),
                d.classes[static_cast<std::size_t>(mm.predicted()[static_cast<std::size_t>(nearest)])].c_str());
    ImGui::EndTooltip();
  }
  ImGui::EndGroup();
}

}  // namespace dida::web
