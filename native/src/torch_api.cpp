// libdida_torch.so: the LibTorch half of the CLI (see torch_api.hpp).
#include "dida/native/torch_api.hpp"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

namespace dida {
namespace {

TorchInfo torch_info(int threads) {
  if (threads > 0) at::set_num_threads(threads);
  TorchInfo info;
  info.torch_version = TORCH_VERSION;
  info.threads = at::get_num_threads();
  info.cuda_available = torch::cuda::is_available();
  info.cuda_devices = info.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  return info;
}

const TorchApi kApi{kTorchApiVersion, &torch_info};

}  // namespace
}  // namespace dida

extern "C" const dida::TorchApi* dida_torch_api() { return &dida::kApi; }
