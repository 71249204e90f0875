#pragma once
// The explorer: a trained model and a sample set, run by the core in wasm, shown as a sample grid
// with predictions, two linked scatter plots (z_inv, z_spe) with live probes, the swap grid, the
// drawing pad and the visitor's own images, and the walkthrough that tells the story.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dida/data.hpp"
#include "dida/inference.hpp"
#include "dida/projection.hpp"
#include "cell_texture.hpp"
#include "explorer_model.hpp"
#include "style_mixer_view.hpp"
#include "imgui.h"
#include "walkthrough.hpp"

namespace dida::web {

// The ImGui view of an ExplorerModel: the model card and picker, the sample grid, the two linked
// scatter plots, the swap grid and the engine switch. It owns the GL textures; everything it shows
// is computed by the model (web/model/explorer_model.hpp).
class Explorer {
 public:
  using Engine = ExplorerModel::Engine;
  static constexpr Engine kCore = ExplorerModel::kCore, kOrt = ExplorerModel::kOrt;

  // Loads a bundle and a sample set (ExplorerModel::load) and builds the thumbnail atlas.
  std::string load(const std::string& config_text, std::vector<std::uint8_t> weights,
                   const std::vector<std::uint8_t>& samples, const std::string& origin);
  bool loaded() const { return m_.loaded(); }
  bool predicted_all() const { return m_.predicted_all(); }
  void draw();  // the ImGui windows
  nlohmann::json state() const;
  // "pca" or "tsne" (t-SNE starts, a few iterations per frame).
  void set_projection(bool tsne);  // both models' plots
  // Screen rectangle (ImGui pixels) of sample i's thumbnail in the grid, for tests.
  std::vector<float> thumbnail_rect(int i) const;

  // The windows tile the canvas and are laid out again whenever its size changes; in between they
  // can be moved. Call begin_frame() once per frame, then next_window(w) before each window.
  enum Window { kIntro = 0, kCard = 1, kEmbeddings = 2, kSwap = 3, kDraw = 4 };
  void begin_frame();
  void next_window(Window w) const;
  // A phone-sized canvas (narrower than 700 CSS pixels): one window at a time under the story.
  bool narrow() const { return ImGui::GetIO().DisplaySize.x < S(700); }

  // Sizes in the UI are multiplied by this (the device pixel ratio: ImGui works in device pixels).
  void set_ui_scale(float s) { scale_ = s; }
  // The bundles the page lists (names shown in the picker) and which one is loaded.
  void set_models(std::vector<std::string> names, int current);

  // A second model on the same samples, its plots under the first's (side by side); index: its
  // entry in the picker. Returns "" or a one-line error (nothing changes then).
  std::string load_compare(const std::string& config_text, std::vector<std::uint8_t> weights,
                           const std::vector<std::uint8_t>& samples, const std::string& origin, int index);
  void close_compare() { other_.reset(), other_index_ = -1; }
  // The bundle's replay.safetensors: "" or a one-line error.
  std::string load_replay(std::vector<std::uint8_t> bytes, const std::string& origin) {
    const std::string e = m_.load_replay(std::move(bytes), origin);
    if (e.empty()) m_.set_replay_epoch(0), playing_ = true, play_clock_ = -1;
    return e;
  }
  // The walkthrough's chapter (1..count, 0: the free explorer).
  void open_chapter(int k) { walk_.open(k); }
  // The visitor's images: a dropped or chosen file (returns "" or a one-line error naming it).
  std::string add_user_rgba(const std::string& name, const std::vector<std::uint8_t>& rgba, int width, int height) {
    if (other_) other_->add_user_rgba(name, rgba, width, height);
    return m_.add_user_rgba(name, rgba, width, height);
  }
  const Tensor4& user_input();  // for ONNX Runtime Web; refreshed when the images change
  int user_version() const { return m_.user_version(); }
  void set_ort_user(int count, int version, const float* probs) { m_.set_ort_user(count, version, probs); }
  const ExplorerModel& model() const { return m_; }

  // Engines: the core (wasm) always runs; ONNX Runtime Web's outputs arrive from the page.
  const Tensor4& input() const { return m_.input(); }
  void set_ort_outputs(double ms, int threads, const float* probs, const float* z_inv, const float* z_spe) {
    m_.set_ort_outputs(ms, threads, probs, z_inv, z_spe);
  }
  void set_ort_status(std::string s) { m_.set_ort_status(std::move(s)); }
  void set_ort_swap(double ms, const float* swap) { m_.set_ort_swap(ms, swap); }
  void set_ort_mix(double ms, int version, const float* row) { m_.set_ort_mix(ms, version, row); }
  void set_mix(double t) { m_.set_mix(t); }
  void set_mix_columns(int a, int b) { m_.set_mix_columns(a, b); }
  void use_engine(Engine e) { m_.use_engine(e); }
  double bench_core(int batch, int reps) const { return m_.bench_core(batch, reps); }

 private:
  void build_atlas();
  void draw_intro();         // the walkthrough's chapter, or what the page is (free explorer)
  void apply_chapter();      // the chapter's model, colouring, selection and focus
  bool begin_window(Window w, const char* title, Chapter::Focus focus);  // Begin, outlined if in focus
  void draw_pad();           // the drawing pad and your images
  void upload_user();        // your images' thumbnails, when they changed
  void user_thumb(int i, float size);
  void draw_probe_line(const ExplorerModel& mm, bool inv, float width);
  void draw_compare_picker();
  void draw_replay_bar();
  nlohmann::json probe_state(int kind) const;
  nlohmann::json user_state() const;
  static constexpr long kProbeWorkPerFrame = 1L << 19;  // multiply-adds of probe fitting per frame (about 3 ms)
  void upload_swap();  // the model's swap cells into the swap texture, when they changed
  void draw_model_picker();
  void draw_model_card();
  void draw_samples();
  void draw_swap();
  void draw_scatter(const ExplorerModel& mm, const char* title, bool inv, float width, float height);
  void draw_engines();
  float S(float v) const { return v * scale_; }

  ExplorerModel m_;
  unsigned texture_ = 0;
  bool atlas_stale_ = false;  // the samples' thumbnails are not in texture_ yet
  int atlas_cols_ = 0;
  bool colour_by_domain_ = false;
  std::vector<std::vector<float>> thumb_rects_;
  float scale_ = 1.f;
  float last_w_ = 0, last_h_ = 0, last_scale_ = 0;
  bool relayout_ = true;
  std::vector<std::string> model_names_;
  int model_index_ = 0;
  CellTexture swap_texture_;
  StyleMixerView mixer_view_;
  std::unique_ptr<ExplorerModel> other_;  // the model side by side, if any
  int other_index_ = -1;
  Walkthrough walk_;
  bool playing_ = false;  // the replay plays
  double play_clock_ = 0;
  std::vector<float> replay_slider_rect_;
  int walk_applied_ = -1;      // the walkthrough version applied to the views
  bool walk_select_pending_ = false;
  int focus_pending_ = 0;  // frames left to bring the chapter's window to the front
  bool scroll_to_selected_ = false;  // the sample grid scrolls to the selection (once)
  std::vector<float> ink_;     // the drawing pad, kPadSize x kPadSize, 0..1
  static constexpr int kPadSize = 56;
  bool pad_drawing_ = false;
  std::vector<float> pad_rect_;  // x, y, w, h in ImGui (device) pixels, for tests
  float pad_last_[2] = {0, 0};
  int pad_sent_version_ = -1, pad_version_ = 0;
  unsigned user_texture_ = 0;
  int user_texture_version_ = -1, ort_user_asked_ = -1;
  Tensor4 user_input_;
  int user_input_version_ = -1;
};

}  // namespace dida::web
