#pragma once
// The "strong view" of a target batch for the consistency term (docs/METHOD.md, extensions): a
// generic photometric and geometric perturbation, the same for every pair of domains. Each image is
// shifted by up to `max_shift` pixels (edges replicated), its colour channels permuted, inverted
// with probability 1/2, and its contrast and brightness jittered; values stay in [-1, 1].
#include <torch/torch.h>

#include "dida/rng.hpp"

namespace dida {

torch::Tensor strong_view(const torch::Tensor& x, Rng& rng, int max_shift = 2);

}  // namespace dida
