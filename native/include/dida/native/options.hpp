#pragma once
// Options of `dida train`, `dida eval` and `dida bench`: plain structs shared by the CLI front end
// (which parses them, without LibTorch) and libdida_torch.so (which runs them).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dida {

struct TrainOptions {
  // data
  std::string source = "mnist", target = "mnistm";
  std::uint64_t data_seed = 20240601;
  int max_per_domain = 10000;
  std::string cache_dir;
  // method and model
  std::string method = "dida";  // dida | source-only | dann | dsn | target-only
  std::string variant = "branch";
  bool progressive = false;
  std::string pool = "flatten";  // see docs/RESULTS.md: avg (METHOD.md) ablated
  int width = 16;
  std::string input_norm = "standardize";  // none | standardize (inside the model, every engine)
  int head_hidden = 100;
  int mine_hidden = 128;
  std::string decoder_norm = "instance";  // ModelConfig::decoder_norm
  // Which features R_pix learns from: "train" (training-mode features; its pixel term shapes the
  // encoder too, METHOD.md) or "inference" (detached features of an inference-mode pass: R_pix
  // learns alone, a read-out of the split that leaves the encoder to the other terms) or "both", or
  // "readout": R_pix learns as "inference" and the training-mode pixel term goes through a
  // training-only copy of the recipe's small decoder, so the encoder learns exactly what the recipe asks.
  std::string pixel_decoder_features = "readout";
  std::string decoder = "wide";  // R_pix: small | wide (ModelConfig::decoder); docs/RESULTS.md
  // losses (weights of METHOD.md's total; the method zeroes those it does not use)
  double lambda_mi = 0.1, lambda_adv = 1.0, lambda_dom = 0.3, lambda_rec = 0.5, lambda_rel = 1.0, lambda_orth = 0.0;
  double pixel_rec_weight = 1.0;  // share of the pixel term inside L_rec (feature term weight 1)
  // The pixel term's gradient stops at z_inv: it trains R_pix, and S and E through z_spe, but not
  // I, so a decoder that wants more detail cannot ask z_inv for it (docs/RESULTS.md).
  bool pixel_rec_stop_inv = false;
  bool dom_inference_bn = true;   // L_dom also with batch norm as inference has it (running statistics)
  // That term trains "all" it passes through, or the "head" alone; "split": also the training-mode
  // L_dom leaves D_spe frozen (it reaches S and E only), so D_spe learns inference-mode features only;
  // "readout": D_spe learns inference-mode features only and the training-mode L_dom goes through a
  // training-only copy of D_spe instead, so S and E learn exactly what the recipe asks.
  std::string dom_inference_bn_trains = "readout";
  bool rec_inference_bn = false;  // L_rec on features computed with batch norm as inference has it
  std::string pixel_loss = "mse";  // mse | si-mse (DSN's scale-invariant MSE)
  // L_cons (extension, dida only): the strong view of a target image must get the confident
  // pseudo-label of its clean view; ramped with the GRL schedule.
  double lambda_cons = 1.0, cons_threshold = 0.9;
  // L_bal (extension, dida only): KL(mean target prediction || uniform) per batch, so that the
  // pseudo-labels of L_cons cannot all fall into one class.
  double lambda_bal = 1.0;
  // L_swap (extension, dida only): the swap R(z_inv(a), z_spe(b)) of each image a with a partner b
  // of the other domain, re-encoded, keeps a's class (label or confident pseudo-label) and shows
  // b's domain to D_spe. Ramped with the GRL schedule. 0: off.
  double lambda_swap = 0.1;
  // What L_swap trains: "all" (every module it passes through) or "decoder" (R_pix alone: the swap
  // is made from detached inference-mode features and judged by C and D_spe in inference mode,
  // which it does not change).
  std::string swap_trains = "decoder";
  // L_critic (extension, dida only; needs pixel_decoder_features other than "train"): a small image
  // critic learns, per domain, real images from swaps rendered in that domain's style; R_pix learns
  // to make its swaps pass (least squares). 0: off.
  // The defaults of the last six (read-out D_spe and R_pix, wide instance-normalising decoder, critic,
  // frozen-judge swap at 0.1) are the read-out configuration of docs/RESULTS.md: they train the
  // bundle's D_spe and R_pix as read-outs of the encoder, which learns exactly what it would without them.
  double lambda_critic = 1.0;
  // Labelled source images in the strong view (the same perturbation as L_cons uses), every method.
  bool augment_source = true;
  // How batch norm sees the two domains in training: "separate" (source and target batches in
  // their own forward passes, each normalised by its own statistics) or "mixed" (one pass over
  // the concatenated batch).
  std::string batch_norm = "separate";
  double mine_ma_rate = 0.01;     // MINE's moving average of the denominator
  double grl_gamma = 10.0;
  // epochs at the start with the task loss only (and L_rec): the classifier learns before the
  // adversarial terms act (see docs/RESULTS.md, syndigits -> mnist)
  int warmup_epochs = 0;
  // optimisation
  std::string optimisation = "joint";  // joint | staged
  std::string optimizer = "adam";      // adam | sgd
  // fp32 | bf16: the forward pass and the losses under LibTorch's autocast to bfloat16 (matrix
  // products and convolutions in bf16; batch norm, softmax and the losses stay fp32), on the GPU or
  // the CPU; the weights and the optimiser stay fp32.
  std::string precision = "fp32";
  double lr = 1e-3, momentum = 0.9, weight_decay = 0.0;
  bool anneal_lr = true;
  int epochs = 25, batch_size = 64;
  int iters_per_epoch = 70;  // 0: one pass over source-train
  std::uint64_t seed = 1;
  // run
  std::string out = "runs/latest";
  std::string device = "auto";
  int threads = 0;
  int replay = 200;          // images per domain of the training replay (the page's sample set); 0: none
  int stop_after_iters = 0;  // stop as Ctrl-C would after this many iterations (tests)
  bool quiet = false;

  nlohmann::json to_json() const;
  static TrainOptions from_json(const nlohmann::json& j);  // missing keys keep their defaults
};

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
};

}  // namespace dida
