#pragma once
// A window of the page. Each is one class (web/src/*_panel.cpp) and is listed once, in
// Explorer's constructor: the layout, the chapters' focus, the phone's buttons and the state the
// tests read all come from that list.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "comparison.hpp"
#include "explorer_model.hpp"
#include "imgui.h"
#include "thumbnails.hpp"
#include "walkthrough.hpp"

namespace dida::web {

// What the panels share: the models, their images, the walkthrough and the page's choices.
struct ViewState {
  ExplorerModel& model;   // the model shown
  Comparison& compare;    // the one beside it, if any
  Thumbnails& thumbs;
  Walkthrough& walk;
  std::vector<std::string> model_names;  // the page's bundles, as the pickers list them
  int model_index = 0;                   // the one loaded (-1 or beyond the list: none)
  float scale = 1.f;                     // UI sizes are multiplied by it (the device pixel ratio)
  bool colour_by_domain = false;
  bool scroll_to_selected = false;  // the sample grid scrolls to the selection (once)
  float S(float v) const { return v * scale; }
  // A phone-sized canvas (narrower than 700 CSS pixels): one window at a time under the story.
  bool narrow() const { return ImGui::GetIO().DisplaySize.x < S(700); }
};

// Where a window goes on a wide canvas (a phone shows one at a time under the story).
enum class Slot { Story, Left, TopRight, BottomRight, BesideBottomRight };

class Panel {
 public:
  virtual ~Panel() = default;
  virtual const char* title() const = 0;  // the window's title (unique)
  virtual const char* label() const = 0;  // its button on a phone ("": none)
  virtual Slot slot() const = 0;
  // Whether a chapter pointing at `focus` points at this window.
  virtual bool answers(Chapter::Focus focus) const = 0;
  // Whether it is drawn (e.g. the swap grid only for a model with a pixel decoder).
  virtual bool shown(const ViewState& v) const { return v.model.loaded(); }
  virtual void draw(ViewState& v) = 0;
  // Its part of the page's state (what the tests read), under its own keys.
  virtual void add_state(nlohmann::json&) const {}
};

}  // namespace dida::web
