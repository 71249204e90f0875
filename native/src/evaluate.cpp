#include "evaluate.hpp"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "bundle.hpp"
#include "dida/probe.hpp"
#include "dida/projection.hpp"
#include "dida/rng.hpp"
#include "dida/safetensors.hpp"
#include "model.hpp"
#include "trainer.hpp"
#include "training_data.hpp"

namespace fs = std::filesystem;

namespace dida {

nlohmann::json EvalResult::to_json() const {
  return {{"target_accuracy", target_accuracy}, {"source_accuracy", source_accuracy},
          {"domain_probe_inv", domain_probe_inv}, {"domain_probe_spe", domain_probe_spe},
          {"class_probe_spe", class_probe_spe},   {"mi_estimate", mi_estimate},
          {"page_probes", {{"domain_probe_inv", page_domain_probe_inv}, {"domain_probe_spe", page_domain_probe_spe},
                           {"class_probe_spe", page_class_probe_spe}, {"images", page_probe_images},
                           {"draws", page_probe_draws}}},
          {"probe_draws", {{"domain_probe_inv", draws_domain_probe_inv}, {"domain_probe_spe", draws_domain_probe_spe},
                           {"class_probe_spe", draws_class_probe_spe}}},
          {"a_distance_inv", a_distance_inv},     {"a_distance_spe", a_distance_spe},
          {"target_confidence", target_confidence}, {"target_balance", target_balance},
          {"swap_content_accuracy", swap_content_accuracy}, {"swap_style_accuracy", swap_style_accuracy},
          {"reconstruction_psnr", reconstruction_psnr},     {"swap_pairs", swap_pairs},
          {"style_head_accuracy", style_head_accuracy},
          {"swap_style_retrieval", swap_style_retrieval}, {"style_retrieval_of_styles", style_retrieval_of_styles},
          {"style_retrieval_of_contents", style_retrieval_of_contents}, {"style_retrieval_k", style_retrieval_k},
          {"style_retrieval_contents", style_retrieval_contents},
          {"swap_style_source", swap_style_source}, {"swap_style_target", swap_style_target},
          {"source_images", source_images},       {"target_images", target_images}};
}

double digamma(double x) {
  double r = 0;
  while (x < 6) r -= 1 / x, x += 1;
  const double f = 1 / (x * x);
  return r + std::log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

double ksg_mutual_information(const torch::Tensor& xt, const torch::Tensor& yt, int k) {
  const auto x = xt.to(torch::kFloat64).contiguous(), y = yt.to(torch::kFloat64).contiguous();
  const int64_t n = x.size(0), dx = x.size(1), dy = y.size(1);
  const double* X = x.data_ptr<double>();
  const double* Y = y.data_ptr<double>();
  std::vector<double> dxv(static_cast<std::size_t>(n)), dyv(static_cast<std::size_t>(n)), dj(static_cast<std::size_t>(n));
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double a = 0, b = 0;
      for (int64_t d = 0; d < dx; ++d) a = std::max(a, std::fabs(X[i * dx + d] - X[j * dx + d]));
      for (int64_t d = 0; d < dy; ++d) b = std::max(b, std::fabs(Y[i * dy + d] - Y[j * dy + d]));
      dxv[static_cast<std::size_t>(j)] = a, dyv[static_cast<std::size_t>(j)] = b;
      dj[static_cast<std::size_t>(j)] = j == i ? INFINITY : std::max(a, b);
    }
    std::vector<double> sorted = dj;
    std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
    const double eps = sorted[static_cast<std::size_t>(k - 1)];
    int nx = 0, ny = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      nx += dxv[static_cast<std::size_t>(j)] < eps;
      ny += dyv[static_cast<std::size_t>(j)] < eps;
    }
    sum += digamma(nx + 1) + digamma(ny + 1);
  }
  return std::max(0.0, digamma(k) + digamma(static_cast<double>(n)) - sum / static_cast<double>(n));
}

namespace {
std::vector<float> rows_of(const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat32).contiguous().reshape({t.size(0), -1});
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}
}  // namespace

double probe_accuracy(const torch::Tensor& x_a, const torch::Tensor& y_a, const torch::Tensor& x_b,
                      const torch::Tensor& y_b, int classes) {
  // The core's probe (the page's): one set of rows, the first half a, the rest half b.
  const auto x = rows_of(torch::cat({x_a.reshape({x_a.size(0), -1}), x_b.reshape({x_b.size(0), -1})}));
  const auto y64 = torch::cat({y_a, y_b}).to(torch::kLong).contiguous();
  const std::vector<int> y(y64.data_ptr<int64_t>(), y64.data_ptr<int64_t>() + y64.numel());
  const int n_a = static_cast<int>(x_a.size(0)), n = static_cast<int>(y.size());
  std::vector<int> a(static_cast<std::size_t>(n_a)), b(static_cast<std::size_t>(n - n_a));
  for (int i = 0; i < n; ++i) (i < n_a ? a[static_cast<std::size_t>(i)] : b[static_cast<std::size_t>(i - n_a)]) = i;
  CrossFitProbe probe(x, n, static_cast<int>(x_a.numel() / std::max<int64_t>(x_a.size(0), 1)), y, classes, a, b);
  while (probe.step(CrossFitProbe::kSteps)) {
  }
  return probe.test_accuracy();
}

double psnr(const torch::Tensor& x_hat, const torch::Tensor& x) {
  const double mse = ((x_hat - x) * 127.5).pow(2).mean().item<double>();
  return 10.0 * std::log10(255.0 * 255.0 / std::max(mse, 1e-10));
}

SwapParts swap_parts(DidaNetImpl& net) {
  SwapParts p;
  p.z_inv = [&net](const torch::Tensor& x) { return net.forward(x)["z_inv"]; };
  p.z_spe = [&net](const torch::Tensor& x) { return net.forward(x)["z_spe"]; };
  p.decode = [&net](const torch::Tensor& zi, const torch::Tensor& zs) { return net.reconstruct_pixels(zi, zs); };
  p.class_logits = [&net](const torch::Tensor& x) { return net.forward(x)["logits"]; };
  p.style_logits = [&net](const torch::Tensor& x) { return net.head("dom_spe", net.forward(x)["p_spe"]); };
  return p;
}

void swap_measures(const SwapParts& parts, const torch::Tensor& a, const torch::Tensor& y_a, const torch::Tensor& b,
                   const torch::Tensor& d_b, EvalResult& r) {
  torch::NoGradGuard guard;
  int64_t content = 0, style = 0, style_by_domain[2] = {0, 0}, pairs_by_domain[2] = {0, 0};
  for (int64_t i = 0; i < a.size(0); i += 250) {
    const int64_t j = std::min(i + 250, a.size(0));
    const auto swapped = parts.decode(parts.z_inv(a.slice(0, i, j)), parts.z_spe(b.slice(0, i, j)));
    content += parts.class_logits(swapped).argmax(1).eq(y_a.slice(0, i, j)).sum().item<int64_t>();
    const auto d = d_b.slice(0, i, j), right = parts.style_logits(swapped).argmax(1).eq(d);
    style += right.sum().item<int64_t>();
    for (int k = 0; k < 2; ++k) {
      style_by_domain[k] += right.logical_and(d.eq(k)).sum().item<int64_t>();
      pairs_by_domain[k] += d.eq(k).sum().item<int64_t>();
    }
  }
  const double n = static_cast<double>(std::max<int64_t>(a.size(0), 1));
  r.swap_pairs = static_cast<int>(a.size(0));
  r.swap_content_accuracy = static_cast<double>(content) / n;
  r.swap_style_accuracy = static_cast<double>(style) / n;
  const auto share = [](int64_t k, int64_t n) { return n > 0 ? static_cast<double>(k) / static_cast<double>(n) : std::nan(""); };
  r.swap_style_source = share(style_by_domain[0], pairs_by_domain[0]);
  r.swap_style_target = share(style_by_domain[1], pairs_by_domain[1]);
}

std::vector<StyleDescriptor> style_descriptors(const torch::Tensor& x) {
  const auto planes = x.detach().to(torch::kCPU, torch::kFloat).contiguous();
  const int channels = static_cast<int>(x.size(1)), pixels = static_cast<int>(x.size(2) * x.size(3));
  std::vector<StyleDescriptor> d;
  for (int64_t i = 0; i < x.size(0); ++i) d.push_back(style_descriptor(planes[i].data_ptr<float>(), channels, pixels));
  return d;
}

void swap_style_retrieval(const SwapParts& parts, const torch::Tensor& contents, const torch::Tensor& styles, EvalResult& r) {
  torch::NoGradGuard guard;
  const int64_t n = contents.size(0), k = styles.size(0);
  const auto style_d = style_descriptors(styles);
  const auto z_spe = parts.z_spe(styles);
  std::vector<StyleDescriptor> swaps, unchanged;  // row by row: content i in each of the K styles
  for (int64_t i = 0; i < n; ++i) {
    const auto c = contents.slice(0, i, i + 1);
    const auto zi = parts.z_inv(c).expand({k, -1, -1, -1}).contiguous();
    for (auto& d : style_descriptors(parts.decode(zi, z_spe))) swaps.push_back(std::move(d));
    // The control: the content as it is, in place of each of its K swaps.
    const auto same = style_descriptors(c).front();
    for (int64_t j = 0; j < k; ++j) unchanged.push_back(same);
  }
  r.swap_style_retrieval = style_retrieval(swaps, style_d);
  r.style_retrieval_of_contents = style_retrieval(unchanged, style_d);
  r.style_retrieval_of_styles = style_retrieval(style_d, style_d);
  r.style_retrieval_k = static_cast<int>(k), r.style_retrieval_contents = static_cast<int>(n);
}

namespace {

struct Features {
  torch::Tensor inv, spe, logits;
};

Features features(DidaNetImpl& net, const torch::Tensor& x) {
  torch::NoGradGuard guard;
  net.eval();
  std::vector<torch::Tensor> inv, spe, logits;
  for (int64_t i = 0; i < x.size(0); i += 500) {
    const auto o = net.forward(x.slice(0, i, std::min(i + 500, x.size(0))));
    inv.push_back(o["p_inv"]), spe.push_back(o["p_spe"]), logits.push_back(o["logits"]);
  }
  return {torch::cat(inv), torch::cat(spe), torch::cat(logits)};
}

// The top two principal components of standardised features (the core's PCA, the page's).
torch::Tensor project_2d(const torch::Tensor& f) {
  const auto z = (f - f.mean(0, true)) / (f.std(0, true, true) + 1e-6);
  const auto xy = pca_2d(rows_of(z), static_cast<int>(z.size(0)), static_cast<int>(z.size(1)));
  return torch::from_blob(const_cast<float*>(xy.data()), {z.size(0), 2}, torch::kFloat32).clone();
}

torch::Tensor take(const torch::Tensor& t, const std::vector<int>& idx, std::size_t from, std::size_t to) {
  std::vector<int64_t> v(idx.begin() + static_cast<std::ptrdiff_t>(from), idx.begin() + static_cast<std::ptrdiff_t>(to));
  return t.index_select(0, torch::tensor(v, torch::kLong));
}

}  // namespace

EvalResult evaluate(const EvalOptions& eo) {
  if (eo.threads > 0) torch::set_num_threads(eo.threads);
  LoadedBundle b = load_bundle(eo.path);
  // The data it was trained on (options removed since do not matter here).
  const nlohmann::json recorded = b.card.value("training", nlohmann::json::object()).value("options", nlohmann::json::object());
  // A bundle that does not name its pair would be scored on the default pair without a word.
  if (!recorded.contains("source") || !recorded.contains("target"))
    throw std::runtime_error(eo.path + ": its config.json does not record the pair it was trained on (training.options.source and "
                             "target); dida eval scores a model only on its own pair");
  TrainOptions o = TrainOptions::from_json(recorded, false);
  if (!eo.cache_dir.empty()) o.cache_dir = eo.cache_dir;
  const DomainPair pair = pair_for(o);
  const ModelConfig& mc = b.net->config;
  const Domain& v = pair.source_val;
  if (v.height != mc.image_size || v.width != mc.image_size || v.channels != mc.in_channels ||
      static_cast<int>(pair.source_train.classes.size()) != mc.num_classes)
    throw std::runtime_error(eo.path + ": the model takes " + std::to_string(mc.image_size) + " x " + std::to_string(mc.image_size) +
                             " x " + std::to_string(mc.in_channels) + " images of " + std::to_string(mc.num_classes) +
                             " classes, but its recorded pair " + o.source + " -> " + o.target + " has " + std::to_string(v.height) +
                             " x " + std::to_string(v.width) + " x " + std::to_string(v.channels) + " images of " +
                             std::to_string(pair.source_train.classes.size()) + " classes");
  const auto xs = images_to_tensor(pair.source_val), ys = labels_to_tensor(pair.source_val);
  const auto xt = images_to_tensor(pair.target_test), yt = labels_to_tensor(pair.target_test);
  DidaNetImpl& net = *b.net;
  const Features fs_ = features(net, xs), ft = features(net, xt);

  EvalResult r;
  r.source_images = static_cast<int>(xs.size(0));
  r.target_images = static_cast<int>(xt.size(0));
  r.source_accuracy = fs_.logits.argmax(1).eq(ys).to(torch::kFloat64).mean().item<double>();
  r.target_accuracy = ft.logits.argmax(1).eq(yt).to(torch::kFloat64).mean().item<double>();
  const LabelFreeStats lf = label_free_stats(net, images_to_tensor(pair.target_train), torch::kCPU);
  r.target_confidence = lf.confidence, r.target_balance = lf.balance;

  // The probes as the page fits them (web/model/explorer_model.cpp, on its sample set): rows of
  // CrossFitProbe::kRowsPerDomain images of each domain in two halves, each half with equal numbers
  // from both domains, cross-fitted; here averaged over kProbeDraws draws of the held-out images,
  // where the page has one. (A probe finds more with more rows: the page's row count is the one that
  // makes the two figures the same measure.)
  Rng rng = Rng(eo.seed).fork("probes");
  // The held-out images shuffled once: the swap's pairs below are the i-th of each.
  const int n = static_cast<int>(std::min(xs.size(0), xt.size(0)));
  auto ps = permutation(static_cast<int>(xs.size(0)), rng), pt = permutation(static_cast<int>(xt.size(0)), rng);
  ps.resize(static_cast<std::size_t>(n)), pt.resize(static_cast<std::size_t>(n));
  const std::size_t all = static_cast<std::size_t>(n);
  Rng draws = Rng(eo.seed).fork("probe-draws");
  const int per = std::min(n, CrossFitProbe::kRowsPerDomain);
  const std::size_t half = static_cast<std::size_t>(per) / 2, rows = static_cast<std::size_t>(per);
  const int classes = static_cast<int>(pair.source_train.classes.size());
  const auto spe_all = torch::cat({fs_.spe, ft.spe}), y_all = torch::cat({ys, yt});
  const auto zeros = [](std::size_t k) { return torch::zeros({static_cast<int64_t>(k)}, torch::kLong); };
  const auto ones = [](std::size_t k) { return torch::ones({static_cast<int64_t>(k)}, torch::kLong); };
  r.domain_probe_inv = r.domain_probe_spe = r.class_probe_spe = 0;
  for (int draw = 0; draw < kProbeDraws; ++draw) {
    const auto ds = permutation(static_cast<int>(xs.size(0)), draws), dt = permutation(static_cast<int>(xt.size(0)), draws);
    const auto domain_probe = [&](const torch::Tensor& fsrc, const torch::Tensor& ftgt) {
      const auto a = torch::cat({take(fsrc, ds, 0, half), take(ftgt, dt, 0, half)});
      const auto b = torch::cat({take(fsrc, ds, half, rows), take(ftgt, dt, half, rows)});
      return probe_accuracy(a, torch::cat({zeros(half), ones(half)}), b, torch::cat({zeros(rows - half), ones(rows - half)}), 2);
    };
    r.draws_domain_probe_inv.push_back(domain_probe(fs_.inv, ft.inv));
    r.draws_domain_probe_spe.push_back(domain_probe(fs_.spe, ft.spe));
    r.domain_probe_inv += r.draws_domain_probe_inv.back() / kProbeDraws;
    r.domain_probe_spe += r.draws_domain_probe_spe.back() / kProbeDraws;
    // The class from z_spe: the same images of both domains, with their labels.
    std::vector<int> a, b;  // indices into spe_all: source rows first, then target rows
    for (std::size_t k = 0; k < rows; ++k) {
      (k < half ? a : b).push_back(ds[k]);
      (k < half ? a : b).push_back(static_cast<int>(xs.size(0)) + dt[k]);
    }
    r.draws_class_probe_spe.push_back(probe_accuracy(take(spe_all, a, 0, a.size()), take(y_all, a, 0, a.size()),
                                                     take(spe_all, b, 0, b.size()), take(y_all, b, 0, b.size()), classes));
    r.class_probe_spe += r.draws_class_probe_spe.back() / kProbeDraws;
  }
  // The page's own draws (web/model/explorer_model.cpp, fit_probes): its sample set's shown and
  // probe images are the first kRowsPerDomain of source-val and of target-test, in order, drawn as
  // page_probe_draws draws them; the figure is the mean over its draws.
  {
    const int ps_n = static_cast<int>(std::min<int64_t>(xs.size(0), CrossFitProbe::kRowsPerDomain));
    const int pt_n = static_cast<int>(std::min<int64_t>(xt.size(0), CrossFitProbe::kRowsPerDomain));
    std::vector<int> source_rows, target_rows;  // rows of [source 0..ps_n, target 0..pt_n]
    for (int i = 0; i < ps_n; ++i) source_rows.push_back(i);
    for (int i = 0; i < pt_n; ++i) target_rows.push_back(ps_n + i);
    const auto sample_rows = [&](const torch::Tensor& s, const torch::Tensor& t) {
      return torch::cat({s.slice(0, 0, ps_n), t.slice(0, 0, pt_n)});
    };
    const auto dom = torch::cat({torch::zeros({ps_n}, torch::kLong), torch::ones({pt_n}, torch::kLong)});
    const auto labels = torch::cat({ys.slice(0, 0, ps_n), yt.slice(0, 0, pt_n)});
    const auto inv_rows = sample_rows(fs_.inv, ft.inv), spe_rows = sample_rows(fs_.spe, ft.spe);
    const auto page_probe = [&](const torch::Tensor& x, const torch::Tensor& y, const std::vector<int>& a,
                                const std::vector<int>& b, int k) {
      return probe_accuracy(take(x, a, 0, a.size()), take(y, a, 0, a.size()), take(x, b, 0, b.size()), take(y, b, 0, b.size()), k);
    };
    const auto draws = page_probe_draws(source_rows, target_rows);
    for (const auto& d : draws) {
      const double share = 1.0 / static_cast<double>(draws.size());
      r.page_domain_probe_inv += share * page_probe(inv_rows, dom, d.domain_fit, d.domain_test, 2);
      r.page_domain_probe_spe += share * page_probe(spe_rows, dom, d.domain_fit, d.domain_test, 2);
      r.page_class_probe_spe += share * page_probe(spe_rows, labels, d.class_fit, d.class_test, classes);
    }
    r.page_probe_images = ps_n + pt_n;
    r.page_probe_draws = static_cast<int>(draws.size());
  }
  // Proxy A-distance 2(1 - 2 err) from the same held-out domain classifier.
  r.a_distance_inv = std::max(0.0, 2.0 * (1.0 - 2.0 * (1.0 - r.domain_probe_inv)));
  r.a_distance_spe = std::max(0.0, 2.0 * (1.0 - 2.0 * (1.0 - r.domain_probe_spe)));


  // MI between z_inv and z_spe, independent of T: KSG on the top-2 principal components of each.
  const auto inv_all = torch::cat({fs_.inv, ft.inv});
  auto pm = permutation(static_cast<int>(inv_all.size(0)), rng);
  pm.resize(std::min<std::size_t>(pm.size(), 1500));
  r.mi_estimate = ksg_mutual_information(project_2d(take(inv_all, pm, 0, pm.size())), project_2d(take(spe_all, pm, 0, pm.size())));

  // The swap, both directions: source content in target style and target content in source style,
  // n pairs each (the i-th of one shuffled domain with the i-th of the other).
  if (net.config.pixel_decoder) {
    const auto src_a = take(xs, ps, 0, all), src_y = take(ys, ps, 0, all);
    const auto tgt_b = take(xt, pt, 0, all), tgt_y = take(yt, pt, 0, all);
    const auto ones = torch::ones({static_cast<int64_t>(all)}, torch::kLong);
    net.eval();
    swap_measures(swap_parts(net), torch::cat({src_a, tgt_b}), torch::cat({src_y, tgt_y}), torch::cat({tgt_b, src_a}),
                  torch::cat({ones, torch::zeros_like(ones)}), r);
    // Style retrieval: the first 100 of the shuffled source images in the styles of the first 8 of
    // the shuffled target images (the last ones, so that no image is both content and style).
    {
      const std::size_t contents = std::min<std::size_t>(100, all), k = std::min<std::size_t>(8, all);
      swap_style_retrieval(swap_parts(net), take(xs, ps, 0, contents), take(xt, pt, all - k, all), r);
    }
    torch::NoGradGuard guard;
    const auto both = torch::cat({xs, xt});
    {  // D_spe on the real images: how well the style head tells the domains apart at all
      int64_t right = 0;
      const auto p = swap_parts(net);
      for (int64_t i = 0; i < both.size(0); i += 250) {
        const int64_t j = std::min(i + 250, both.size(0));
        right += p.style_logits(both.slice(0, i, j)).argmax(1).eq(torch::cat({torch::zeros({xs.size(0)}, torch::kLong), torch::ones({xt.size(0)}, torch::kLong)}).slice(0, i, j)).sum().item<int64_t>();
      }
      r.style_head_accuracy = static_cast<double>(right) / static_cast<double>(both.size(0));
    }
    std::vector<torch::Tensor> rec;
    for (int64_t i = 0; i < both.size(0); i += 250) {
      const auto o = net.forward(both.slice(0, i, std::min(i + 250, both.size(0))));
      rec.push_back(net.reconstruct_pixels(o["z_inv"], o["z_spe"]));
    }
    r.reconstruction_psnr = psnr(torch::cat(rec), both);
  } else {
    r.swap_content_accuracy = r.swap_style_accuracy = r.reconstruction_psnr = std::nan("");
    r.swap_style_source = r.swap_style_target = std::nan("");
    r.swap_style_retrieval = r.style_retrieval_of_styles = r.style_retrieval_of_contents = std::nan("");
  }
  return r;
}

namespace {
double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}
double std_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}
}  // namespace

int run_bench(const BenchOptions& bo) {
  nlohmann::json results = nlohmann::json::array();
  std::ostringstream md;
  md << "| method | target accuracy (mean ± std) | source-val accuracy | domain probe z_inv | domain probe z_spe | class probe z_spe | MI (KSG) | A-dist z_inv | A-dist z_spe | swap content | swap style | style retrieval (K = 8) | style head | PSNR (dB) | seeds | minutes/run |\n"
     << "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& method : bo.methods) {
    std::vector<double> acc, src, dpi, dps, cps, mi, adi, ads, swc, sws, ret, shd, psnr_db, minutes;
    for (std::uint64_t seed : bo.seeds) {
      TrainOptions o = bo.base;
      o.source = bo.source, o.target = bo.target, o.method = parse_enum<Method>(method, "--methods"), o.seed = seed;
      apply_method_defaults(o, bo.given);
      o.out = bo.out + "/" + bo.source + "-" + bo.target + "/" + method + "-seed" + std::to_string(seed);
      const bool done = fs::exists(o.out + "/bundle/model.safetensors");
      const auto t0 = std::chrono::steady_clock::now();
      if (!done) {
        // A run stopped before its first checkpoint has only config.json and a log: resuming starts it again.
        const bool resume = fs::exists(o.out + "/checkpoint.pt") || fs::exists(o.out + "/config.json");
        const int code = run_training(o, resume);
        if (code != 0) return code;
      }
      const double run_min = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 60.0;
      EvalOptions eo;
      eo.path = o.out;
      eo.threads = o.threads;
      eo.cache_dir = o.cache_dir;
      const EvalResult r = evaluate(eo);
      nlohmann::json row = r.to_json();
      row["method"] = method, row["seed"] = seed, row["run"] = o.out;
      if (!done) row["minutes"] = run_min;
      results.push_back(row);
      acc.push_back(r.target_accuracy), src.push_back(r.source_accuracy), dpi.push_back(r.domain_probe_inv);
      dps.push_back(r.domain_probe_spe), cps.push_back(r.class_probe_spe), mi.push_back(r.mi_estimate);
      adi.push_back(r.a_distance_inv), ads.push_back(r.a_distance_spe);
      swc.push_back(r.swap_content_accuracy), sws.push_back(r.swap_style_accuracy), psnr_db.push_back(r.reconstruction_psnr);
      shd.push_back(r.style_head_accuracy), ret.push_back(r.swap_style_retrieval);
      if (!done) minutes.push_back(run_min);
      std::cerr << "bench: " << method << " seed " << seed << ": target " << std::fixed << std::setprecision(4)
                << r.target_accuracy << "\n";
    }
    md << std::fixed << std::setprecision(1) << "| " << method << (method == "target-only" ? " (oracle)" : "") << " | "
       << 100 * mean_of(acc) << " ± " << 100 * std_of(acc) << " | " << 100 * mean_of(src) << " | " << 100 * mean_of(dpi)
       << " | " << 100 * mean_of(dps) << " | " << 100 * mean_of(cps) << " | " << std::setprecision(3) << mean_of(mi)
       << " | " << mean_of(adi) << " | " << mean_of(ads) << " | " << std::setprecision(1) << 100 * mean_of(swc) << " | "
       << 100 * mean_of(sws) << " | " << 100 * mean_of(ret) << " | " << 100 * mean_of(shd) << " | " << mean_of(psnr_db) << " | " << bo.seeds.size() << " | " << std::setprecision(1)
       << (minutes.empty() ? std::string("-") : std::to_string(mean_of(minutes)).substr(0, 4)) << " |\n";
  }
  const std::string dir = bo.out + "/" + bo.source + "-" + bo.target;
  fs::create_directories(dir);
  nlohmann::json doc = {{"source", bo.source}, {"target", bo.target}, {"seeds", bo.seeds}, {"methods", bo.methods},
                        {"options", bo.base.to_json()}, {"results", results},
                        {"note", "target accuracy of the last checkpoint; accuracies in %, probes on held-out features"}};
  const std::string j = doc.dump(2) + "\n", m = md.str();
  write_file_atomic(dir + "/results.json", j.data(), j.size());
  write_file_atomic(dir + "/results.md", m.data(), m.size());
  std::cout << "\n" << bo.source << " -> " << bo.target << " (accuracies in %, last checkpoint)\n\n" << m << "\nwrote " << dir
            << "/results.md and results.json\n";
  return 0;
}

}  // namespace dida
