// `dida`: the command-line front end. It links the core only; commands that need LibTorch load
// libdida_torch.so on demand (see torch_api.hpp).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "dida/version.hpp"
#include "torch_loader.hpp"

namespace {

int default_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

int print_version(int threads) {
  std::cout << "dida " << dida::version() << "\n";
  const dida::TorchInfo info = dida::torch_api().info(threads);
  std::cout << "LibTorch " << info.torch_version << "\n"
            << "threads " << info.threads << "\n"
            << "CUDA " << (info.cuda_available ? "available (" + std::to_string(info.cuda_devices) + " device(s))"
                                               : std::string("not available"))
            << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dida: disentangled domain adaptation.\n"
               "Trains networks that split features into a domain-invariant and a domain-specific\n"
               "part, and exports them for the browser."};
  bool version_requested = false;
  app.add_flag("--version", version_requested,
               "Print dida's and LibTorch's versions, the thread count and CUDA availability");
  app.require_subcommand(0, 1);
  int threads = default_threads();
  app.add_option("--threads", threads, "Threads for LibTorch and the core (default: all cores)")
      ->check(CLI::PositiveNumber);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (version_requested) return print_version(threads);
    if (app.get_subcommands().empty()) {
      std::cout << app.help();
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "dida: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
