#pragma once
// The explorer: a trained model and a sample set, run by the core in wasm, shown as a sample grid
// with predictions and two linked scatter plots (z_inv, z_spe).
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dida/data.hpp"
#include "dida/inference.hpp"
#include "dida/projection.hpp"

namespace dida::web {

class Explorer {
 public:
  // Loads a bundle (config.json text + model.safetensors bytes) and a sample set; runs the model
  // on every sample and projects z_inv and z_spe with PCA. Returns "" or a one-line error.
  std::string load(const std::string& config_text, std::vector<std::uint8_t> weights,
                   const std::vector<std::uint8_t>& samples, const std::string& origin);
  bool loaded() const { return model_ != nullptr; }
  void draw();  // the ImGui windows
  nlohmann::json state() const;
  // "pca" or "tsne" (t-SNE starts, a few iterations per frame).
  void set_projection(bool tsne);
  // Screen rectangle (CSS pixels) of sample i's thumbnail in the grid, for tests.
  std::vector<float> thumbnail_rect(int i) const;

 private:
  void build_atlas();
  void draw_model_card();
  void draw_samples();
  void compute_swap();
  void draw_swap();
  void draw_scatter(const char* title, const std::vector<float>& xy, float width, float height);

  std::unique_ptr<Model> model_;
  SampleSet samples_;
  std::vector<int> predicted_;
  std::vector<float> confidence_;
  std::vector<float> inv_xy_, spe_xy_;  // n x 2, what the plots show
  std::vector<float> inv_pca_, spe_pca_, inv_feat_, spe_feat_;
  int inv_dim_ = 0, spe_dim_ = 0;
  // t-SNE runs a few iterations per frame so the page stays responsive.
  std::unique_ptr<Tsne> tsne_inv_, tsne_spe_;
  bool use_tsne_ = false;
  unsigned texture_ = 0;
  int atlas_cols_ = 0;
  int selected_ = -1;
  double accuracy_[2] = {0, 0};  // on the samples: source, target
  bool colour_by_domain_ = false;
  std::vector<std::vector<float>> thumb_rects_;
  double forward_ms_ = 0;
  // Swap grid: rows are contents (source samples), columns styles (target samples).
  std::vector<int> swap_rows_, swap_cols_;
  std::vector<std::uint8_t> swap_pixels_;  // rows*cols images, NHWC
  unsigned swap_texture_ = 0;
  double swap_min_pair_diff_ = 0, swap_min_std_ = 0, swap_ms_ = 0;
  int next_row_ = 0, next_col_ = 0;
};

}  // namespace dida::web
