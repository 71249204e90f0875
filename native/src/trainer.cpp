#include "trainer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "bundle.hpp"
#include "dida/rng.hpp"
#include "dida/safetensors.hpp"
#include "dida/schedule.hpp"
#include "augment.hpp"
#include "losses.hpp"
#include "model.hpp"

namespace fs = std::filesystem;

namespace dida {
namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string fmt_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  const int t = static_cast<int>(s + 0.5);
  std::ostringstream o;
  if (t >= 3600) o << t / 3600 << "h" << std::setw(2) << std::setfill('0') << (t % 3600) / 60 << "m";
  else if (t >= 60) o << t / 60 << "m" << std::setw(2) << std::setfill('0') << t % 60 << "s";
  else o << t << "s";
  return o.str();
}

struct LossValues {
  double task = 0, adv = 0, dom = 0, mi = 0, rec = 0, rel = 0, orth = 0, cons = 0, swap = 0, bal = 0, total = 0;
  double cons_kept = 0;  // fraction of target images with a confident pseudo-label (L_cons)
  void add(const LossValues& v) {
    task += v.task, adv += v.adv, dom += v.dom, mi += v.mi, rec += v.rec, rel += v.rel, orth += v.orth, cons += v.cons;
    swap += v.swap, bal += v.bal;
    total += v.total, cons_kept += v.cons_kept;
  }
  nlohmann::json to_json(double scale) const {
    return {{"task", task * scale}, {"adv", adv * scale},   {"dom", dom * scale},   {"mi", mi * scale},
            {"rec", rec * scale},   {"rel", rel * scale},   {"orth", orth * scale}, {"cons", cons * scale},
            {"swap", swap * scale}, {"bal", bal * scale}, {"cons_kept", cons_kept * scale}, {"total", total * scale}};
  }
};

ModelConfig model_config_for(const TrainOptions& o, const DomainPair& p) {
  ModelConfig c;
  c.image_size = p.source_train.height;
  c.in_channels = p.source_train.channels;
  c.num_classes = static_cast<int>(p.source_train.classes.size());
  c.width = o.width;
  c.variant = o.variant;
  c.progressive = o.progressive;
  c.pool = o.pool;
  c.input_norm = o.input_norm;
  c.head_hidden = o.head_hidden;
  c.mine_hidden = o.mine_hidden;
  c.pixel_decoder = true;
  c.decoder = o.decoder;
  c.validate();
  return c;
}

void validate(const TrainOptions& o) {
  auto bad = [](const std::string& m) { throw std::invalid_argument(m); };
  if (o.method != "dida" && o.method != "source-only" && o.method != "dann" && o.method != "dsn" && o.method != "target-only")
    bad("--method must be dida, source-only, dann, dsn or target-only, not \"" + o.method + "\"");
  if (o.optimisation != "joint" && o.optimisation != "staged") bad("--optimisation must be joint or staged");
  if (o.optimizer != "adam" && o.optimizer != "sgd") bad("--optimizer must be adam or sgd");
  if (o.variant != "branch" && o.variant != "vector") bad("--variant must be branch or vector");
  if (o.input_norm != "none" && o.input_norm != "standardize") bad("--input-norm must be none or standardize");
  if (o.batch_norm != "separate" && o.batch_norm != "mixed") bad("--batch-norm must be separate or mixed");
  if (o.pixel_loss != "mse" && o.pixel_loss != "si-mse") bad("--pixel-loss must be mse or si-mse");
  if (o.lambda_cons < 0 || o.lambda_swap < 0 || o.lambda_bal < 0 || o.cons_threshold < 0 || o.cons_threshold > 1)
    bad("--lambda-cons, --lambda-swap and --lambda-bal must be >= 0 and --cons-threshold in [0, 1]");
  if (o.epochs < 1 || o.batch_size < 2) bad("--epochs must be >= 1 and --batch-size >= 2");
  if (o.method == "dsn" && o.variant == "vector") bad("dsn uses separate shared and private encoders: --variant branch");
}

// The three module groups of the staged optimisation (METHOD.md).
std::vector<torch::Tensor> params_of(DidaNetImpl& net, const std::vector<std::string>& prefixes) {
  std::vector<torch::Tensor> out;
  for (const auto& p : net.named_parameters())
    for (const auto& prefix : prefixes)
      if (p.key().rfind(prefix + ".", 0) == 0) {
        out.push_back(p.value());
        break;
      }
  return out;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& o, std::vector<torch::Tensor> params) {
  if (o.optimizer == "sgd")
    return std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
  return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}

// Loss terms, in the order losses() returns them, and which of them each staged step optimises
// (METHOD.md): 1: L_task + L_adv + L_dom; 2: L_task + L_dom + L_mi + L_rel; 3: L_rec.
// L_orth, L_cons and L_bal (extensions) join step 1.
// L_swap (an extension) joins step 3, with the decoder.
enum Term { kTask, kAdv, kDom, kMi, kRec, kRel, kOrth, kCons, kSwap, kBal, kTerms };
const std::vector<std::vector<int>> kStageTerms = {{kTask, kAdv, kDom, kOrth, kCons, kBal}, {kTask, kDom, kMi, kRel}, {kRec, kSwap}};

class Trainer {
 public:
  Trainer(const TrainOptions& o, const DomainPair& pair, const torch::Device& device)
      : o_(o), w_(weights_for(o)), device_(device), mine_(o.mine_ma_rate) {
    const Domain& labelled = w_.train_on_target ? pair.target_train : pair.source_train;
    xs_ = images_to_tensor(labelled);
    ys_ = labels_to_tensor(labelled);
    xt_ = images_to_tensor(pair.target_train);
    x_val_ = images_to_tensor(pair.source_val);
    y_val_ = labels_to_tensor(pair.source_val);
    x_test_ = images_to_tensor(pair.target_test);
    y_test_ = labels_to_tensor(pair.target_test);
    torch::manual_seed(o.seed);
    net_ = DidaNet(model_config_for(o, pair));
    net_->to(device_);
    if (o.optimisation == "joint") {
      opts_.push_back(make_optimizer(o, net_->parameters()));
    } else {
      std::vector<std::string> step2 = {"inv", "spe", "classifier", "dom_spe", "mine", "inv1", "spe1", "dom_spe1"};
      std::vector<std::string> step3 = {"inv", "spe", "feat_dec", "pix_dec", "inv1", "spe1"};
      opts_.push_back(make_optimizer(o, net_->parameters()));
      opts_.push_back(make_optimizer(o, params_of(*net_, step2)));
      opts_.push_back(make_optimizer(o, params_of(*net_, step3)));
    }
  }

  int iters_per_epoch() const {
    return o_.iters_per_epoch > 0 ? o_.iters_per_epoch
                                  : static_cast<int>((xs_.size(0) + o_.batch_size - 1) / o_.batch_size);
  }
  DidaNetImpl& net() { return *net_; }

  void save_checkpoint(const std::string& path, int epoch, int iter) {
    torch::serialize::OutputArchive archive;
    net_->save(archive);
    for (std::size_t i = 0; i < opts_.size(); ++i) {
      torch::serialize::OutputArchive a;
      opts_[i]->save(a);
      archive.write("optimizer" + std::to_string(i), a);
    }
    archive.write("state", torch::tensor({static_cast<double>(epoch), static_cast<double>(iter), mine_.moving_average()},
                                         torch::kFloat64));
    // Serialised in memory, then written atomically: a full disk gives a clear error and leaves the
    // last good checkpoint (and no .tmp) behind.
    std::ostringstream bytes;
    try {
      archive.save_to(bytes);
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": cannot serialise the checkpoint (" + first_line(e.what()) + ")");
    }
    const std::string data = bytes.str();
    write_file_atomic(path, data.data(), data.size());
  }

  void load_checkpoint(const std::string& path, int& epoch, int& iter) {
    // LibTorch's load replaces a tensor of another shape without complaint: remember the shapes the
    // run's config.json asks for and compare after loading.
    std::vector<std::pair<std::string, std::vector<int64_t>>> want;
    for (const auto& [name, t] : named_state(*net_)) want.emplace_back(name, t.sizes().vec());
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(path, device_);
      net_->load(archive);
      for (std::size_t i = 0; i < opts_.size(); ++i) {
        torch::serialize::InputArchive a;
        archive.read("optimizer" + std::to_string(i), a);
        opts_[i]->load(a);
      }
      torch::Tensor state;
      archive.read("state", state);
      epoch = static_cast<int>(state[0].item<double>());
      iter = static_cast<int>(state[1].item<double>());
      mine_.set_moving_average(state[2].item<double>());
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": corrupt or incompatible checkpoint (" + first_line(e.what()) + ")");
    }
    const auto have = named_state(*net_);
    for (std::size_t k = 0; k < want.size() && k < have.size(); ++k)
      if (have[k].second.sizes().vec() != want[k].second)
        throw std::runtime_error(path + ": tensor \"" + want[k].first + "\" has another shape than the run's config.json describes " +
                                 "(was config.json edited? the checkpoint's network is not the configured one)");
  }

  // One iteration (three steps when staged). Returns the loss values; `finite` is false on NaN/Inf.
  LossValues step(int epoch, int iter, double progress, bool& finite) {
    const int64_t bs = o_.batch_size;
    const int64_t ns = xs_.size(0), nt = xt_.size(0);
    // Batches follow a per-epoch permutation drawn from the seed: resuming mid-epoch replays it.
    if (epoch != order_epoch_) {
      Rng r = Rng(o_.seed * 1000003ull + static_cast<std::uint64_t>(epoch)).fork("batches");
      src_order_ = permutation(static_cast<int>(ns), r);
      tgt_order_ = permutation(static_cast<int>(nt), r);
      order_epoch_ = epoch;
    }
    std::vector<int64_t> si(static_cast<std::size_t>(bs)), ti(static_cast<std::size_t>(bs));
    for (int64_t k = 0; k < bs; ++k) {
      si[static_cast<std::size_t>(k)] = src_order_[static_cast<std::size_t>((iter * bs + k) % ns)];
      ti[static_cast<std::size_t>(k)] = tgt_order_[static_cast<std::size_t>((iter * bs + k) % nt)];
    }
    auto xs = xs_.index_select(0, torch::tensor(si)).to(device_);
    if (o_.augment_source) {  // the labelled images in the strong view too: C learns its invariances from labels
      Rng r = Rng(o_.seed ^ (static_cast<std::uint64_t>(epoch) << 32) ^ static_cast<std::uint64_t>(iter)).fork("source-view");
      xs = strong_view(xs, r);
    }
    const auto ys = ys_.index_select(0, torch::tensor(si)).to(device_);
    const auto xt = xt_.index_select(0, torch::tensor(ti)).to(device_);
    Rng perm_rng = Rng(o_.seed ^ (static_cast<std::uint64_t>(epoch) << 32) ^ static_cast<std::uint64_t>(iter)).fork("mine");
    const auto perm_v = permutation(static_cast<int>(w_.uses_target ? 2 * bs : bs), perm_rng);
    const auto perm = torch::tensor(std::vector<int64_t>(perm_v.begin(), perm_v.end())).to(device_);

    const double grl = grl_lambda(progress, o_.grl_gamma);
    Rng aug_rng = Rng(o_.seed ^ (static_cast<std::uint64_t>(epoch) << 32) ^ static_cast<std::uint64_t>(iter)).fork("strong-view");
    if (o_.anneal_lr)
      for (auto& opt : opts_) set_lr(*opt, o_.lr * lr_factor(progress));

    LossValues v;
    finite = true;
    if (o_.optimisation == "joint") {
      auto terms = losses(xs, ys, xt, grl, perm, v, -1, epoch < o_.warmup_epochs, aug_rng);
      torch::Tensor total = terms[0];
      for (std::size_t k = 1; k < terms.size(); ++k) total = total + terms[k];
      v.total = total.item<double>();
      if (!std::isfinite(v.total)) return finite = false, v;
      opts_[0]->zero_grad();
      total.backward();
      opts_[0]->step();
    } else {
      // 1: everything; 2: I, S, C, D_spe, T; 3: I, S, R (the optimisers' parameter groups).
      for (std::size_t s = 0; s < 3; ++s) {
        LossValues sv;
        auto terms = losses(xs, ys, xt, grl, perm, sv, static_cast<int>(s), epoch < o_.warmup_epochs, aug_rng);
        torch::Tensor total = torch::zeros({}, xs.options());
        for (int k : kStageTerms[s]) total = total + terms[static_cast<std::size_t>(k)];
        if (!total.requires_grad()) continue;
        const double tv = total.item<double>();
        if (!std::isfinite(tv)) return finite = false, v;
        for (auto& opt : opts_) opt->zero_grad();
        total.backward();
        opts_[s]->step();
        if (s == 0) v = sv;  // task, adv, dom, cons, orth, bal
        if (s == 1) v.mi = sv.mi, v.rel = sv.rel;
        if (s == 2) v.rec = sv.rec, v.swap = sv.swap;
      }
      v.total = v.task + w_.adv * v.adv + w_.dom * v.dom + w_.mi * v.mi + w_.rec * v.rec + w_.rel * v.rel + w_.orth * v.orth +
                w_.cons * grl * v.cons + w_.swap * grl * v.swap + w_.bal * v.bal;
    }
    return v;
  }

  double eval_accuracy(const torch::Tensor& x, const torch::Tensor& y) { return accuracy(*net_, x, y, device_); }
  LabelFreeStats target_train_stats() { return label_free_stats(*net_, xt_, device_); }
  const torch::Tensor& x_val() const { return x_val_; }
  const torch::Tensor& y_val() const { return y_val_; }
  const torch::Tensor& x_test() const { return x_test_; }
  const torch::Tensor& y_test() const { return y_test_; }
  int64_t images_per_iter() const { return o_.batch_size * (w_.uses_target ? 2 : 1); }

 private:
  // Weighted loss terms, indexed by Term; `stage` < 0: joint.
  std::vector<torch::Tensor> losses(const torch::Tensor& xs, const torch::Tensor& ys, const torch::Tensor& xt, double grl,
                                    const torch::Tensor& perm, LossValues& v, int stage, bool warmup, Rng& aug_rng) {
    const auto zero = torch::zeros({}, xs.options());
    std::vector<torch::Tensor> t(kTerms, zero);
    const int64_t ns = xs.size(0);
    const auto x = w_.uses_target ? torch::cat({xs, xt}, 0) : xs;
    // "separate": each domain's batch is normalised by its own statistics (the target's features are
    // not shifted by the source's); "mixed": one pass over both.
    const Outputs out = w_.uses_target && o_.batch_norm == "separate" ? concat_outputs(net_->forward(xs), net_->forward(xt))
                                                                      : net_->forward(x);
    const auto task = task_loss(out.logits.slice(0, 0, ns), ys);
    t[kTask] = task;
    v.task = task.item<double>();
    if (!w_.uses_target) return t;
    const auto d = torch::cat({torch::zeros({ns}, torch::kLong), torch::ones({xt.size(0)}, torch::kLong)}).to(xs.device());
    auto want = [&](int k) {
      if (warmup && k != kRec) return false;  // warm-up: the task loss and L_rec only
      return stage < 0 || std::count(kStageTerms[static_cast<std::size_t>(stage)].begin(),
                                     kStageTerms[static_cast<std::size_t>(stage)].end(), k) > 0;
    };
    if (w_.adv > 0 && want(kAdv)) {
      auto adv = domain_loss(net_->head("dom_inv", grad_reverse(out.p_inv, grl)), d);
      if (out.z_inv1.defined()) adv = adv + domain_loss(net_->head("dom_inv1", grad_reverse(out.z_inv1, grl)), d);
      v.adv = adv.item<double>();
      t[kAdv] = w_.adv * adv;
    }
    if (w_.dom > 0 && want(kDom)) {
      auto dom = domain_loss(net_->head("dom_spe", out.p_spe), d);
      if (out.z_spe1.defined()) dom = dom + domain_loss(net_->head("dom_spe1", out.z_spe1), d);
      v.dom = dom.item<double>();
      t[kDom] = w_.dom * dom;
    }
    if (w_.mi > 0 && want(kMi)) {
      torch::Tensor bound;
      const auto mi = mine_minmax_loss(mine_, [this](const torch::Tensor& a, const torch::Tensor& b) { return net_->mine(a, b); }, out.p_inv, out.p_spe, perm, &bound);
      v.mi = bound.item<double>();
      t[kMi] = w_.mi * mi;
    }
    if (w_.rec > 0 && want(kRec)) {
      auto rec = feature_reconstruction_loss(net_->reconstruct_features(out.z_inv, out.z_spe), out.f);
      if (o_.pixel_rec_weight > 0) {
        const auto x_hat = net_->reconstruct_pixels(out.z_inv, out.z_spe);
        rec = rec + o_.pixel_rec_weight * (o_.pixel_loss == "mse" ? pixel_mse(x_hat, x) : scale_invariant_mse(x_hat, x));
      }
      v.rec = rec.item<double>();
      t[kRec] = w_.rec * rec;
    }
    if (w_.rel > 0 && want(kRel)) {
      const auto rel = 0.5 * (relation_loss(out.p_inv.slice(0, 0, ns), out.p_f.slice(0, 0, ns)) +
                              relation_loss(out.p_inv.slice(0, ns), out.p_f.slice(0, ns)));
      v.rel = rel.item<double>();
      t[kRel] = w_.rel * rel;
    }
    if (w_.cons > 0 && want(kCons)) {  // ramped like the GRL weight: pseudo-labels start once C is trained
      const auto strong = net_->forward(strong_view(xt, aug_rng)).logits;
      const auto cons = consistency_loss(out.logits.slice(0, ns), strong, o_.cons_threshold, &v.cons_kept);
      v.cons = cons.item<double>();
      t[kCons] = w_.cons * grl * cons;
    }
    if (w_.bal > 0 && want(kBal)) {
      const auto bal = balance_loss(out.logits.slice(0, ns));
      v.bal = bal.item<double>();
      t[kBal] = w_.bal * bal;
    }
    if (w_.swap > 0 && want(kSwap)) {
      // The first half of each domain's batch (half the cost), each image's content in the style of
      // its partner from the other domain, re-encoded: a source digit in target style keeps its
      // label, a target digit in source style its confident pseudo-label, and D_spe must see the
      // partner's domain. Ramped like the GRL weight: the decoder first learns to reconstruct.
      const int64_t k = std::max<int64_t>(1, ns / 2);
      const auto zi = torch::cat({out.z_inv.slice(0, 0, k), out.z_inv.slice(0, ns, ns + k)});
      const auto zs_other = torch::cat({out.z_spe.slice(0, ns, ns + k), out.z_spe.slice(0, 0, k)});
      const auto swapped = net_->reconstruct_pixels(zi, zs_other);
      const Outputs again = o_.batch_norm == "separate"
                                ? concat_outputs(net_->forward(swapped.slice(0, 0, k)), net_->forward(swapped.slice(0, k)))
                                : net_->forward(swapped);
      const auto d_other = torch::cat({torch::ones({k}, torch::kLong), torch::zeros({k}, torch::kLong)}).to(xs.device());
      const auto swap = task_loss(again.logits.slice(0, 0, k), ys.slice(0, 0, k)) +
                        consistency_loss(out.logits.slice(0, ns, ns + k), again.logits.slice(0, k), o_.cons_threshold) +
                        domain_loss(net_->head("dom_spe", again.p_spe), d_other);
      v.swap = swap.item<double>();
      t[kSwap] = w_.swap * grl * swap;
    }
    if (w_.orth > 0 && want(kOrth)) {
      const auto orth = orthogonality_loss(out.p_inv, out.p_spe);
      v.orth = orth.item<double>();
      t[kOrth] = w_.orth * orth;
    }
    return t;
  }

  TrainOptions o_;
  LossWeights w_;
  torch::Device device_;
  DidaNet net_{nullptr};
  std::vector<std::unique_ptr<torch::optim::Optimizer>> opts_;
  MineEstimator mine_;
  torch::Tensor xs_, ys_, xt_, x_val_, y_val_, x_test_, y_test_;
  std::vector<int> src_order_, tgt_order_;
  int order_epoch_ = -1;
};

// An exclusive lock on RUN/.lock for as long as a training runs: a second `dida train` or
// `dida bench` on the same folder would otherwise interleave its log and checkpoints with ours.
class RunLock {
 public:
  explicit RunLock(const std::string& run) {
    const std::string path = run + "/.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error(path + ": cannot create the run's lock file");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw std::runtime_error(run + ": another dida is training this run right now (" + path +
                               " is locked); wait for it to finish, or choose another --out");
    }
  }
  ~RunLock() { ::close(fd_); }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

void append_line(const std::string& path, const std::string& line) {
  std::ofstream out(path, std::ios::app);
  out << line << "\n";
}

void write_json(const std::string& path, const nlohmann::json& j) {
  const std::string text = j.dump(2) + "\n";
  write_file_atomic(path, text.data(), text.size());
}

}  // namespace

torch::Tensor images_to_tensor(const Domain& d) {
  auto t = torch::from_blob(const_cast<std::uint8_t*>(d.pixels.data()), {d.size(), d.height, d.width, d.channels},
                            torch::kUInt8);
  return t.permute({0, 3, 1, 2}).to(torch::kFloat32).div(127.5).sub(1.0).contiguous();
}

torch::Tensor labels_to_tensor(const Domain& d) {
  std::vector<int64_t> y(d.labels.begin(), d.labels.end());
  return torch::tensor(y, torch::kLong);
}

torch::Device pick_device(const std::string& device) {
  if (device == "cpu") return torch::kCPU;
  if (device == "cuda") {
    if (!torch::cuda::is_available()) throw std::runtime_error("--device cuda: CUDA is not available to this LibTorch");
    return torch::kCUDA;
  }
  if (device == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  throw std::invalid_argument("--device must be auto, cpu or cuda");
}

double accuracy(DidaNetImpl& net, const torch::Tensor& x, const torch::Tensor& y, const torch::Device& device) {
  torch::NoGradGuard guard;
  const bool was_training = net.is_training();
  net.eval();
  int64_t correct = 0;
  for (int64_t i = 0; i < x.size(0); i += 500) {
    const auto xb = x.slice(0, i, std::min(i + 500, x.size(0))).to(device);
    const auto pred = net.forward(xb).logits.argmax(1).cpu();
    correct += pred.eq(y.slice(0, i, i + xb.size(0))).sum().item<int64_t>();
  }
  net.train(was_training);
  return x.size(0) ? static_cast<double>(correct) / static_cast<double>(x.size(0)) : 0.0;
}

LabelFreeStats label_free_stats(DidaNetImpl& net, const torch::Tensor& x, const torch::Device& device) {
  torch::NoGradGuard guard;
  const bool was_training = net.is_training();
  net.eval();
  std::vector<torch::Tensor> probs;
  for (int64_t i = 0; i < x.size(0); i += 500)
    probs.push_back(torch::softmax(net.forward(x.slice(0, i, std::min(i + 500, x.size(0))).to(device)).logits, 1).cpu());
  net.train(was_training);
  LabelFreeStats s;
  if (probs.empty()) return s;
  const auto p = torch::cat(probs).to(torch::kFloat64);
  s.confidence = std::get<0>(p.max(1)).mean().item<double>();
  const auto hard = torch::one_hot(p.argmax(1), p.size(1)).to(torch::kFloat64).mean(0);
  s.balance = std::clamp(-(hard * (hard + 1e-12).log()).sum().item<double>() / std::log(static_cast<double>(p.size(1))), 0.0, 1.0);
  return s;
}

DomainPair pair_for(const TrainOptions& o) {
  PairOptions po;
  po.seed = o.data_seed;
  po.max_per_domain = o.max_per_domain;
  po.cache_dir = o.cache_dir.empty() ? default_cache_dir() : (o.cache_dir == "none" ? "" : o.cache_dir);
  return build_pair(o.source, o.target, DataSources::from_environment(DIDA_SOURCE_DIR), po);
}

LossWeights weights_for(const TrainOptions& o) {
  LossWeights w;
  if (o.method == "dida") {
    w.adv = o.lambda_adv, w.dom = o.lambda_dom, w.mi = o.lambda_mi, w.rec = o.lambda_rec, w.rel = o.lambda_rel;
    w.orth = o.lambda_orth, w.cons = o.lambda_cons, w.swap = o.lambda_swap, w.bal = o.lambda_bal;
    w.uses_target = true;
  } else if (o.method == "dann") {
    w.adv = o.lambda_adv;
    w.uses_target = true;
  } else if (o.method == "dsn") {  // shared/private encoders, difference loss, shared decoder, DANN loss
    // L_orth is a Frobenius sum over the (flattened) features' correlation matrix: about 10^3 at the
    // start. At 0.1 it drowned the task loss (source-val 12-65 %, docs/RESULTS.md); 1e-4 puts it
    // near the task loss.
    w.adv = o.lambda_adv, w.rec = o.lambda_rec, w.orth = o.lambda_orth > 0 ? o.lambda_orth : 1e-4;
    w.uses_target = true;
  } else if (o.method == "target-only") {
    w.train_on_target = true;
  }
  return w;
}

// A config.json that dida's trainer wrote: {"options": {...}, "data": {...}} (a bundle's has "format").
static bool is_run_record(const std::string& path) {
  try {
    const auto bytes = read_file_bytes(path);
    const auto j = nlohmann::json::parse(bytes.begin(), bytes.end());
    return j.is_object() && j.contains("options") && j.contains("data") && !j.contains("format");
  } catch (const std::exception&) {
    return false;
  }
}

int run_training(TrainOptions o, bool resume) {
  const std::string run = o.out;
  const std::string config_path = run + "/config.json", ckpt = run + "/checkpoint.pt", log_path = run + "/log.jsonl";
  if (resume) {
    if (!fs::exists(config_path)) throw std::runtime_error(run + ": not a run folder (no config.json)");
    const auto bytes = read_file_bytes(config_path);
    nlohmann::json recorded;
    try {
      recorded = nlohmann::json::parse(bytes.begin(), bytes.end());
    } catch (const nlohmann::json::exception&) {
      throw std::runtime_error(config_path + ": not valid JSON");
    }
    TrainOptions r = TrainOptions::from_json(recorded.value("options", nlohmann::json::object()));
    r.out = run, r.threads = o.threads, r.stop_after_iters = o.stop_after_iters, r.quiet = o.quiet, r.device = o.device;
    o = r;
  } else if (fs::exists(ckpt) || fs::exists(run + "/bundle") || fs::exists(log_path)) {
    throw std::runtime_error(run + ": already holds a run: resume it with --resume " + run +
                             ", or choose another --out");
  } else if (fs::exists(run)) {
    // Only an empty folder (or one left by a run stopped before its first log line) is written into:
    // --out pointed at a bundle or a folder of the user's own must not lose its config.json.
    if (!fs::is_directory(run)) throw std::runtime_error(run + ": exists and is not a folder; choose another --out");
    for (const auto& e : fs::directory_iterator(run)) {
      const std::string name = e.path().filename().string();
      if (name == ".lock") continue;
      if (name == "config.json" && is_run_record(config_path)) continue;
      throw std::runtime_error(run + ": is not empty (it holds " + name + "); dida writes a new run only into a new or empty folder: choose another --out");
    }
  }
  validate(o);
  if (o.threads > 0) torch::set_num_threads(o.threads);
  const torch::Device device = pick_device(o.device);
  fs::create_directories(run);
  const RunLock lock(run);
  // From here on a signal stops the run at its next iteration, with a checkpoint.
  g_interrupted = false;
  // SIGTERM (kill, a job scheduler, a container stop) is handled as Ctrl-C: a checkpoint, then exit.
  struct Restore {
    void (*int_h)(int);
    void (*term_h)(int);
    ~Restore() { std::signal(SIGINT, int_h), std::signal(SIGTERM, term_h); }
  } restore{std::signal(SIGINT, on_sigint), std::signal(SIGTERM, on_sigint)};

  const auto t_data = std::chrono::steady_clock::now();
  const DomainPair pair = pair_for(o);
  const double data_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_data).count();

  nlohmann::json record = {{"options", o.to_json()},
                           {"oracle", o.method == "target-only"},
                           {"data", {{"source", o.source}, {"target", o.target}, {"seed", o.data_seed},
                                     {"source_train", pair.source_train.size()}, {"source_val", pair.source_val.size()},
                                     {"target_train", pair.target_train.size()}, {"target_test", pair.target_test.size()},
                                     {"classes", pair.source_train.classes}}}};
  if (!resume) write_json(config_path, record);

  Trainer trainer(o, pair, device);
  int start_epoch = 0, start_iter = 0;
  if (resume && fs::exists(ckpt)) trainer.load_checkpoint(ckpt, start_epoch, start_iter);
  const bool bundle_done = fs::exists(run + "/bundle/config.json") && fs::exists(run + "/bundle/model.safetensors");
  if (start_epoch >= o.epochs && bundle_done)
    throw std::runtime_error(run + ": already finished all " + std::to_string(o.epochs) + " epochs");
  // A process killed between an epoch's log line and its checkpoint logged an epoch that is now
  // trained again: keep the log to the epochs the checkpoint holds.
  if (resume && fs::exists(log_path)) {
    std::ifstream in(log_path);
    std::string kept, line;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.value("epoch", 0) >= 1 && j.value("epoch", 0) <= start_epoch) kept += line + "\n";
    }
    write_file_atomic(log_path, kept.data(), kept.size());
  }

  const bool oracle = o.method == "target-only";
  const bool tty = isatty(2);
  if (!o.quiet)
    std::cerr << "train: " << o.method << (oracle ? " (ORACLE: trained on target labels, an upper bound, not a result)" : "")
              << " on " << o.source << " -> " << o.target << ", " << o.epochs << " epochs x " << trainer.iters_per_epoch()
              << " iterations, batch " << o.batch_size << ", " << o.optimisation << ", device " << device.str()
              << ", threads " << torch::get_num_threads() << " (data " << std::fixed << std::setprecision(1) << data_s
              << " s)" << (resume ? ", resuming at epoch " + std::to_string(start_epoch + 1) : std::string()) << "\n";


  const int n_iters = trainer.iters_per_epoch();
  const int64_t total_iters = static_cast<int64_t>(o.epochs) * n_iters;
  int iters_done_here = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto last_print = t0;
  int64_t images_here = 0;
  for (int epoch = start_epoch; epoch < o.epochs; ++epoch) {
    LossValues sum;
    int count = 0;
    const auto t_epoch = std::chrono::steady_clock::now();
    for (int it = (epoch == start_epoch ? start_iter : 0); it < n_iters; ++it) {
      const int64_t global = static_cast<int64_t>(epoch) * n_iters + it;
      const double progress = static_cast<double>(global) / static_cast<double>(total_iters);
      bool finite = true;
      const LossValues v = trainer.step(epoch, it, progress, finite);
      if (!finite) {
        std::cerr << "\ntrain: error: the loss became NaN or Inf at epoch " << epoch + 1 << ", iteration " << it + 1
                  << "; stopped. The last good checkpoint is kept in " << ckpt
                  << " (try a lower --lr or smaller loss weights).\n";
        return kTrainDiverged;
      }
      sum.add(v);
      ++count;
      ++iters_done_here;
      images_here += trainer.images_per_iter();
      const auto now = std::chrono::steady_clock::now();
      const double elapsed = std::chrono::duration<double>(now - t0).count();
      const double since = std::chrono::duration<double>(now - last_print).count();
      if (!o.quiet && (since > (tty ? 0.5 : 15.0) || it + 1 == n_iters)) {
        last_print = now;
        const double rate = images_here / std::max(elapsed, 1e-9);
        const double left = (total_iters - global - 1) * elapsed / iters_done_here;
        std::ostringstream line;
        line << "epoch " << epoch + 1 << "/" << o.epochs << " [" << std::setw(3) << 100 * (it + 1) / n_iters << "%] "
             << std::fixed << std::setprecision(0) << rate << " img/s | task " << std::setprecision(3) << v.task;
        if (o.method != "source-only" && o.method != "target-only") line << " adv " << v.adv;
        if (o.method == "dida") line << " dom " << v.dom << " mi " << v.mi << " rec " << v.rec;
        if (o.method == "dida" && o.lambda_cons > 0) line << " cons " << v.cons;
        if (o.method == "dida" && o.lambda_swap > 0) line << " swap " << v.swap;
        if (o.method == "dida" && o.lambda_bal > 0) line << " bal " << v.bal;
        line << " | left " << fmt_duration(left);
        std::cerr << (tty ? "\r" : "") << line.str() << (tty ? "\033[K" : "\n") << std::flush;
      }
      const bool stop_now = g_interrupted || (o.stop_after_iters > 0 && iters_done_here >= o.stop_after_iters);
      if (stop_now) {
        trainer.save_checkpoint(ckpt, it + 1 == n_iters ? epoch + 1 : epoch, it + 1 == n_iters ? 0 : it + 1);
        if (!o.quiet)
          std::cerr << (tty ? "\n" : "") << "train: interrupted; checkpoint saved. Continue with: dida train --resume "
                    << run << "\n";
        return kTrainInterrupted;
      }
    }
    const double val = trainer.eval_accuracy(trainer.x_val(), trainer.y_val());
    const double test = trainer.eval_accuracy(trainer.x_test(), trainer.y_test());
    const LabelFreeStats lf = trainer.target_train_stats();
    const double epoch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
    const double p_end = static_cast<double>((epoch + 1) * static_cast<int64_t>(n_iters)) / total_iters;
    nlohmann::json line = {{"epoch", epoch + 1},
                           {"iterations", count},
                           {"seconds", epoch_s},
                           {"images_per_s", count * trainer.images_per_iter() / std::max(epoch_s, 1e-9)},
                           {"lr", o.anneal_lr ? o.lr * lr_factor(p_end) : o.lr},
                           {"grl_lambda", grl_lambda(p_end, o.grl_gamma)},
                           {"losses", sum.to_json(count ? 1.0 / count : 0.0)},
                           {"source_val_accuracy", val},
                           {"target_train_confidence", lf.confidence},
                           {"target_train_balance", lf.balance},
                           {"target_test_accuracy", test},
                           {"note", "target_test_accuracy is logged for reporting only; nothing is selected by it"}};
    if (oracle) line["oracle"] = true;
    append_line(log_path, line.dump());
    trainer.save_checkpoint(ckpt, epoch + 1, 0);
    if (!o.quiet)
      std::cerr << (tty ? "\n" : "") << "epoch " << epoch + 1 << ": source-val " << std::fixed << std::setprecision(4)
                << val << ", target-test " << test << " (reporting only)\n";
  }

  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double val = trainer.eval_accuracy(trainer.x_val(), trainer.y_val());
  const double test = trainer.eval_accuracy(trainer.x_test(), trainer.y_test());
  nlohmann::json card = record;
  card["method"] = o.method;
  card["class_names"] = pair.source_train.classes;
  card["preprocessing"] = {{"layout", "NCHW"}, {"input", "x = pixel / 127.5 - 1 (pixels 0..255, RGB)"}};
  card["training"] = {{"options", o.to_json()},
                      {"seconds_this_session", train_s},
                      {"images_per_s", images_here / std::max(train_s, 1e-9)},
                      {"device", device.str()},
                      {"threads", torch::get_num_threads()},
                      {"libtorch", TORCH_VERSION}};
  card["metrics"] = {{"source_val_accuracy", val}, {"target_test_accuracy", test},
                     {"checkpoint", "last (no selection)"}};
  card.erase("options");
  save_bundle(trainer.net(), run + "/bundle", card);
  if (!o.quiet)
    std::cerr << "train: done in " << fmt_duration(train_s) << ": source-val " << std::fixed << std::setprecision(4) << val
              << ", target-test " << test << (oracle ? " (ORACLE)" : "") << "; bundle in " << run << "/bundle\n";
  return kTrainDone;
}

}  // namespace dida
