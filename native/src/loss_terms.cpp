#include "loss_terms.hpp"

#include <algorithm>
#include <stdexcept>

#include "augment.hpp"

namespace dida {

const Outputs& TermContext::inference_pass() {
  if (!seen_.has("logits")) {
    net.eval();
    {
      torch::NoGradGuard no_grad;
      seen_ = net.forward(x);
    }
    net.train();
  }
  return seen_;
}

torch::Tensor TermContext::readout_half(const torch::Tensor& a) const {
  const int64_t h = half();
  return torch::cat({a.slice(0, 0, h), a.slice(0, ns, ns + h)});
}

const torch::Tensor& TermContext::readout_swaps() {
  if (!swaps_.defined()) {
    TORCH_CHECK(xt.size(0) == ns, "the read-out swaps pair equal source and target batches");
    const int64_t h = half();
    const auto zi = readout_half(inference_pass()["z_inv"]).detach(), zs = readout_half(inference_pass()["z_spe"]).detach();
    swaps_ = net.reconstruct_pixels(zi, torch::cat({zs.slice(0, h), zs.slice(0, 0, h)}));
  }
  return swaps_;
}

const std::map<std::string, torch::Tensor>& TermContext::decoded() {
  if (decoded_.empty()) {
    auto& copy = modules.pix_dec_train;
    decoded_ = (copy ? *copy : static_cast<LayerNetImpl&>(net)).run("pix_dec", {out["z_inv"], out["z_spe"]});
  }
  return decoded_;
}

const std::map<std::string, torch::Tensor>& TermContext::decoded_readout() {
  if (decoded_readout_.empty()) {
    const Outputs& seen = inference_pass();
    decoded_readout_ = net.run("pix_dec", {readout_half(seen["z_inv"]).detach(), readout_half(seen["z_spe"]).detach()});
  }
  return decoded_readout_;
}

namespace {

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

torch::Tensor domain_labels(int64_t first, int64_t second, int64_t first_domain, const torch::Device& device) {
  return torch::cat({torch::full({first}, first_domain, torch::kLong), torch::full({second}, 1 - first_domain, torch::kLong)})
      .to(device);
}

// L_task: C on the source labels (target-only: on the target's).
torch::Tensor task(TermContext& c) { return task_loss(c.out["logits"].slice(0, 0, c.ns), c.ys); }

// L_adv: D_inv behind the GRL (and D_inv1 on the progressive first level).
torch::Tensor adv(TermContext& c) {
  auto l = domain_loss(c.net.head("dom_inv", grad_reverse(c.out["p_inv"], c.grl)), c.d);
  if (c.out.has("z_inv1")) l = l + domain_loss(c.net.head("dom_inv1", grad_reverse(c.out["z_inv1"], c.grl)), c.d);
  return l;
}

// L_dom: D_spe tells the domains apart from z_spe. With the read-outs the training-mode term goes
// through the recipe's copy of D_spe, and the bundle's D_spe learns the same term on the detached
// features of the inference-mode pass, as inference will read it.
torch::Tensor dom(TermContext& c) {
  auto& copy = c.modules.dom_spe_train;
  auto l = domain_loss(copy ? copy->apply("dom_spe", {c.out["p_spe"]}) : c.net.head("dom_spe", c.out["p_spe"]), c.d);
  if (c.out.has("z_spe1")) l = l + domain_loss(c.net.head("dom_spe1", c.out["z_spe1"]), c.d);
  if (c.o.readouts) l = l + domain_loss(c.net.head("dom_spe", c.inference_pass()["p_spe"].detach()), c.d);
  return l;
}

// L_mi: MINE's min-max in one backward pass; the log shows the DV bound.
torch::Tensor mi(TermContext& c) {
  torch::Tensor bound;
  const StatisticsNet t = [&c](const torch::Tensor& a, const torch::Tensor& b) { return c.net.mine(a, b); };
  const auto l = mine_minmax_loss(c.mine, t, c.out["p_inv"], c.out["p_spe"], c.perm, &bound);
  c.reported["mi"] = bound;
  return l;
}

// L_rec: R_feat to F, plus the pixel term. With the read-outs the training-mode pixel term goes
// through the recipe's copy of R_pix, and the bundle's R_pix learns alone from the detached
// inference-mode features of the first half of each domain's batch.
torch::Tensor rec(TermContext& c) {
  const Outputs& r = c.out;
  auto l = feature_reconstruction_loss(c.net.reconstruct_features(r["z_inv"], r["z_spe"]), r["f"]);
  if (c.o.pixel_rec_weight > 0) {
    auto pixel_term = [&](const torch::Tensor& x_hat, const torch::Tensor& target) {
      return c.o.pixel_rec_weight *
             (c.o.pixel_loss == PixelLoss::Mse ? pixel_mse(x_hat, target) : scale_invariant_mse(x_hat, target));
    };
    l = l + pixel_term(c.decoded().at("pix_rec"), c.x);
    if (c.o.readouts) l = l + pixel_term(c.decoded_readout().at("pix_rec"), c.readout_half(c.x));
  }
  return l;
}

// L_rel: each domain's batch keeps F's pairwise structure in z_inv.
torch::Tensor rel(TermContext& c) {
  const int64_t ns = c.ns;
  return 0.5 * (relation_loss(c.out["p_inv"].slice(0, 0, ns), c.out["p_f"].slice(0, 0, ns)) +
                relation_loss(c.out["p_inv"].slice(0, ns), c.out["p_f"].slice(0, ns)));
}

// L_cons: a target image's strong view gets its clean view's confident pseudo-label.
torch::Tensor cons(TermContext& c) {
  const auto strong = c.net.forward(strong_view(c.xt, c.aug_rng))["logits"];
  return consistency_loss(c.out["logits"].slice(0, c.ns), strong, c.o.cons_threshold, &c.reported["cons_kept"]);
}

// L_bal: the target batch's mean prediction stays spread over the classes.
torch::Tensor bal(TermContext& c) { return balance_loss(c.out["logits"].slice(0, c.ns)); }

// L_swap: the read-out swaps, re-encoded in inference mode with every module but R_pix frozen: C
// must still see the content's class (label, or confident pseudo-label), D_spe the style's domain.
torch::Tensor swap(TermContext& c) {
  const Outputs& from = c.inference_pass();
  const int64_t k = c.half();
  const auto& swapped = c.readout_swaps();
  const auto frozen = freeze(c.net, [&c](const std::string& n) {
    return c.net.network.module_of_tensor(n).group != ModuleGroup::PixelDecoder;
  });
  c.net.eval();
  const Outputs again = c.net.forward(swapped);
  const auto content_logits = from["logits"].slice(0, c.ns, c.ns + k).detach();
  const auto l = task_loss(again["logits"].slice(0, 0, k), c.ys.slice(0, 0, k)) +
                 consistency_loss(content_logits, again["logits"].slice(0, k), c.o.cons_threshold) +
                 domain_loss(c.net.head("dom_spe", again["p_spe"]), domain_labels(k, k, 1, c.xs.device()));
  c.net.train();
  thaw(frozen);
  return l;
}

// L_critic: the critic, a fixed judge for this term, should take each read-out swap for a real image
// of its style's domain (least squares); R_pix alone learns. The critic learns in its own step.
torch::Tensor critic(TermContext& c) {
  const int64_t h = c.half();
  auto& net = c.modules.critic;
  CriticBatch b;
  b.fake = c.readout_swaps();
  b.fake_domain = domain_labels(h, h, 1, c.xs.device());
  b.real = torch::cat({c.xs_clean.slice(0, 0, h), c.xt.slice(0, 0, h)});
  b.real_domain = domain_labels(h, h, 0, c.xs.device());
  const auto judge = freeze(*net, [](const std::string&) { return true; });
  const auto l = (net->apply("critic", {b.fake}).gather(1, b.fake_domain.unsqueeze(1)) - 1.0).pow(2).mean();
  thaw(judge);
  if (c.critic_batch) *c.critic_batch = b;
  return l;
}

// L_orth: DSN's difference loss between the pooled z_inv and z_spe.
torch::Tensor orth(TermContext& c) { return orthogonality_loss(c.out["p_inv"], c.out["p_spe"]); }

// L_spe_cls: a class head on z_spe behind a gradient reversal (strength lambda_p), on the source
// labels: the head learns to read the digit from z_spe, S and E learn to leave it out.
torch::Tensor spe_cls(TermContext& c) {
  auto& head = c.modules.of_term.at("spe_cls");
  return task_loss(head->apply("classifier", {grad_reverse(c.out["p_spe"].slice(0, 0, c.ns), c.grl)}), c.ys);
}

// L_stats: the colour statistics the AdaIN output reads from z_spe (its shift and scale) are the
// image's own per-channel mean and spread. On the training-mode z_spe it shapes S; under the
// read-outs also on the inference-mode one, as the bundle's R_pix will read it. A swap then takes
// its style image's statistics, not its domain's.
torch::Tensor stats(TermContext& c) {
  const auto miss = [&c](const torch::Tensor& z_spe, const torch::Tensor& x) {
    const auto said = c.net.run("style_stats", {z_spe});
    const auto flat = x.flatten(2);
    return (said.at("shift") - flat.mean(2)).pow(2).mean() + (said.at("scale") - flat.std(2, /*unbiased=*/false)).pow(2).mean();
  };
  auto l = miss(c.out["z_spe"], c.x);
  if (c.o.readouts) l = l + miss(c.readout_half(c.inference_pass()["z_spe"]).detach(), c.readout_half(c.x));
  return l;
}

std::vector<LossTerm> make_terms() {
  std::vector<LossTerm> t;
  t.push_back({"task", "", {0, 1}, false, true, task});
  t.push_back({"adv", "lambda-adv", {0}, false, false, adv});
  t.push_back({"dom", "lambda-dom", {0, 1}, false, false, dom});
  t.push_back({"mi", "lambda-mi", {1}, false, false, mi});
  t.push_back({"rec", "lambda-rec", {2}, false, true, rec});
  t.push_back({"rel", "lambda-rel", {1}, false, false, rel});
  t.push_back({"cons", "lambda-cons", {0}, true, false, cons, {"cons_kept"}});
  t.push_back({"bal", "lambda-bal", {0}, false, false, bal});
  t.push_back({"swap", "lambda-swap", {2}, true, false, swap});
  t.push_back({"critic", "lambda-critic", {2}, true, false, critic});
  LossTerm o{"orth", "lambda-orth", {0}, false, false, orth};
  // dsn's difference loss is a Frobenius sum of about 10^3 at the start: at 0.1 it drowned the task
  // loss (docs/RESULTS.md); 1e-4, its weight when none is given, puts it near the task loss.
  o.weight = [](const TrainOptions& opt) { return opt.method == Method::Dsn && opt.lambda_orth == 0 ? 1e-4 : opt.lambda_orth; };
  t.push_back(o);
  LossTerm sc{"spe_cls", "lambda-spe-cls", {0}, false, false, spe_cls};
  sc.make_module = [](DidaNetImpl& net) { return LayerNet(net.network.part("classifier")); };  // C's shape, its own weights
  t.push_back(sc);
  t.push_back({"stats", "lambda-stats", {2}, false, true, stats});
  return t;
}

}  // namespace

const std::vector<LossTerm>& loss_terms() {
  static const std::vector<LossTerm> terms = make_terms();
  return terms;
}

double term_weight(const LossTerm& term, const TrainOptions& o) {
  if (term.weight_option.empty()) return 1.0;
  if (!uses_target_images(o.method)) return 0.0;  // every term but the task reads target images
  const OptionRow& row = train_option(term.weight_option);
  if (!row.takes_effect(o)) return 0.0;
  return term.weight ? term.weight(o) : row.get(o).get<double>();
}

const std::vector<std::string>& loss_value_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& t : loss_terms()) n.push_back(t.name);
    for (const auto& t : loss_terms()) n.insert(n.end(), t.statistics.begin(), t.statistics.end());
    n.push_back("total");
    return n;
  }();
  return names;
}

double LossValues::get(const std::string& name) const {
  const auto& names = loss_value_names();
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) throw std::out_of_range("no loss value \"" + name + "\"");
  return x.at(static_cast<std::size_t>(it - names.begin()));
}

nlohmann::json LossValues::to_json(double scale) const {
  nlohmann::json j = nlohmann::json::object();
  const auto& names = loss_value_names();
  for (std::size_t k = 0; k < names.size(); ++k) j[names[k]] = x[k] * scale;
  return j;
}

}  // namespace dida
