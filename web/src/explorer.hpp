#pragma once
// The explorer: a trained model and a sample set, run by the core in wasm, shown in the page's
// windows (panels.hpp: the story, the samples, the plots with live probes, the swap grid, the
// drawing pad), and the walkthrough that tells the story. The page's calls (web/src/main.cpp)
// arrive here; what is computed lives in web/model, what is drawn in the panels.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "comparison.hpp"
#include "dida/inference.hpp"
#include "explorer_model.hpp"
#include "panels.hpp"
#include "thumbnails.hpp"
#include "walkthrough.hpp"

namespace dida::web {

class Explorer {
 public:
  using Engine = ExplorerModel::Engine;
  static constexpr Engine kCore = ExplorerModel::kCore, kOrt = ExplorerModel::kOrt;
  Explorer();

  // Loads a bundle and a sample set (ExplorerModel::load); the model beside stays if comparable.
  std::string load(const std::string& config_text, std::vector<std::uint8_t> weights,
                   const std::vector<std::uint8_t>& samples, const std::string& origin);
  bool loaded() const { return m_.loaded(); }
  bool predicted_all() const { return m_.predicted_all(); }
  // The frame's work (predictions, probes, t-SNE: frame_work.hpp), then every panel's window.
  // The windows tile the canvas and are laid out again whenever its size changes; in between they
  // can be moved. begin_frame() once per frame, before draw().
  void begin_frame();
  void draw();
  nlohmann::json state() const;
  void set_projection(bool tsne);  // "tsne" (true) or PCA, both models' plots
  // Screen rectangle (ImGui pixels) of sample i's thumbnail in the grid, for tests.
  std::vector<float> thumbnail_rect(int i) const { return samples_->thumbnail_rect(i); }

  void set_ui_scale(float s) { view_.scale = s; }  // the device pixel ratio
  // The bundles the page lists (names shown in the pickers) and which one is loaded.
  void set_models(std::vector<std::string> names, int current) { view_.model_names = std::move(names), view_.model_index = current; }

  // A second model on the same samples, its plots under the first's; index: its entry in the
  // picker. Returns "" or a one-line error (nothing changes then).
  std::string load_compare(const std::string& config_text, std::vector<std::uint8_t> weights,
                           const std::vector<std::uint8_t>& samples, const std::string& origin, int index);
  void close_compare() { compare_.close(); }
  // The bundle's replay.safetensors, which then plays from its first epoch: "" or a one-line error.
  std::string load_replay(std::vector<std::uint8_t> bytes, const std::string& origin);
  // A training run's replay so far (the live view, ?run=K).
  std::string load_run_replay(const std::string& layouts, const std::string& log, const std::string& origin);
  void open_chapter(int k) { walk_.open(k); }  // 1..count, 0: the free explorer
  // The visitor's images: a dropped or chosen file (returns "" or a one-line error naming it).
  std::string add_user_rgba(const std::string& name, const std::vector<std::uint8_t>& rgba, int width, int height) {
    if (ExplorerModel* other = compare_.model()) other->add_user_rgba(name, rgba, width, height);
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
  void place(Slot slot) const;  // the next window's position and size
  void apply_chapter();         // the chapter's model, colouring, selection and focus
  void ask_ort_user();          // ONNX Runtime Web's answers on your images, when they changed

  ExplorerModel m_;
  Comparison compare_;
  Thumbnails thumbs_;
  Walkthrough walk_;
  ViewState view_{m_, compare_, thumbs_, walk_, {}};
  // The windows, in drawing order: every list of windows (layout, focus, the phone's buttons,
  // state) comes from here.
  std::vector<std::unique_ptr<Panel>> panels_;
  SamplesPanel* samples_ = nullptr;
  EmbeddingsPanel* embeddings_ = nullptr;
  float last_w_ = 0, last_h_ = 0, last_scale_ = 0;
  bool relayout_ = true;
  int walk_applied_ = -1;  // the walkthrough version applied to the views
  bool walk_select_pending_ = false;
  int focus_pending_ = 0;  // frames left to bring the chapter's window to the front
  int ort_user_asked_ = -1;
  Tensor4 user_input_;
  int user_input_version_ = -1;
};

}  // namespace dida::web
