#pragma once
// The boundary between the `dida` front end and libdida_torch.so, the part that links LibTorch.
//
// The front end (core only) starts in milliseconds and handles the commands that need no LibTorch
// (data, predict, export). Commands that train or evaluate load libdida_torch.so on demand and
// call through this table, so LibTorch's ~1 s start-up is paid only by those commands.
// Everything crossing the boundary is a plain struct from headers without LibTorch.
#include <string>

#include "dida/native/options.hpp"

namespace dida {

struct TorchInfo {
  std::string torch_version;  // e.g. "1.13.1"
  int threads = 0;            // intra-op threads LibTorch will use
  bool cuda_available = false;
  int cuda_devices = 0;
};

struct TorchApi {
  int abi_version;  // kTorchApiVersion of the library; the loader checks it
  // Sets LibTorch's thread count (0: leave it) and reports the build and device facts.
  TorchInfo (*info)(int threads);
  // The commands; each returns the process exit code and prints its own errors.
  int (*train)(const TrainOptions& options, bool resume);
  int (*eval)(const EvalOptions& options);
  int (*bench)(const BenchOptions& options);
};

constexpr int kTorchApiVersion = 3;

}  // namespace dida

// Exported by libdida_torch.so.
extern "C" const dida::TorchApi* dida_torch_api();
