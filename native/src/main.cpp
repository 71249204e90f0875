// `dida`: the command-line front end. It links the core only; commands that need LibTorch load
// libdida_torch.so on demand (see torch_api.hpp). Each subcommand is a file in cli/.
#include <CLI/CLI.hpp>
#include <iostream>
#include <malloc.h>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "cli/command.hpp"
#include "cli/local_ranks.hpp"
#include "config_file.hpp"
#include "dida/messages.hpp"
#include "dida/native/torch_api.hpp"
#include "dida/version.hpp"
#include "torch_loader.hpp"

namespace dida::cli {

// CLI11's own number checks print the range as 0 to 1.8e308; these say what is wanted.
const CLI::Validator kNonNegative(
    [](std::string& v) {
      try {
        std::size_t used = 0;
        if (std::stod(v, &used) >= 0 && used == v.size()) return std::string();
      } catch (const std::exception&) {
      }
      return "must be a number >= 0, not " + v;
    },
    "NUMBER >= 0");
const CLI::Validator kPositive(
    [](std::string& v) {
      try {
        std::size_t used = 0;
        if (std::stod(v, &used) > 0 && used == v.size()) return std::string();
      } catch (const std::exception&) {
      }
      return "must be a number > 0, not " + v;
    },
    "NUMBER > 0");

int usage_error(const std::string& command, const std::string& what) {
  std::cerr << "dida " << command << ": error: " << dida::printable(what) << "\n";
  return 2;
}

}  // namespace dida::cli

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
  // A training step allocates and frees the same tensors (megabytes each) every iteration. By
  // default glibc hands large blocks back to the kernel on free and page-faults them in again on
  // the next allocation: about a million faults per epoch. Kept in the heap, they are reused.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  CLI::App app{"dida: disentangled domain adaptation.\n"
               "Trains networks that split features into a domain-invariant and a domain-specific\n"
               "part, and exports them for the browser."};
  app.get_formatter()->column_width(32);  // an option and its help on one line: `dida train --help` fits a screen
  // A later value wins: options read from --config come first, the command line after them.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  // The subcommands, in the order --help lists them.
  std::vector<std::unique_ptr<dida::cli::Command>> commands;
  commands.push_back(dida::cli::train_command());
  commands.push_back(dida::cli::eval_command());
  commands.push_back(dida::cli::bench_command());
  commands.push_back(dida::cli::export_command());
  commands.push_back(dida::cli::predict_command());
  commands.push_back(dida::cli::data_command());
  commands.push_back(dida::cli::serve_command());
  for (auto& c : commands) c->add_to(app);

  bool version_requested = false;
  app.add_flag("--version", version_requested, "Print dida's and LibTorch's versions, the thread count and CUDA availability");
  app.require_subcommand(0, 1);
  int threads = default_threads();
  app.add_option("--threads", threads, "Threads for LibTorch and the core (default: all cores)")->check(dida::cli::kPositive);

  dida::cli::set_program_args(argc, argv);
  std::vector<std::string> args;
  try {
    args = dida::cli::expand_config(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "dida: error: " << dida::describe_error(e) << "\n";
    return 2;
  }
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  try {
    app.parse(static_cast<int>(cargs.size()), cargs.data());
  } catch (const CLI::ParseError& e) {
    // --help and --version print and exit 0; every usage error exits 2, as command-line tools do.
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    if (version_requested) return print_version(threads);
    for (auto& c : commands)
      if (c->parsed()) return c->run(threads);
    std::cout << app.help();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dida: error: " << dida::describe_error(e) << "\n";
    return 1;
  }
}
