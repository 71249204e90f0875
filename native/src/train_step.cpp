#include "train_step.hpp"

#include <optional>

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

// The parameters `pick` selects (by name) stop collecting gradients until thaw(): a term computed
// in between trains only the others.
std::vector<torch::Tensor> freeze(torch::nn::Module& net, const std::function<bool(const std::string&)>& pick) {
  std::vector<torch::Tensor> frozen;
  for (auto& p : net.named_parameters())
    if (pick(p.key()) && p.value().requires_grad()) frozen.push_back(p.value()), p.value().requires_grad_(false);
  return frozen;
}
void thaw(const std::vector<torch::Tensor>& frozen) {
  for (auto p : frozen) p.requires_grad_(true);
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}


// Loss terms by name, and which of them each staged step optimises (METHOD.md): 1: L_task + L_adv
// + L_dom; 2: L_task + L_dom + L_mi + L_rel; 3: L_rec. The extensions L_orth, L_cons and L_bal join
// step 1, L_swap joins step 3 (with the decoder).
const std::vector<std::string> kTermOrder = {"task", "adv", "dom", "mi", "rec", "rel", "orth", "cons", "swap", "bal", "critic"};
const std::vector<std::vector<std::string>> kStageTerms = {
    {"task", "adv", "dom", "orth", "cons", "bal"}, {"task", "dom", "mi", "rel"}, {"rec", "swap", "critic"}};

// Copies into `to` the weights of the same names in `from` (a training-only copy of some modules).
void copy_weights(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  const auto source = from.named_parameters();
  for (auto& p : to.named_parameters()) p.value().copy_(source[p.key()]);
}

}  // namespace

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

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
  c.decoder_norm = o.decoder_norm;
  c.validate();
  return c;
}

std::vector<std::pair<std::string, LayerNet>> TrainStep::training_copies() const {
  std::vector<std::pair<std::string, LayerNet>> c;
  if (dom_spe_train_) c.emplace_back("dom_spe_train", dom_spe_train_);
  if (pix_dec_train_) c.emplace_back("pix_dec_train", pix_dec_train_);
  return c;
}

TrainStep::TrainStep(const TrainOptions& o, const DomainPair& pair, const torch::Device& device)
    : o_(o), w_(weights_for(o)), device_(device), mine_(o.mine_ma_rate) {
  const Domain& labelled = w_.train_on_target ? pair.target_train : pair.source_train;
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
  if (o.method == "dida" && o.lambda_critic > 0) {  // made after the network: its initialisation is unchanged
    namespace nn = torch::nn;
    const auto& c = net_->config;
    const int64_t s = c.image_size / 8;
    // Three 3x3 convolutions of stride 2 (a DCGAN-style critic: a quarter of the work of convolving
    // at full size and pooling), leaky ReLU, a linear layer to one output per domain.
    const auto lrelu = [] { return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)); };
    const auto down = [](int64_t in, int64_t out) { return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(2).padding(1)); };
    critic_ = nn::Sequential(down(c.in_channels, 16), lrelu(), down(16, 32), lrelu(), down(32, 64), lrelu(), nn::Flatten(),
                             nn::Linear(64 * s * s, 2));
    critic_->to(device_);
    critic_opt_ = std::make_unique<torch::optim::Adam>(critic_->parameters(), torch::optim::AdamOptions(o.lr).betas({0.5, 0.999}));
  }
  if (w_.dom > 0 && o.dom_inference_bn && o.dom_inference_bn_trains == "readout") {
    // The recipe's D_spe, a training-only copy that starts from the same weights: the training-mode
    // L_dom trains it, S and E exactly as the recipe's head does, while the bundle's D_spe learns
    // only from the inference-mode features, as inference will read it.
    dom_spe_train_ = LayerNet(net_->network.part("dom_spe"));
    copy_weights(*net_, *dom_spe_train_);
    dom_spe_train_->to(device_);
  }
  if (w_.rec > 0 && o.pixel_rec_weight > 0 && o.pixel_decoder_features == "readout") {
    // The recipe's R_pix (small, reading z_inv as it is), a training-only copy with the weights the
    // recipe's network would have been given: the training-mode pixel term shapes the encoder
    // through it exactly as in the recipe, and the bundle's R_pix is a read-out.
    ModelConfig recipe = net_->config;
    recipe.decoder = "small", recipe.decoder_norm = "none";
    torch::manual_seed(o.seed);
    DidaNet initial(recipe);
    pix_dec_train_ = LayerNet(initial->network.part("pix_dec"));
    copy_weights(*initial, *pix_dec_train_);
    pix_dec_train_->to(device_);
  }
  // A training copy is optimised wherever the module it copies is.
  const auto with = [](std::vector<torch::Tensor> params, const LayerNet& copy) {
    if (copy)
      for (const auto& p : copy->parameters()) params.push_back(p);
    return params;
  };
  opts_.push_back(make_optimizer(o, with(with(net_->parameters(), dom_spe_train_), pix_dec_train_)));
  if (o.optimisation == "staged") {
    std::vector<std::string> step2 = {"inv", "spe", "classifier", "dom_spe", "mine", "inv1", "spe1", "dom_spe1"};
    std::vector<std::string> step3 = {"inv", "spe", "feat_dec", "pix_dec", "inv1", "spe1"};
    opts_.push_back(make_optimizer(o, with(params_of(*net_, step2), dom_spe_train_)));
    opts_.push_back(make_optimizer(o, with(params_of(*net_, step3), pix_dec_train_)));
  }
}

int TrainStep::iters_per_epoch() const {
  return o_.iters_per_epoch > 0 ? o_.iters_per_epoch
                                : static_cast<int>((xs_.size(0) + o_.batch_size - 1) / o_.batch_size);
}

void TrainStep::save_checkpoint(const std::string& path, int epoch, int iter) {
  torch::serialize::OutputArchive archive;
  net_->save(archive);
  for (std::size_t i = 0; i < opts_.size(); ++i) {
    torch::serialize::OutputArchive a;
    opts_[i]->save(a);
    archive.write("optimizer" + std::to_string(i), a);
  }
  if (critic_) {
    torch::serialize::OutputArchive c, a;
    critic_->save(c);
    critic_opt_->save(a);
    archive.write("critic", c);
    archive.write("critic_optimizer", a);
  }
  for (const auto& [name, copy] : training_copies()) {
    torch::serialize::OutputArchive h;
    copy->save(h);
    archive.write(name, h);
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
    if (critic_) {
      torch::serialize::InputArchive c, a;
      archive.read("critic", c);
      archive.read("critic_optimizer", a);
      critic_->load(c);
      critic_opt_->load(a);
    }
    for (auto [name, copy] : training_copies()) {
      torch::serialize::InputArchive h;
      archive.read(name, h);
      copy->load(h);
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

namespace {
// The values of LossValues::kNames (0 where a term is absent) as one float64 tensor on `device`.
torch::Tensor stack_values(const LossTerms& values, const torch::Device& device) {
  const auto zero = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  std::vector<torch::Tensor> row;
  for (const char* name : LossValues::kNames)
    row.push_back(values.count(name) ? values.at(name).to(device, torch::kFloat64).reshape({}) : zero);
  return torch::stack(row);
}
std::vector<double> to_host(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
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
  std::vector<int64_t> si(static_cast<std::size_t>(bs)), ti(static_cast<std::size_t>(bs));
  for (int64_t k = 0; k < bs; ++k) {
    si[static_cast<std::size_t>(k)] = src_order_[static_cast<std::size_t>((iter * bs + k) % ns)];
    ti[static_cast<std::size_t>(k)] = tgt_order_[static_cast<std::size_t>((iter * bs + k) % nt)];
  }
  const auto s_index = torch::tensor(si).to(device_), t_index = torch::tensor(ti).to(device_);
  auto xs = xs_.index_select(0, s_index);
  xs_clean_ = xs;  // the critic's real source images: the domain's own look, not the strong view
  if (o_.augment_source) {  // the labelled images in the strong view too: C learns its invariances from labels
    Rng r = Rng(o_.seed ^ (static_cast<std::uint64_t>(epoch) << 32) ^ static_cast<std::uint64_t>(iter)).fork("source-view");
    xs = strong_view(xs, r);
  }
  const auto ys = ys_.index_select(0, s_index);
  const auto xt = xt_.index_select(0, t_index);
  Rng perm_rng = Rng(o_.seed ^ (static_cast<std::uint64_t>(epoch) << 32) ^ static_cast<std::uint64_t>(iter)).fork("mine");
  const auto perm_v = permutation(static_cast<int>(w_.uses_target ? 2 * bs : bs), perm_rng);
  const auto perm = torch::tensor(std::vector<int64_t>(perm_v.begin(), perm_v.end())).to(device_);

  const double grl = grl_lambda(progress, o_.grl_gamma);
  Rng aug_rng = Rng(o_.seed ^ (static_cast<std::uint64_t>(epoch) << 32) ^ static_cast<std::uint64_t>(iter)).fork("strong-view");
  if (o_.anneal_lr)
    for (auto& opt : opts_) set_lr(*opt, o_.lr * lr_factor(progress));

  LossTerms values;  // detached, by LossValues's names
  if (o_.optimisation == "joint") {
    LossTerms terms;
    {
      const AutocastScope autocast(o_.precision == "bf16", device_);
      terms = losses(xs, ys, xt, grl, perm, values, -1, epoch < o_.warmup_epochs, aug_rng);
    }
    torch::Tensor total = terms.at("task");
    for (const auto& name : kTermOrder)  // a fixed order: the same sums, and runs, as before
      if (name != "task" && terms.count(name)) total = total + terms.at(name);
    values["total"] = total.detach();
    opts_[0]->zero_grad();
    total.backward();
    opts_[0]->step();
  } else {
    // 1: everything; 2: I, S, C, D_spe, T; 3: I, S, R (the optimisers' parameter groups). This mode
    // reads each stage's total on the host (a NaN must not reach the next stage's step).
    LossValues v;
    for (std::size_t s = 0; s < 3; ++s) {
      LossTerms st, terms;
      {
        const AutocastScope autocast(o_.precision == "bf16", device_);
        terms = losses(xs, ys, xt, grl, perm, st, static_cast<int>(s), epoch < o_.warmup_epochs, aug_rng);
      }
      torch::Tensor total = torch::zeros({}, xs.options());
      for (const auto& name : kStageTerms[s])
        if (terms.count(name)) total = total + terms.at(name);
      if (!total.requires_grad()) continue;
      if (!std::isfinite(total.item<double>())) {
        values["total"] = total.detach();
        break;
      }
      for (auto& opt : opts_) opt->zero_grad();
      total.backward();
      opts_[s]->step();
      const LossValues sv = LossValues::from(to_host(stack_values(st, torch::kCPU)));
      if (s == 0) v = sv;  // task, adv, dom, cons, orth, bal
      if (s == 1) v.mi = sv.mi, v.rel = sv.rel;
      if (s == 2) v.rec = sv.rec, v.swap = sv.swap, v.critic = sv.critic;
    }
    if (!values.count("total")) {
      v.total = v.task + w_.adv * v.adv + w_.dom * v.dom + w_.mi * v.mi + w_.rec * v.rec + w_.rel * v.rel + w_.orth * v.orth +
                w_.cons * grl * v.cons + w_.swap * grl * v.swap + w_.bal * v.bal + (critic_ ? o_.lambda_critic * grl * v.critic : 0.0);
      const auto host = v.as_vector();
      for (std::size_t k = 0; k < host.size(); ++k) values[LossValues::kNames[k]] = torch::tensor(host[k], torch::kFloat64);
    }
  }
  if (critic_fake_.defined()) {  // the critic's own step: real images of each domain against the swaps in its style
    auto ls = [this](const torch::Tensor& x, const torch::Tensor& domain, double want) {
      return (critic_->forward(x).gather(1, domain.unsqueeze(1)) - want).pow(2).mean();
    };
    // (outside the step's autocast: swaps decoded in bf16 come back to fp32 first)
    const auto critic_loss = 0.5 * (ls(critic_real_, critic_real_domain_, 1.0) +
                                     ls(critic_fake_.detach().to(torch::kFloat), critic_fake_domain_, 0.0));
    critic_opt_->zero_grad();
    critic_loss.backward();
    critic_opt_->step();
    critic_fake_ = torch::Tensor();
  }
  // This step's values as one tensor on the training device, summed there; the host reads them only
  // when it prints or ends an epoch (last_values, take_sum, finite): no synchronisation per step.
  last_ = stack_values(values, device_);
  sum_ = sum_.defined() ? sum_ + last_ : last_.clone();
  const auto ok = torch::isfinite(last_[LossValues::kTotal]);
  finite_ = finite_.defined() ? finite_.logical_and(ok) : ok;
}

bool TrainStep::finite() const { return !finite_.defined() || finite_.item<bool>(); }
LossValues TrainStep::last_values() const { return last_.defined() ? LossValues::from(to_host(last_)) : LossValues{}; }
LossValues TrainStep::take_sum() {
  const LossValues v = sum_.defined() ? LossValues::from(to_host(sum_)) : LossValues{};
  sum_ = torch::Tensor();
  return v;
}

LossTerms TrainStep::losses(const torch::Tensor& xs, const torch::Tensor& ys, const torch::Tensor& xt, double grl,
                                  const torch::Tensor& perm, LossTerms& v, int stage, bool warmup, Rng& aug_rng) {
  LossTerms t;
  const int64_t ns = xs.size(0);
  const auto x = w_.uses_target ? torch::cat({xs, xt}, 0) : xs;
  // "separate": each domain's batch is normalised by its own statistics (the target's features are
  // not shifted by the source's); "mixed": one pass over both.
  const Outputs out = w_.uses_target && o_.batch_norm == "separate" ? concat_outputs(net_->forward(xs), net_->forward(xt))
                                                                    : net_->forward(x);
  const auto task = task_loss(out.logits.slice(0, 0, ns), ys);
  t["task"] = task;
  v["task"] = task.detach();
  if (!w_.uses_target) return t;
  const auto d = torch::cat({torch::zeros({ns}, torch::kLong), torch::ones({xt.size(0)}, torch::kLong)}).to(xs.device());
  // With separate batch-norm passes each domain is normalised by its own statistics in training,
  // which removes the first-order differences between the domains, i.e. much of the style;
  // inference normalises both by the running statistics. A pass in inference mode (gradients still
  // reach the weights), made once and only for the terms that ask for it.
  Outputs seen;
  // Only --dom-inference-bn-trains all and --rec-inference-bn send gradients back through it; the
  // read-outs read it detached, so it is then made without an autograd graph (the same values).
  const bool seen_needs_grad = o_.rec_inference_bn || (o_.dom_inference_bn && o_.dom_inference_bn_trains == "all");
  auto inference_pass = [&]() -> const Outputs& {
    if (!seen.logits.defined()) {
      net_->eval();
      {
        std::optional<torch::NoGradGuard> no_grad;
        if (!seen_needs_grad) no_grad.emplace();
        seen = net_->forward(x);
      }
      net_->train();
    }
    return seen;
  };
  // What R_pix learns from when it learns as a read-out: the first half of each domain's batch
  // (half the cost; R_pix alone learns from it), as the inference-mode pass gives it, detached.
  const int64_t h = std::max<int64_t>(1, ns / 2);
  auto readout_half = [&](const torch::Tensor& a) { return torch::cat({a.slice(0, 0, h), a.slice(0, ns, ns + h)}); };
  // Every such image's content in the style of its partner from the other domain (source image i
  // with target image i, and the reverse), decoded once a step: the critic and the frozen-judge
  // L_swap judge them.
  torch::Tensor swaps;
  auto readout_swaps = [&]() -> const torch::Tensor& {
    if (!swaps.defined()) {
      TORCH_CHECK(xt.size(0) == ns, "the read-out swaps pair equal source and target batches");
      const auto zi = readout_half(inference_pass().z_inv).detach(), zs = readout_half(inference_pass().z_spe).detach();
      swaps = net_->reconstruct_pixels(zi, torch::cat({zs.slice(0, h), zs.slice(0, 0, h)}));
    }
    return swaps;
  };
  auto want = [&](const std::string& term) {
    if (warmup && term != "rec") return false;  // warm-up: the task loss and L_rec only
    if (stage < 0) return true;
    const auto& names = kStageTerms[static_cast<std::size_t>(stage)];
    return std::find(names.begin(), names.end(), term) != names.end();
  };
  if (w_.adv > 0 && want("adv")) {
    auto adv = domain_loss(net_->head("dom_inv", grad_reverse(out.p_inv, grl)), d);
    if (out.z_inv1.defined()) adv = adv + domain_loss(net_->head("dom_inv1", grad_reverse(out.z_inv1, grl)), d);
    v["adv"] = adv.detach();
    t["adv"] = w_.adv * adv;
  }
  if (w_.dom > 0 && want("dom")) {
    // --dom-inference-bn-trains split: D_spe learns only from the inference-mode term; the training
    // mode's L_dom still shapes S and E, through D_spe frozen for it.
    // readout: the training-mode L_dom goes through D_spe's training-only copy instead.
    const bool split = o_.dom_inference_bn && o_.dom_inference_bn_trains == "split";
    const auto frozen = split ? freeze(*net_, [](const std::string& n) { return n.rfind("dom_spe.", 0) == 0; })
                              : std::vector<torch::Tensor>{};
    auto dom = domain_loss(dom_spe_train_ ? dom_spe_train_->apply("dom_spe", {out.p_spe}) : net_->head("dom_spe", out.p_spe), d);
    thaw(frozen);
    if (out.z_spe1.defined()) dom = dom + domain_loss(net_->head("dom_spe1", out.z_spe1), d);
    if (o_.dom_inference_bn) {  // --dom-inference-bn-trains head, split, readout: D_spe alone learns from it
      const auto& p = inference_pass().p_spe;
      dom = dom + domain_loss(net_->head("dom_spe", o_.dom_inference_bn_trains == "all" ? p : p.detach()), d);
    }
    v["dom"] = dom.detach();
    t["dom"] = w_.dom * dom;
  }
  if (w_.mi > 0 && want("mi")) {
    torch::Tensor bound;
    const auto mi = mine_minmax_loss(mine_, [this](const torch::Tensor& a, const torch::Tensor& b) { return net_->mine(a, b); }, out.p_inv, out.p_spe, perm, &bound);
    v["mi"] = bound;
    t["mi"] = w_.mi * mi;
  }
  if (w_.rec > 0 && want("rec")) {
    // --rec-inference-bn: the decoders learn from features as inference computes them.
    const Outputs& r = o_.rec_inference_bn ? inference_pass() : out;
    auto rec = feature_reconstruction_loss(net_->reconstruct_features(r.z_inv, r.z_spe), r.f);
    if (o_.pixel_rec_weight > 0) {
      auto pixel_term = [&](const torch::Tensor& x_hat, const torch::Tensor& target) {
        return o_.pixel_rec_weight * (o_.pixel_loss == "mse" ? pixel_mse(x_hat, target) : scale_invariant_mse(x_hat, target));
      };
      if (o_.pixel_decoder_features != "inference") {  // the method's: R_pix (or its copy) and, through it, the encoder
        const auto zi = o_.pixel_rec_stop_inv ? r.z_inv.detach() : r.z_inv;
        rec = rec + pixel_term(pix_dec_train_ ? pix_dec_train_->apply("pix_dec", {zi, r.z_spe}) : net_->reconstruct_pixels(zi, r.z_spe), x);
      }
      if (o_.pixel_decoder_features != "train") {  // R_pix alone learns, from what inference will give it
        const Outputs& seen_now = inference_pass();
        const auto x_hat = net_->reconstruct_pixels(readout_half(seen_now.z_inv).detach(), readout_half(seen_now.z_spe).detach());
        rec = rec + pixel_term(x_hat, readout_half(x));
      }
    }
    v["rec"] = rec.detach();
    t["rec"] = w_.rec * rec;
  }
  if (w_.rel > 0 && want("rel")) {
    const auto rel = 0.5 * (relation_loss(out.p_inv.slice(0, 0, ns), out.p_f.slice(0, 0, ns)) +
                            relation_loss(out.p_inv.slice(0, ns), out.p_f.slice(0, ns)));
    v["rel"] = rel.detach();
    t["rel"] = w_.rel * rel;
  }
  if (w_.cons > 0 && want("cons")) {  // ramped like the GRL weight: pseudo-labels start once C is trained
    const auto strong = net_->forward(strong_view(xt, aug_rng)).logits;
    const auto cons = consistency_loss(out.logits.slice(0, ns), strong, o_.cons_threshold, &v["cons_kept"]);
    v["cons"] = cons.detach();
    t["cons"] = w_.cons * grl * cons;
  }
  if (w_.bal > 0 && want("bal")) {
    const auto bal = balance_loss(out.logits.slice(0, ns));
    v["bal"] = bal.detach();
    t["bal"] = w_.bal * bal;
  }
  if (w_.swap > 0 && want("swap")) {
    // The first half of each domain's batch (half the cost), each image's content in the style of
    // its partner from the other domain, re-encoded: a source digit in target style keeps its
    // label, a target digit in source style its confident pseudo-label, and D_spe must see the
    // partner's domain. Ramped like the GRL weight: the decoder first learns to reconstruct.
    // --swap-trains decoder: R_pix alone learns, from the features inference gives it; the judges
    // (E, I, S, C, D_spe) run as inference runs them and are frozen for this term.
    const bool decoder_only = o_.swap_trains == "decoder";
    const Outputs& from = decoder_only ? inference_pass() : out;
    const int64_t k = h;
    // decoder: the read-out swaps (the critic judges the same ones; decoded once for both terms).
    const auto swapped = decoder_only ? readout_swaps()
                                      : net_->reconstruct_pixels(readout_half(out.z_inv),
                                                                 torch::cat({out.z_spe.slice(0, ns, ns + k), out.z_spe.slice(0, 0, k)}));
    std::vector<torch::Tensor> frozen;
    if (decoder_only) {
      frozen = freeze(*net_, [](const std::string& n) { return n.rfind("pix_dec.", 0) != 0; });
      net_->eval();
    }
    const Outputs again = decoder_only || o_.batch_norm != "separate"
                              ? net_->forward(swapped)
                              : concat_outputs(net_->forward(swapped.slice(0, 0, k)), net_->forward(swapped.slice(0, k)));
    const auto content_logits = decoder_only ? from.logits.slice(0, ns, ns + k).detach() : out.logits.slice(0, ns, ns + k);
    const auto d_other = torch::cat({torch::ones({k}, torch::kLong), torch::zeros({k}, torch::kLong)}).to(xs.device());
    const auto swap = task_loss(again.logits.slice(0, 0, k), ys.slice(0, 0, k)) +
                      consistency_loss(content_logits, again.logits.slice(0, k), o_.cons_threshold) +
                      domain_loss(net_->head("dom_spe", again.p_spe), d_other);
    if (decoder_only) {
      net_->train();
      thaw(frozen);
    }
    v["swap"] = swap.detach();
    t["swap"] = w_.swap * grl * swap;
  }
  if (critic_ && want("swap")) {
    // L_critic: every image's content in the style of its partner from the other domain, decoded
    // from the detached inference-mode features (R_pix alone learns); the critic's output for the
    // style's domain should say "real" (least squares). Ramped like the GRL weight.
    critic_fake_ = readout_swaps();
    critic_fake_domain_ = torch::cat({torch::ones({h}, torch::kLong), torch::zeros({h}, torch::kLong)}).to(xs.device());
    critic_real_ = torch::cat({xs_clean_.slice(0, 0, h), xt.slice(0, 0, h)});
    critic_real_domain_ = torch::cat({torch::zeros({h}, torch::kLong), torch::ones({h}, torch::kLong)}).to(xs.device());
    // The critic is a fixed judge for this term (it learns in its own step): no gradient for its weights.
    const auto judge = freeze(*critic_, [](const std::string&) { return true; });
    const auto critic = (critic_->forward(critic_fake_).gather(1, critic_fake_domain_.unsqueeze(1)) - 1.0).pow(2).mean();
    thaw(judge);
    v["critic"] = critic.detach();
    t["critic"] = o_.lambda_critic * grl * critic;
  }
  if (w_.orth > 0 && want("orth")) {
    const auto orth = orthogonality_loss(out.p_inv, out.p_spe);
    v["orth"] = orth.detach();
    t["orth"] = w_.orth * orth;
  }
  return t;
}

}  // namespace dida
