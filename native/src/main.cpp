// `dida`: the command-line front end. It links the core only; commands that need LibTorch load
// libdida_torch.so on demand (see torch_api.hpp).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <thread>

#include "dida/data.hpp"
#include "dida/version.hpp"
#include "torch_loader.hpp"

namespace {

// The project root: where `make deps` put node_modules/ and .deps/. $DIDA_ROOT overrides.
std::string project_root() {
  if (const char* r = std::getenv("DIDA_ROOT"); r && *r) return r;
  return DIDA_SOURCE_DIR;
}

struct PairArgs {
  std::string source = "mnist", target = "mnistm";
  std::uint64_t seed = dida::kDefaultDataSeed;
  std::string cache_dir = dida::default_cache_dir();
  bool no_cache = false;
  int size = 32;
  int max_per_domain = 10000;
};

void add_pair_options(CLI::App* cmd, PairArgs& a) {
  cmd->add_option("--source", a.source, "Source domain spec (labelled): a built-in name, folder:PATH or idx:IMAGES[,LABELS]")
      ->capture_default_str();
  cmd->add_option("--target", a.target, "Target domain spec (its labels are never used for training)")->capture_default_str();
  cmd->add_option("--seed", a.seed, "Seed of the sampling and of the generated images")->capture_default_str();
  cmd->add_option("--size", a.size, "Image height and width of the pair")->capture_default_str()->check(CLI::Range(8, 512));
  cmd->add_option("--max-per-domain", a.max_per_domain, "Cap on each domain's images before splitting")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--cache", a.cache_dir, "Cache folder for built pairs ($DIDA_CACHE)")->capture_default_str();
  cmd->add_flag("--no-cache", a.no_cache, "Build from the packages even when a cached copy exists");
}

dida::DomainPair load_pair(const PairArgs& a) {
  dida::PairOptions o;
  o.seed = a.seed;
  o.height = o.width = a.size;
  o.max_per_domain = a.max_per_domain;
  o.cache_dir = a.no_cache ? "" : a.cache_dir;
  const auto t0 = std::chrono::steady_clock::now();
  std::cerr << "data: " << a.source << " -> " << a.target << " (seed " << a.seed << ") ..." << std::flush;
  dida::DomainPair p = dida::build_pair(a.source, a.target, dida::DataSources::from_root(project_root()), o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << (p.from_cache ? " loaded from cache" : " built") << " in " << std::fixed << std::setprecision(2) << s
            << " s: source " << p.source_train.size() << " train + " << p.source_val.size() << " val, target "
            << p.target_train.size() << " train + " << p.target_test.size() << " test\n";
  return p;
}

int data_list() {
  std::cout << std::left << std::setw(11) << "domain" << std::setw(8) << "images" << std::setw(8) << "classes"
            << std::setw(9) << "shape" << "what / provenance\n";
  for (const auto& d : dida::builtin_domains())
    std::cout << std::setw(11) << d.name << std::setw(8) << d.pool_size << std::setw(8) << d.classes << std::setw(9)
              << d.native_shape << d.what << "\n" << std::setw(36) << "" << "package: " << d.package << "\n"
              << std::setw(36) << "" << "file:    " << d.file << "\n";
  std::cout << "\nAlso: folder:PATH (PATH/<class>/*.png|jpg|bmp) and idx:IMAGES[,LABELS] (IDX, gzipped or not).\n"
            << "Default seed: " << dida::kDefaultDataSeed << "\n";
  return 0;
}

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

  CLI::App* data = app.add_subcommand("data", "Build, inspect and export the domains")->require_subcommand(1);
  data->add_subcommand("list", "Every built-in domain with its size, classes and provenance");
  PairArgs show_args, export_args;
  std::string show_out, export_out;
  int show_n = 64;
  CLI::App* show = data->add_subcommand("show", "A PNG grid of a pair's source and target images with labels");
  add_pair_options(show, show_args);
  show->add_option("--out", show_out, "PNG file to write")->required();
  show->add_option("--n", show_n, "Images per domain")->capture_default_str()->check(CLI::Range(1, 1024));
  CLI::App* exp = data->add_subcommand("export", "Write a pair as image folders, the layout folder: reads");
  add_pair_options(exp, export_args);
  exp->add_option("--out", export_out, "Folder to write (DIR/source/<class>/*.png, DIR/target/<class>/*.png)")->required();

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
    if (data->parsed()) {
      if (data->got_subcommand("list")) return data_list();
      if (show->parsed()) {
        const auto pair = load_pair(show_args);
        dida::write_png(show_out, dida::pair_grid(pair, show_n));
        std::cout << "wrote " << show_out << "\n";
        return 0;
      }
      if (exp->parsed()) {
        const auto pair = load_pair(export_args);
        const int n = dida::export_pair(pair, export_out);
        std::cout << "wrote " << n << " images to " << export_out << "/source and " << export_out
                  << "/target (read them back with --source folder:" << export_out << "/source)\n";
        return 0;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "dida: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
