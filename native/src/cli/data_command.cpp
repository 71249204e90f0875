// `dida data`: the domains: list them, show a pair as a PNG grid, write the page's sample set,
// export a pair as image folders.
#include <chrono>
#include <iomanip>
#include <iostream>

#include "command.hpp"
#include "dida/data.hpp"
#include "dida/image.hpp"

namespace dida::cli {
namespace {

struct PairArgs {
  std::string source = "mnist", target = "mnistm";
  std::uint64_t seed = kDefaultDataSeed;
  std::string cache_dir = default_cache_dir();
  bool no_cache = false;
  int size = 32;
  int max_per_domain = 10000;
};

void add_pair_options(CLI::App* cmd, PairArgs& a) {
  cmd->add_option("--source", a.source, "Source domain spec (labelled): a built-in name, folder:PATH or idx:IMAGES[,LABELS]")
      ->capture_default_str();
  cmd->add_option("--target", a.target, "Target domain spec (its labels are never used for training)")->capture_default_str();
  cmd->add_option("--seed", a.seed, "Seed of the sampling and of the generated images")->capture_default_str()->check(kNonNegative);
  cmd->add_option("--size", a.size, "Image height and width of the pair")->capture_default_str()->check(CLI::Range(8, 512));
  cmd->add_option("--max-per-domain", a.max_per_domain, "Cap on each domain's images before splitting")
      ->capture_default_str()->check(kPositive);
  cmd->add_option("--cache", a.cache_dir, "Cache folder for built pairs ($DIDA_CACHE; 'none': off, as train's)")->capture_default_str();
  cmd->add_flag("--no-cache", a.no_cache, "Build from the packages even when a cached copy exists");
}

DomainPair load_pair(const PairArgs& a) {
  PairOptions o;
  o.seed = a.seed;
  o.height = o.width = a.size;
  o.max_per_domain = a.max_per_domain;
  o.cache_dir = a.no_cache || a.cache_dir == "none" ? "" : a.cache_dir;
  const auto t0 = std::chrono::steady_clock::now();
  std::cerr << "data: " << a.source << " -> " << a.target << " (seed " << a.seed << ") ..." << std::flush;
  DomainPair p = build_pair(a.source, a.target, DataSources::from_environment(DIDA_SOURCE_DIR), o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << (p.from_cache ? " loaded from cache" : " built") << " in " << std::fixed << std::setprecision(2) << s
            << " s: source " << p.source_train.size() << " train + " << p.source_val.size() << " val, target "
            << p.target_train.size() << " train + " << p.target_test.size() << " test\n";
  return p;
}

int data_list() {
  std::cout << std::left << std::setw(11) << "domain" << std::setw(8) << "images" << std::setw(8) << "classes"
            << std::setw(9) << "shape" << "what / provenance\n";
  for (const auto& d : builtin_domains())
    std::cout << std::setw(11) << d.name << std::setw(8) << d.pool_size << std::setw(8) << d.classes << std::setw(9)
              << d.native_shape << d.what << "\n" << std::setw(36) << "" << "package: " << d.package << "\n"
              << std::setw(36) << "" << "file:    " << d.file << "\n";
  std::cout << "\nAlso: folder:PATH (PATH/<class>/*.png|jpg|bmp) and idx:IMAGES[,LABELS] (IDX, gzipped or not).\n"
            << "Default seed: " << kDefaultDataSeed << "\n";
  return 0;
}

class DataCommand : public Command {
 public:
  void add_to(CLI::App& app) override {
    sub_ = app.add_subcommand("data", "Build, inspect and export the domains")->require_subcommand(1);
    list_ = sub_->add_subcommand("list", "Every built-in domain with its size, classes and provenance");
    show_ = sub_->add_subcommand("show", "A PNG grid of a pair's source and target images with labels");
    add_pair_options(show_, show_args_);
    show_->add_option("--out", show_out_, "PNG file to write")->required();
    show_->add_option("--n", show_n_, "Images per domain")->capture_default_str()->check(CLI::Range(1, 1024));
    samples_ = sub_->add_subcommand("samples", "The web page's sample set: held-out images of both domains, one safetensors file");
    add_pair_options(samples_, samples_args_);
    samples_->add_option("--out", samples_out_, "safetensors file to write")->required();
    samples_->add_option("--n", samples_n_, "Images per domain")->capture_default_str()->check(CLI::Range(1, 5000));
    samples_->add_option("--probe-n", samples_probe_n_,
                         "Further images per domain that only the page's probes read (so that they fit as many as `dida eval` draws)")
        ->capture_default_str()
        ->check(CLI::Range(0, 5000));
    export_ = sub_->add_subcommand("export", "Write a pair as image folders, the layout folder: reads");
    add_pair_options(export_, export_args_);
    export_->add_option("--out", export_out_, "Folder to write (DIR/source/<class>/*.png, DIR/target/<class>/*.png)")->required();
  }
  int run(int) override {
    if (list_->parsed()) return data_list();
    if (show_->parsed()) {
      write_png(show_out_, pair_grid(load_pair(show_args_), show_n_));
      std::cout << "wrote " << show_out_ << "\n";
    } else if (samples_->parsed()) {
      write_sample_set(load_pair(samples_args_), samples_n_, samples_out_, samples_probe_n_);
      std::cout << "wrote " << samples_out_ << "\n";
    } else if (export_->parsed()) {
      check_export_folder(export_out_);  // before the pair is built: a wrong --out fails at once
      const int n = export_pair(load_pair(export_args_), export_out_);
      std::cout << "wrote " << n << " images to " << export_out_ << "/source and " << export_out_
                << "/target (read them back with --source folder:" << export_out_ << "/source)\n";
    }
    return 0;
  }

 private:
  CLI::App *list_ = nullptr, *show_ = nullptr, *samples_ = nullptr, *export_ = nullptr;
  PairArgs show_args_, samples_args_, export_args_;
  std::string show_out_, samples_out_, export_out_;
  int show_n_ = 64, samples_n_ = 200, samples_probe_n_ = 0;
};

}  // namespace

std::unique_ptr<Command> data_command() { return std::make_unique<DataCommand>(); }

}  // namespace dida::cli
