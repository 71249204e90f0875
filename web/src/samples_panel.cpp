#include <emscripten/emscripten.h>

#include <algorithm>
#include <cstdio>

#include "palette.hpp"
#include "panels.hpp"

namespace dida::web {

std::vector<float> SamplesPanel::thumbnail_rect(int i) const {
  if (i < 0 || static_cast<std::size_t>(i) >= rects_.size()) return {};
  return rects_[static_cast<std::size_t>(i)];
}

namespace {
void draw_model_picker(ViewState& v) {
  if (v.model_names.empty()) return;
  ImGui::SetNextItemWidth(v.S(300));
  // model_index < 0: none loaded yet (the first one failed): the combo says so, every entry is pickable.
  const int current = v.model_index < static_cast<int>(v.model_names.size()) ? v.model_index : -1;
  if (ImGui::BeginCombo("model", current >= 0 ? v.model_names[static_cast<std::size_t>(current)].c_str() : "(none loaded: pick one)")) {
    for (int i = 0; i < static_cast<int>(v.model_names.size()); ++i) {
      if (ImGui::Selectable(v.model_names[static_cast<std::size_t>(i)].c_str(), i == current) && i != current) {
        char call[64];  // the page fetches the bundle and hands it back through dida_load
        std::snprintf(call, sizeof call, "window.dida && window.dida.selectModel(%d)", i);
        emscripten_run_script(call);
      }
    }
    ImGui::EndCombo();
  }
}
}  // namespace

void SamplesPanel::draw(ViewState& v) {
  if (!v.model.loaded()) {  // nothing loaded (the first model failed): the picker alone, to choose another
    draw_model_picker(v);
    ImGui::TextWrapped("No model is loaded: the one asked for could not be loaded (see the notice below). Pick another.");
    return;
  }
  draw_model_picker(v);
  draw_card(v);
  draw_engines(v);
  ImGui::Separator();
  draw_grid(v);
}

void SamplesPanel::draw_card(ViewState& v) {
  const ExplorerModel& m = v.model;
  const auto& card = m.model().card();
  const auto data = card.value("data", nlohmann::json::object());
  const auto metrics = card.value("metrics", nlohmann::json::object());
  const auto training = card.value("training", nlohmann::json::object());
  const auto options = training.value("options", nlohmann::json::object());
  const ModelConfig& c = m.model().config();
  ImGui::Text("method: %s%s    pair: %s -> %s", card.value("method", "?").c_str(),
              card.value("oracle", false) ? " (ORACLE: trained with target labels)" : "", data.value("source", "?").c_str(),
              data.value("target", "?").c_str());
  if (metrics.contains("target_test_accuracy"))
    ImGui::Text("accuracy: target-test %.1f %% (%d images), source-val %.1f %%", 100 * metrics.value("target_test_accuracy", 0.0),
                data.value("target_test", 0), 100 * metrics.value("source_val_accuracy", 0.0));
  if (!training.empty())
    ImGui::Text("trained: %d epochs x %d iterations, batch %d+%d, seed %d\n         %.0f s on %s, %d threads (%.0f images/s)",
                options.value("epochs", 0), options.value("iters_per_epoch", 0), options.value("batch_size", 0),
                options.value("batch_size", 0), options.value("seed", 0), training.value("seconds_this_session", 0.0),
                training.value("device", "?").c_str(), training.value("threads", 0), training.value("images_per_s", 0.0));
  ImGui::Text("network: width %d, %s pooling, %s, %lld values (without T)", c.width, c.pool.c_str(), c.variant.c_str(),
              static_cast<long long>(m.parameter_count()));
  if (m.predicted_all())
    ImGui::Text("on these %d samples: source %.1f %%, target %.1f %%", m.samples().images.size(), 100 * m.accuracy(0),
                100 * m.accuracy(1));
}

void SamplesPanel::draw_engines(ViewState& v) {
  const ExplorerModel& m = v.model;
  const int n = m.samples().images.size();
  if (!m.predicted_all()) {  // the engines are compared on all samples: the switch comes when the core has them
    ImGui::Text("core (wasm): predicting, %d of %d images", m.predicted_count(), n);
    return;
  }
  ImGui::TextUnformatted("engine:");
  ImGui::SameLine();
  if (ImGui::RadioButton("core (wasm)", m.engine() == ExplorerModel::kCore) && m.engine() != ExplorerModel::kCore)
    emscripten_run_script("window.dida && window.dida.setEngine('core')");
  ImGui::SameLine();
  if (ImGui::RadioButton("ONNX Runtime Web", m.engine() == ExplorerModel::kOrt) && m.engine() != ExplorerModel::kOrt)
    emscripten_run_script("window.dida && window.dida.setEngine('ort')");
  ImGui::Text("core (wasm): %d images in %.1f ms", n, m.core_outputs().ms);
  if (m.ort_outputs().ready) {
    ImGui::Text("ONNX Runtime Web: %d images in %.1f ms (%d thread%s)", n, m.ort_outputs().ms, m.ort_threads(), m.ort_threads() == 1 ? "" : "s");
    ImGui::TextColored(m.engine_max_diff() < 1e-4 ? kAgreeColour : kDisagreeColour,
                       "max |core - ORT| = %.2e (probs, z_inv, z_spe; relative above 1)", m.engine_max_diff());
  } else {
    ImGui::TextDisabled("ONNX Runtime Web: %s", m.ort_status().c_str());
  }
}

void SamplesPanel::draw_grid(ViewState& v) {
  ExplorerModel& m = v.model;
  const Domain& d = m.samples().images;
  const float cell = v.S(40.f), gap = v.S(4.f);
  const int per_row = std::max(1, static_cast<int>((ImGui::GetContentRegionAvail().x + gap) / (cell + gap)));
  rects_.assign(static_cast<std::size_t>(d.size()), {});
  ImDrawList* dl = ImGui::GetWindowDrawList();
  auto draw_one = [&](int i) {
    ImGui::PushID(i);
    v.thumbs.sample(i, cell);
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    rects_[static_cast<std::size_t>(i)] = {a.x, a.y, b.x - a.x, b.y - a.y};
    if (ImGui::IsItemClicked()) m.select(i);
    const int predicted = m.predicted()[static_cast<std::size_t>(i)];
    if (predicted < 0) {  // not predicted yet
      ImGui::PopID();
      return;
    }
    const bool wrong = predicted != d.labels[static_cast<std::size_t>(i)];
    if (wrong) dl->AddRect(a, b, IM_COL32(255, 60, 60, 255), 0, 0, v.S(2.f));
    if (i == m.selected() && v.scroll_to_selected) ImGui::SetScrollHereY(0.5f), v.scroll_to_selected = false;
    if (i == m.selected())
      dl->AddRect(ImVec2(a.x - v.S(2), a.y - v.S(2)), ImVec2(b.x + v.S(2), b.y + v.S(2)), IM_COL32(255, 255, 255, 255), 0, 0, v.S(2.f));
    const char* label = d.classes[static_cast<std::size_t>(predicted)].c_str();
    dl->AddText(ImVec2(a.x + v.S(2), b.y - ImGui::GetFontSize() - v.S(1)), wrong ? IM_COL32(255, 90, 90, 255) : IM_COL32(120, 255, 120, 255), label);
    if (ImGui::IsItemHovered()) {
      ImGui::BeginTooltip();
      ImGui::Text("true %s, predicted %s (%.0f %%)", d.classes[static_cast<std::size_t>(d.labels[static_cast<std::size_t>(i)])].c_str(),
                  label, 100 * m.confidence()[static_cast<std::size_t>(i)]);
      ImGui::EndTooltip();
    }
    ImGui::PopID();
  };
  for (int dom = 0; dom < 2; ++dom) {
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(dom ? kTargetColour : kSourceColour), "%s: %s", dom ? "target" : "source",
                       dom ? m.samples().target.c_str() : m.samples().source.c_str());
    const std::vector<int>& items = m.domain_items(dom);
    const int rows = (static_cast<int>(items.size()) + per_row - 1) / per_row;
    // Only the rows in view are laid out: thousands of samples stay cheap.
    ImGuiListClipper clipper;
    clipper.Begin(rows, cell + ImGui::GetStyle().ItemSpacing.y);
    if (v.scroll_to_selected) {  // a chapter selected a sample: its row is laid out, then scrolled to
      const auto it = std::find(items.begin(), items.end(), m.selected());
      if (it != items.end()) {
        const int row = static_cast<int>(it - items.begin()) / per_row;
        clipper.ForceDisplayRangeByIndices(row, row + 1);
      }
    }
    while (clipper.Step()) {
      for (int r = clipper.DisplayStart; r < clipper.DisplayEnd; ++r) {
        for (int c = 0; c < per_row; ++c) {
          const std::size_t k = static_cast<std::size_t>(r * per_row + c);
          if (k >= items.size()) break;
          if (c) ImGui::SameLine(0, gap);
          draw_one(items[k]);
        }
      }
    }
  }
}

}  // namespace dida::web
