// Engines that must agree, on the parity matrix: every combination of variant {branch, vector} x
// pool {flatten, avg} x progressive {on, off} (fresh weights, random batch-norm statistics), the
// trainer's recipe (a trained bundle: standardised input), a 1-channel 24 x 24 model and the wide
// pixel decoder with instance-normalised z_inv. The
// inputs and LibTorch's outputs are kept in tests/fixtures/parity/<name>/reference.safetensors,
// which the core suite checks natively and as wasm, and tests/node/onnx_parity.test.mjs through
// onnxruntime-node. DIDA_WRITE_FIXTURES=1 rewrites the fixtures.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "bundle.hpp"
#include "dida/inference.hpp"
#include "dida/safetensors.hpp"
#include "model.hpp"
#include "trainer.hpp"

namespace fs = std::filesystem;

namespace dida {
namespace {

const std::string kFixtures = std::string(DIDA_SOURCE_DIR) + "/tests/fixtures/parity";
constexpr double kTolerance = 1e-4;

std::vector<float> to_vec(const torch::Tensor& t) {
  const auto c = t.detach().to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
  return m;
}

// LibTorch's outputs for x, under the names the reference files use.
std::map<std::string, torch::Tensor> libtorch_outputs(DidaNetImpl& net, const torch::Tensor& x) {
  torch::NoGradGuard g;
  net.eval();
  const auto o = net.forward(x);
  const auto half = x.size(0) / 2;
  const auto other = torch::cat({x.slice(0, half), x.slice(0, 0, half)});  // styles: the batch rotated
  return {{"logits", o["logits"]},
          {"probs", torch::softmax(o["logits"], 1)},
          {"z_inv", o["z_inv"]},
          {"z_spe", o["z_spe"]},
          {"dom_inv", net.head("dom_inv", o["p_inv"])},
          {"dom_spe", net.head("dom_spe", o["p_spe"])},
          {"feat_rec", net.reconstruct_features(o["z_inv"], o["z_spe"])},
          {"pix_rec", net.reconstruct_pixels(o["z_inv"], o["z_spe"])},
          {"swap", net.reconstruct_pixels(o["z_inv"], net.forward(other)["z_spe"])}};
}

std::map<std::string, std::vector<float>> core_outputs(const Model& m, const Tensor4& x) {
  const auto o = m.forward(x);
  Tensor4 other(x.n, x.c, x.h, x.w);
  const int half = x.n / 2;
  for (int i = 0; i < x.n; ++i) std::copy(x.item((i + half) % x.n), x.item((i + half) % x.n) + x.per_item(), other.item(i));
  return {{"logits", o.rows("logits").data},  {"probs", o.rows("probs").data}, {"z_inv", o.map("z_inv").data},
          {"z_spe", o.map("z_spe").data},    {"dom_inv", o.rows("dom_inv").data},
          {"dom_spe", o.rows("dom_spe").data}, {"feat_rec", m.reconstruct_features(o.map("z_inv"), o.map("z_spe")).data},
          {"pix_rec", m.reconstruct_pixels(o.map("z_inv"), o.map("z_spe")).data}, {"swap", m.swap(x, other).data}};
}

Tensor4 to_tensor4(const torch::Tensor& x) {
  Tensor4 t(static_cast<int>(x.size(0)), static_cast<int>(x.size(1)), static_cast<int>(x.size(2)), static_cast<int>(x.size(3)));
  t.data = to_vec(x);
  return t;
}

void write_fixture(DidaNetImpl& net, const std::string& dir, const std::string& method) {
  fs::remove_all(dir);
  save_bundle(net, dir, {{"method", method}, {"class_names", {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}}});
  torch::manual_seed(11);
  const auto& c = net.config;
  const auto x = torch::rand({4, c.in_channels, c.image_size, c.image_size}) * 2 - 1;
  SafeTensorsWriter w;
  w.add_f32("input", x.sizes().vec(), to_vec(x));
  for (const auto& [name, t] : libtorch_outputs(net, x)) w.add_f32(name, t.sizes().vec(), to_vec(t));
  w.save(dir + "/reference.safetensors");
}

ModelConfig small_config() {
  ModelConfig c;  // the fixtures' base: the plain network of METHOD.md
  c.pool = "avg", c.input_norm = "none", c.decoder = "small", c.decoder_norm = "none";
  c.width = 4;
  c.head_hidden = 16;
  c.mine_hidden = 16;
  return c;
}

// The matrix's fresh configurations, by fixture name.
std::map<std::string, ModelConfig> fresh_configs() {
  std::map<std::string, ModelConfig> out;
  for (const char* variant : {"branch", "vector"})
    for (const char* pool : {"flatten", "avg"})
      for (const bool progressive : {true, false}) {
        ModelConfig c = small_config();
        c.variant = variant, c.pool = pool, c.progressive = progressive;
        out[std::string(variant) + "-" + pool + (progressive ? "-progressive" : "-single")] = c;
      }
  ModelConfig gray = small_config();
  gray.in_channels = 1, gray.image_size = 24, gray.input_norm = "standardize";
  out["gray24"] = gray;
  ModelConfig decoder = small_config();  // the other pixel decoder, reading z_inv instance-normalised
  decoder.decoder = "wide", decoder.decoder_norm = "instance";
  out["decoder-wide-instance"] = decoder;
  ModelConfig style = decoder;  // S an encoder of its own on the image as given, one code per image
  style.variant = "style", style.pool = "flatten", style.input_norm = "standardize";
  out["style-flatten-single"] = style;
  ModelConfig adain = style;  // and R_pix's output given the colour statistics z_spe says (AdaIN)
  adain.decoder_style = "adain";
  out["style-adain"] = adain;
  ModelConfig erase = adain;  // and z_inv without the domains' mean direction (a bundle of before
  erase.erase_domain_mean = true;  // erase_directions: one)
  erase.erase_directions = 1;
  out["style-adain-erase"] = erase;
  ModelConfig erase8 = erase;  // without the span of eight mean differences
  erase8.erase_directions = 8;
  out["style-adain-erase8"] = erase8;
  ModelConfig light = erase8;  // with the light S (3x3 kernels on the image at half size)
  light.style_encoder = "light";
  out["style-light-adain-erase8"] = light;
  ModelConfig pointwise = erase8;  // with the pointwise S (1x1 kernels on the image at half size)
  pointwise.style_encoder = "pointwise";
  out["style-pointwise-adain-erase8"] = pointwise;
  return out;
}

}  // namespace

TEST(Parity, WriteFixturesWhenAsked) {
  // DIDA_WRITE_FIXTURES=1 rewrites every fixture; =NAME,NAME writes those alone.
  const char* which = std::getenv("DIDA_WRITE_FIXTURES");
  if (!which) GTEST_SKIP() << "set DIDA_WRITE_FIXTURES=1 (or =NAME,NAME) to rewrite tests/fixtures/parity";
  const std::string only = which == std::string("1") ? "" : "," + std::string(which) + ",";
  const auto wanted = [&](const std::string& name) { return only.empty() || only.find("," + name + ",") != std::string::npos; };
  if (only.empty()) fs::remove_all(kFixtures);
  for (const auto& [name, config] : fresh_configs()) {
    if (!wanted(name)) continue;
    torch::manual_seed(21);
    DidaNet fresh(config);
    {
      torch::NoGradGuard g;  // random statistics: a wrongly applied batch norm shows
      for (auto& b : fresh->named_buffers()) {
        if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-0.5, 0.5);
        if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2.0);
      }
      for (auto& p : fresh->named_parameters())
        if (p.key().find("bn") != std::string::npos) p.value().uniform_(0.5, 1.5);
    }
    if (config.erase_domain_mean)  // directions to erase
      fresh->set_erasure_basis(DidaNetImpl::basis_of(torch::randn({config.erase_directions, fresh->erasure_basis().size(0)})));
    write_fixture(*fresh, kFixtures + "/" + name, "dida");
  }
  if (!wanted("trained")) return;
  const std::string run = (fs::temp_directory_path() / "dida-fixture-run").string();
  fs::remove_all(run);
  TrainOptions o;  // the trainer's recipe, small
  o.max_per_domain = 400, o.cache_dir = "none", o.model.width = 4, o.model.head_hidden = 16, o.model.mine_hidden = 16;
  o.batch_size = 32, o.epochs = 2, o.iters_per_epoch = 20, o.threads = 1, o.quiet = true, o.out = run;
  ASSERT_EQ(run_training(o, false), kTrainDone);
  LoadedBundle trained = load_bundle(run);
  write_fixture(*trained.net, kFixtures + "/trained", "dida");
  fs::remove_all(run);
}

TEST(Parity, LibTorchAndCoreAgreeOnEveryOutputOfTheMatrix) {
  std::set<std::string> want = {"trained"};
  for (const auto& [name, c] : fresh_configs()) want.insert(name);
  std::set<std::string> have;
  for (const auto& e : fs::directory_iterator(kFixtures)) have.insert(e.path().filename().string());
  EXPECT_EQ(have, want) << "rewrite the fixtures (DIDA_WRITE_FIXTURES=1)";
  for (const auto& which : want) {
    const std::string dir = kFixtures + "/" + which;
    ASSERT_TRUE(fs::exists(dir + "/reference.safetensors")) << dir;
    LoadedBundle lt = load_bundle(dir);
    const Model core = Model::load(dir);
    const auto ref = SafeTensorsFile::load(dir + "/reference.safetensors");
    const auto in = ref.to_f32("input");
    const auto x = torch::from_blob(const_cast<float*>(in.data()), ref.info("input").shape, torch::kFloat32).clone();
    const auto torch_out = libtorch_outputs(*lt.net, x);
    const auto core_out = core_outputs(core, to_tensor4(x));
    for (const auto& [name, t] : torch_out) {
      const auto v = to_vec(t);
      EXPECT_LT(max_diff(v, core_out.at(name)), kTolerance) << which << " " << name;
      EXPECT_LT(max_diff(v, ref.to_f32(name)), 1e-5) << which << " " << name << ": LibTorch no longer gives the fixture";
    }
    // A live network: the heads' outputs are not constant across inputs.
    const auto logits = to_vec(torch_out.at("logits"));
    EXPECT_GT(max_diff(std::vector<float>(logits.begin(), logits.begin() + 10), std::vector<float>(logits.begin() + 10, logits.begin() + 20)), 1e-3)
        << which;
  }
}

TEST(Parity, TheShippedTrainerAndCoreAgreeOnARealBundle) {
  // Any bundle the trainer writes must load in the core and give LibTorch's logits.
  const std::string run = (fs::temp_directory_path() / ("dida-parity-" + std::to_string(::getpid()))).string();
  fs::remove_all(run);
  TrainOptions o;
  o.max_per_domain = 200, o.cache_dir = "none", o.model.width = 8, o.model.head_hidden = 32, o.model.mine_hidden = 32;
  o.batch_size = 16, o.epochs = 1, o.iters_per_epoch = 5, o.threads = 1, o.quiet = true, o.out = run, o.model.pool = "avg";
  o.model.variant = "vector";
  ASSERT_EQ(run_training(o, false), kTrainDone);
  LoadedBundle lt = load_bundle(run);
  const Model core = Model::load(run + "/bundle");
  const auto x = torch::rand({4, 3, 32, 32}) * 2 - 1;
  const auto a = libtorch_outputs(*lt.net, x);
  const auto b = core_outputs(core, to_tensor4(x));
  for (const auto& [name, t] : a) EXPECT_LT(max_diff(to_vec(t), b.at(name)), kTolerance) << name;
  fs::remove_all(run);
}

}  // namespace dida
