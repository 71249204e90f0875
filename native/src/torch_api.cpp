// libdida_torch.so: the LibTorch half of the CLI (see torch_api.hpp).
#include "dida/native/torch_api.hpp"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <iomanip>
#include <algorithm>
#include <iostream>

#include "evaluate.hpp"
#include "dida/messages.hpp"
#include "dida/probe.hpp"
#include "trainer.hpp"
#include "training_data.hpp"

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

template <typename F>
int guarded(const char* command, F&& f) {
  try {
    return f();
  } catch (const c10::Error& e) {
    std::cerr << "dida " << command << ": error: " << printable(first_line(e.what())) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "dida " << command << ": error: " << describe_error(e) << "\n";
  }
  return 1;
}

int train(const TrainOptions& o, bool resume) {
  return guarded("train", [&] { return run_training(o, resume); });
}

int eval(const EvalOptions& o) {
  return guarded("eval", [&] {
    const EvalResult r = evaluate(o);
    if (o.json) {
      std::cout << r.to_json().dump(2) << "\n";
      return 0;
    }
    std::cout << std::fixed << std::setprecision(4) << "target accuracy      " << r.target_accuracy << "  ("
              << r.target_images << " target-test images)\n"
              << "source accuracy      " << r.source_accuracy << "  (" << r.source_images << " source-val images, held out)\n"
              << "target confidence    " << r.target_confidence << "  (mean top probability on target-train; no labels)\n"
              << "target balance       " << r.target_balance << "  (entropy of the predicted-class histogram / log classes; no labels)\n"
              << "domain probe z_inv   " << r.domain_probe_inv << "  (near 0.5 is good: invariant)\n"
              << "domain probe z_spe   " << r.domain_probe_spe << "  (near 1 is good: carries the domain)\n"
              << "class probe z_spe    " << r.class_probe_spe << "  (low is good)\n"
              << "  the page's probes  domain z_inv " << r.page_domain_probe_inv << ", domain z_spe " << r.page_domain_probe_spe
              << ", class z_spe " << r.page_class_probe_spe << "  (the probes above are the mean of 5 draws of up to "
              << 2 * CrossFitProbe::kRowsPerDomain << " held-out images; the page's the mean of its " << r.page_probe_draws
              << " draw(s) of its " << r.page_probe_images << " samples)\n"
              << "MI(z_inv; z_spe)     " << r.mi_estimate << " nats (KSG, k=3, top-2 PCs each; independent of T)\n"
              << "A-distance z_inv     " << r.a_distance_inv << "  (0 = indistinguishable domains)\n"
              << "A-distance z_spe     " << r.a_distance_spe << "\n"
              << "swap content         " << r.swap_content_accuracy << "  (C on R(z_inv(a), z_spe(b)) re-encoded gives a's label; "
              << r.swap_pairs << " pairs, both directions)\n"
              << "swap style           " << r.swap_style_accuracy << "  (D_spe on the same swap gives b's domain; "
              << r.swap_style_source << " of those in source style, " << r.swap_style_target << " in target style)\n"
              << "style retrieval      " << r.swap_style_retrieval << "  (each of " << r.style_retrieval_contents << " source contents in "
              << r.style_retrieval_k << " target styles: the swap's colour statistics are nearest its own style image's; chance "
              << 1.0 / std::max(r.style_retrieval_k, 1) << ", style images " << r.style_retrieval_of_styles << ", contents unchanged "
              << r.style_retrieval_of_contents << ")\n"
              << "style head           " << r.style_head_accuracy << "  (D_spe on the real held-out images gives their domain)\n"
              << "reconstruction PSNR  " << std::setprecision(2) << r.reconstruction_psnr << " dB  (R(z_inv(x), z_spe(x)) against x)\n";
    return 0;
  });
}

int bench(const BenchOptions& o) {
  return guarded("bench", [&] { return run_bench(o); });
}

const TorchApi kApi{kTorchApiVersion, &torch_info, &train, &eval, &bench};

}  // namespace
}  // namespace dida

extern "C" const dida::TorchApi* dida_torch_api() { return &dida::kApi; }
