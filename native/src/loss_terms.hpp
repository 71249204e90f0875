#pragma once
// The loss terms of METHOD.md as one registry. A term is one entry: its name (in the log, the
// progress line and the page), the option that weighs it, the staged steps that optimise it, when
// it is on, and the function that computes it. The training step, the totals, the log and the
// progress line loop over loss_terms(); adding a term is an entry, its function and its test.
#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dida/native/options.hpp"
#include "dida/rng.hpp"
#include "losses.hpp"
#include "model.hpp"

namespace dida {

using LossTerms = std::map<std::string, torch::Tensor>;

// The modules training needs beside the network (not in a bundle; kept in the checkpoint).
struct TrainingModules {
  // The recipe's D_spe and R_pix under the read-outs: they shape the encoder as the recipe does,
  // while the bundle's D_spe and R_pix learn as read-outs (METHOD.md "The read-outs").
  LayerNet dom_spe_train{nullptr}, pix_dec_train{nullptr};
  // L_critic's per-domain image critic (dida::describe_critic; it takes its own optimiser step
  // after the model's).
  LayerNet critic{nullptr};
  // The modules of the terms that bring their own (LossTerm::make_module), by term name; trained
  // with the network by the main optimiser.
  std::map<std::string, LayerNet> of_term;
};

// What L_critic hands to the critic's own step: real images of each domain, swaps in its style.
struct CriticBatch {
  torch::Tensor real, real_domain, fake, fake_domain;
};

// One step's inputs and the parts that several terms share, each made once, when first asked for.
class TermContext {
 public:
  TermContext(const TrainOptions& o, DidaNetImpl& net, TrainingModules& modules, MineEstimator& mine, Rng& aug_rng)
      : o(o), net(net), modules(modules), mine(mine), aug_rng(aug_rng) {}

  const TrainOptions& o;
  DidaNetImpl& net;
  TrainingModules& modules;
  MineEstimator& mine;
  Rng& aug_rng;                    // the strong views of this step
  torch::Tensor xs, ys, xt, x;     // source (maybe in the strong view), labels, target, both
  torch::Tensor xs_clean;          // the source images as they are (the critic's real ones)
  torch::Tensor d;                 // domain labels of x: 0 source, 1 target
  torch::Tensor perm;              // MINE's pairing for the product of marginals
  int64_t ns = 0;                  // source images in x (the first ns)
  double grl = 0;                  // the GRL weight lambda_p of this step
  Outputs out;                     // the training-mode pass over x
  LossTerms reported;              // detached values by name (a term's own, and its statistics)
  CriticBatch* critic_batch = nullptr;

  // A pass over x with batch norm in inference mode, without an autograd graph (the read-outs read
  // it detached).
  const Outputs& inference_pass();
  // The first half of each domain's batch (what the read-outs learn from).
  int64_t half() const { return std::max<int64_t>(1, ns / 2); }
  torch::Tensor readout_half(const torch::Tensor& a) const;
  // Each of those images' content in the style of its partner from the other domain (source image
  // i with target image i, and the reverse), decoded by R_pix from the inference-mode features.
  const torch::Tensor& readout_swaps();
  // R_pix on the training-mode [z_inv, z_spe] of x (through the recipe's copy under the read-outs),
  // and, under the read-outs, the bundle's R_pix on the detached inference-mode features of the
  // read-out half: every value of the decoder's graph by name ("pix_rec"; "shift" and "scale" with
  // the AdaIN output).
  const std::map<std::string, torch::Tensor>& decoded();
  const std::map<std::string, torch::Tensor>& decoded_readout();

 private:
  Outputs seen_;
  torch::Tensor swaps_;
  std::map<std::string, torch::Tensor> decoded_, decoded_readout_;
};

struct LossTerm {
  std::string name;           // in the log, the progress line and the page
  std::string weight_option;  // the option row that weighs it, and says which methods use it ("": 1, every method)
  std::vector<int> stages;    // the staged optimisation's steps (0, 1, 2) that optimise it
  bool ramped = false;        // its weight times the GRL schedule lambda_p
  bool in_warmup = false;     // on in the warm-up epochs too
  // The unweighted term, differentiable where it trains. Its logged value is its detached value,
  // unless it reports another under its own name (L_mi logs the DV bound).
  std::function<torch::Tensor(TermContext&)> compute;
  std::vector<std::string> statistics = {};  // values it reports beside its own (logged, not summed)
  // Its weight when not the option's value (nullptr: the option's).
  std::function<double(const TrainOptions&)> weight = nullptr;
  // A training-only module of its own (an adversary's head), made after the network when the term
  // is on; kept in the checkpoint under the term's name, never in a bundle (nullptr: none).
  std::function<LayerNet(DidaNetImpl& net)> make_module = nullptr;
};

// Every term, in the order a step computes them (the task first).
const std::vector<LossTerm>& loss_terms();
// A term's weight in a run (0: off): 0 when its option takes no effect (OptionRow::takes_effect).
double term_weight(const LossTerm& term, const TrainOptions& o);
// The names of a step's logged values: every term, each one's statistics, then "total".
const std::vector<std::string>& loss_value_names();

// The named values of a step (or a sum of steps), in loss_value_names()'s order.
struct LossValues {
  std::vector<double> x = std::vector<double>(loss_value_names().size(), 0.0);
  double get(const std::string& name) const;
  double total() const { return x.back(); }
  nlohmann::json to_json(double scale) const;  // every value, times scale
};

}  // namespace dida
