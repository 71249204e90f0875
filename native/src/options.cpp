// The option table of `dida train` and `dida bench`: one row per option. The CLI (main.cpp), config
// files, a run's config.json and validation on resume all walk it.
#include "dida/native/options.hpp"

#include <cmath>
#include <cerrno>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

namespace dida {

template <>
const std::vector<std::string>& enum_names<Method>() {
  static const std::vector<std::string> n = {"dida", "source-only", "dann", "dsn", "target-only"};
  return n;
}
template <>
const std::vector<std::string>& enum_names<Optimisation>() {
  static const std::vector<std::string> n = {"joint", "staged"};
  return n;
}
template <>
const std::vector<std::string>& enum_names<Optimizer>() {
  static const std::vector<std::string> n = {"adam", "sgd"};
  return n;
}
template <>
const std::vector<std::string>& enum_names<Precision>() {
  static const std::vector<std::string> n = {"fp32", "bf16"};
  return n;
}
template <>
const std::vector<std::string>& enum_names<BatchNormMode>() {
  static const std::vector<std::string> n = {"separate", "mixed"};
  return n;
}
template <>
const std::vector<std::string>& enum_names<PixelLoss>() {
  static const std::vector<std::string> n = {"mse", "si-mse"};
  return n;
}
template <>
const std::vector<std::string>& enum_names<DeviceChoice>() {
  static const std::vector<std::string> n = {"auto", "cpu", "cuda"};
  return n;
}

bool uses_target_images(Method m) { return m == Method::Dida || m == Method::Dann || m == Method::Dsn; }

namespace {

using Type = OptionRow::Type;
constexpr double kInf = std::numeric_limits<double>::infinity();
const std::vector<Method> kDida = {Method::Dida};
const std::vector<Method> kAdversarial = {Method::Dida, Method::Dann, Method::Dsn};
const std::vector<Method> kReconstructing = {Method::Dida, Method::Dsn};

// Where a row's value lives: a member of TrainOptions or of its ModelConfig.
template <typename T>
struct Field {
  std::function<T&(TrainOptions&)> ref;
};
template <typename T>
Field<T> at(T TrainOptions::*m) {
  return {[m](TrainOptions& o) -> T& { return o.*m; }};
}
template <typename T>
Field<T> at(T ModelConfig::*m) {
  return {[m](TrainOptions& o) -> T& { return o.model.*m; }};
}

template <typename T>
OptionRow plain(const char* name, const char* group, Field<T> f, Type type, double min, double max, const char* help) {
  OptionRow r;
  r.name = name, r.group = group, r.help = help, r.type = type, r.min = min, r.max = max;
  r.get = [f](const TrainOptions& o) { return nlohmann::json(f.ref(const_cast<TrainOptions&>(o))); };
  r.set = [f](TrainOptions& o, const nlohmann::json& v) { f.ref(o) = v.get<T>(); };
  return r;
}
OptionRow flag(const char* name, const char* group, Field<bool> f, const char* help) {
  return plain(name, group, f, Type::Bool, 1, 0, help);
}
OptionRow text(const char* name, const char* group, Field<std::string> f, const char* help) {
  return plain(name, group, f, Type::Text, 1, 0, help);
}
OptionRow integer(const char* name, const char* group, Field<int> f, double min, double max, const char* help) {
  return plain(name, group, f, Type::Int, min, max, help);
}
OptionRow uinteger(const char* name, const char* group, Field<std::uint64_t> f, const char* help) {
  return plain(name, group, f, Type::UInt, 0, 18446744073709551615.0, help);
}
OptionRow number(const char* name, const char* group, Field<double> f, double min, double max, const char* help) {
  return plain(name, group, f, Type::Double, min, max, help);
}
// A mode kept as text (the model's: the core reads them as text).
OptionRow choice(const char* name, const char* group, Field<std::string> f, const std::vector<std::string>& choices,
                 const char* help) {
  OptionRow r = plain(name, group, f, Type::Choice, 1, 0, help);
  r.choices = choices;
  return r;
}
// A mode kept as an enum.
template <typename E>
OptionRow mode(const char* name, const char* group, Field<E> f, const char* help) {
  OptionRow r;
  r.name = name, r.group = group, r.help = help, r.type = Type::Choice, r.choices = enum_names<E>();
  r.get = [f](const TrainOptions& o) { return nlohmann::json(name_of(f.ref(const_cast<TrainOptions&>(o)))); };
  r.set = [f, name](TrainOptions& o, const nlohmann::json& v) { f.ref(o) = parse_enum<E>(v.get<std::string>(), name); };
  return r;
}
OptionRow for_methods(OptionRow r, std::vector<Method> m) {
  r.methods = std::move(m);
  return r;
}
OptionRow needing(OptionRow r, std::function<bool(const TrainOptions&)> needs, const char* what) {
  r.needs = std::move(needs), r.needs_what = what;
  return r;
}
// dida's split (docs/METHOD.md): what a dida run takes where the option is not given.
OptionRow dida_default(OptionRow r, nlohmann::json v) {
  r.method_defaults[Method::Dida] = std::move(v);
  return r;
}
bool with_readouts(const TrainOptions& o) { return o.readouts; }
bool with_erasure(const TrainOptions& o) { return o.model.erase_domain_mean; }
bool with_style_encoder(const TrainOptions& o) { return o.model.variant == "style"; }
bool with_adain_output(const TrainOptions& o) { return o.model.pixel_decoder && o.model.decoder_style == "adain"; }
OptionRow with_key(const char* key, OptionRow r) {
  r.json_key = key;
  return r;
}
OptionRow not_recorded(OptionRow r) {
  r.recorded = false;
  return r;
}
OptionRow not_a_flag(OptionRow r) {
  r.flag = false;
  return r;
}

std::vector<OptionRow> make_table() {
  const char* kData = "Data";
  const char* kMethod = "Method";
  const char* kLosses = "Losses (a method reads only its own)";
  const char* kOpt = "Optimisation";
  const char* kRun = "Run";
  return {
      text("source", kData, at(&TrainOptions::source), "Source domain (labelled): a built-in name, folder:PATH or idx:IMAGES[,LABELS]"),
      text("target", kData, at(&TrainOptions::target), "Target domain (its labels are never used for training)"),
      uinteger("data-seed", kData, at(&TrainOptions::data_seed), "Seed of the data set"),
      integer("max-per-domain", kData, at(&TrainOptions::max_per_domain), 1, 1e9, "Cap on each domain's images"),
      with_key("cache_dir", text("cache", kData, at(&TrainOptions::cache_dir),
                                 "Data cache folder (default $DIDA_CACHE or ~/.cache/dida; 'none': off)")),

      mode("method", kMethod, at(&TrainOptions::method), "dida | source-only | dann | dsn | target-only (an oracle)"),
      dida_default(choice("variant", kMethod, at(&ModelConfig::variant), ModelConfig::variants(),
                          "Disentangled layers: branch (separate I, S) | vector (z_spe = F - I(F)) | style (S its own encoder, one code per image)"),
                   "style"),
      flag("progressive", kMethod, at(&ModelConfig::progressive), "A first split after E's first block"),
      choice("pool", kMethod, at(&ModelConfig::pool), ModelConfig::pools(),
             "How the heads see a feature map: flatten (every position) | avg (global average)"),
      integer("width", kMethod, at(&ModelConfig::width), 1, 512, "Channels of E's first block (F has 4 x width)"),
      choice("decoder", kMethod, at(&ModelConfig::decoder), ModelConfig::decoders(),
             "Pixel decoder R_pix: small (one 3x3 conv per scale) | wide (two per scale, sharper swaps)"),
      choice("decoder-norm", kMethod, at(&ModelConfig::decoder_norm), ModelConfig::decoder_norms(),
             "What R_pix does to z_inv first: none | instance (style reaches R_pix only through z_spe)"),
      dida_default(needing(choice("style-encoder", kMethod, at(&ModelConfig::style_encoder), ModelConfig::style_encoders(),
                                  "The style variant's S: full (E's blocks) | light (3x3 kernels on the image at half size) | pointwise (1x1 kernels there)"),
                           with_style_encoder, "--variant style"),
                   "pointwise"),
      dida_default(choice("decoder-style", kMethod, at(&ModelConfig::decoder_style), ModelConfig::decoder_styles(),
                          "How R_pix's output takes the style: none | adain (its colour statistics set from z_spe)"),
                   "adain"),
      dida_default(for_methods(flag("erase-domain-mean", kMethod, at(&ModelConfig::erase_domain_mean),
                                    "z_inv without the domains' mean differences (measured after the last step; --erase-directions)"),
                               kAdversarial),
                   true),
      needing(for_methods(integer("erase-directions", kMethod, at(&ModelConfig::erase_directions), 1,
                                  ModelConfig::kMaxEraseDirections,
                                  "The erasure's rank: the span of the domains' mean differences on N disjoint parts of the training images"),
                          kAdversarial),
              with_erasure, "--erase-domain-mean"),
      dida_default(needing(for_methods(integer("erasure-retrain-iters", kMethod, at(&TrainOptions::erasure_retrain_iters), 0, 1e6,
                                               "After the erasure, C and R_pix learn again on the erased z_inv for N iterations (source labels; the encoder frozen)"),
                                       kAdversarial),
                           with_erasure, "--erase-domain-mean"),
                   250),
      choice("input-norm", kMethod, at(&ModelConfig::input_norm), ModelConfig::input_norms(),
             "none | standardize (each image to zero mean, unit variance, inside the model)"),
      for_methods(mode("batch-norm", kMethod, at(&TrainOptions::batch_norm),
                       "separate (source and target in their own training passes) | mixed (one pass)"),
                  kAdversarial),
      integer("head-hidden", kMethod, at(&ModelConfig::head_hidden), 1, 4096, "Hidden units of C, D_inv, D_spe"),
      integer("mine-hidden", kMethod, at(&ModelConfig::mine_hidden), 1, 4096, "Hidden units of the MINE network T"),
      for_methods(flag("readouts", kMethod, at(&TrainOptions::readouts),
                       "The bundle's D_spe and R_pix learn as read-outs of the encoder (METHOD.md); L_swap and L_critic need them"),
                  kDida),

      for_methods(number("lambda-mi", kLosses, at(&TrainOptions::lambda_mi), 0, 1e6, "Weight of L_mi"), kDida),
      for_methods(number("lambda-adv", kLosses, at(&TrainOptions::lambda_adv), 0, 1e6, "Weight of L_adv"), kAdversarial),
      for_methods(number("lambda-dom", kLosses, at(&TrainOptions::lambda_dom), 0, 1e6, "Weight of L_dom"), kDida),
      for_methods(number("lambda-rec", kLosses, at(&TrainOptions::lambda_rec), 0, 1e6, "Weight of L_rec"), kReconstructing),
      for_methods(number("pixel-rec-weight", kLosses, at(&TrainOptions::pixel_rec_weight), 0, 1e6,
                         "Weight of the pixel term inside L_rec"),
                  kReconstructing),
      for_methods(mode("pixel-loss", kLosses, at(&TrainOptions::pixel_loss), "Pixel term of L_rec: mse | si-mse (DSN's)"),
                  kReconstructing),
      for_methods(number("lambda-rel", kLosses, at(&TrainOptions::lambda_rel), 0, 1e6, "Weight of L_rel"), kDida),
      for_methods(number("lambda-orth", kLosses, at(&TrainOptions::lambda_orth), 0, 1e6, "Weight of L_orth (dsn: 1e-4 when 0)"),
                  kReconstructing),
      for_methods(number("lambda-cons", kLosses, at(&TrainOptions::lambda_cons), 0, 1e6,
                         "Weight of L_cons: a target image's strong view gets its clean view's confident pseudo-label"),
                  kDida),
      for_methods(number("cons-threshold", kLosses, at(&TrainOptions::cons_threshold), 0, 1,
                         "Confidence a pseudo-label of L_cons and L_swap needs"),
                  kDida),
      for_methods(number("lambda-bal", kLosses, at(&TrainOptions::lambda_bal), 0, 1e6,
                         "Weight of L_bal: the target batch's mean prediction stays spread over the classes"),
                  kDida),
      needing(for_methods(number("lambda-swap", kLosses, at(&TrainOptions::lambda_swap), 0, 1e6,
                                 "Weight of L_swap: a swap keeps its content's class and its style's domain (with --readouts)"),
                          kDida),
              with_readouts, "--readouts"),
      needing(for_methods(number("lambda-critic", kLosses, at(&TrainOptions::lambda_critic), 0, 1e6,
                                 "Weight of L_critic: swaps pass an image critic of their style's domain (with --readouts)"),
                          kDida),
              with_readouts, "--readouts"),
      for_methods(number("lambda-spe-cls", kLosses, at(&TrainOptions::lambda_spe_cls), 0, 1e6,
                         "Weight of L_spe_cls: a class head on z_spe behind a gradient reversal keeps the digit out of z_spe"),
                  kDida),
      dida_default(needing(for_methods(number("lambda-stats", kLosses, at(&TrainOptions::lambda_stats), 0, 1e6,
                                              "Weight of L_stats: the colour statistics R_pix reads from z_spe are the image's own (--decoder-style adain)"),
                                       kDida),
                           with_adain_output, "--decoder-style adain"),
                   1.0),
      flag("augment-source", kLosses, at(&TrainOptions::augment_source),
           "Also train on source images in the strong view (shift, channel order, inversion, contrast)"),
      for_methods(number("mine-ma-rate", kLosses, at(&TrainOptions::mine_ma_rate), 1e-6, 1, "MINE's moving-average rate"), kDida),
      for_methods(number("grl-gamma", kLosses, at(&TrainOptions::grl_gamma), 0, 1e3,
                         "GRL schedule: lambda_p = 2/(1+exp(-gamma p)) - 1"),
                  kAdversarial),
      integer("warmup-epochs", kLosses, at(&TrainOptions::warmup_epochs), 0, 1e6,
              "First epochs with the task loss (and L_rec) only"),

      mode("optimisation", kOpt, at(&TrainOptions::optimisation), "joint (one step on the total) | staged (three steps per iteration)"),
      mode("optimizer", kOpt, at(&TrainOptions::optimizer), "adam | sgd"),
      number("lr", kOpt, at(&TrainOptions::lr), 1e-12, 1e12, "Initial learning rate mu0"),
      number("momentum", kOpt, at(&TrainOptions::momentum), 0, 1, "SGD momentum"),
      number("weight-decay", kOpt, at(&TrainOptions::weight_decay), 0, 1, "L2 weight decay"),
      dida_default(flag("anneal-lr", kOpt, at(&TrainOptions::anneal_lr), "mu_p = mu0 / (1 + 10 p)^0.75"), false),
      dida_default(number("weight-average", kOpt, at(&TrainOptions::weight_average), 0, 0.99999,
                          "Decay per step of a moving average of the network's weights, which the bundle holds instead of the last "
                          "step's (0: off; the log's per-epoch figures are of the last step's)"),
                   0.995),
      integer("epochs", kOpt, at(&TrainOptions::epochs), 1, 1e6, "Epochs"),
      integer("batch-size", kOpt, at(&TrainOptions::batch_size), 2, 4096, "Images per domain per iteration"),
      integer("iters-per-epoch", kOpt, at(&TrainOptions::iters_per_epoch), 0, 1e8,
              "Iterations per epoch (0: one pass over source-train)"),
      uinteger("seed", kOpt, at(&TrainOptions::seed), "Seed of initialisation and batches"),

      mode("precision", kRun, at(&TrainOptions::precision),
           "fp32 | bf16 (forward pass and losses under autocast; weights and optimiser stay fp32)"),
      mode("device", kRun, at(&TrainOptions::device), "auto | cpu | cuda"),
      integer("replay", kRun, at(&TrainOptions::replay), 0, 5000,
              "Images per domain of the training replay (the page's plots per epoch); 0: none"),
      text("out", kRun, at(&TrainOptions::out), "Run folder: config.json, log.jsonl, checkpoint.pt, bundle/"),
      not_a_flag(integer("threads", kRun, at(&TrainOptions::threads), 0, 4096, "Threads (the global --threads)")),
      not_recorded(integer("stop-after-iters", kRun, at(&TrainOptions::stop_after_iters), 0, 1e12,
                           "Stop (as Ctrl-C does) after this many iterations")),
      not_recorded(flag("quiet", kRun, at(&TrainOptions::quiet), "No progress output")),
      not_recorded(text("profile", kRun, at(&TrainOptions::profile),
                        "Write where the steps' time goes to FILE (LibTorch's profiler: each operator's own time and calls "
                        "per step, JSON); slows the steps")),
  };
}

std::string type_word(Type t) {
  switch (t) {
    case Type::Bool: return "true or false";
    case Type::Int:
    case Type::UInt: return "a whole number";
    case Type::Double: return "a number";
    default: return "text";
  }
}

std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

std::string OptionRow::key() const {
  if (!json_key.empty()) return json_key;
  std::string k = name;
  for (auto& c : k)
    if (c == '-') c = '_';
  return k;
}

bool OptionRow::read_by(Method m) const {
  if (methods.empty()) return true;
  for (auto x : methods)
    if (x == m) return true;
  return false;
}

std::string OptionRow::problem(const nlohmann::json& v) const {
  switch (type) {
    case Type::Bool:
      return v.is_boolean() ? "" : "must be true or false";
    case Type::Text:
      return v.is_string() ? "" : "must be text";
    case Type::Choice: {
      std::string all;
      for (const auto& c : choices) {
        if (v.is_string() && v.get<std::string>() == c) return "";
        all += (all.empty() ? "" : "|") + c;
      }
      return "must be one of " + all + (v.is_string() ? ", not \"" + v.get<std::string>() + "\"" : "");
    }
    default: {
      if (!v.is_number()) return "must be " + type_word(type);
      if (type == Type::Int && !v.is_number_integer()) return "must be a whole number";
      if (type == Type::UInt && !v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
        return "must be a whole number >= 0";
      const double x = v.get<double>();
      if (!std::isfinite(x)) return "must be a finite number";
      if (min <= max && (x < min || x > max)) {
        if (max >= 1e6 && min == 0) return "must be >= 0, not " + number_text(x);
        if (max >= 1e6) return "must be >= " + number_text(min) + ", not " + number_text(x);
        return "must be in [" + number_text(min) + ", " + number_text(max) + "], not " + number_text(x);
      }
      return "";
    }
  }
}

nlohmann::json OptionRow::parse(const std::string& text) const {
  auto fail = [&](const std::string& why) { throw std::invalid_argument("--" + name + ": " + why); };
  nlohmann::json v;
  switch (type) {
    case Type::Bool:
      if (text == "true" || text == "1" || text == "on" || text == "yes") v = true;
      else if (text == "false" || text == "0" || text == "off" || text == "no") v = false;
      else fail("must be true or false, not \"" + text + "\"");
      break;
    case Type::Text:
    case Type::Choice: v = text; break;
    case Type::Int:
    case Type::UInt: {
      // Decimal digits only: "0x10", "8.7", "1e3" and " 5" are refused, not read as something else.
      const bool negative = !text.empty() && text[0] == '-';
      const std::string digits = negative ? text.substr(1) : text;
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
        fail("must be a whole number, not \"" + text + "\"");
      if (digits.size() > 20) fail("must be at most " + std::string(type == Type::UInt ? "18446744073709551615" : "1e12") + ", not " + text);
      if (type == Type::UInt) {
        if (negative) fail("must be a whole number >= 0, not " + text);
        errno = 0;
        const unsigned long long u = std::strtoull(digits.c_str(), nullptr, 10);
        if (errno == ERANGE) fail("must be at most 18446744073709551615, not " + text);
        v = static_cast<std::uint64_t>(u);
      } else {
        const long long i = digits.size() > 12 ? (negative ? -1000000000000LL : 1000000000000LL) : std::stoll(text);
        v = static_cast<std::int64_t>(i);
      }
      break;
    }
    case Type::Double: {
      std::size_t used = 0;
      double x = 0;
      try {
        x = std::stod(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != text.size()) fail("must be a number, not \"" + text + "\"");
      v = x;
      break;
    }
  }
  const std::string why = problem(v);
  if (!why.empty()) fail(why);
  return v;
}

const std::vector<OptionRow>& train_option_table() {
  static const std::vector<OptionRow> table = make_table();
  return table;
}

const OptionRow& train_option(const std::string& name) {
  for (const auto& r : train_option_table())
    if (r.name == name) return r;
  throw std::out_of_range("no option --" + name);
}

void apply_method_defaults(TrainOptions& o, const std::set<std::string>& given) {
  for (const auto& r : train_option_table()) {
    const auto it = r.method_defaults.find(o.method);
    if (it != r.method_defaults.end() && !given.count(r.name)) r.set(o, it->second);
  }
}

nlohmann::json TrainOptions::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& r : train_option_table())
    if (r.recorded) j[r.key()] = r.get(*this);
  return j;
}

namespace {
// Options that earlier versions had and lost with their ablations (docs/RESULTS.md names them):
// a run recorded with the values the read-outs stand for resumes as it trained; any other value
// is refused, since this dida cannot train it.
void read_removed_options(const nlohmann::json& j, TrainOptions& o) {
  const std::map<std::string, nlohmann::json> readout = {{"dom_inference_bn", true},
                                                          {"dom_inference_bn_trains", "readout"},
                                                          {"pixel_decoder_features", "readout"},
                                                          {"swap_trains", "decoder"},
                                                          {"rec_inference_bn", false},
                                                          {"pixel_rec_stop_inv", false}};
  const std::map<std::string, nlohmann::json> recipe = {{"dom_inference_bn", false},
                                                        {"pixel_decoder_features", "train"},
                                                        {"rec_inference_bn", false},
                                                        {"pixel_rec_stop_inv", false}};
  bool any = false, as_readout = true, as_recipe = true;
  std::string first;
  for (const auto& [key, value] : readout) {
    if (!j.contains(key)) continue;
    any = true;
    if (j.at(key) != value) {
      as_readout = false;
      if (first.empty()) first = key + " = " + j.at(key).dump();
    }
  }
  for (const auto& [key, value] : recipe)
    if (j.contains(key) && j.at(key) != value) as_recipe = false;
  const bool recipe_swaps = j.value("lambda_critic", 0.0) == 0 && j.value("lambda_swap", 0.0) == 0;
  if (!any) return;
  if (as_readout) o.readouts = true;
  else if (as_recipe && recipe_swaps) o.readouts = false;
  else
    throw std::invalid_argument("recorded option " + first +
                                " was removed from dida with its ablation (docs/RESULTS.md); this run cannot be resumed");
}
}  // namespace

TrainOptions TrainOptions::from_json(const nlohmann::json& j, bool removed_matter) {
  if (!j.is_object()) throw std::invalid_argument("options: not a JSON object");
  TrainOptions o;
  for (const auto& r : train_option_table()) {
    const std::string key = r.key();
    if (!r.recorded || !j.contains(key)) continue;
    const std::string why = r.problem(j.at(key));
    if (!why.empty()) throw std::invalid_argument("option \"" + key + "\" " + why);
    r.set(o, j.at(key));
  }
  if (!j.contains("lambda_bal")) o.lambda_bal = 0;  // recorded before L_bal existed: resume as it was trained
  if (!j.contains("erase_directions")) o.model.erase_directions = 1;  // before it: one direction
  if (removed_matter) read_removed_options(j, o);
  return o;
}

void validate(const TrainOptions& o) {
  for (const auto& r : train_option_table()) {
    const std::string why = r.problem(r.get(o));
    if (!why.empty()) throw std::invalid_argument("--" + r.name + " " + why);
  }
  o.model.validate();
  auto bad = [](const std::string& m) { throw std::invalid_argument(m); };
  if (o.method == Method::Dsn && o.model.variant != "branch") bad("dsn uses separate shared and private encoders: --variant branch");
  if (o.warmup_epochs >= o.epochs && o.warmup_epochs > 0)
    bad("--warmup-epochs " + std::to_string(o.warmup_epochs) + " leaves no epoch of the method (--epochs " +
        std::to_string(o.epochs) + ")");
}

}  // namespace dida
