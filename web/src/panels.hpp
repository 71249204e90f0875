#pragma once
// The page's windows (panel.hpp), each drawn by its own file: story_panel.cpp, samples_panel.cpp,
// embeddings_panel.cpp, swap_panel.cpp, draw_panel.cpp.
#include <vector>

#include "brush.hpp"
#include "cell_texture.hpp"
#include "panel.hpp"
#include "replay_player.hpp"
#include "style_mixer_view.hpp"

namespace dida::web {

// The walkthrough's chapter, or what the page is (free explorer); on a phone, a button per window.
class StoryPanel : public Panel {
 public:
  explicit StoryPanel(std::vector<const Panel*> others) : others_(std::move(others)) {}
  const char* title() const override { return "dida"; }
  const char* label() const override { return ""; }
  Slot slot() const override { return Slot::Story; }
  bool answers(Chapter::Focus) const override { return false; }
  bool shown(const ViewState&) const override { return true; }
  void draw(ViewState& v) override;

 private:
  std::vector<const Panel*> others_;
};

// The model picker and card, the engines, and the sample grid with predictions.
class SamplesPanel : public Panel {
 public:
  const char* title() const override { return "Model and samples"; }
  const char* label() const override { return "samples"; }
  Slot slot() const override { return Slot::Left; }
  bool answers(Chapter::Focus f) const override { return f == Chapter::kSamples; }
  bool shown(const ViewState& v) const override { return v.model.loaded() || !v.model_names.empty(); }
  void draw(ViewState& v) override;
  // Screen rectangle (x, y, w, h) of sample i's thumbnail as last drawn, for tests; empty if none.
  std::vector<float> thumbnail_rect(int i) const;

 private:
  void draw_card(ViewState& v);
  void draw_engines(ViewState& v);
  void draw_grid(ViewState& v);
  std::vector<std::vector<float>> rects_;
};

// The plots of z_inv and z_spe with their live probes (and the model beside, under them), the
// projection and colouring, and the training replay.
class EmbeddingsPanel : public Panel {
 public:
  const char* title() const override { return "Embeddings"; }
  const char* label() const override { return "plots"; }
  Slot slot() const override { return Slot::TopRight; }
  bool answers(Chapter::Focus f) const override { return f == Chapter::kPlots || f == Chapter::kProbes; }
  void draw(ViewState& v) override;
  void add_state(nlohmann::json& s) const override;
  ReplayPlayer& player() { return player_; }

 private:
  void draw_controls(ViewState& v);
  void draw_compare_picker(ViewState& v);
  void draw_replay_bar(ViewState& v);
  void draw_scatter(ViewState& v, const ExplorerModel& mm, const char* title, bool inv, float width, float height);
  void draw_probe_lines(const ExplorerModel& mm, bool inv, float width);
  ReplayPlayer player_;
  const ExplorerModel* model_ = nullptr;  // the model last drawn (for add_state)
  std::vector<float> slider_rect_;
};

// The swap grid (content rows x style columns) and the style mixer under it.
class SwapPanel : public Panel {
 public:
  const char* title() const override { return "Swap: content x style"; }
  const char* label() const override { return "swap"; }
  Slot slot() const override { return Slot::BottomRight; }
  bool answers(Chapter::Focus f) const override { return f == Chapter::kSwap; }
  bool shown(const ViewState& v) const override { return v.model.loaded() && v.model.model().config().pixel_decoder; }
  void draw(ViewState& v) override;

 private:
  CellTexture cells_;
  StyleMixerView mixer_;
};

// The drawing pad, predicted as you draw, and your dropped or chosen images.
class DrawPanel : public Panel {
 public:
  const char* title() const override { return "Draw a digit, drop your images"; }
  const char* label() const override { return "draw"; }
  Slot slot() const override { return Slot::BesideBottomRight; }
  bool answers(Chapter::Focus f) const override { return f == Chapter::kDraw; }
  void draw(ViewState& v) override;
  void add_state(nlohmann::json& s) const override { s["pad_rect"] = pad_rect_; }

 private:
  void draw_pad(ViewState& v);
  void draw_answer(ViewState& v);
  void draw_yours(ViewState& v);
  Brush brush_;
  int sent_version_ = 0;           // the brush version the models were given
  std::vector<float> pad_rect_;    // x, y, w, h in ImGui (device) pixels, for tests
};

}  // namespace dida::web
