#pragma once
// Options of `dida train`, `dida eval` and `dida bench`: plain structs shared by the CLI front end
// (which parses them, without LibTorch) and libdida_torch.so (which runs them).
//
// Every training option is one row of train_option_table() (options.cpp): its flag, where it lives
// in TrainOptions, its help, the values it allows and the methods that read it. The CLI, config
// files, a run's config.json and the check made on resume all walk that table; the defaults are the
// members' initialisers below (the model's in ModelConfig).
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dida/model_config.hpp"

namespace dida {

// The methods of METHOD.md. target-only is an oracle (it trains on target labels).
enum class Method { Dida, SourceOnly, Dann, Dsn, TargetOnly };
enum class Optimisation { Joint, Staged };  // one step on the total, or METHOD.md's three staged steps
enum class Optimizer { Adam, Sgd };
enum class Precision { Fp32, Bf16 };         // bf16: forward pass and losses under autocast
enum class BatchNormMode { Separate, Mixed };  // each domain in its own training pass, or one pass
enum class PixelLoss { Mse, SiMse };         // L_rec's pixel term: MSE or DSN's scale-invariant MSE
enum class DeviceChoice { Auto, Cpu, Cuda };

// The spellings of an enum's values, in declaration order (the CLI's and config.json's).
template <typename E>
const std::vector<std::string>& enum_names();
template <typename E>
const std::string& name_of(E e) {
  return enum_names<E>().at(static_cast<std::size_t>(e));
}
// Throws std::invalid_argument "WHAT must be one of a|b|c, not \"x\"".
template <typename E>
E parse_enum(const std::string& text, const std::string& what) {
  const auto& names = enum_names<E>();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == text) return static_cast<E>(i);
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : "|") + n;
  throw std::invalid_argument(what + " must be one of " + all + ", not \"" + text + "\"");
}

// What a method is, beside the loss terms it uses.
bool uses_target_images(Method m);  // forwards target images (domain terms, batch norm): dida, dann, dsn

struct TrainOptions {
  // data
  std::string source = "mnist", target = "mnistm";
  std::uint64_t data_seed = 20240601;
  int max_per_domain = 10000;
  std::string cache_dir;
  // method and model (the model's architecture and its defaults: ModelConfig)
  Method method = Method::Dida;
  ModelConfig model;
  BatchNormMode batch_norm = BatchNormMode::Separate;
  // The bundle's D_spe and R_pix learn as read-outs of the encoder (METHOD.md "The read-outs"); the
  // recipe's D_spe and R_pix go through training-only copies. Needed by L_swap and L_critic.
  bool readouts = true;
  // loss weights and their settings (METHOD.md's total; a method reads only its own)
  double lambda_mi = 0.1, lambda_adv = 1.0, lambda_dom = 0.3, lambda_rec = 0.5, lambda_rel = 1.0, lambda_orth = 0.0;
  double pixel_rec_weight = 1.0;  // share of the pixel term inside L_rec (feature term weight 1)
  PixelLoss pixel_loss = PixelLoss::Mse;
  double lambda_cons = 1.0, cons_threshold = 0.9;
  double lambda_bal = 1.0;
  double lambda_swap = 0.1;
  double lambda_critic = 1.0;
  double lambda_spe_cls = 0.0;
  double lambda_stats = 0.0;  // L_stats (decoder_style adain)
  bool augment_source = true;  // labelled source images in the strong view too, every method
  double mine_ma_rate = 0.01;  // MINE's moving average of the denominator
  double grl_gamma = 10.0;
  int warmup_epochs = 0;  // first epochs with the task loss (and L_rec) only
  int erasure_retrain_iters = 0;  // after the erasure: C and R_pix learn this many iterations on the erased z_inv
  // optimisation
  Optimisation optimisation = Optimisation::Joint;
  Optimizer optimizer = Optimizer::Adam;
  Precision precision = Precision::Fp32;
  double lr = 1e-3, momentum = 0.9, weight_decay = 0.0;
  bool anneal_lr = true;
  double weight_average = 0.0;  // decay per step of the weights' moving average the bundle keeps; 0: off
  int epochs = 25, batch_size = 64;
  int iters_per_epoch = 70;  // 0: one pass over source-train
  std::uint64_t seed = 1;
  // run
  std::string out = "runs/latest";
  DeviceChoice device = DeviceChoice::Auto;
  int threads = 0;
  int replay = 200;          // images per domain of the training replay (the page's sample set); 0: none
  int stop_after_iters = 0;  // stop as Ctrl-C would after this many iterations (tests)
  bool quiet = false;
  std::string profile;       // write where the steps' time goes to this file (bench/step_profile.sh)

  // The recorded options (train_option_table()'s rows that a run records), flat, by key.
  nlohmann::json to_json() const;
  // Missing keys keep their defaults; a value of the wrong type or not allowed throws
  // std::invalid_argument naming the key. Runs recorded before an option was removed are read as
  // what they trained, or refused with the reason (unless `removed_matter` is false: `dida eval`
  // reads a bundle's data options only).
  static TrainOptions from_json(const nlohmann::json& j, bool removed_matter = true);
};

// One row of the option table.
struct OptionRow {
  enum class Type { Bool, Int, UInt, Double, Text, Choice };
  std::string name;   // the flag without "--"; config files accept it with '_' or '-'
  std::string group;  // the --help section
  std::string help;
  Type type = Type::Text;
  std::vector<std::string> choices;  // Choice: the allowed values
  double min = 0, max = 0;           // Int, UInt, Double: the allowed range (inclusive; min > max: none)
  std::vector<Method> methods;       // the methods that read it (empty: every method)
  // A further condition without which it has no effect (nullptr: none), and the options that meet
  // it ("--readouts"): the loss registry reads it, the CLI warns when it is given without it.
  std::function<bool(const TrainOptions&)> needs;
  std::string needs_what;
  // Where a method's recipe differs from the value TrainOptions holds: a run of that method takes
  // it unless the option is given (apply_method_defaults). dida's split (docs/METHOD.md).
  std::map<Method, nlohmann::json> method_defaults;
  bool recorded = true;              // part of a run's options (config.json)
  bool flag = true;                  // a flag of `train` and `bench` (threads: the global --threads)
  std::function<nlohmann::json(const TrainOptions&)> get;
  std::function<void(TrainOptions&, const nlohmann::json&)> set;  // the value already checked

  std::string json_key;      // the config.json key when it is not the name with '_'
  std::string key() const;  // the config.json key
  bool read_by(Method m) const;
  bool takes_effect(const TrainOptions& o) const { return read_by(o.method) && (!needs || needs(o)); }
  // The value of a command-line or config-file text, checked: throws std::invalid_argument
  // "--name: why" (a number that is not one, out of range, not among the choices).
  nlohmann::json parse(const std::string& text) const;
  // "" when `value` is allowed, else why not (without the name).
  std::string problem(const nlohmann::json& value) const;
};

const std::vector<OptionRow>& train_option_table();
// Each row's default for o.method where the method has its own, unless the row's name is in
// `given` (the options set on the command line or in a config file).
void apply_method_defaults(TrainOptions& o, const std::set<std::string>& given);
const OptionRow& train_option(const std::string& name);  // by flag name; throws std::out_of_range

// Every row's value, then the rules between options; throws std::invalid_argument naming the flag.
// The CLI, run_training (resume included) and bench call it.
void validate(const TrainOptions& o);

struct EvalOptions {
  std::string path;  // run folder or bundle folder
  bool json = false;
  int threads = 0;
  std::string cache_dir;
  std::uint64_t seed = 7;  // probes' splits
};

struct BenchOptions {
  std::string source = "mnist", target = "mnistm";
  std::vector<std::string> methods = {"source-only", "dann", "dida"};
  std::vector<std::uint64_t> seeds = {1, 2, 3};
  std::string out = "runs/bench";
  TrainOptions base;  // every other training option
  std::set<std::string> given;  // the options of `base` set by the user: each method's defaults fill the rest
};

}  // namespace dida
