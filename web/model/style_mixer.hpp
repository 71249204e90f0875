#pragma once
// The style mixer: a row of contents, each decoded with a style code slid between two style
// images' z_spe: R_pix(z_inv(content), (1 - t) z_spe(a) + t z_spe(b)). At t = 0 a cell is the swap
// with a, at t = 1 the swap with b, and in between it follows t continuously. The codes are
// computed once per choice of images; moving t only decodes.
#include "dida/inference.hpp"

namespace dida::web {

class StyleMixer {
 public:
  // contents: N images; style_a, style_b: one image each (the model's input, [-1, 1]).
  void set_inputs(const Model& m, const Tensor4& contents, const Tensor4& style_a, const Tensor4& style_b);
  void clear();  // no row (the version keeps growing)
  bool ready() const { return !row_.data.empty(); }
  // t is clamped to [0, 1]; the row is decoded again.
  void set_mix(const Model& m, double t);
  double mix() const { return t_; }
  const Tensor4& row() const { return row_; }  // N cells, [-1, 1]
  // The decoder's inputs for the row (for decoder.onnx): each content's z_inv, and N copies of the
  // mixed code.
  const Tensor4& z_inv() const { return z_inv_; }
  const Tensor4& mixed_z_spe() const { return mixed_; }
  // Grows whenever the row changes.
  int version() const { return version_; }

 private:
  void decode(const Model& m);
  Tensor4 z_inv_, z_a_, z_b_, mixed_, row_;
  double t_ = 0;
  int version_ = 0;
};

}  // namespace dida::web
