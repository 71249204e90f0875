#pragma once
// The images the panels show, as GL textures: the sample set's thumbnails in one atlas, and the
// visitor's images (the drawing, dropped files) in a column. Each is uploaded again only when it
// changed; update() once per frame, before the panels draw.
#include "explorer_model.hpp"

namespace dida::web {

class Thumbnails {
 public:
  void samples_changed() { atlas_stale_ = true; }  // a model or sample set loaded: rebuilt at the next update
  void update(const ExplorerModel& m);
  // ImGui::Image, `size` pixels square, of sample i / your image i / a swap entry (a sample, or
  // n + i for your image i). A blank square while there is none.
  void sample(int i, float size) const;
  void user(int i, float size) const;
  void entry(int e, float size) const { e < samples_ ? sample(e, size) : user(e - samples_, size); }

 private:
  void build_atlas(const Domain& d);
  void upload_users(const ExplorerModel& m);
  unsigned atlas_ = 0, users_ = 0;
  bool atlas_stale_ = false;
  int samples_ = 0, cols_ = 0, rows_ = 0, user_count_ = 0, user_version_ = -1;
};

}  // namespace dida::web
