// The trainer's parts against hand computations, and small real runs.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <ATen/autocast_mode.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "augment.hpp"
#include "bundle.hpp"
#include "dida/inference.hpp"
#include "dida/probe.hpp"
#include "dida/projection.hpp"
#include "dida/replay.hpp"
#include "dida/safetensors.hpp"
#include "dida/schedule.hpp"
#include "evaluate.hpp"
#include "loss_terms.hpp"
#include "losses.hpp"
#include "model.hpp"
#include "test_util.hpp"
#include "train_step.hpp"
#include "trainer.hpp"
#include "training_data.hpp"

namespace fs = std::filesystem;

namespace dida {
namespace {

struct TempDir {
  fs::path root;
  explicit TempDir(const std::string& tag) {
    root = fs::temp_directory_path() / ("dida-native-" + tag + "-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~TempDir() { fs::remove_all(root); }
  std::string path(const std::string& p) const { return (root / p).string(); }
};

using test::error_of;

// Options for runs that take seconds: a small pair, a narrow network, one thread.
TrainOptions tiny(const std::string& out) {
  TrainOptions o;
  o.max_per_domain = 400;
  o.cache_dir = "none";
  o.model.width = 8;
  o.model.head_hidden = 32;
  o.model.mine_hidden = 32;
  o.batch_size = 32;
  o.lr = 3e-3;
  o.epochs = 2;
  o.iters_per_epoch = 6;
  o.threads = 1;
  o.device = DeviceChoice::Cpu;
  o.quiet = true;
  o.out = out;
  return o;
}

// Correlated Gaussian pairs (a, b) with correlation rho, one dimension each.
std::pair<torch::Tensor, torch::Tensor> gaussians(double rho, int64_t n) {
  const auto a = torch::randn({n, 1});
  const auto b = rho * a + std::sqrt(1 - rho * rho) * torch::randn({n, 1});
  return {a, b};
}

double trained_mine_bound(double rho) {
  torch::manual_seed(3);
  LayerNet tnet(describe_mine(2, 64));
  const StatisticsNet t = [&](const torch::Tensor& a, const torch::Tensor& b) { return tnet->apply("mine", {a, b}); };
  MineEstimator est(0.05);
  torch::optim::Adam opt(tnet->parameters(), torch::optim::AdamOptions(3e-3));
  for (int step = 0; step < 600; ++step) {
    auto [a, b] = gaussians(rho, 256);
    const auto r = est(t, a, b, torch::randperm(256));
    opt.zero_grad();
    (-r.surrogate).backward();
    opt.step();
  }
  torch::NoGradGuard guard;
  auto [a, b] = gaussians(rho, 20000);
  return est(t, a, b, torch::randperm(20000)).bound.item<double>();
}

}  // namespace

TEST(Grl, GradientIsExactlyMinusLambdaTimesG) {
  const auto x = torch::randn({4, 3}, torch::requires_grad());
  const auto g = torch::randn({4, 3});
  for (double lambda : {0.0, 0.37, 1.0, 2.5}) {
    if (x.grad().defined()) x.grad().zero_();
    const auto y = grad_reverse(x, lambda);
    EXPECT_TRUE(torch::equal(y, x));
    y.backward(g);
    EXPECT_TRUE(torch::equal(x.grad(), g.neg() * lambda)) << lambda;
  }
}

TEST(Losses, MatchHandComputations) {
  // Cross-entropy: log(1 + e^-2) and log 2, averaged.
  const auto ce = task_loss(torch::tensor({{2.0f, 0.0f}, {0.0f, 0.0f}}), torch::tensor({0L, 1L}));
  EXPECT_NEAR(ce.item<double>(), (std::log1p(std::exp(-2.0)) + std::log(2.0)) / 2, 1e-6);
  EXPECT_NEAR(domain_loss(torch::tensor({{0.0f, 0.0f}}), torch::tensor({1L})).item<double>(), std::log(2.0), 1e-6);
  // Relation: rows of softmax(I) are (e, 1)/(e + 1); rows of softmax(ones) are 1/2.
  const double e = std::exp(1.0);
  const auto rel = relation_loss(torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}}), torch::tensor({{1.0f, 0.0f}, {2.0f, 0.0f}}));
  EXPECT_NEAR(rel.item<double>(), e / (e + 1) - 0.5, 1e-6);
  // Orthogonality: normalised rows [[1,0],[0,1]] and [[.6,.8],[0,1]]: 0.36 + 0.64 + 0 + 1.
  const auto orth = orthogonality_loss(torch::tensor({{1.0f, 0.0f}, {0.0f, 2.0f}}), torch::tensor({{3.0f, 4.0f}, {0.0f, 1.0f}}));
  EXPECT_NEAR(orth.item<double>(), 2.0, 1e-5);
  // Feature reconstruction: mean of squares; F gets no gradient.
  const auto f = torch::tensor({1.0f, 2.0f}, torch::requires_grad());
  const auto rec = feature_reconstruction_loss(torch::tensor({0.0f, 0.0f}), f);
  EXPECT_NEAR(rec.item<double>(), 2.5, 1e-6);
  EXPECT_FALSE(rec.requires_grad());
  // Scale-invariant MSE: d = (1, 2, 3): 14/3 - 36/9; a constant shift of x_hat changes nothing.
  const auto x = torch::tensor({{1.0f, 2.0f, 3.0f}});
  EXPECT_NEAR(scale_invariant_mse(torch::zeros({1, 3}), x).item<double>(), 14.0 / 3 - 4.0, 1e-6);
  EXPECT_NEAR(scale_invariant_mse(torch::full({1, 3}, 5.0f), x).item<double>(), 14.0 / 3 - 4.0, 1e-5);
}

TEST(Losses, PixelMseAndConsistencyMatchHandComputations) {
  EXPECT_NEAR(pixel_mse(torch::zeros({1, 3}), torch::tensor({{1.0f, 2.0f, 3.0f}})).item<double>(), 14.0 / 3, 1e-6);
  // Clean view: image 0 confident (softmax of (4, 0) = 0.982 for class 0), image 1 not (0.5, 0.5).
  const auto clean = torch::tensor({{4.0f, 0.0f}, {0.0f, 0.0f}}, torch::requires_grad());
  const auto strong = torch::tensor({{1.0f, 2.0f}, {3.0f, -3.0f}}, torch::requires_grad());
  torch::Tensor kept;
  const auto cons = consistency_loss(clean, strong, 0.9, &kept);
  // Only image 0 counts, with pseudo-label 0: CE = log(1 + e^(2 - 1)), divided by the batch size 2.
  EXPECT_NEAR(cons.item<double>(), std::log1p(std::exp(1.0)) / 2, 1e-6);
  EXPECT_DOUBLE_EQ(kept.item<double>(), 0.5);
  cons.backward();
  EXPECT_FALSE(clean.grad().defined() && clean.grad().abs().sum().item<double>() > 0) << "no gradient into the pseudo-labels";
  EXPECT_EQ(strong.grad()[1].abs().sum().item<double>(), 0.0) << "an unconfident image contributes nothing";
  // A threshold nobody reaches: the term is zero.
  EXPECT_EQ(consistency_loss(clean, strong, 0.99).item<double>(), 0.0);
}

TEST(Losses, BalanceMatchesHandComputation) {
  // Two images, two classes: softmax (e^2/(e^2+1), 1/(e^2+1)) and (0.5, 0.5); their mean p.
  const auto logits = torch::tensor({{2.0f, 0.0f}, {0.0f, 0.0f}});
  const double a = std::exp(2.0) / (std::exp(2.0) + 1), p0 = (a + 0.5) / 2, p1 = 1 - p0;
  EXPECT_NEAR(balance_loss(logits).item<double>(), std::log(2.0) + p0 * std::log(p0) + p1 * std::log(p1), 1e-6);
  EXPECT_NEAR(balance_loss(torch::tensor({{5.0f, 0.0f}, {0.0f, 5.0f}})).item<double>(), 0.0, 1e-6) << "spread evenly";
  EXPECT_NEAR(balance_loss(torch::tensor({{30.0f, 0.0f, 0.0f}, {30.0f, 0.0f, 0.0f}})).item<double>(), std::log(3.0), 1e-5)
      << "all in one class";
}

TEST(Augment, StrongViewKeepsShapeAndRangeAndFollowsTheSeed) {
  torch::manual_seed(3);
  const auto x = torch::rand({8, 3, 32, 32}) * 2 - 1;
  Rng r1(5), r2(5), r3(6);
  const auto a = strong_view(x, r1), b = strong_view(x, r2), c = strong_view(x, r3);
  EXPECT_EQ(a.sizes(), x.sizes());
  EXPECT_LE(a.abs().max().item<double>(), 1.0);
  EXPECT_TRUE(torch::equal(a, b)) << "same seed, same view";
  EXPECT_FALSE(torch::equal(a, c));
  EXPECT_GT((a - x).abs().mean().item<double>(), 0.05) << "the view differs from the image";
  // Without a shift, a one-colour image stays one colour per channel (a permuted, affine copy).
  const auto flat = torch::full({1, 3, 8, 8}, 0.25f);
  Rng r4(1);
  const auto v = strong_view(flat, r4, 0);
  for (int ch = 0; ch < 3; ++ch) EXPECT_NEAR((v[0][ch].max() - v[0][ch].min()).item<double>(), 0.0, 1e-7);
  // One channel works too.
  Rng r5(2);
  EXPECT_EQ(strong_view(torch::zeros({2, 1, 28, 28}), r5).sizes(), (std::vector<int64_t>{2, 1, 28, 28}));
}

TEST(Augment, TheBatchedViewEqualsThePerImageRecipe) {
  // The recipe image by image, as written out in docs/METHOD.md: shift (edges replicated), channel
  // order, sign, contrast, brightness, clamp; the batched code must give the same bytes for a seed.
  torch::manual_seed(4);
  const auto x = torch::rand({6, 3, 12, 12}) * 2 - 1;
  Rng r(11), mine(11);
  const auto padded = torch::nn::functional::pad(x, torch::nn::functional::PadFuncOptions({2, 2, 2, 2}).mode(torch::kReplicate));
  std::vector<torch::Tensor> expected;
  for (int64_t i = 0; i < x.size(0); ++i) {
    const auto dy = static_cast<int64_t>(r.below(5)), dx = static_cast<int64_t>(r.below(5));
    std::vector<int> order = {0, 1, 2};
    r.shuffle(order);
    auto img = padded[i].narrow(1, dy, 12).narrow(2, dx, 12).index_select(0, torch::tensor(std::vector<int64_t>(order.begin(), order.end())));
    const double sign = r.uniform() < 0.5 ? -1.0 : 1.0;
    const double contrast = r.uniform(0.6, 1.4), brightness = r.uniform(-0.2, 0.2);
    expected.push_back((img * (sign * contrast) + brightness).clamp(-1.0, 1.0));
  }
  EXPECT_TRUE(torch::equal(strong_view(x, mine), torch::stack(expected)));
  EXPECT_EQ(r.below(1000), mine.below(1000)) << "the same number of draws";
}

TEST(Model, InputStandardisationMatchesAHandComputation) {
  // Image (1, 2, 3, 4): mean 2.5, variance 1.25.
  const auto x = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({1, 1, 2, 2});
  const auto y = standardize_images(x);
  const double sd = std::sqrt(1.25 + ModelConfig::kInputNormEps);
  EXPECT_NEAR(y[0][0][0][0].item<double>(), -1.5 / sd, 1e-6);
  EXPECT_NEAR(y[0][0][1][1].item<double>(), 1.5 / sd, 1e-6);
  // Brightness and contrast of an image do not change what the network sees.
  ModelConfig c;
  c.width = 4, c.head_hidden = 8, c.mine_hidden = 8, c.input_norm = "standardize";
  torch::manual_seed(2);
  DidaNet net(c);
  net->eval();
  torch::NoGradGuard g;
  const auto img = torch::rand({2, 3, 32, 32}) - 0.5;
  EXPECT_LT((net->forward(img)["logits"] - net->forward(img * 0.5 + 0.2)["logits"]).abs().max().item<double>(), 1e-4);
}

TEST(Eval, SwapMeasuresOnAHandMadeModel) {
  // Images of two channels: channel 0 holds the class, channel 1 the domain. z_inv is channel 0,
  // z_spe channel 1, the decoder stacks them: a perfect split scores 1 and 1.
  const auto make = [](const std::vector<int64_t>& label, int64_t domain) {
    auto x = torch::zeros({static_cast<int64_t>(label.size()), 2, 1, 1});
    for (std::size_t i = 0; i < label.size(); ++i) x[static_cast<int64_t>(i)][0] = static_cast<double>(label[i]), x[static_cast<int64_t>(i)][1] = static_cast<double>(domain);
    return x;
  };
  const auto a = make({0, 1, 2, 3}, 0), b = make({3, 2, 1, 0}, 1);
  const auto ya = torch::tensor({0L, 1L, 2L, 3L}), db = torch::ones({4}, torch::kLong);
  const auto one_hot = [](const torch::Tensor& v, int n) { return torch::one_hot(v.flatten().round().to(torch::kLong), n).to(torch::kFloat32); };
  SwapParts parts;
  parts.z_inv = [](const torch::Tensor& x) { return x.narrow(1, 0, 1); };
  parts.z_spe = [](const torch::Tensor& x) { return x.narrow(1, 1, 1); };
  parts.decode = [](const torch::Tensor& zi, const torch::Tensor& zs) { return torch::cat({zi, zs}, 1); };
  parts.class_logits = [&](const torch::Tensor& x) { return one_hot(x.narrow(1, 0, 1), 4); };
  parts.style_logits = [&](const torch::Tensor& x) { return one_hot(x.narrow(1, 1, 1), 2); };
  EvalResult r;
  swap_measures(parts, a, ya, b, db, r);
  EXPECT_DOUBLE_EQ(r.swap_content_accuracy, 1.0);
  EXPECT_DOUBLE_EQ(r.swap_style_accuracy, 1.0);
  EXPECT_EQ(r.swap_pairs, 4);
  // A decoder that ignores the style (renders a's domain): style 0; one that takes b's content too:
  // content 0 (b's labels are a's reversed, no pair agrees).
  parts.decode = [](const torch::Tensor& zi, const torch::Tensor&) { return torch::cat({zi, torch::zeros_like(zi)}, 1); };
  swap_measures(parts, a, ya, b, db, r);
  EXPECT_DOUBLE_EQ(r.swap_style_accuracy, 0.0);
  EXPECT_DOUBLE_EQ(r.swap_style_target, 0.0);
  EXPECT_TRUE(std::isnan(r.swap_style_source));  // no swap here is in source style
  // Styles from both domains, a decoder that always renders the source: right for exactly those in source style.
  swap_measures(parts, torch::cat({a, b}), torch::cat({ya, ya}), torch::cat({b, a}), torch::cat({db, torch::zeros_like(db)}), r);
  EXPECT_DOUBLE_EQ(r.swap_style_accuracy, 0.5);
  EXPECT_DOUBLE_EQ(r.swap_style_source, 1.0);
  EXPECT_DOUBLE_EQ(r.swap_style_target, 0.0);
  parts.z_inv = [](const torch::Tensor& x) { return x.narrow(1, 0, 1).flip(0); };
  parts.decode = [](const torch::Tensor& zi, const torch::Tensor& zs) { return torch::cat({zi, zs}, 1); };
  swap_measures(parts, a, ya, b, db, r);
  EXPECT_DOUBLE_EQ(r.swap_content_accuracy, 0.0);
  // PSNR: an error of one grey level everywhere is 20 log10(255) dB.
  EXPECT_NEAR(psnr(torch::full({1, 3, 4, 4}, 1.0f / 127.5f), torch::zeros({1, 3, 4, 4})), 20 * std::log10(255.0), 1e-4);
}

// Style retrieval on hand-made images: 3-channel images, K = 4 style images of distinct colours and
// spreads. A decoder that renders the style image's colour statistics retrieves every swap; one
// that renders the content retrieves 1/K; one that renders a fixed style, 1/K; one that renders the
// next style, 0.
TEST(Eval, StyleRetrievalOnHandMadeImages) {
  torch::manual_seed(5);
  const int64_t k = 4, n = 6;
  auto styles = torch::zeros({k, 3, 8, 8});
  for (int64_t i = 0; i < k; ++i)
    styles[i] = torch::randn({3, 8, 8}) * (0.1 + 0.1 * static_cast<double>(i)) + torch::tensor({0.5 * i - 0.8, 0.2, -0.3 * i}).view({3, 1, 1});
  const auto contents = torch::rand({n, 3, 8, 8}) * 0.2;
  SwapParts parts;
  parts.z_inv = [](const torch::Tensor& x) { return x; };
  parts.z_spe = [](const torch::Tensor& x) { return x; };
  const auto descriptor = style_descriptors(styles);
  ASSERT_EQ(descriptor.size(), static_cast<std::size_t>(k));
  ASSERT_EQ(descriptor[2].size(), 6u);
  EXPECT_NEAR(descriptor[2][0], styles[2][0].mean().item<double>(), 1e-6);
  EXPECT_NEAR(descriptor[2][3], styles[2][0].std(false).item<double>(), 1e-6);
  EvalResult r;
  // the content's shapes with the style's per-channel mean and spread (AdaIN's rendering)
  parts.decode = [](const torch::Tensor& zi, const torch::Tensor& zs) {
    const auto m = [](const torch::Tensor& x) { return x.flatten(2).mean(2).view({x.size(0), x.size(1), 1, 1}); };
    const auto s = [](const torch::Tensor& x) { return x.flatten(2).std(2, false).view({x.size(0), x.size(1), 1, 1}); };
    return (zi - m(zi)) / s(zi) * s(zs) + m(zs);
  };
  swap_style_retrieval(parts, contents, styles, r);
  EXPECT_DOUBLE_EQ(r.swap_style_retrieval, 1.0);
  EXPECT_DOUBLE_EQ(r.style_retrieval_of_styles, 1.0);
  EXPECT_DOUBLE_EQ(r.style_retrieval_of_contents, 0.25);
  EXPECT_EQ(r.style_retrieval_k, 4);
  EXPECT_EQ(r.style_retrieval_contents, 6);
  parts.decode = [](const torch::Tensor& zi, const torch::Tensor&) { return zi; };
  swap_style_retrieval(parts, contents, styles, r);
  EXPECT_DOUBLE_EQ(r.swap_style_retrieval, 0.25) << "the content unchanged: one right in K";
  parts.decode = [styles](const torch::Tensor& zi, const torch::Tensor&) { return styles[1].expand_as(zi); };
  swap_style_retrieval(parts, contents, styles, r);
  EXPECT_DOUBLE_EQ(r.swap_style_retrieval, 0.25) << "one style for every column";
  parts.decode = [](const torch::Tensor&, const torch::Tensor& zs) { return zs.roll(1, 0); };
  swap_style_retrieval(parts, contents, styles, r);
  EXPECT_DOUBLE_EQ(r.swap_style_retrieval, 0.0) << "another column's style";
}

TEST(Mine, BoundRisesWithCorrelationAndApproachesTheAnalyticValue) {
  const double b0 = trained_mine_bound(0.0), b5 = trained_mine_bound(0.5), b9 = trained_mine_bound(0.9);
  const double mi5 = -0.5 * std::log(1 - 0.25), mi9 = -0.5 * std::log(1 - 0.81);  // 0.144, 0.830 nats
  EXPECT_LT(b0, b5);
  EXPECT_LT(b5, b9);
  EXPECT_NEAR(b0, 0.0, 0.05);
  EXPECT_NEAR(b5, mi5, 0.08);
  EXPECT_NEAR(b9, mi9, 0.15);
  EXPECT_LT(b9, mi9 + 0.05);  // a lower bound, up to sampling noise
}

TEST(Mine, MinMaxSign_FeatureStepLowersTheBound_TStepRaisesIt) {
  torch::manual_seed(5);
  LayerNet tnet(describe_mine(2, 32));
  const StatisticsNet t = [&](const torch::Tensor& a, const torch::Tensor& b) { return tnet->apply("mine", {a, b}); };
  MineEstimator est(0.05);
  torch::optim::Adam warm(tnet->parameters(), torch::optim::AdamOptions(3e-3));
  auto [a0, b0] = gaussians(0.8, 512);
  const auto perm = torch::randperm(512);
  for (int i = 0; i < 200; ++i) {  // T learns to see the dependence
    warm.zero_grad();
    (-est(t, a0, b0, perm).surrogate).backward();
    warm.step();
  }
  auto bound = [&](const torch::Tensor& a, const torch::Tensor& b) {
    torch::NoGradGuard g;
    return MineEstimator()(t, a, b, perm).bound.item<double>();
  };
  // The features, through the min-max loss, move to lower the bound.
  auto a = a0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
  const double before = bound(a, b);
  tnet->zero_grad();
  mine_minmax_loss(est, t, a, b, perm).backward();
  torch::optim::SGD feature_step({a, b}, torch::optim::SGDOptions(0.5));
  feature_step.step();
  EXPECT_LT(bound(a, b), before - 1e-4);
  // T, through the same loss, moves to raise it.
  const auto a1 = a.detach(), b1 = b.detach();
  const double before_t = bound(a1, b1);
  torch::optim::SGD t_step(tnet->parameters(), torch::optim::SGDOptions(0.05));
  t_step.zero_grad();
  mine_minmax_loss(est, t, a1, b1, perm).backward();
  t_step.step();
  EXPECT_GT(bound(a1, b1), before_t + 1e-5);
}

TEST(Model, ParameterNamesAndShapesMatchTheCoreConfig) {
  for (const char* variant : {"branch", "vector"})
    for (bool progressive : {false, true}) {
      ModelConfig c;
      c.pool = progressive ? "flatten" : "avg";
      c.variant = variant;
      c.progressive = progressive;
      c.width = 8;
      DidaNet net(c);
      std::map<std::string, std::vector<int64_t>> have;
      for (const auto& [name, t] : named_state(*net)) have[name] = t.sizes().vec();
      const auto specs = parameter_specs(c);
      EXPECT_EQ(specs.size(), have.size()) << variant << progressive;
      for (const auto& s : specs) EXPECT_EQ(have[s.name], s.shape) << s.name;
      // Shapes worked out by hand from METHOD.md's network (width 8: F has 32 channels at 4 x 4).
      const int64_t pooled = progressive ? 32 * 4 * 4 : 32;  // flatten or global average
      EXPECT_EQ(have["encoder.conv1.weight"], (std::vector<int64_t>{8, 3, 5, 5}));
      EXPECT_EQ(have["encoder.conv3.weight"], (std::vector<int64_t>{32, 16, 3, 3}));
      EXPECT_EQ(have["inv.conv.weight"], (std::vector<int64_t>{32, 32, 3, 3}));
      EXPECT_EQ(have["classifier.fc1.weight"], (std::vector<int64_t>{c.head_hidden, pooled}));
      EXPECT_EQ(have["mine.fc1.weight"], (std::vector<int64_t>{c.mine_hidden, 2 * pooled}));
      EXPECT_EQ(have["feat_dec.weight"], (std::vector<int64_t>{32, 64, 1, 1}));
      EXPECT_EQ(have.count("spe.conv.weight"), std::string(variant) == "branch" ? 1u : 0u);
      EXPECT_EQ(have.count("inv1.conv.weight"), progressive ? 1u : 0u);
      const auto o = net->forward(torch::randn({2, 3, 32, 32}));
      EXPECT_EQ(o["logits"].sizes(), (std::vector<int64_t>{2, 10}));
      EXPECT_EQ(o["z_inv"].sizes(), o["z_spe"].sizes());
      if (std::string(variant) == "vector") {
        EXPECT_TRUE(torch::allclose(o["z_inv"] + o["z_spe"], o["f"], 1e-5, 1e-6));  // equal up to rounding
      }
      EXPECT_EQ(net->reconstruct_pixels(o["z_inv"], o["z_spe"]).sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
    }
}

// L_critic's image critic comes from the description like every other module: three stride-2
// convolutions and a linear layer whose input size follows the image size (28: 14, 7, 4).
TEST(Model, TheCriticIsDescribedLikeEveryOtherModule) {
  for (const int size : {32, 28}) {
    ModelConfig c;
    c.in_channels = 1, c.image_size = size;
    const Network critic = describe_critic(c);
    ASSERT_EQ(critic.modules.size(), 4u);
    for (const auto& m : critic.modules) {
      EXPECT_EQ(m.group, ModuleGroup::Critic) << m.name;
      EXPECT_TRUE(m.training_only) << m.name;
    }
    EXPECT_EQ(critic.module("critic.conv2").stride, 2);
    EXPECT_EQ(critic.module("critic.out").in, 64 * 4 * 4) << size;
    LayerNet net(critic);
    std::map<std::string, std::vector<int64_t>> have;
    for (const auto& p : net->named_parameters()) have[p.key()] = p.value().sizes().vec();
    EXPECT_EQ(have.size(), 8u) << "a weight and a bias per module";
    EXPECT_EQ(have["critic.conv1.weight"], (std::vector<int64_t>{16, 1, 3, 3}));
    EXPECT_EQ(have["critic.conv3.weight"], (std::vector<int64_t>{64, 32, 3, 3}));
    EXPECT_EQ(have["critic.out.weight"], (std::vector<int64_t>{2, 1024}));
    // Its graph is the hand-written critic: conv, leaky ReLU (0.2) three times, flatten, linear.
    const auto x = torch::randn({3, 1, size, size});
    auto y = x;
    for (const char* conv : {"critic.conv1", "critic.conv2", "critic.conv3"}) {
      const auto& p = net->named_parameters();
      y = torch::leaky_relu(torch::conv2d(y, p[std::string(conv) + ".weight"], p[std::string(conv) + ".bias"], 2, 1), 0.2);
    }
    const auto& p = net->named_parameters();
    y = torch::linear(y.flatten(1), p["critic.out.weight"], p["critic.out.bias"]);
    EXPECT_TRUE(torch::allclose(net->apply("critic", {x}), y, 1e-5, 1e-6)) << size;
  }
}

// Which terms each method computes, from the registry and the option table.
TEST(Methods, TermsFollowTheMethod) {
  const auto on = [](Method m, const std::function<void(TrainOptions&)>& set = nullptr) {
    TrainOptions o;
    o.method = m;
    if (set) set(o);
    std::string names;
    for (const auto& t : loss_terms())
      if (term_weight(t, o) > 0) names += (names.empty() ? "" : " ") + t.name;
    return names;
  };
  EXPECT_EQ(on(Method::SourceOnly), "task");
  EXPECT_EQ(on(Method::TargetOnly), "task");
  EXPECT_EQ(on(Method::Dann), "task adv");
  EXPECT_EQ(on(Method::Dsn), "task adv rec orth") << "dsn's difference loss has a weight when none is given";
  EXPECT_EQ(on(Method::Dida), "task adv dom mi rec rel cons bal swap critic");
  EXPECT_EQ(on(Method::Dida, [](TrainOptions& o) { o.readouts = false; }), "task adv dom mi rec rel cons bal")
      << "L_swap and L_critic train the read-out decoder";
  EXPECT_EQ(on(Method::Dida, [](TrainOptions& o) { o.lambda_mi = 0, o.lambda_orth = 0.5; }),
            "task adv dom rec rel cons bal swap critic orth");
  TrainOptions dsn;
  dsn.method = Method::Dsn;
  for (const auto& t : loss_terms())
    if (t.name == "orth") {
      EXPECT_EQ(term_weight(t, dsn), 1e-4);
    }
  EXPECT_FALSE(uses_target_images(Method::TargetOnly));
  EXPECT_TRUE(uses_target_images(Method::Dann));
}

TEST(Eval, ProbesAndKsgOnKnownData) {
  torch::manual_seed(1);
  auto [a, b] = gaussians(0.9, 800);
  EXPECT_NEAR(ksg_mutual_information(a, b), -0.5 * std::log(1 - 0.81), 0.1);
  auto [c, d] = gaussians(0.0, 800);
  EXPECT_NEAR(ksg_mutual_information(c, d), 0.0, 0.05);
  EXPECT_NEAR(digamma(1.0), -0.5772156649, 1e-9);
  // Separable classes: a probe finds them; labels independent of x: it does not.
  const auto x = torch::randn({400, 5});
  const auto y = (x.select(1, 0) > 0).to(torch::kLong);
  EXPECT_GT(probe_accuracy(x.slice(0, 0, 200), y.slice(0, 0, 200), x.slice(0, 200), y.slice(0, 200), 2), 0.95);
  const auto noise = torch::randint(0, 2, {400}, torch::kLong);
  EXPECT_LT(probe_accuracy(x.slice(0, 0, 200), noise.slice(0, 0, 200), x.slice(0, 200), noise.slice(0, 200), 2), 0.65);
}

TEST(Training, ASmallRunRaisesSourceAccuracy) {
  TempDir dir("learn");
  TrainOptions o = tiny(dir.path("run"));
  o.epochs = 4;
  o.iters_per_epoch = 30;
  const DomainPair pair = pair_for(o);
  torch::manual_seed(o.seed);
  ModelConfig c = o.model;
  DidaNet untrained(c);
  const double before = accuracy(*untrained, images_to_tensor(pair.source_val), labels_to_tensor(pair.source_val), torch::kCPU);
  ASSERT_EQ(run_training(o, false), kTrainDone);
  LoadedBundle b = load_bundle(o.out);
  const double after = b.card["metrics"]["source_val_accuracy"].get<double>();
  EXPECT_GT(after, before + 0.25) << "before " << before << ", after " << after;
  EXPECT_GT(after, 0.4);
  // The log has one line per epoch with all losses and both accuracies.
  std::ifstream log(o.out + "/log.jsonl");
  int lines = 0;
  for (std::string line; std::getline(log, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("target_test_accuracy"));
    EXPECT_TRUE(j["losses"].contains("mi"));
  }
  EXPECT_EQ(lines, 4);
  // The bundle's accuracy is what the network computes.
  EXPECT_NEAR(accuracy(*b.net, images_to_tensor(pair.source_val), labels_to_tensor(pair.source_val), torch::kCPU), after, 1e-12);
}

TEST(Training, TheReplayRecordsEveryEpochChangesNothingAndSurvivesAResume) {
  TempDir dir("replay");
  TrainOptions o = tiny(dir.path("with"));
  o.epochs = 3;
  o.replay = 10;
  ASSERT_EQ(run_training(o, false), kTrainDone);
  const Replay r = parse_replay(read_file_bytes(o.out + "/bundle/replay.safetensors"), "replay.safetensors");
  EXPECT_EQ(r.epochs, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(r.samples, 20);
  EXPECT_EQ(r.source_samples, 10);
  EXPECT_EQ(r.inv_2d.size(), 3u * 20 * 2);
  EXPECT_EQ(r.source, "mnist");
  double rms = 0;
  for (int i = 0; i < 40; ++i) rms += r.spe_2d[2 * 20 * 2 + i] * r.spe_2d[2 * 20 * 2 + i];
  EXPECT_NEAR(rms / 20, 1.0, 1e-4) << "scaled to unit RMS radius";
  // Losses and accuracies come from the log, epoch by epoch.
  std::ifstream log(o.out + "/log.jsonl");
  std::string line;
  for (int e = 0; std::getline(log, line); ++e) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_FLOAT_EQ(r.source_val[static_cast<std::size_t>(e)], j["source_val_accuracy"].get<float>());
    const auto at = std::find(r.loss_names.begin(), r.loss_names.end(), "task") - r.loss_names.begin();
    EXPECT_FLOAT_EQ(r.losses[static_cast<std::size_t>(e) * r.loss_names.size() + at], j["losses"]["task"].get<float>());
  }
  // Recording changes nothing of the training: without it the weights are the same bytes.
  TrainOptions off = o;
  off.out = dir.path("without"), off.replay = 0;
  ASSERT_EQ(run_training(off, false), kTrainDone);
  EXPECT_EQ(read_file_bytes(off.out + "/bundle/model.safetensors"), read_file_bytes(o.out + "/bundle/model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(off.out + "/bundle/replay.safetensors"));
  // Stopped after an epoch and a half, then resumed: every epoch once, the same layouts.
  TrainOptions cut = o;
  cut.out = dir.path("cut"), cut.stop_after_iters = 9;
  ASSERT_EQ(run_training(cut, false), kTrainInterrupted);
  cut.stop_after_iters = 0;
  ASSERT_EQ(run_training(cut, true), kTrainDone);
  const Replay again = parse_replay(read_file_bytes(cut.out + "/bundle/replay.safetensors"), "replay.safetensors");
  EXPECT_EQ(again.epochs, r.epochs);
  for (std::size_t i = 0; i < r.inv_2d.size(); ++i) ASSERT_NEAR(again.inv_2d[i], r.inv_2d[i], 1e-4) << i;
}

TEST(Training, TheReplaysLastFrameIsTheBundlesModelAverageAndErasureIncluded) {
  TempDir dir("replay-erasure");
  TrainOptions o = tiny(dir.path("run"));
  o.method = Method::Dann;
  o.model.erase_domain_mean = true;
  o.weight_average = 0.8;
  o.replay = 10;
  ASSERT_EQ(run_training(o, false), kTrainDone);
  const Replay r = parse_replay(read_file_bytes(o.out + "/bundle/replay.safetensors"), "replay.safetensors");
  ASSERT_EQ(r.epochs.back(), o.epochs);
  // Its accuracies are the bundle's, not the log's last line (of the last step's weights).
  const auto metrics = nlohmann::json::parse(std::ifstream(o.out + "/bundle/config.json"))["metrics"];
  EXPECT_FLOAT_EQ(r.source_val.back(), metrics["source_val_accuracy"].get<float>());
  EXPECT_FLOAT_EQ(r.target_test.back(), metrics["target_test_accuracy"].get<float>());
  // The bundle's z_inv of the replay's images (source-val then target-test), laid out as the
  // recorder does; alignment only rotates or reflects, so every pairwise distance is the same.
  const DomainPair pair = pair_for(o);
  LoadedBundle b = load_bundle(o.out);
  b.net->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::cat({images_to_tensor(pair.source_val).slice(0, 0, 10), images_to_tensor(pair.target_test).slice(0, 0, 10)});
  const auto f = b.net->forward(x)["p_inv"].contiguous().view({20, -1});
  const std::vector<float> v(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  const auto want = pca_2d(v, 20, static_cast<int>(f.size(1)));
  const float* last = r.inv_2d.data() + (r.epoch_count() - 1) * 20 * 2;
  // Alignment scales each frame to unit RMS radius as well: distances relative to that radius.
  auto dist = [](const float* p, int i, int j) {
    double ms = 0;
    for (int k = 0; k < 40; ++k) ms += p[k] * p[k];
    return std::hypot(p[2 * i] - p[2 * j], p[2 * i + 1] - p[2 * j + 1]) / std::sqrt(ms / 20);
  };
  for (int i = 0; i < 20; ++i)
    for (int j = i + 1; j < 20; ++j) ASSERT_NEAR(dist(last, i, j), dist(want.data(), i, j), 2e-3) << i << " " << j;
}

TEST(Training, EachEpochPublishesItsModelAndTheRunsState) {
  TempDir dir("live");
  TrainOptions o = tiny(dir.path("run"));
  o.method = Method::Dann;
  o.epochs = 3;
  o.stop_after_iters = 8;  // stopped in the second epoch
  ASSERT_EQ(run_training(o, false), kTrainInterrupted);
  auto json = [&](const std::string& f) { return nlohmann::json::parse(std::ifstream(o.out + "/" + f)); };
  EXPECT_EQ(json("status.json")["state"], "interrupted");
  EXPECT_EQ(json("status.json")["epoch"], 1);
  EXPECT_TRUE(json("status.json")["resumed_at_epoch"].is_null());
  // The first epoch's model, as the site ships a bundle: no tensors only training uses; it loads in the core.
  auto card = json("latest/config.json");
  EXPECT_EQ(card["snapshot"]["epoch"], 1);
  EXPECT_EQ(card["inference_only"], true);
  const auto tensors = SafeTensorsFile::load(o.out + "/latest/model.safetensors");
  ASSERT_FALSE(card["training_only_tensors"].empty());
  for (const auto& name : card["training_only_tensors"]) EXPECT_FALSE(tensors.contains(name.get<std::string>())) << name;
  EXPECT_NO_THROW(Model::load(o.out + "/latest"));
  o.stop_after_iters = 0;
  ASSERT_EQ(run_training(o, true), kTrainDone);
  EXPECT_EQ(json("status.json")["state"], "done");
  EXPECT_EQ(json("status.json")["epoch"], 3);
  EXPECT_EQ(json("status.json")["resumed_at_epoch"], 1);
  EXPECT_GE(json("status.json")["publish_seconds"].get<double>(), 0.0);
  EXPECT_EQ(json("latest/config.json")["snapshot"]["epoch"], 3);
  // The last epoch's weights are the bundle's, apart from what is set after the last step.
  const auto last = SafeTensorsFile::load(o.out + "/latest/model.safetensors");
  const auto bundle = SafeTensorsFile::load(o.out + "/bundle/model.safetensors");
  EXPECT_EQ(last.to_f32("encoder.conv1.weight"), bundle.to_f32("encoder.conv1.weight"));
}

TEST(Training, WarmupEpochsTrainTheTaskAndReconstructionOnly) {
  TempDir dir("warmup");
  TrainOptions o = tiny(dir.path("run"));
  o.method = Method::Dida;
  o.epochs = 3;
  o.iters_per_epoch = 4;
  o.warmup_epochs = 2;
  ASSERT_EQ(run_training(o, false), kTrainDone);
  std::ifstream log(o.out + "/log.jsonl");
  std::vector<nlohmann::json> epochs;
  for (std::string line; std::getline(log, line);) epochs.push_back(nlohmann::json::parse(line)["losses"]);
  ASSERT_EQ(epochs.size(), 3u);
  for (int e = 0; e < 2; ++e) {  // warm-up: no adversarial, domain or MI term; the task and L_rec run
    EXPECT_EQ(epochs[static_cast<std::size_t>(e)]["adv"].get<double>(), 0.0) << "epoch " << e + 1;
    EXPECT_EQ(epochs[static_cast<std::size_t>(e)]["dom"].get<double>(), 0.0) << "epoch " << e + 1;
    EXPECT_EQ(epochs[static_cast<std::size_t>(e)]["mi"].get<double>(), 0.0) << "epoch " << e + 1;
    EXPECT_GT(epochs[static_cast<std::size_t>(e)]["task"].get<double>(), 0.0);
    EXPECT_GT(epochs[static_cast<std::size_t>(e)]["rec"].get<double>(), 0.0);
  }
  EXPECT_GT(epochs[2]["adv"].get<double>(), 0.0);  // then every term
  EXPECT_GT(epochs[2]["dom"].get<double>(), 0.0);
  EXPECT_NE(epochs[2]["mi"].get<double>(), 0.0);
  EXPECT_EQ(load_bundle(o.out).card["training"]["options"]["warmup_epochs"].get<int>(), 2);
}

TEST(Training, ASecondTrainingOfTheSameRunIsRefused) {
  TempDir dir("lock");
  TrainOptions o = tiny(dir.path("run"));
  std::filesystem::create_directories(o.out);
  // Another process holding the lock: flock locks belong to an open file description, so a second
  // open in this process stands for it.
  const int fd = ::open((o.out + "/.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  try {
    run_training(o, false);
    ADD_FAILURE() << "a locked run was trained";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("another dida is training this run"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(o.out + "/log.jsonl")) << "nothing of the other run's is touched";
  ::close(fd);
  ASSERT_EQ(run_training(o, false), kTrainDone) << "the lock is free again";
}

TEST(Training, EveryRecipeTermRunsAndIsLogged) {
  // The whole recipe in both batch-norm modes and both optimisations: each extension's loss is
  // computed (finite, logged), the label-free target statistics are in the log, and the run ends
  // with a bundle that standardises its input.
  for (const auto bn : {BatchNormMode::Separate, BatchNormMode::Mixed})
    for (const auto optimisation : {Optimisation::Joint, Optimisation::Staged}) {
      TempDir dir("recipe-" + name_of(bn) + name_of(optimisation));
      TrainOptions o = tiny(dir.path("run"));
      o.method = Method::Dida, o.batch_norm = bn, o.optimisation = optimisation;
      o.lambda_cons = 1, o.cons_threshold = 0.0, o.lambda_swap = 1, o.augment_source = true, o.lambda_orth = 0.1, o.lambda_bal = 1;
      o.lambda_spe_cls = 0.3, o.lambda_stats = 1;
      o.model.variant = "style", o.model.decoder_style = "adain";  // L_stats reads the AdaIN output's statistics
      ASSERT_EQ(run_training(o, false), kTrainDone) << name_of(bn) << " " << name_of(optimisation);
      std::ifstream log(o.out + "/log.jsonl");
      nlohmann::json last;
      for (std::string line; std::getline(log, line);) last = nlohmann::json::parse(line);
      for (const auto& term : loss_terms()) {  // every term of the registry, each > 0 and finite
        EXPECT_TRUE(std::isfinite(last["losses"][term.name].get<double>())) << term.name;
        if (term.name != "mi") {
          EXPECT_GT(last["losses"][term.name].get<double>(), 0.0) << term.name << " " << name_of(bn) << " " << name_of(optimisation);
        } else {
          EXPECT_NE(last["losses"][term.name].get<double>(), 0.0);
        }
      }
      EXPECT_GT(last["losses"]["cons_kept"].get<double>(), 0.99) << "threshold 0 keeps every pseudo-label";
      // The label-free statistics are the final model's on target-train.
      LoadedBundle b = load_bundle(o.out);
      const LabelFreeStats lf = label_free_stats(*b.net, images_to_tensor(pair_for(o).target_train), torch::kCPU);
      EXPECT_NEAR(last["target_train_confidence"].get<double>(), lf.confidence, 1e-6);
      EXPECT_NEAR(last["target_train_balance"].get<double>(), lf.balance, 1e-6);
      EXPECT_EQ(load_bundle(o.out).card["model"]["input_norm"], "standardize");
    }
}

TEST(Training, ResumeGivesTheSameWeightsAsAnUninterruptedRun) {
  TempDir dir("resume");
  // joint, staged, and joint without the read-outs; the default has the training-only modules (the
  // image critic with its optimiser, the recipe's copies of D_spe and R_pix): they live in the checkpoint
  // joint with the erasure: its domain gap, set after the last step, is part of the weights
  for (const std::string optimisation : {"joint", "staged", "joint-no-readouts", "joint-erase"}) {
    const auto set = [&](TrainOptions& o) {
      o.optimisation = optimisation == "staged" ? Optimisation::Staged : Optimisation::Joint;
      if (optimisation == "joint-no-readouts") o.readouts = false;
      if (optimisation == "joint-erase") o.model.erase_domain_mean = true;
    };
    TrainOptions a = tiny(dir.path("a-" + optimisation));
    set(a);
    ASSERT_EQ(run_training(a, false), kTrainDone);
    TrainOptions b = tiny(dir.path("b-" + optimisation));
    set(b);
    b.stop_after_iters = 4;  // mid-epoch, as Ctrl-C would
    ASSERT_EQ(run_training(b, false), kTrainInterrupted);
    EXPECT_FALSE(fs::exists(b.out + "/bundle"));
    b.stop_after_iters = 5;  // across the epoch boundary
    ASSERT_EQ(run_training(b, true), kTrainInterrupted);
    b.stop_after_iters = 0;
    ASSERT_EQ(run_training(b, true), kTrainDone);
    const auto wa = SafeTensorsFile::load(a.out + "/bundle/model.safetensors");
    const auto wb = SafeTensorsFile::load(b.out + "/bundle/model.safetensors");
    ASSERT_EQ(wa.names(), wb.names());
    for (const auto& name : wa.names()) EXPECT_EQ(wa.to_f32(name), wb.to_f32(name)) << optimisation << " " << name;
    if (optimisation == "joint-erase") {  // training set the gap
      const auto g = wa.to_f32("inv_erase.up.weight");
      EXPECT_GT(*std::max_element(g.begin(), g.end()) - *std::min_element(g.begin(), g.end()), 1e-3);
    }
  }
}

TEST(Training, ClearErrorsForBadRunsAndCheckpoints) {
  TempDir dir("errors");
  TrainOptions o = tiny(dir.path("run"));
  o.stop_after_iters = 2;
  ASSERT_EQ(run_training(o, false), kTrainInterrupted);
  // Starting again over an existing run is refused.
  o.stop_after_iters = 0;
  EXPECT_NE(error_of([&] { run_training(o, false); }).find("already holds a run"), std::string::npos);
  // A corrupt checkpoint.
  std::ofstream(o.out + "/checkpoint.pt", std::ios::trunc) << "not a checkpoint";
  const std::string err = error_of([&] { run_training(o, true); });
  EXPECT_NE(err.find("checkpoint.pt: corrupt or incompatible checkpoint"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos);
  EXPECT_NE(error_of([&] { run_training(tiny(dir.path("none")), true); }).find("not a run folder"), std::string::npos);
  // A run's config.json edited to another width than its checkpoint's: refused, not resumed into
  // an unreadable bundle.
  {
    TrainOptions w = tiny(dir.path("width"));
    w.stop_after_iters = 2;
    ASSERT_EQ(run_training(w, false), kTrainInterrupted);
    const auto bytes = read_file_bytes(w.out + "/config.json");
    auto record = nlohmann::json::parse(bytes.begin(), bytes.end());
    record["options"]["width"] = 2 * w.model.width;
    std::ofstream(w.out + "/config.json", std::ios::trunc) << record.dump();
    const std::string e = error_of([&] { run_training(w, true); });
    EXPECT_NE(e.find("checkpoint.pt: tensor \"encoder.conv1.weight\" has another shape than the run's config.json describes"),
              std::string::npos) << e;
    EXPECT_FALSE(fs::exists(w.out + "/bundle"));
  }
  // --out at a folder with files of the user's own, or at a bundle: refused, nothing written.
  fs::create_directories(dir.path("mine"));
  std::ofstream(dir.path("mine/config.json")) << "{\"format\": \"dida-bundle\"}";
  const std::string mine = error_of([&] { run_training(tiny(dir.path("mine")), false); });
  EXPECT_NE(mine.find("mine: is not empty (it holds config.json)"), std::string::npos) << mine;
  EXPECT_EQ(read_file_bytes(dir.path("mine/config.json")).size(), 25u) << "the user's file is untouched";
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path("mine")), fs::directory_iterator()), 1);
  TrainOptions bad = tiny(dir.path("bad"));
  bad.model.variant = "magic";
  const std::string variant = error_of([&] { run_training(bad, false); });
  EXPECT_NE(variant.find("--variant must be one of branch|vector"), std::string::npos) << variant;
  EXPECT_NE(variant.find("not \"magic\""), std::string::npos) << variant;
  bad = tiny(dir.path("bad-lambda"));
  bad.lambda_mi = std::nan("");
  EXPECT_NE(error_of([&] { run_training(bad, false); }).find("--lambda-mi must be a finite number"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.path("bad-lambda"))) << "refused before anything is written";
  // A recorded option is checked on resume as on the command line.
  {
    TrainOptions r = tiny(dir.path("resume-checked"));
    r.stop_after_iters = 2;
    ASSERT_EQ(run_training(r, false), kTrainInterrupted);
    const auto bytes = read_file_bytes(r.out + "/config.json");
    auto record = nlohmann::json::parse(bytes.begin(), bytes.end());
    record["options"]["optimisation"] = "sometimes";
    std::ofstream(r.out + "/config.json", std::ios::trunc) << record.dump();
    const std::string e = error_of([&] { run_training(r, true); });
    EXPECT_NE(e.find("config.json: option \"optimisation\" must be one of joint|staged, not \"sometimes\""), std::string::npos) << e;
  }
}

// The network's weights after one training step (epoch 0, iteration 0, progress 0.5).
std::map<std::string, torch::Tensor> weights_after_one_step(const TrainOptions& o, const DomainPair& pair, int steps = 1) {
  TrainStep step(o, pair, torch::kCPU);
  for (int i = 0; i < steps; ++i) step.step(0, i, 0.5);
  EXPECT_TRUE(step.finite());
  std::map<std::string, torch::Tensor> w;
  for (const auto& p : step.net().named_parameters()) w[p.key()] = p.value().detach().clone();
  return w;
}

// The read-outs train the bundle's D_spe and R_pix alone. One SGD step each: L_critic and L_swap
// at 0 and above differ in R_pix's weights only; and after three steps of the whole read-out
// configuration every weight but D_spe's and R_pix's is still exactly the recipe's (--no-readouts
// with the recipe's decoder), so the encoder learns what it would without them. Fails if a
// read-out term reaches the encoder, or if a training copy starts from other weights.
TEST(Training, TheReadoutsTrainTheDecoderAndStyleHeadAlone) {
  TempDir dir("readouts");
  TrainOptions o = tiny(dir.path("run"));
  o.optimizer = Optimizer::Sgd, o.lr = 0.1, o.anneal_lr = false, o.augment_source = false;
  const DomainPair pair = pair_for(o);
  auto after_one_step = [&](const std::function<void(TrainOptions&)>& set) {
    TrainOptions t = o;
    set(t);
    return weights_after_one_step(t, pair);
  };
  // Which weights two runs disagree on: "decoder" (pix_dec.* only), "more" or "none".
  auto differ = [](const std::map<std::string, torch::Tensor>& a, const std::map<std::string, torch::Tensor>& b) {
    bool decoder = false, other = false;
    for (const auto& [name, t] : a)
      if (!torch::equal(t, b.at(name))) (name.rfind("pix_dec.", 0) == 0 ? decoder : other) = true;
    return other ? std::string("more") : decoder ? std::string("decoder") : std::string("none");
  };
  const auto critic = [](double w) { return [w](TrainOptions& t) { t.lambda_critic = w; }; };
  const auto swap = [](double w) { return [w](TrainOptions& t) { t.lambda_swap = w; }; };
  EXPECT_EQ(differ(after_one_step(critic(0.0)), after_one_step(critic(1.0))), "decoder") << "L_critic trains R_pix alone";
  EXPECT_EQ(differ(after_one_step(swap(0.0)), after_one_step(swap(1.0))), "decoder") << "L_swap trains R_pix alone";
  const auto pixels = [](double w) { return [w](TrainOptions& t) { t.lambda_critic = 0, t.lambda_swap = 0, t.pixel_rec_weight = w; }; };
  EXPECT_EQ(differ(after_one_step(pixels(0.0)), after_one_step(pixels(10.0))), "more")
      << "the recipe's pixel term (through its copy of R_pix) still shapes the encoder";

  TrainOptions recipe = o;
  recipe.readouts = false, recipe.model.decoder = "small", recipe.model.decoder_norm = "none";
  const auto plain = weights_after_one_step(recipe, pair, 3);
  const auto readout = weights_after_one_step(o, pair, 3);
  bool dom_spe_learnt = false, pix_dec_learnt = false;
  for (const auto& [name, w] : readout) {
    const bool part = name.rfind("dom_spe.", 0) == 0 || name.rfind("pix_dec.", 0) == 0;
    const bool same = plain.count(name) && torch::equal(w, plain.at(name));
    if (!part) {
      EXPECT_TRUE(same) << name;
    }
    if (name.rfind("dom_spe.", 0) == 0) dom_spe_learnt |= !same;
    if (name.rfind("pix_dec.", 0) == 0) pix_dec_learnt |= !same;
  }
  EXPECT_TRUE(dom_spe_learnt && pix_dec_learnt) << "the read-outs learn from their own terms";
}

// L_spe_cls: its own class head on z_spe behind a gradient reversal. One SGD step with the term at
// 0 and above: S and E change, I and C do not (the term never reaches them); the head learns to
// read the class (its loss falls over steps of its own) while the reversal makes S and E hide it
// (the same steps without the reversal would lower the head's loss faster).
TEST(Training, TheClassAdversaryOnZspeReachesSAndEOnly) {
  TempDir dir("spe-cls");
  TrainOptions o = tiny(dir.path("run"));
  o.optimizer = Optimizer::Sgd, o.lr = 0.1, o.anneal_lr = false, o.augment_source = false;
  const DomainPair pair = pair_for(o);
  TrainOptions on = o;
  on.lambda_spe_cls = 1.0;
  const auto a = weights_after_one_step(o, pair), b = weights_after_one_step(on, pair);
  for (const auto& [name, w] : a) {
    const bool reached = name.rfind("spe.", 0) == 0 || name.rfind("encoder.", 0) == 0;
    EXPECT_EQ(torch::equal(w, b.at(name)), !reached) << name;
  }
  // The checkpoint keeps the head: a resumed run equals an uninterrupted one.
  TrainOptions whole = on, cut = on;
  whole.optimizer = cut.optimizer = Optimizer::Adam;
  whole.out = dir.path("whole"), cut.out = dir.path("cut"), cut.stop_after_iters = 5;
  ASSERT_EQ(run_training(whole, false), kTrainDone);
  ASSERT_EQ(run_training(cut, false), kTrainInterrupted);
  cut.stop_after_iters = 0;
  ASSERT_EQ(run_training(cut, true), kTrainDone);
  EXPECT_EQ(read_file_bytes(whole.out + "/bundle/model.safetensors"), read_file_bytes(cut.out + "/bundle/model.safetensors"));
  const auto names = SafeTensorsFile::load(whole.out + "/bundle/model.safetensors").names();
  for (const auto& n : names) EXPECT_EQ(n.find("spe_cls"), std::string::npos) << "training-only: not in the bundle";
}

const LossTerm& term_named(const std::string& name) {
  for (const auto& t : loss_terms())
    if (t.name == name) return t;
  throw std::out_of_range(name);
}

// L_stats: its value is the squared miss of the statistics the network says (style_stats on z_spe)
// against the images' own per-channel mean and spread; a step on it alone brings them nearer, and
// it reaches S and the decoder's two style maps only.
TEST(Training, TheStatsTermTeachesZspeTheImagesOwnColourStatistics) {
  TrainOptions o;
  o.readouts = false;
  o.model.width = 4, o.model.head_hidden = 8, o.model.mine_hidden = 8, o.model.variant = "style", o.model.decoder_style = "adain";
  torch::manual_seed(3);
  DidaNet net(o.model);
  TrainingModules modules;
  MineEstimator mine;
  Rng rng(1);
  const auto x = torch::rand({8, 3, 32, 32}) * torch::rand({8, 3, 1, 1}) * 2 - 1;  // a colour cast per image
  const auto miss = [&] {
    TermContext c(o, *net, modules, mine, rng);
    c.x = x, c.ns = 4, c.out = net->forward(x);
    return term_named("stats").compute(c);
  };
  const auto said = net->run("style_stats", {net->forward(x)["z_spe"]});
  const auto mean = x.flatten(2).mean(2), spread = x.flatten(2).std(2, false);
  const auto by_hand = (said.at("shift") - mean).pow(2).mean() + (said.at("scale") - spread).pow(2).mean();
  auto before = miss();
  EXPECT_NEAR(before.item<double>(), by_hand.item<double>(), 1e-6);
  std::map<std::string, torch::Tensor> w0;
  for (const auto& p : net->named_parameters()) w0[p.key()] = p.value().detach().clone();
  torch::optim::SGD sgd(net->parameters(), 0.05);
  sgd.zero_grad();
  before.backward();
  sgd.step();
  EXPECT_LT(miss().item<double>(), before.item<double>());
  for (const auto& p : net->named_parameters()) {
    const auto& n = p.key();
    const bool reached = n.rfind("spe.", 0) == 0 || n.rfind("pix_dec.shift", 0) == 0 || n.rfind("pix_dec.scale", 0) == 0;
    EXPECT_EQ(torch::equal(p.value(), w0.at(n)), !reached) << n;
  }
  // Off where the decoder has no AdaIN output.
  TrainOptions plain = o;
  plain.model.decoder_style = "none", plain.lambda_stats = 1;
  EXPECT_EQ(term_weight(term_named("stats"), plain), 0.0);
  plain.model.decoder_style = "adain";
  EXPECT_EQ(term_weight(term_named("stats"), plain), 1.0);
}

// The erasure on two hand-made batches of 16 images, in k = 4 parts of 4: with the parts' mean
// differences of z_inv before the erasure, the erased z_inv of each part of the two batches have
// the same mean in every coordinate (so along every direction a linear read-out could take), and
// so have the whole batches; each image's z_inv is orthogonal to every difference, the part of
// z_inv outside their span is untouched, and a zero basis erases nothing.
TEST(Model, TheErasureLeavesTheDomainsNoMeanDifference) {
  ModelConfig c;
  c.width = 4, c.head_hidden = 8, c.mine_hidden = 8, c.erase_domain_mean = true, c.erase_directions = 4;
  torch::manual_seed(8);
  DidaNet net(c);
  net->eval();
  const auto a = torch::rand({16, 3, 32, 32}) * 2 - 1, b = torch::rand({16, 3, 32, 32}) * 0.5;  // two looks
  const auto raw = [&](const torch::Tensor& x) { return net->run("encode", {x}).at("z_inv.raw").flatten(1); };
  const auto erased = [&](const torch::Tensor& x) { return net->forward(x)["z_inv"].flatten(1); };
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::equal(erased(a), raw(a))) << "a zero basis: nothing is erased";
  const auto gaps = net->measure_domain_gaps(a, b, 4);
  ASSERT_EQ(gaps.sizes(), (std::vector<int64_t>{4, raw(a).size(1)}));
  for (int p = 0; p < 4; ++p) {  // part p: images 4p .. 4p + 3 of each batch
    const auto want = raw(a).slice(0, 4 * p, 4 * p + 4).mean(0) - raw(b).slice(0, 4 * p, 4 * p + 4).mean(0);
    EXPECT_LT((gaps[p] - want).abs().max().item<double>(), 1e-5) << "part " << p;
  }
  net->set_erasure_basis(DidaNetImpl::basis_of(gaps));
  const auto q = net->erasure_basis();
  EXPECT_LT((q.t().matmul(q) - torch::eye(4)).abs().max().item<double>(), 1e-5) << "an orthonormal basis";
  for (int p = 0; p < 4; ++p)
    EXPECT_LT((erased(a.slice(0, 4 * p, 4 * p + 4)).mean(0) - erased(b.slice(0, 4 * p, 4 * p + 4)).mean(0)).abs().max().item<double>(), 1e-4);
  EXPECT_LT((erased(a).mean(0) - erased(b).mean(0)).abs().max().item<double>(), 1e-4);
  EXPECT_LT(erased(a).matmul(gaps.t()).abs().max().item<double>(), 1e-3 * gaps.norm().item<double>());
  const auto kept = raw(a) - raw(a).matmul(q).matmul(q.t());
  EXPECT_LT((erased(a) - kept).abs().max().item<double>(), 1e-4) << "outside the span: untouched";
  // A difference in the span of those before adds no direction; zero differences none at all.
  const auto twice = torch::stack({gaps[0], gaps[1], gaps[0] + 2 * gaps[1], torch::zeros_like(gaps[0])});
  const auto q2 = DidaNetImpl::basis_of(twice);
  EXPECT_NEAR(q2.norm(2, 0)[0].item<double>(), 1.0, 1e-5);
  EXPECT_NEAR(q2.norm(2, 0)[1].item<double>(), 1.0, 1e-5);
  EXPECT_LT(q2.norm(2, 0)[2].item<double>(), 1e-6);
  EXPECT_LT(q2.norm(2, 0)[3].item<double>(), 1e-6);
  EXPECT_LT(DidaNetImpl::basis_of(torch::zeros_like(gaps)).abs().max().item<double>(), 1e-12);
  // Not trained by gradient: no optimiser step moves it.
  for (const auto& p : net->named_parameters())
    EXPECT_EQ(p.value().requires_grad(), p.key().rfind("inv_erase.", 0) != 0) << p.key();
}

// After the erasure C and R_pix learn again on the erased z_inv: every other weight stays the
// run's, theirs move, and nothing moves without the erasure.
TEST(Training, RetrainingAfterTheErasureMovesTheClassifierAndPixelDecoderAlone) {
  TempDir dir("retrain");
  for (const bool erase : {true, false}) {
    TrainOptions o = tiny(dir.path(erase ? "erase" : "plain"));
    o.model.erase_domain_mean = erase;
    o.erasure_retrain_iters = 30;
    const DomainPair pair = pair_for(o);
    TrainStep step(o, pair, torch::kCPU);
    for (int i = 0; i < 6; ++i) step.step(0, i, 0.5);
    step.set_erasure();
    const double val_before = step.eval_accuracy(step.x_val(), step.y_val());
    std::map<std::string, torch::Tensor> before;
    for (const auto& p : step.net().named_parameters()) before[p.key()] = p.value().detach().clone();
    step.retrain_readers();
    int moved = 0;
    for (const auto& p : step.net().named_parameters()) {
      const bool same = torch::equal(before[p.key()], p.value());
      const auto group = step.net().network.module_of_tensor(p.key()).group;
      const bool reader = group == ModuleGroup::Classifier || group == ModuleGroup::PixelDecoder;
      if (!erase || !reader) {
        EXPECT_TRUE(same) << p.key() << (erase ? "" : " (no erasure: nothing to retrain)");
      }
      moved += !same;
    }
    if (erase) {
      int readers = 0;
      for (const auto& m : step.net().network.modules)
        readers += m.group == ModuleGroup::Classifier || m.group == ModuleGroup::PixelDecoder ? 2 : 0;
      EXPECT_EQ(moved, readers) << "every weight and bias of C and R_pix";
      EXPECT_GT(step.eval_accuracy(step.x_val(), step.y_val()), val_before - 0.05) << "it learns the task on the erased z_inv";
    }
  }
}

// decoder_norm "instance": R_pix normalises z_inv per image and channel first, so a per-channel
// scale and shift of z_inv (where a domain's first-order statistics live) does not change its image.
TEST(Model, InstanceNormalisedContentIgnoresPerChannelScaleAndShift) {
  ModelConfig c;
  c.width = 4, c.head_hidden = 8, c.mine_hidden = 8, c.decoder_norm = "instance";
  torch::manual_seed(4);
  DidaNet net(c);
  net->eval();
  torch::NoGradGuard g;
  const auto zi = torch::rand({2, 16, 4, 4}), zs = torch::rand({2, 16, 4, 4});
  const auto scale = torch::rand({1, 16, 1, 1}) + 0.5, shift = torch::rand({1, 16, 1, 1}) - 0.5;
  EXPECT_LT((net->reconstruct_pixels(zi, zs) - net->reconstruct_pixels(zi * scale + shift, zs)).abs().max().item<double>(), 1e-4);
  EXPECT_GT((net->reconstruct_pixels(zi, zs) - net->reconstruct_pixels(zi, zs * scale + shift)).abs().max().item<double>(), 1e-3)
      << "z_spe is read as it is";
  c.decoder_norm = "none";
  torch::manual_seed(4);
  DidaNet plain(c);
  plain->eval();
  EXPECT_GT((plain->reconstruct_pixels(zi, zs) - plain->reconstruct_pixels(zi * scale + shift, zs)).abs().max().item<double>(), 1e-3);
}

// decoder_style "adain": the swap's per-channel mean and spread are the style image's own
// reconstruction's, whatever the content (the colour statistics come from z_spe alone).
TEST(Model, TheAdainDecoderGivesASwapItsStylesColourStatistics) {
  ModelConfig c;
  c.width = 4, c.head_hidden = 8, c.mine_hidden = 8, c.variant = "style", c.decoder_style = "adain";
  torch::manual_seed(6);
  DidaNet net(c);
  net->eval();
  torch::NoGradGuard g;
  const auto a = net->forward(torch::rand({3, 3, 32, 32}) * 2 - 1), b = net->forward(torch::rand({3, 3, 32, 32}) * 2 - 1);
  const auto swap = net->reconstruct_pixels(a["z_inv"], b["z_spe"]), own = net->reconstruct_pixels(b["z_inv"], b["z_spe"]);
  const auto mean = [](const torch::Tensor& x) { return x.mean({2, 3}); };
  const auto spread = [](const torch::Tensor& x) { return x.std({2, 3}, false); };
  EXPECT_LT((mean(swap) - mean(own)).abs().max().item<double>(), 1e-5);
  EXPECT_LT((spread(swap) - spread(own)).abs().max().item<double>(), 1e-3);
  EXPECT_GT((mean(net->reconstruct_pixels(a["z_inv"], a["z_spe"])) - mean(own)).abs().max().item<double>(), 1e-4)
      << "another style, other statistics";
}

// --weight-average: the bundle's weights are the moving average of every step's weights, with the
// decay (1 + n) / (10 + n) up to the option's; it survives a checkpoint; off, nothing changes.
TEST(Training, TheWeightAverageIsTheStepsAverageAndResumes) {
  TempDir dir("average");
  TrainOptions o = tiny(dir.path("run"));
  o.weight_average = 0.2;
  const DomainPair pair = pair_for(o);
  TrainStep step(o, pair, torch::kCPU);
  std::vector<torch::Tensor> want;
  for (int it = 0; it < 4; ++it) {
    step.step(0, it, it / 10.0);
    const auto state = named_state(step.net());
    const double n = it, d = std::min(0.2, (1 + n) / (10 + n));
    for (std::size_t i = 0; i < state.size(); ++i) {
      const auto t = state[i].second.detach().clone();
      if (it == 0) want.push_back(t);
      else if (t.is_floating_point()) want[i] = want[i] * d + t * (1 - d);
      else want[i] = t;
    }
    if (it == 1) step.save_checkpoint(dir.path("c.pt"), 0, 2);
  }
  // Resumed from the checkpoint after step 2, the same two steps give the same average.
  TrainStep again(o, pair, torch::kCPU);
  int epoch = -1, iter = -1;
  again.load_checkpoint(dir.path("c.pt"), epoch, iter);
  for (int it = 2; it < 4; ++it) again.step(0, it, it / 10.0);
  std::vector<torch::Tensor> last;  // the last step's weights (named_state gives the live tensors)
  for (const auto& [name, t] : named_state(step.net())) last.push_back(t.detach().clone());
  step.use_weight_average(), again.use_weight_average();
  const auto avg = named_state(step.net()), avg2 = named_state(again.net());
  for (std::size_t i = 0; i < avg.size(); ++i) {
    EXPECT_TRUE(torch::allclose(avg[i].second, want[i], 1e-5, 1e-6)) << avg[i].first;
    EXPECT_TRUE(torch::allclose(avg2[i].second, want[i], 1e-5, 1e-6)) << avg2[i].first << " after a resume";
  }
  double moved = 0;
  for (std::size_t i = 0; i < avg.size(); ++i)
    if (avg[i].second.is_floating_point()) moved = std::max(moved, (avg[i].second - last[i]).abs().max().item<double>());
  EXPECT_GT(moved, 1e-6) << "the average is not the last step's weights";
  TrainStep plain([&] { TrainOptions p = o; p.weight_average = 0; return p; }(), pair, torch::kCPU);
  for (int it = 0; it < 4; ++it) plain.step(0, it, it / 10.0);
  std::vector<torch::Tensor> before;
  for (const auto& [name, t] : named_state(plain.net())) before.push_back(t.clone());
  plain.use_weight_average();
  const auto after = named_state(plain.net());
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(torch::equal(after[i].second, before[i])) << "off: unchanged";
}

// A step keeps its loss values on the training device; what the host reads later is exactly what
// the steps computed: the last step's values, and their sum since the last read.
TEST(Training, LossValuesAreReadWhenAskedAndSumAsTheSteps) {
  TempDir dir("values");
  TrainOptions o = tiny(dir.path("run"));
  o.lambda_mi = 0;
  const DomainPair pair = pair_for(o);
  TrainStep step(o, pair, torch::kCPU);
  const auto& names = loss_value_names();
  std::vector<double> sum(names.size(), 0.0);
  for (int it = 0; it < 3; ++it) {
    step.step(0, it, it / 10.0);
    const auto last = step.last_values();
    for (std::size_t k = 0; k < sum.size(); ++k) sum[k] += last.x[k];
    EXPECT_GT(last.get("task"), 0.0) << "the task loss of step " << it;
    EXPECT_GT(last.total(), 0.0);
    // The total is the weighted sum of the terms (the ramped ones times lambda_p; L_mi, which logs
    // its bound rather than its loss, is off in this run).
    double total = 0;
    for (const auto& [term, weight] : step.active_terms())
      total += weight * (term->ramped ? grl_lambda(it / 10.0, o.grl_gamma) : 1.0) * last.get(term->name);
    EXPECT_NEAR(last.total(), total, 1e-5 * total);
  }
  EXPECT_TRUE(step.finite());
  const auto read = step.take_sum();
  for (std::size_t k = 0; k < sum.size(); ++k) EXPECT_DOUBLE_EQ(read.x[k], sum[k]) << names[k];
  EXPECT_EQ(step.take_sum().total(), 0.0) << "a read starts the next sum";
  // The state round-trips through a checkpoint (weights, optimiser, MINE's moving average, the
  // training-only modules): the next step from the loaded copy is the next step of the original.
  o.lambda_mi = 0.1;
  TrainStep with_mi(o, pair, torch::kCPU);
  for (int it = 0; it < 3; ++it) with_mi.step(0, it, it / 10.0);
  with_mi.save_checkpoint(dir.path("c.pt"), 0, 3);
  TrainStep again(o, pair, torch::kCPU);
  int epoch = -1, iter = -1;
  again.load_checkpoint(dir.path("c.pt"), epoch, iter);
  EXPECT_EQ(epoch, 0);
  EXPECT_EQ(iter, 3);
  with_mi.step(0, 3, 0.3), again.step(0, 3, 0.3);
  EXPECT_EQ(with_mi.last_values().x, again.last_values().x);
  const auto a = with_mi.net().named_parameters(), b = again.net().named_parameters();
  for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();
}

// --precision bf16: autocast to bfloat16 in the forward pass and the losses (tested on the CPU; on
// a GPU the same scope runs the CUDA autocast). It trains, the weights stay fp32, the bundle loads.
TEST(Training, Bf16AutocastTrainsAndKeepsFp32Weights) {
  TempDir dir("bf16");
  TrainOptions o = tiny(dir.path("run"));
  o.precision = Precision::Bf16;
  o.epochs = 3;
  o.iters_per_epoch = 20;
  const DomainPair pair = pair_for(o);
  {
    TrainStep step(o, pair, torch::kCPU);
    step.step(0, 0, 0.0);
    EXPECT_TRUE(step.finite());
    EXPECT_FALSE(at::autocast::is_cpu_enabled()) << "autocast is off outside the step";
    for (const auto& p : step.net().named_parameters()) EXPECT_EQ(p.value().scalar_type(), torch::kFloat) << p.key();
  }
  ASSERT_EQ(run_training(o, false), kTrainDone);
  LoadedBundle b = load_bundle(o.out);
  EXPECT_EQ(b.card["training"]["options"]["precision"], "bf16");
  EXPECT_GT(b.card["metrics"]["source_val_accuracy"].get<double>(), 0.3) << "chance is 0.1";
}

TEST(Training, DivergenceStopsAndKeepsTheLastGoodCheckpoint) {
  TempDir dir("nan");
  TrainOptions o = tiny(dir.path("run"));
  o.stop_after_iters = o.iters_per_epoch;  // one good epoch, then a checkpoint
  ASSERT_EQ(run_training(o, false), kTrainInterrupted);
  const auto good = read_file_bytes(o.out + "/checkpoint.pt");
  // The run goes on with a learning rate that makes the loss NaN or Inf within its next steps.
  const auto bytes = read_file_bytes(o.out + "/config.json");
  auto record = nlohmann::json::parse(bytes.begin(), bytes.end());
  record["options"]["lr"] = 1e12, record["options"]["anneal_lr"] = false;
  std::ofstream(o.out + "/config.json", std::ios::trunc) << record.dump();
  o.stop_after_iters = 0;
  EXPECT_EQ(run_training(o, true), kTrainDiverged);
  EXPECT_EQ(read_file_bytes(o.out + "/checkpoint.pt"), good) << "the last good checkpoint is kept as it was";
  EXPECT_FALSE(fs::exists(o.out + "/bundle"));
  // And it still resumes (with the run's recorded options put back).
  record["options"]["lr"] = 3e-3, record["options"]["anneal_lr"] = true;
  std::ofstream(o.out + "/config.json", std::ios::trunc) << record.dump();
  EXPECT_EQ(run_training(o, true), kTrainDone);
  EXPECT_TRUE(fs::exists(o.out + "/bundle/model.safetensors"));
}

TEST(Bundle, RoundTripAndCorruptFiles) {
  TempDir dir("bundle");
  ModelConfig c;
  c.width = 8;
  c.progressive = true;
  torch::manual_seed(9);
  DidaNet net(c);
  {  // random batch-norm statistics, so that a wrong buffer shows
    torch::NoGradGuard g;
    for (auto& b : net->named_buffers())
      if (b.key().find("running_") != std::string::npos) b.value().uniform_(0.5, 1.5);
  }
  net->eval();
  save_bundle(*net, dir.path("b"), {{"method", "dida"}});
  LoadedBundle back = load_bundle(dir.path("b"));
  const auto x = torch::randn({3, 3, 32, 32});
  const auto o1 = net->forward(x), o2 = back.net->forward(x);
  EXPECT_TRUE(torch::equal(o1["logits"], o2["logits"]));
  EXPECT_TRUE(torch::equal(o1["z_spe"], o2["z_spe"]));
  EXPECT_EQ(back.card["method"], "dida");

  // Missing tensor, wrong shape, foreign file, bad JSON: one clear line each.
  const auto weights = SafeTensorsFile::load(dir.path("b/model.safetensors"));
  auto rewrite = [&](const std::string& drop, const std::string& reshape) {
    SafeTensorsWriter w;
    for (const auto& n : weights.names()) {
      if (n == drop) continue;
      auto v = weights.to_f32(n);
      if (n == reshape) v.push_back(0);
      w.add_f32(n, n == reshape ? std::vector<int64_t>{static_cast<int64_t>(v.size())} : weights.info(n).shape, v);
    }
    w.save(dir.path("b/model.safetensors"));
  };
  rewrite("inv.conv.weight", "");
  EXPECT_NE(error_of([&] { load_bundle(dir.path("b")); }).find("missing tensor \"inv.conv.weight\""), std::string::npos);
  fs::remove(dir.path("b/model.safetensors"));
  SafeTensorsWriter w;
  for (const auto& n : weights.names()) w.add_f32(n, weights.info(n).shape, weights.to_f32(n));
  w.save(dir.path("b/model.safetensors"));
  rewrite("", "classifier.fc2.bias");
  EXPECT_NE(error_of([&] { load_bundle(dir.path("b")); }).find("\"classifier.fc2.bias\" has the wrong shape"), std::string::npos);
  std::ofstream(dir.path("b/model.safetensors"), std::ios::binary | std::ios::trunc) << "\x89PNG\r\n\x1a\n0000000000";
  EXPECT_NE(error_of([&] { load_bundle(dir.path("b")); }).find("model.safetensors: "), std::string::npos);
  std::ofstream(dir.path("b/config.json"), std::ios::trunc) << "{\"format\": ";
  EXPECT_NE(error_of([&] { load_bundle(dir.path("b")); }).find("config.json: not valid JSON"), std::string::npos);
  EXPECT_NE(error_of([&] { load_bundle(dir.path("nowhere")); }).find("not a run or bundle folder"), std::string::npos);
}

}  // namespace dida
