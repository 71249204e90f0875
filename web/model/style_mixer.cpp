#include "style_mixer.hpp"

#include <algorithm>
#include <stdexcept>

namespace dida::web {

void StyleMixer::set_inputs(const Model& m, const Tensor4& contents, const Tensor4& style_a, const Tensor4& style_b) {
  if (style_a.n != 1 || style_b.n != 1) throw std::invalid_argument("style mixer: one image per style");
  clear();
  z_inv_ = m.forward(contents).map("z_inv");
  z_a_ = m.forward(style_a).map("z_spe");
  z_b_ = m.forward(style_b).map("z_spe");
  decode(m);
}

void StyleMixer::clear() {
  z_inv_ = z_a_ = z_b_ = mixed_ = row_ = Tensor4();
  ++version_;
}

void StyleMixer::set_mix(const Model& m, double t) {
  t_ = std::clamp(t, 0.0, 1.0);
  if (!z_inv_.data.empty()) decode(m);
}

void StyleMixer::decode(const Model& m) {
  const int n = z_inv_.n;
  mixed_ = Tensor4(n, z_a_.c, z_a_.h, z_a_.w);
  const std::size_t k = z_a_.per_item();
  const float t = static_cast<float>(t_);
  for (int i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) mixed_.item(i)[j] = (1.0f - t) * z_a_.data[j] + t * z_b_.data[j];
  row_ = m.reconstruct_pixels(z_inv_, mixed_);
  ++version_;
}

}  // namespace dida::web
