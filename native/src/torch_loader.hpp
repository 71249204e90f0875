#pragma once
// Loads libdida_torch.so (next to the executable) on first use.
#include "dida/native/torch_api.hpp"

namespace dida {
// The LibTorch half of the CLI; throws std::runtime_error with a one-line reason when it cannot
// be loaded (missing file, LibTorch libraries not found, version mismatch).
const TorchApi& torch_api();
}  // namespace dida
