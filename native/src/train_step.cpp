#include "train_step.hpp"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <functional>
#include <sstream>

#include "augment.hpp"
#include "dida/safetensors.hpp"
#include "dida/schedule.hpp"

namespace dida {

namespace {
// LibTorch's autocast for the forward pass and the losses (--precision bf16): matrix products and
// convolutions run in bfloat16 on the training device, the rest as autocast's lists say; the
// backward pass follows the types recorded. Off again (and its cast cache cleared) at scope end.
class AutocastScope {
 public:
  AutocastScope(bool on, const torch::Device& device) : on_(on), cuda_(device.is_cuda()) {
    if (!on_) return;
    if (cuda_) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
  }
  ~AutocastScope() {
    if (!on_) return;
    if (cuda_) at::autocast::set_enabled(false);
    else at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool on_, cuda_;
};
}  // namespace

namespace {

// The parameters a step of the staged optimisation trains (METHOD.md), by the modules' groups.
std::vector<torch::Tensor> params_of_step(DidaNetImpl& net, int step) {
  std::vector<torch::Tensor> out;
  for (const auto& p : net.named_parameters())
    if (staged_step_trains(net.network.module_of_tensor(p.key()).group, step)) out.push_back(p.value());
  return out;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& o, std::vector<torch::Tensor> params) {
  if (o.optimizer == Optimizer::Sgd)
    return std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
  return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}

// Copies into `to` the weights of the same names in `from` (a training-only copy of some modules).
void copy_weights(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  const auto source = from.named_parameters();
  for (auto& p : to.named_parameters()) p.value().copy_(source[p.key()]);
}

bool has(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// The seed of one step's random choices (its strong views, MINE's pairing).
std::uint64_t step_seed(std::uint64_t seed, int epoch, int iter) {
  return seed ^ (static_cast<std::uint64_t>(epoch) << 32) ^ static_cast<std::uint64_t>(iter);
}

}  // namespace

ModelConfig model_config_for(const TrainOptions& o, const DomainPair& p) {
  ModelConfig c = o.model;
  c.image_size = p.source_train.height;
  c.in_channels = p.source_train.channels;
  c.num_classes = static_cast<int>(p.source_train.classes.size());
  c.pixel_decoder = true;
  c.validate();
  return c;
}

std::vector<TrainStep::Extra> TrainStep::extras() const {
  std::vector<Extra> e;
  if (modules_.critic) e.push_back({"critic", modules_.critic.ptr(), critic_opt_.get()});
  if (modules_.dom_spe_train) e.push_back({"dom_spe_train", modules_.dom_spe_train.ptr(), nullptr});
  if (modules_.pix_dec_train) e.push_back({"pix_dec_train", modules_.pix_dec_train.ptr(), nullptr});
  for (const auto& [name, module] : modules_.of_term) e.push_back({name, module.ptr(), nullptr});
  return e;
}

std::vector<torch::Tensor> TrainStep::all_parameters() const {
  std::vector<torch::Tensor> all = net_->parameters();
  for (const auto& e : extras())
    for (const auto& p : e.module->parameters()) all.push_back(p);
  return all;
}

std::vector<torch::Tensor> TrainStep::all_buffers() const {
  std::vector<torch::Tensor> all = net_->buffers();
  for (const auto& e : extras())
    for (const auto& b : e.module->buffers()) all.push_back(b);
  std::vector<torch::Tensor> floats;  // batch norm's statistics; its step counter stays each rank's
  for (const auto& b : all)
    if (b.is_floating_point()) floats.push_back(b);
  return floats;
}

std::vector<torch::Tensor> TrainStep::params_of(const torch::optim::Optimizer& opt) {
  std::vector<torch::Tensor> params;
  for (const auto& group : opt.param_groups())
    for (const auto& p : group.params()) params.push_back(p);
  return params;
}

TrainStep::TrainStep(const TrainOptions& o, const DomainPair& pair, const torch::Device& device, Ranks ranks)
    : o_(o), device_(device), ranks_(std::move(ranks)), mine_(o.mine_ma_rate) {
  if (!ranks_.alone() && device_.is_cuda() && ranks_.backend().rfind("nccl", 0) != 0)
    throw std::runtime_error("data-parallel training on CUDA needs the ranks' NCCL group (Ranks::use_cuda)");
  for (const auto& term : loss_terms()) {
    const double w = term_weight(term, o);
    if (w > 0) active_.emplace_back(&term, w);
  }
  const auto on = [this](const std::string& name) {
    return std::any_of(active_.begin(), active_.end(), [&](const auto& a) { return a.first->name == name; });
  };
  const Domain& labelled = o.method == Method::TargetOnly ? pair.target_train : pair.source_train;
  // The training images live on the training device (on a GPU: no host-to-device copy of the
  // batches); batches are gathered there by index.
  xs_ = images_to_tensor(labelled).to(device_);
  ys_ = labels_to_tensor(labelled).to(device_);
  xt_ = images_to_tensor(pair.target_train).to(device_);
  x_val_ = images_to_tensor(pair.source_val);
  y_val_ = labels_to_tensor(pair.source_val);
  x_test_ = images_to_tensor(pair.target_test);
  y_test_ = labels_to_tensor(pair.target_test);
  torch::manual_seed(o.seed);
  net_ = DidaNet(model_config_for(o, pair));
  net_->to(device_);
  if (on("critic")) {  // made after the network: its initialisation is unchanged
    modules_.critic = LayerNet(describe_critic(net_->config));
    modules_.critic->to(device_);
    critic_opt_ =
        std::make_unique<torch::optim::Adam>(modules_.critic->parameters(), torch::optim::AdamOptions(o.lr).betas({0.5, 0.999}));
  }
  if (o.readouts && on("dom")) {
    // The recipe's D_spe, a training-only copy that starts from the same weights: the training-mode
    // L_dom trains it, S and E exactly as the recipe's head does, while the bundle's D_spe learns
    // only from the inference-mode features, as inference will read it.
    modules_.dom_spe_train = LayerNet(net_->network.part("dom_spe"));
    copy_weights(*net_, *modules_.dom_spe_train);
    modules_.dom_spe_train->to(device_);
  }
  if (o.readouts && on("rec") && o.pixel_rec_weight > 0) {
    // The recipe's R_pix (small, reading z_inv as it is), a training-only copy with the weights the
    // recipe's network would have been given: the training-mode pixel term shapes the encoder
    // through it exactly as in the recipe, and the bundle's R_pix is a read-out.
    ModelConfig recipe = net_->config;
    recipe.decoder = "small", recipe.decoder_norm = "none", recipe.decoder_style = "none";
    torch::manual_seed(o.seed);
    DidaNet initial(recipe);
    modules_.pix_dec_train = LayerNet(initial->network.part("pix_dec"));
    copy_weights(*initial, *modules_.pix_dec_train);
    modules_.pix_dec_train->to(device_);
  }
  for (const auto& [term, weight] : active_)
    if (term->make_module) {
      LayerNet m = term->make_module(*net_);
      m->to(device_);
      modules_.of_term.emplace(term->name, m);
    }
  // A training copy is optimised wherever the module it copies is.
  const auto with = [](std::vector<torch::Tensor> params, const LayerNet& copy) {
    if (copy)
      for (const auto& p : copy->parameters()) params.push_back(p);
    return params;
  };
  auto all = with(with(net_->parameters(), modules_.dom_spe_train), modules_.pix_dec_train);
  for (const auto& [name, module] : modules_.of_term) all = with(all, module);
  opts_.push_back(make_optimizer(o, all));
  if (o.optimisation == Optimisation::Staged) {
    opts_.push_back(make_optimizer(o, with(params_of_step(*net_, 1), modules_.dom_spe_train)));
    opts_.push_back(make_optimizer(o, with(params_of_step(*net_, 2), modules_.pix_dec_train)));
  }
  ranks_.broadcast(all_parameters());  // every rank starts from rank 0's weights
  // Convolutions in the channels-last layout, which oneDNN runs without reordering to and from its
  // own at every call: 1.3x the images/s of the same step in NCHW (docs/BENCHMARKS.md). Weights
  // and the training images are kept so; bundles and checkpoints are written as ever.
  for (auto& p : all_parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  xs_ = xs_.contiguous(torch::MemoryFormat::ChannelsLast), xt_ = xt_.contiguous(torch::MemoryFormat::ChannelsLast);
}

int TrainStep::iters_per_epoch() const {
  const int64_t global = o_.batch_size * ranks_.world();
  return o_.iters_per_epoch > 0 ? o_.iters_per_epoch : static_cast<int>((xs_.size(0) + global - 1) / global);
}

void TrainStep::save_checkpoint(const std::string& path, int epoch, int iter) {
  torch::serialize::OutputArchive archive;
  net_->save(archive);
  for (std::size_t i = 0; i < opts_.size(); ++i) {
    torch::serialize::OutputArchive a;
    opts_[i]->save(a);
    archive.write("optimizer" + std::to_string(i), a);
  }
  for (const auto& e : extras()) {
    torch::serialize::OutputArchive m;
    e.module->save(m);
    archive.write(e.name, m);
    if (e.optimizer) {
      torch::serialize::OutputArchive a;
      e.optimizer->save(a);
      archive.write(e.name + "_optimizer", a);
    }
  }
  for (std::size_t i = 0; i < average_.size(); ++i) archive.write("weight_average" + std::to_string(i), average_[i]);
  if (!average_.empty()) archive.write("weight_average_steps", torch::tensor({static_cast<double>(averaged_steps_)}, torch::kFloat64));
  archive.write("state", torch::tensor({static_cast<double>(epoch), static_cast<double>(iter), mine_.moving_average(),
                                        static_cast<double>(ranks_.world())},
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

void TrainStep::load_checkpoint(const std::string& path, int& epoch, int& iter) {
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
    for (const auto& e : extras()) {
      torch::serialize::InputArchive m;
      archive.read(e.name, m);
      e.module->load(m);
      if (e.optimizer) {
        torch::serialize::InputArchive a;
        archive.read(e.name + "_optimizer", a);
        e.optimizer->load(a);
      }
    }
    if (o_.weight_average > 0) {  // a checkpoint from before any step has none
      torch::Tensor steps;
      if (archive.try_read("weight_average_steps", steps)) {
        averaged_steps_ = static_cast<int64_t>(steps[0].item<double>());
        average_.clear();
        for (const auto& [name, t] : named_state(*net_)) {
          torch::Tensor a;
          archive.read("weight_average" + std::to_string(average_.size()), a);
          average_.push_back(a.to(t.device(), t.scalar_type()));
        }
      }
    }
    torch::Tensor state;
    archive.read("state", state);
    epoch = static_cast<int>(state[0].item<double>());
    iter = static_cast<int>(state[1].item<double>());
    mine_.set_moving_average(state[2].item<double>());
    // A position inside an epoch counts global batches of the ranks that saved it: with another
    // number of ranks the epoch starts over.
    const int world = state.numel() > 3 ? static_cast<int>(state[3].item<double>()) : 1;
    if (iter > 0 && world != ranks_.world()) iter = 0, epoch_started_over_ = true;
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": corrupt or incompatible checkpoint (" + first_line(e.what()) + ")");
  }
  const auto have = named_state(*net_);
  for (std::size_t k = 0; k < want.size() && k < have.size(); ++k)
    if (have[k].second.sizes().vec() != want[k].second)
      throw std::runtime_error(path + ": tensor \"" + want[k].first + "\" has another shape than the run's config.json describes " +
                               "(was config.json edited? the checkpoint's network is not the configured one)");
}

namespace {
// The values of loss_value_names() (0 where a value is absent) as one float64 tensor on `device`.
torch::Tensor stack_values(const LossTerms& values, const torch::Device& device) {
  const auto zero = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  std::vector<torch::Tensor> row;
  for (const auto& name : loss_value_names())
    row.push_back(values.count(name) ? values.at(name).to(device, torch::kFloat64).reshape({}) : zero);
  return torch::stack(row);
}
LossValues to_host(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU, torch::kFloat64).contiguous();
  LossValues v;
  v.x.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  return v;
}
}  // namespace

void TrainStep::step(int epoch, int iter, double progress) {
  const int64_t bs = o_.batch_size;
  const int64_t ns = xs_.size(0), nt = xt_.size(0);
  // Batches follow a per-epoch permutation drawn from the seed: resuming mid-epoch replays it.
  if (epoch != order_epoch_) {
    Rng r = Rng(o_.seed * 1000003ull + static_cast<std::uint64_t>(epoch)).fork("batches");
    src_order_ = permutation(static_cast<int>(ns), r);
    tgt_order_ = permutation(static_cast<int>(nt), r);
    order_epoch_ = epoch;
  }
  // This rank's part of the global batch (ranks x bs images of each domain, in the permutation's order).
  const int64_t first = (static_cast<int64_t>(iter) * ranks_.world() + ranks_.rank()) * bs;
  std::vector<int64_t> si(static_cast<std::size_t>(bs)), ti(static_cast<std::size_t>(bs));
  for (int64_t k = 0; k < bs; ++k) {
    si[static_cast<std::size_t>(k)] = src_order_[static_cast<std::size_t>((first + k) % ns)];
    ti[static_cast<std::size_t>(k)] = tgt_order_[static_cast<std::size_t>((first + k) % nt)];
  }
  const auto s_index = torch::tensor(si).to(device_), t_index = torch::tensor(ti).to(device_);
  // Each rank draws its own augmentations and MINE pairings (one rank: the seed's own stream).
  const std::uint64_t seed = step_seed(o_.seed, epoch, iter) ^ (0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(ranks_.rank()));
  if (!ranks_.alone()) ranks_.broadcast(all_buffers());
  auto xs = xs_.index_select(0, s_index);
  xs_clean_ = xs;  // the critic's real source images: the domain's own look, not the strong view
  if (o_.augment_source) {  // the labelled images in the strong view too: C learns its invariances from labels
    Rng r = Rng(seed).fork("source-view");
    xs = strong_view(xs, r);
  }
  const auto ys = ys_.index_select(0, s_index);
  const auto xt = xt_.index_select(0, t_index);
  Rng perm_rng = Rng(seed).fork("mine");
  const auto perm_v = permutation(static_cast<int>(uses_target_images(o_.method) ? 2 * bs : bs), perm_rng);
  const auto perm = torch::tensor(std::vector<int64_t>(perm_v.begin(), perm_v.end())).to(device_);

  const double grl = grl_lambda(progress, o_.grl_gamma);
  Rng aug_rng = Rng(seed).fork("strong-view");
  if (o_.anneal_lr)
    for (auto& opt : opts_) set_lr(*opt, o_.lr * lr_factor(progress));
  const bool warmup = epoch < o_.warmup_epochs;
  const bool bf16 = o_.precision == Precision::Bf16;

  LossTerms values;  // detached, by loss_value_names()
  if (o_.optimisation == Optimisation::Joint) {
    LossTerms terms;
    {
      const AutocastScope autocast(bf16, device_);
      terms = losses(xs, ys, xt, grl, perm, values, -1, warmup, aug_rng);
    }
    torch::Tensor total;
    for (const auto& [term, weight] : active_)  // the registry's order: the same sums, and runs, every time
      if (terms.count(term->name)) total = total.defined() ? total + terms.at(term->name) : terms.at(term->name);
    values["total"] = total.detach();
    opts_[0]->zero_grad();
    total.backward();
    ranks_.average_gradients(params_of(*opts_[0]));
    opts_[0]->step();
  } else {
    // 1: everything; 2: I, S, C, D_spe, T; 3: I, S, R (the optimisers' parameter groups). This mode
    // reads each stage's total on the host (a NaN must not reach the next stage's step). A term's
    // logged value is the one of the first stage that computes it.
    LossTerms logged;
    for (int s = 0; s < 3; ++s) {
      LossTerms st, terms;
      {
        const AutocastScope autocast(bf16, device_);
        terms = losses(xs, ys, xt, grl, perm, st, s, warmup, aug_rng);
      }
      torch::Tensor total = torch::zeros({}, xs.options());
      for (const auto& [term, weight] : active_)
        if (terms.count(term->name)) total = total + terms.at(term->name);
      if (!total.requires_grad()) continue;
      if (ranks_.any(!std::isfinite(total.item<double>()))) {  // every rank stops at the same stage
        values["total"] = total.detach();
        break;
      }
      for (auto& opt : opts_) opt->zero_grad();
      total.backward();
      ranks_.average_gradients(params_of(*opts_[static_cast<std::size_t>(s)]));
      opts_[static_cast<std::size_t>(s)]->step();
      for (const auto& [name, value] : st)
        if (!logged.count(name)) logged[name] = value;
    }
    if (!values.count("total")) {
      double total = 0;
      for (const auto& [term, weight] : active_)
        if (logged.count(term->name)) total += weight * (term->ramped ? grl : 1.0) * logged.at(term->name).item<double>();
      values = logged;
      values["total"] = torch::tensor(total, torch::kFloat64);
    }
  }
  if (critic_batch_.fake.defined()) critic_step();
  // This step's values as one tensor on the training device, summed there; the host reads them only
  // when it prints or ends an epoch (last_values, take_sum, finite): no synchronisation per step.
  last_ = stack_values(values, device_);
  sum_ = sum_.defined() ? sum_ + last_ : last_.clone();
  const auto ok = torch::isfinite(last_[static_cast<int64_t>(loss_value_names().size() - 1)]);
  finite_ = finite_.defined() ? finite_.logical_and(ok) : ok;
  update_weight_average();
}

void TrainStep::update_weight_average() {
  if (o_.weight_average <= 0) return;
  torch::NoGradGuard no_grad;
  const auto state = named_state(*net_);
  if (average_.empty())
    for (const auto& [name, t] : state) average_.push_back(t.detach().clone());
  // The decay grows with the steps averaged (1 + n) / (10 + n), up to the option's: the first
  // steps' weights, far from the trained ones, do not linger in the average.
  const double n = static_cast<double>(averaged_steps_++);
  const double d = std::min(o_.weight_average, (1 + n) / (10 + n));
  for (std::size_t i = 0; i < state.size(); ++i) {
    const auto& t = state[i].second;
    if (t.is_floating_point())
      average_[i].mul_(d).add_(t.detach(), 1 - d);
    else
      average_[i].copy_(t);  // counters (batch norm's batches seen)
  }
}

void TrainStep::use_weight_average() {
  if (average_.empty()) return;
  torch::NoGradGuard no_grad;
  const auto state = named_state(*net_);
  for (std::size_t i = 0; i < state.size(); ++i) state[i].second.copy_(average_[i]);
}

void TrainStep::critic_step() {
  // Real images of each domain against the swaps in its style; outside the step's autocast (swaps
  // decoded in bf16 come back to fp32 first).
  auto& critic = modules_.critic;
  auto ls = [&](const torch::Tensor& x, const torch::Tensor& domain, double want) {
    return (critic->apply("critic", {x}).gather(1, domain.unsqueeze(1)) - want).pow(2).mean();
  };
  const auto& b = critic_batch_;
  const auto loss = 0.5 * (ls(b.real, b.real_domain, 1.0) + ls(b.fake.detach().to(torch::kFloat), b.fake_domain, 0.0));
  critic_opt_->zero_grad();
  loss.backward();
  ranks_.average_gradients(params_of(*critic_opt_));
  critic_opt_->step();
  critic_batch_ = CriticBatch{};
}

void TrainStep::set_erasure() {
  if (!net_->config.erase_domain_mean || !uses_target_images(o_.method)) return;
  const auto first = [](const torch::Tensor& x) { return x.slice(0, 0, std::min<int64_t>(x.size(0), kErasureImages)); };
  if (o_.erasure_retrain_iters > 0) {  // what C said on the target images before: retrain_readers keeps it
    torch::NoGradGuard no_grad;
    const bool training = net_->is_training();
    net_->eval();
    std::vector<torch::Tensor> probs;
    for (int64_t i = 0; i < xt_.size(0); i += 500)
      probs.push_back(torch::softmax(net_->forward(xt_.slice(0, i, std::min(i + 500, xt_.size(0))))["logits"], 1));
    before_erasure_ = torch::cat(probs);
    net_->train(training);
  }
  const int parts = net_->config.erase_directions;
  if (std::min(xs_.size(0), xt_.size(0)) < parts)
    throw std::runtime_error("the erasure: " + std::to_string(parts) + " directions need at least as many training images of each domain");
  net_->set_erasure_basis(DidaNetImpl::basis_of(net_->measure_domain_gaps(first(xs_), first(xt_), parts)));
}

void TrainStep::retrain_readers() {
  if (!net_->config.erase_domain_mean || !uses_target_images(o_.method) || o_.erasure_retrain_iters <= 0) return;
  const bool pixels = net_->config.pixel_decoder;
  std::vector<torch::Tensor> params;
  auto named = net_->named_parameters();
  for (const auto& m : net_->network.modules)
    if (m.group == ModuleGroup::Classifier || (pixels && m.group == ModuleGroup::PixelDecoder))
      for (const char* t : {".weight", ".bias"}) params.push_back(named[m.name + t]);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(o_.lr));
  // The rest computes no gradient of its own (the swaps' gradient passes through the encoder).
  std::vector<torch::Tensor> frozen;
  for (auto& p : net_->parameters())
    if (p.requires_grad() && std::none_of(params.begin(), params.end(), [&](const torch::Tensor& q) { return q.is_same(p); }))
      p.requires_grad_(false), frozen.push_back(p);
  net_->eval();  // batch norm at its running statistics, as inference reads z_inv
  Rng rng = Rng(o_.seed).fork("readers-after-erasure");
  const auto batch = [&](const torch::Tensor& x) {
    const int64_t n = x.size(0);
    std::vector<int64_t> pick(static_cast<std::size_t>(std::min<int64_t>(o_.batch_size, n)));
    for (auto& i : pick) i = static_cast<int64_t>(rng.below(static_cast<std::uint64_t>(n)));
    return torch::tensor(pick, torch::kLong).to(device_);
  };
  for (int it = 0; it < o_.erasure_retrain_iters; ++it) {
    const auto is = batch(xs_), jt = batch(xt_);
    const auto x = torch::cat({xs_.index_select(0, is), xt_.index_select(0, jt)});
    Outputs out;
    {
      torch::NoGradGuard no_grad;
      out = net_->forward(x);
    }
    const int64_t ns = is.size(0);
    const auto ys = ys_.index_select(0, is);
    auto loss = task_loss(net_->apply("classifier", {out["p_inv"].slice(0, 0, ns)}), ys);
    // The target batch: C's own answers before the erasure (soft cross-entropy; no target label).
    if (before_erasure_.defined()) {
      const auto logits_t = net_->apply("classifier", {out["p_inv"].slice(0, ns)});
      loss = loss - (before_erasure_.index_select(0, jt) * torch::log_softmax(logits_t, 1)).sum(1).mean();
    }
    if (pixels) {
      loss = loss + pixel_mse(net_->reconstruct_pixels(out["z_inv"], out["z_spe"]), x);
      // A source content in a target style keeps its class: the swap, encoded again (through the
      // frozen encoder), is read by C as its content's label.
      const int64_t k = std::min(ns, x.size(0) - ns);
      const auto swap = net_->reconstruct_pixels(out["z_inv"].slice(0, 0, k), out["z_spe"].slice(0, ns, ns + k));
      loss = loss + task_loss(net_->forward(swap)["logits"], ys.slice(0, 0, k));
    }
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  for (auto& p : frozen) p.requires_grad_(true);
  net_->train();
}

bool TrainStep::finite() const { return !finite_.defined() || finite_.item<bool>(); }
LossValues TrainStep::last_values() const { return last_.defined() ? to_host(last_) : LossValues{}; }
LossValues TrainStep::take_sum() {
  const LossValues v = sum_.defined() ? to_host(sum_) : LossValues{};
  sum_ = torch::Tensor();
  return v;
}

LossTerms TrainStep::losses(const torch::Tensor& xs, const torch::Tensor& ys, const torch::Tensor& xt, double grl,
                            const torch::Tensor& perm, LossTerms& values, int stage, bool warmup, Rng& aug_rng) {
  TermContext c(o_, *net_, modules_, mine_, aug_rng);
  const bool both = uses_target_images(o_.method);
  c.xs = xs, c.ys = ys, c.xt = xt, c.xs_clean = xs_clean_, c.perm = perm, c.grl = grl, c.ns = xs.size(0);
  c.x = both ? torch::cat({xs, xt}, 0) : xs;
  c.d = torch::cat({torch::zeros({c.ns}, torch::kLong), torch::ones({xt.size(0)}, torch::kLong)}).to(xs.device());
  c.critic_batch = &critic_batch_;
  // "separate": each domain's batch is normalised by its own statistics (the target's features are
  // not shifted by the source's); "mixed": one pass over both.
  c.out = both && o_.batch_norm == BatchNormMode::Separate ? concat_outputs(net_->forward(xs), net_->forward(xt))
                                                           : net_->forward(c.x);
  LossTerms weighted;
  for (const auto& [term, weight] : active_) {
    if (warmup && !term->in_warmup) continue;  // warm-up: the task loss and L_rec only
    if (stage >= 0 && !has(term->stages, stage)) continue;
    const auto loss = term->compute(c);
    if (!c.reported.count(term->name)) c.reported[term->name] = loss.detach();
    // The task term is the total's unit: it enters unscaled.
    weighted[term->name] = term->weight_option.empty() ? loss : weight * (term->ramped ? grl : 1.0) * loss;
  }
  for (auto& [name, value] : c.reported) values[name] = value;
  return weighted;
}

}  // namespace dida
