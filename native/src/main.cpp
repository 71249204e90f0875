// `dida`: the command-line front end. It links the core only; commands that need LibTorch load
// libdida_torch.so on demand (see torch_api.hpp).
#include <CLI/CLI.hpp>
#include <chrono>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <malloc.h>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "dida/data.hpp"
#include "dida/inference.hpp"
#include "dida/safetensors.hpp"
#include "dida/native/options.hpp"
#include "dida/version.hpp"
#include "config_file.hpp"
#include "predict.hpp"
#include "torch_loader.hpp"
#ifdef DIDA_HAVE_ONNX
#include "onnx_export.hpp"
#endif

namespace {

struct PairArgs {
  std::string source = "mnist", target = "mnistm";
  std::uint64_t seed = dida::kDefaultDataSeed;
  std::string cache_dir = dida::default_cache_dir();
  bool no_cache = false;
  int size = 32;
  int max_per_domain = 10000;
};

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

dida::DomainPair load_pair(const PairArgs& a) {
  dida::PairOptions o;
  o.seed = a.seed;
  o.height = o.width = a.size;
  o.max_per_domain = a.max_per_domain;
  o.cache_dir = a.no_cache || a.cache_dir == "none" ? "" : a.cache_dir;
  const auto t0 = std::chrono::steady_clock::now();
  std::cerr << "data: " << a.source << " -> " << a.target << " (seed " << a.seed << ") ..." << std::flush;
  dida::DomainPair p = dida::build_pair(a.source, a.target, dida::DataSources::from_environment(DIDA_SOURCE_DIR), o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << (p.from_cache ? " loaded from cache" : " built") << " in " << std::fixed << std::setprecision(2) << s
            << " s: source " << p.source_train.size() << " train + " << p.source_val.size() << " val, target "
            << p.target_train.size() << " train + " << p.target_test.size() << " test\n";
  return p;
}

// Every row of the option table as a flag of a subcommand (the same names work in a --config
// file); apply() writes the flags given into a TrainOptions.
class TrainFlags {
 public:
  void add_to(CLI::App* cmd, const std::set<std::string>& except = {}) {
    const dida::TrainOptions defaults;
    for (const auto& row : dida::train_option_table()) {
      if (!row.flag || except.count(row.name)) continue;
      CLI::Option* opt = nullptr;
      if (row.type == dida::OptionRow::Type::Bool) {
        bools_[row.name] = row.get(defaults).get<bool>();
        opt = cmd->add_flag("--" + row.name + ",!--no-" + row.name, bools_[row.name],
                            row.help + " (default: " + (bools_[row.name] ? "on" : "off") + ")");
        opt->default_str("");
      } else {
        const dida::OptionRow* r = &row;
        const auto value = row.get(defaults);
        opt = cmd->add_option("--" + row.name, texts_[row.name], row.help)
                  ->type_name(type_name(row))
                  ->default_str(value.is_string() ? value.get<std::string>() : value.dump())
                  ->check(CLI::Validator(
                      [r](std::string& v) {
                        try {
                          r->parse(v);
                          return std::string();
                        } catch (const std::exception& e) {
                          const std::string what = e.what();
                          return what.substr(what.find(": ") + 2);
                        }
                      },
                      ""));
      }
      opt->group(row.group);
      given_.emplace_back(&row, opt);
    }
  }
  // Writes the flags given into `o`; returns their rows.
  std::vector<const dida::OptionRow*> apply(dida::TrainOptions& o) {
    std::vector<const dida::OptionRow*> rows;
    for (const auto& [row, opt] : given_) {
      if (opt->count() == 0) continue;
      row->set(o, row->type == dida::OptionRow::Type::Bool ? nlohmann::json(bools_[row->name]) : row->parse(texts_[row->name]));
      rows.push_back(row);
    }
    return rows;
  }

 private:
  static std::string type_name(const dida::OptionRow& row) {
    using T = dida::OptionRow::Type;
    if (row.type == T::Choice) {
      std::string all;
      for (const auto& c : row.choices) all += (all.empty() ? "" : "|") + c;
      return all;
    }
    return row.type == T::Double ? "X" : row.type == T::Text ? "TEXT" : "N";
  }
  std::map<std::string, std::string> texts_;
  std::map<std::string, bool> bools_;
  std::vector<std::pair<const dida::OptionRow*, CLI::Option*>> given_;
};

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

int usage_error(const char* command, const std::string& what) {
  std::cerr << "dida " << command << ": error: " << what << "\n";
  return 2;
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
  // A training step allocates and frees the same tensors (megabytes each) every iteration. By
  // default glibc hands large blocks back to the kernel on free and page-faults them in again on
  // the next allocation: about a million faults per epoch. Kept in the heap, they are reused.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  CLI::App app{"dida: disentangled domain adaptation.\n"
               "Trains networks that split features into a domain-invariant and a domain-specific\n"
               "part, and exports them for the browser."};
  bool version_requested = false;
  app.get_formatter()->column_width(32);  // an option and its help on one line: `dida train --help` fits a screen


  dida::TrainOptions train_opts;
  std::string resume_run;
  // A later value wins: options read from --config come first, the command line after them.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  CLI::App* train = app.add_subcommand("train", "Train a model: dida train --source S --target T --method M --seed N --out RUN");
  TrainFlags train_flags, bench_flags;
  train_flags.add_to(train);
  std::string config_file;
  train->add_option("--config", config_file, "Read options from a TOML/INI file: epochs = 5, lambda-mi = 0.2, ... (flags given on the command line win)");
  CLI::Option* resume_opt =
      train->add_option("--resume", resume_run, "Continue the run in this folder (its recorded options are used)")->group("Run");

  dida::EvalOptions eval_opts;
  CLI::App* eval = app.add_subcommand("eval", "Accuracies and disentanglement measures of a run or bundle");
  eval->add_option("run", eval_opts.path, "Run folder or bundle folder")->required();
  eval->add_flag("--json", eval_opts.json, "Print JSON");
  eval->add_option("--cache", eval_opts.cache_dir, "Data cache folder");

  dida::BenchOptions bench_opts;
  CLI::App* bench = app.add_subcommand("bench", "Methods x seeds on a pair: a results table (Markdown and JSON)");
  bench_flags.add_to(bench, {"out"});
  bench->add_option("--config", config_file, "Read options from a TOML/INI file (flags given on the command line win)");
  bench->add_option("--methods", bench_opts.methods, "Methods to compare")->delimiter(',')->capture_default_str()->group("Bench");
  bench->add_option("--seeds", bench_opts.seeds, "Seeds")->delimiter(',')->capture_default_str()->group("Bench");
  bench->add_option("--out", bench_opts.out, "Folder of the runs and the tables")->capture_default_str()->group("Bench");

  std::string export_bundle, export_onnx_out;
  CLI::App* exp_onnx = app.add_subcommand("export", "Write a bundle's ONNX files, model.onnx and swap.onnx (and record their checksums in the bundle; an older bundle is converted)");
  exp_onnx->add_option("bundle", export_bundle, "Bundle folder (or run folder)")->required();
  exp_onnx->add_option("--out", export_onnx_out, "Folder to write model.onnx and swap.onnx into (default: the bundle)");

  std::string predict_bundle;
  std::vector<std::string> predict_images;
  bool predict_json = false;
  CLI::App* pred = app.add_subcommand("predict", "Classify image files with a bundle (core forward pass, no LibTorch)");
  pred->add_option("bundle", predict_bundle, "Bundle folder (or run folder)")->required();
  std::string predict_samples_file;
  auto* pred_images = pred->add_option("images", predict_images, "PNG / JPEG / BMP files");
  pred->add_option("--samples", predict_samples_file, "A sample set (dida data samples): accuracy per domain instead")
      ->excludes(pred_images);
  pred->add_flag("--json", predict_json, "One JSON object per image: file, label, probs, logits, domain heads");

  CLI::App* data = app.add_subcommand("data", "Build, inspect and export the domains")->require_subcommand(1);
  data->add_subcommand("list", "Every built-in domain with its size, classes and provenance");
  PairArgs show_args, export_args;
  std::string show_out, export_out;
  int show_n = 64;
  CLI::App* show = data->add_subcommand("show", "A PNG grid of a pair's source and target images with labels");
  add_pair_options(show, show_args);
  show->add_option("--out", show_out, "PNG file to write")->required();
  show->add_option("--n", show_n, "Images per domain")->capture_default_str()->check(CLI::Range(1, 1024));
  PairArgs samples_args;
  std::string samples_out;
  int samples_n = 200;
  CLI::App* samples = data->add_subcommand("samples", "The web page's sample set: held-out images of both domains, one safetensors file");
  add_pair_options(samples, samples_args);
  samples->add_option("--out", samples_out, "safetensors file to write")->required();
  samples->add_option("--n", samples_n, "Images per domain")->capture_default_str()->check(CLI::Range(1, 5000));
  CLI::App* exp = data->add_subcommand("export", "Write a pair as image folders, the layout folder: reads");
  add_pair_options(exp, export_args);
  exp->add_option("--out", export_out, "Folder to write (DIR/source/<class>/*.png, DIR/target/<class>/*.png)")->required();

  app.add_flag("--version", version_requested,
               "Print dida's and LibTorch's versions, the thread count and CUDA availability");
  app.require_subcommand(0, 1);
  int threads = default_threads();
  app.add_option("--threads", threads, "Threads for LibTorch and the core (default: all cores)")
      ->check(kPositive);

  std::vector<std::string> args;
  try {
    args = dida::cli::expand_config(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "dida: error: " << e.what() << "\n";
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
    if (app.get_subcommands().empty()) {
      std::cout << app.help();
      return 0;
    }
    if (pred->parsed()) {
      if (!predict_samples_file.empty()) return dida::cli::predict_samples(predict_bundle, predict_samples_file, predict_json, threads);
      if (predict_images.empty()) {
        std::cerr << "dida predict: error: give image files or --samples FILE (see dida predict --help)\n";
        return 2;
      }
      return dida::cli::predict(predict_bundle, predict_images, predict_json, threads);
    }
    if (exp_onnx->parsed()) {
#ifdef DIDA_HAVE_ONNX
      const std::string dir = dida::resolve_bundle_dir(export_bundle);
      const auto results = dida::export_onnx(dir, export_onnx_out.empty() ? dir : export_onnx_out);
      for (const auto& r : results)
        std::cout << "wrote " << r.path << " (" << r.bytes << " bytes, crc32 " << std::hex << std::setw(8) << std::setfill('0')
                  << r.crc32 << std::dec << std::setfill(' ') << ")\n";
      std::cout << (results.front().recorded ? "checksums recorded in " + dir + "/config.json" : std::string("the bundle is unchanged"))
                << "\n";
      return 0;
#else
      std::cerr << "dida export: error: this dida was built without libonnx (install libonnx-dev and rebuild)\n";
      return 1;
#endif
    }
    if (train->parsed()) {
      if (resume_opt->count() && resume_run.empty()) return usage_error("train", "--resume needs a run folder");
      const auto given = train_flags.apply(train_opts);
      train_opts.threads = threads;
      if (!resume_run.empty()) {
        // A resumed run trains with its recorded options; only how it runs may be given.
        for (const auto* row : given)
          if (row->recorded && row->name != "device")
            return usage_error("train", "--resume continues a run with its recorded options: --" + row->name +
                                            " cannot change it (start a new run with --out instead)");
        train_opts.out = resume_run;
      } else {
        try {
          dida::validate(train_opts);
        } catch (const std::invalid_argument& e) {
          return usage_error("train", e.what());
        }
        for (const auto* row : given)
          if (!row->read_by(train_opts.method))
            std::cerr << "dida train: warning: --" << row->name << " is not read by --method " << dida::name_of(train_opts.method)
                      << " (ignored)\n";
      }
      return dida::torch_api().train(train_opts, !resume_run.empty());
    }
    if (eval->parsed()) {
      eval_opts.threads = threads;
      return dida::torch_api().eval(eval_opts);
    }
    if (bench->parsed()) {
      bench_flags.apply(bench_opts.base);
      bench_opts.base.threads = threads;
      for (const auto& m : bench_opts.methods) {
        try {
          bench_opts.base.method = dida::parse_enum<dida::Method>(m, "--methods: each");
          dida::validate(bench_opts.base);
        } catch (const std::invalid_argument& e) {
          return usage_error("bench", e.what());
        }
      }
      bench_opts.source = bench_opts.base.source;
      bench_opts.target = bench_opts.base.target;
      return dida::torch_api().bench(bench_opts);
    }
    if (data->parsed()) {
      if (data->got_subcommand("list")) return data_list();
      if (show->parsed()) {
        const auto pair = load_pair(show_args);
        dida::write_png(show_out, dida::pair_grid(pair, show_n));
        std::cout << "wrote " << show_out << "\n";
        return 0;
      }
      if (samples->parsed()) {
        const auto pair = load_pair(samples_args);
        dida::write_sample_set(pair, samples_n, samples_out);
        std::cout << "wrote " << samples_out << "\n";
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
