#pragma once
// `dida eval` and `dida bench`: accuracies and the disentanglement measures of METHOD.md.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "dida/native/options.hpp"
#include "dida/style_retrieval.hpp"

namespace dida {

struct EvalResult {
  double target_accuracy = 0, source_accuracy = 0;
  double domain_probe_inv = 0, domain_probe_spe = 0, class_probe_spe = 0;
  // The same three probes as the page fits them on its sample set (the first 200 source-val and
  // target-test images, `dida data samples`), with its split: one draw, the figure the page shows.
  double page_domain_probe_inv = 0, page_domain_probe_spe = 0, page_class_probe_spe = 0;
  int page_probe_images = 0, page_probe_draws = 0;
  // Each draw's figures (the three probes above are their means): how far one draw of the page's
  // size strays from the mean.
  std::vector<double> draws_domain_probe_inv, draws_domain_probe_spe, draws_class_probe_spe;
  double mi_estimate = 0, a_distance_inv = 0, a_distance_spe = 0;
  // The split, measured through the pixel decoder (docs/RESULTS.md): the swap x_ab =
  // R(z_inv(a), z_spe(b)) of image a with image b of the other domain, both directions, re-encoded.
  // content: C on x_ab gives a's label; style: D_spe on x_ab gives b's domain. PSNR (dB, pixels in
  // [0, 255]) of R(z_inv(x), z_spe(x)) against x. NaN for a model without a pixel decoder.
  // Label-free (target-train images, no labels): mean top softmax probability and class balance of
  // the predictions (trainer.hpp, LabelFreeStats); the criteria recipes are chosen by.
  double target_confidence = 0, target_balance = 0;
  double swap_content_accuracy = 0, swap_style_accuracy = 0, reconstruction_psnr = 0;
  int swap_pairs = 0;
  // swap_style_accuracy of the swaps whose style comes from a source image / from a target image.
  double swap_style_source = 0, swap_style_target = 0;
  // D_spe on real held-out images (source-val and target-test): the ceiling of swap_style_accuracy.
  double style_head_accuracy = 0;
  // Whose style a swap shows, by a descriptor that knows nothing of the model (METHOD.md): source
  // contents x K target style images; top-1 retrieval of each swap's style image among the K by
  // per-channel pixel mean and standard deviation. Chance 1/K; the controls: the style images
  // themselves (1 unless two look alike) and the contents unchanged (1/K).
  double swap_style_retrieval = 0, style_retrieval_of_styles = 0, style_retrieval_of_contents = 0;
  int style_retrieval_k = 0, style_retrieval_contents = 0;
  int source_images = 0, target_images = 0;
  nlohmann::json to_json() const;
};

EvalResult evaluate(const EvalOptions& options);

// What the swap measures need of a network: its two encoders, its decoder and the two heads that
// judge the re-encoded swap (class logits from an image, domain logits of D_spe from an image).
struct SwapParts {
  std::function<torch::Tensor(const torch::Tensor&)> z_inv, z_spe;
  std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)> decode;
  std::function<torch::Tensor(const torch::Tensor&)> class_logits, style_logits;
};
struct DidaNetImpl;
SwapParts swap_parts(DidaNetImpl& net);
// The swap measures of EvalResult on images (a, b) paired by index: a with label y_a, b from domain
// d_b (0 source, 1 target). Sets swap_content_accuracy, swap_style_accuracy and swap_pairs.
void swap_measures(const SwapParts& parts, const torch::Tensor& a, const torch::Tensor& y_a, const torch::Tensor& b,
                   const torch::Tensor& d_b, EvalResult& r);
// Per image (N x C x H x W), the core's style descriptor: each channel's mean, then spread.
std::vector<StyleDescriptor> style_descriptors(const torch::Tensor& x);
// The retrieval measure of EvalResult: every content with every style image (N x K swaps); sets
// swap_style_retrieval, its two controls, style_retrieval_k and style_retrieval_contents.
void swap_style_retrieval(const SwapParts& parts, const torch::Tensor& contents, const torch::Tensor& styles, EvalResult& r);
// PSNR in dB of images in [-1, 1] against their reconstruction, pixel range 255 (mean squared error
// over every value of the batch).
double psnr(const torch::Tensor& x_hat, const torch::Tensor& x);

// The core's cross-fitted probe (logistic regression, softmax, L2): fitted on half a and tested on
// half b, and the other way round; the share of all rows labelled right.
double probe_accuracy(const torch::Tensor& x_a, const torch::Tensor& y_a, const torch::Tensor& x_b,
                      const torch::Tensor& y_b, int classes);
// How many draws of the held-out images `dida eval`'s probes average.
constexpr int kProbeDraws = 5;

// Kraskov-Stoegbauer-Grassberger estimate (algorithm 1, k neighbours, max-norm) of I(X; Y) in nats.
double ksg_mutual_information(const torch::Tensor& x, const torch::Tensor& y, int k = 3);

// Digamma function (for KSG).
double digamma(double x);

int run_bench(const BenchOptions& options);

}  // namespace dida
