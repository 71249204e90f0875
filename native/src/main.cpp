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

// Every training hyper-parameter as a flag; the same names work in a --config file.
void add_train_options(CLI::App* cmd, dida::TrainOptions& o) {
  cmd->add_option("--source", o.source, "Source domain spec (labelled)")->capture_default_str()->group("Data");
  cmd->add_option("--target", o.target, "Target domain spec (its labels are never used)")->capture_default_str()->group("Data");
  cmd->add_option("--data-seed", o.data_seed, "Seed of the data set")->capture_default_str()->check(kNonNegative)->group("Data");
  cmd->add_option("--max-per-domain", o.max_per_domain, "Cap on each domain's images")->capture_default_str()->group("Data");
  cmd->add_option("--cache", o.cache_dir, "Data cache folder (default $DIDA_CACHE or ~/.cache/dida; 'none': off)")->group("Data");
  cmd->add_option("--method", o.method, "dida | source-only | dann | dsn | target-only (an oracle)")
      ->capture_default_str()->check(CLI::IsMember({"dida", "source-only", "dann", "dsn", "target-only"}))->group("Method");
  cmd->add_option("--variant", o.variant, "Disentangled layers: branch (separate I, S) | vector (z_spe = F - I(F))")
      ->capture_default_str()->check(CLI::IsMember({"branch", "vector"}))->group("Method");
  cmd->add_option("--pool", o.pool, "How heads see feature maps: flatten (every position) | avg (global average, as METHOD.md writes)")
      ->capture_default_str()->check(CLI::IsMember({"avg", "flatten"}))->group("Method");
  cmd->add_flag("--progressive,!--no-progressive", o.progressive, "A first split after E's first block")->group("Method");
  cmd->add_option("--width", o.width, "Channels of E's first block (F has 4 x width)")->capture_default_str()->group("Method");
  cmd->add_option("--decoder", o.decoder, "Pixel decoder R_pix: small (one 3x3 conv per scale, 2w-w-w channels) | wide (two per scale, 4w-2w-2w-w: sharper swaps; as the method's own decoder, less stable accuracy; docs/RESULTS.md)")
      ->capture_default_str()->check(CLI::IsMember({"small", "wide"}))->group("Method");
  cmd->add_option("--decoder-norm", o.decoder_norm, "What R_pix does to z_inv first: none | instance (normalised per image and channel: the style reaches R_pix only through z_spe)")
      ->capture_default_str()->check(CLI::IsMember({"none", "instance"}))->group("Method");
  cmd->add_option("--pixel-decoder-features", o.pixel_decoder_features,
                  "What R_pix learns from: train (training-mode features, its pixel term shapes the encoder too) | inference "
                  "(detached features of an inference-mode pass: R_pix learns alone) | both (the two pixel terms) | readout "
                  "(R_pix learns as inference; the training-mode term goes through a training-only copy of the small decoder, "
                  "as in the recipe)")
      ->capture_default_str()->check(CLI::IsMember({"train", "inference", "both", "readout"}))->group("Losses");
  cmd->add_option("--input-norm", o.input_norm, "none | standardize (each image to zero mean, unit variance, inside the model)")
      ->capture_default_str()->check(CLI::IsMember({"none", "standardize"}))->group("Method");
  cmd->add_option("--batch-norm", o.batch_norm, "separate (source and target in their own passes) | mixed (one pass)")
      ->capture_default_str()->check(CLI::IsMember({"separate", "mixed"}))->group("Method");
  cmd->add_option("--head-hidden", o.head_hidden, "Hidden units of C, D_inv, D_spe")->capture_default_str()->group("Method");
  cmd->add_option("--mine-hidden", o.mine_hidden, "Hidden units of the MINE network T")->capture_default_str()->group("Method");
  cmd->add_option("--lambda-mi", o.lambda_mi, "Weight of L_mi")->capture_default_str()->group("Losses");
  cmd->add_option("--lambda-adv", o.lambda_adv, "Weight of L_adv")->capture_default_str()->group("Losses");
  cmd->add_option("--lambda-dom", o.lambda_dom, "Weight of L_dom")->capture_default_str()->group("Losses");
  cmd->add_option("--lambda-rec", o.lambda_rec, "Weight of L_rec")->capture_default_str()->group("Losses");
  cmd->add_option("--lambda-rel", o.lambda_rel, "Weight of L_rel")->capture_default_str()->group("Losses");
  cmd->add_option("--lambda-orth", o.lambda_orth, "Weight of L_orth (dsn: 1e-4 when 0)")->capture_default_str()->group("Losses");
  cmd->add_option("--pixel-rec-weight", o.pixel_rec_weight, "Weight of the pixel term inside L_rec")->capture_default_str()->group("Losses");
  cmd->add_flag("--pixel-rec-stop-inv,!--no-pixel-rec-stop-inv", o.pixel_rec_stop_inv,
                "The pixel term of L_rec trains the decoder and z_spe only: its gradient stops at z_inv (off by default)")
      ->group("Losses");
  cmd->add_option("--dom-inference-bn-trains", o.dom_inference_bn_trains,
                  "What --dom-inference-bn's term trains: all | head (D_spe alone, on detached features) | split (head, "
                  "and the training-mode L_dom reaches S and E through D_spe frozen: D_spe learns only inference-mode features) | "
                  "readout (D_spe learns only inference-mode features; the training-mode L_dom trains S and E through a "
                  "training-only copy of D_spe, as the recipe does)")
      ->capture_default_str()->check(CLI::IsMember({"all", "head", "split", "readout"}))->group("Losses");
  cmd->add_flag("--dom-inference-bn,!--no-dom-inference-bn", o.dom_inference_bn,
                "L_dom is also computed with batch norm in inference mode (running statistics), so D_spe tells the domains "
                "apart as inference sees them (on by default; docs/RESULTS.md)")
      ->group("Losses");
  cmd->add_flag("--rec-inference-bn,!--no-rec-inference-bn", o.rec_inference_bn,
                "L_rec is computed on features with batch norm in inference mode (running statistics), so the decoders "
                "learn the features inference gives them (off by default; docs/RESULTS.md)")
      ->group("Losses");
  cmd->add_option("--pixel-loss", o.pixel_loss, "Pixel term of L_rec: mse | si-mse (scale-invariant, DSN)")
      ->capture_default_str()->check(CLI::IsMember({"mse", "si-mse"}))->group("Losses");
  cmd->add_option("--lambda-cons", o.lambda_cons, "Weight of L_cons, the target consistency term (dida only; 0: off)")
      ->capture_default_str()->check(kNonNegative)->group("Losses");
  cmd->add_option("--lambda-swap", o.lambda_swap, "Weight of L_swap: swapped images keep their content's class and their style's domain (dida only; 0: off)")
      ->capture_default_str()->check(kNonNegative)->group("Losses");
  cmd->add_option("--swap-trains", o.swap_trains,
                  "What L_swap trains: all | decoder (R_pix alone, on detached inference-mode features, judged by C and D_spe "
                  "in inference mode, which it leaves unchanged)")
      ->capture_default_str()->check(CLI::IsMember({"all", "decoder"}))->group("Losses");
  cmd->add_option("--lambda-critic", o.lambda_critic,
                  "Weight of L_critic: a per-domain image critic tells real images from swaps in that domain's style, R_pix "
                  "learns to pass it (dida only, needs --pixel-decoder-features inference, both or readout; 0: off)")
      ->capture_default_str()->check(kNonNegative)->group("Losses");
  cmd->add_option("--lambda-bal", o.lambda_bal, "Weight of L_bal: the target batch's mean prediction stays spread over the classes (dida only; 0: off)")
      ->capture_default_str()->check(kNonNegative)->group("Losses");
  cmd->add_flag("--augment-source,!--no-augment-source", o.augment_source,
                "Also train on source images in the strong view (shift, channel order, inversion, contrast), every method; on by default")
      ->group("Losses");
  cmd->add_option("--cons-threshold", o.cons_threshold, "Confidence a pseudo-label of L_cons needs")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0))->group("Losses");
  cmd->add_option("--mine-ma-rate", o.mine_ma_rate, "MINE moving-average rate")->capture_default_str()->group("Losses");
  cmd->add_option("--grl-gamma", o.grl_gamma, "GRL schedule: lambda_p = 2/(1+exp(-gamma p)) - 1")->capture_default_str()->group("Losses");
  cmd->add_option("--warmup-epochs", o.warmup_epochs, "First epochs with the task loss (and L_rec) only")
      ->capture_default_str()->check(kNonNegative)->group("Losses");
  cmd->add_option("--optimisation", o.optimisation, "joint (one step on the total) | staged (three steps per iteration)")
      ->capture_default_str()->check(CLI::IsMember({"joint", "staged"}))->group("Optimisation");
  cmd->add_option("--optimizer", o.optimizer, "adam | sgd")->capture_default_str()->check(CLI::IsMember({"adam", "sgd"}))->group("Optimisation");
  cmd->add_option("--lr", o.lr, "Initial learning rate mu0")->capture_default_str()->group("Optimisation");
  cmd->add_option("--momentum", o.momentum, "SGD momentum")->capture_default_str()->group("Optimisation");
  cmd->add_option("--weight-decay", o.weight_decay, "L2 weight decay")->capture_default_str()->group("Optimisation");
  cmd->add_flag("--anneal-lr,!--no-anneal-lr", o.anneal_lr, "mu_p = mu0 / (1 + 10 p)^0.75")->group("Optimisation");
  cmd->add_option("--epochs", o.epochs, "Epochs")->capture_default_str()->check(kPositive)->group("Optimisation");
  cmd->add_option("--batch-size", o.batch_size, "Images per domain per iteration")->capture_default_str()->check(CLI::Range(2, 4096))->group("Optimisation");
  cmd->add_option("--iters-per-epoch", o.iters_per_epoch, "Iterations per epoch (0: one pass over source-train)")->capture_default_str()->check(kNonNegative)->group("Optimisation");
  cmd->add_option("--seed", o.seed, "Seed of initialisation and batches")->capture_default_str()->check(kNonNegative)->group("Optimisation");
  cmd->add_option("--precision", o.precision,
                  "fp32 | bf16: the forward pass and losses under autocast to bfloat16 (weights and optimiser stay fp32)")
      ->capture_default_str()->check(CLI::IsMember({"fp32", "bf16"}))->group("Run");
  cmd->add_option("--device", o.device, "auto | cpu | cuda")->capture_default_str()->check(CLI::IsMember({"auto", "cpu", "cuda"}))->group("Run");
  cmd->add_option("--replay", o.replay,
                  "Record the training replay (bundle/replay.safetensors: the page's sample set in z_inv and z_spe, per epoch) "
                  "on this many held-out images per domain; 0: none")
      ->capture_default_str()->check(kNonNegative)->group("Run");
  cmd->add_option("--stop-after-iters", o.stop_after_iters, "Stop (as Ctrl-C does) after this many iterations")->group("Run");
  cmd->add_flag("--quiet", o.quiet, "No progress output")->group("Run");
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
  // A training step allocates and frees the same tensors (megabytes each) every iteration. By
  // default glibc hands large blocks back to the kernel on free and page-faults them in again on
  // the next allocation: about a million faults per epoch. Kept in the heap, they are reused.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  CLI::App app{"dida: disentangled domain adaptation.\n"
               "Trains networks that split features into a domain-invariant and a domain-specific\n"
               "part, and exports them for the browser."};
  bool version_requested = false;


  dida::TrainOptions train_opts;
  std::string resume_run;
  // A later value wins: options read from --config come first, the command line after them.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  CLI::App* train = app.add_subcommand("train", "Train a model: dida train --source S --target T --method M --seed N --out RUN");
  add_train_options(train, train_opts);
  std::string config_file;
  train->add_option("--config", config_file, "Read options from a TOML/INI file: epochs = 5, lambda-mi = 0.2, ... (flags given on the command line win)");
  train->add_option("--out", train_opts.out, "Run folder: config.json, log.jsonl, checkpoint.pt, bundle/")->capture_default_str()->group("Run");
  train->add_option("--resume", resume_run, "Continue the run in this folder (its recorded options are used)")->group("Run");

  dida::EvalOptions eval_opts;
  CLI::App* eval = app.add_subcommand("eval", "Accuracies and disentanglement measures of a run or bundle");
  eval->add_option("run", eval_opts.path, "Run folder or bundle folder")->required();
  eval->add_flag("--json", eval_opts.json, "Print JSON");
  eval->add_option("--cache", eval_opts.cache_dir, "Data cache folder");

  dida::BenchOptions bench_opts;
  CLI::App* bench = app.add_subcommand("bench", "Methods x seeds on a pair: a results table (Markdown and JSON)");
  add_train_options(bench, bench_opts.base);
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
      train_opts.threads = threads;
      if (!resume_run.empty()) train_opts.out = resume_run;
      return dida::torch_api().train(train_opts, !resume_run.empty());
    }
    if (eval->parsed()) {
      eval_opts.threads = threads;
      return dida::torch_api().eval(eval_opts);
    }
    if (bench->parsed()) {
      bench_opts.base.threads = threads;
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
