// Inference speed of the engines on one bundle, side by side in one process:
// LibTorch (CPU) and the core's Eigen forward pass, at batch 1 and batch 256.
// Prints JSON lines; bench/inference.sh adds onnxruntime-node and the ratios.
// Usage: inference_bench BUNDLE [--threads N] [--seconds S]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <malloc.h>
#include <string>

#include "bundle.hpp"
#include "dida/inference.hpp"

namespace {
template <typename F>
double median_ms(F&& f, double seconds) {
  std::vector<double> t;
  const auto start = std::chrono::steady_clock::now();
  f();  // warm-up
  while (t.size() < 5 || std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    if (t.size() > 2000) break;
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
// Prints LibTorch's and the core's figures at batch 1 and 256.
void run(const std::string& bundle, int threads, double seconds) {
  torch::set_num_threads(threads);
  dida::LoadedBundle lt = dida::load_bundle(bundle);
  dida::Model core = dida::Model::load(dida::resolve_bundle_dir(bundle));
  core.set_threads(threads);
  const auto& c = core.config();
  for (int batch : {1, 256}) {
    const auto x = torch::rand({batch, c.in_channels, c.image_size, c.image_size}) * 2 - 1;
    dida::Tensor4 xc(batch, c.in_channels, c.image_size, c.image_size);
    std::copy(x.data_ptr<float>(), x.data_ptr<float>() + x.numel(), xc.data.begin());
    const double t_torch = median_ms([&] {
      torch::NoGradGuard g;
      auto o = lt.net->forward(x);
      (void)o["logits"].sum().item<float>();
    }, seconds);
    const double t_core = median_ms([&] { auto o = core.forward(xc); (void)o.rows("logits").data[0]; }, seconds);
    std::printf("{\"engine\": \"libtorch\", \"batch\": %d, \"ms\": %.4f, \"threads\": %d}\n", batch, t_torch, threads);
    std::printf("{\"engine\": \"core\", \"batch\": %d, \"ms\": %.4f, \"threads\": %d}\n", batch, t_core, threads);
  }
}
}  // namespace

int main(int argc, char** argv) {
  // As `dida` does (native/src/main.cpp): freed blocks stay in the heap instead of going back to the
  // kernel and faulting in again on the next call; onnxruntime keeps its own arena likewise.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cerr << "usage: inference_bench BUNDLE [--threads N] [--seconds S]\n"
                 "Times LibTorch and the core on BUNDLE at batch 1 and 256; one JSON line per figure.\n";
    return argc < 2 ? 2 : 0;
  }
  try {
    int threads = 1;
    double seconds = 2.0;
    for (int i = 2; i + 1 < argc; ++i) {
      try {
        if (std::string(argv[i]) == "--threads") threads = std::stoi(argv[i + 1]);
        if (std::string(argv[i]) == "--seconds") seconds = std::stod(argv[i + 1]);
      } catch (const std::logic_error&) {
        throw std::runtime_error(std::string(argv[i]) + ": not a number: " + argv[i + 1]);
      }
    }
    run(argv[1], threads, seconds);
  } catch (const std::exception& e) {
    std::cerr << "inference_bench: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
