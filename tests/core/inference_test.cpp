// The core's forward pass against LibTorch's outputs (tests/fixtures/parity, written by the native
// suite), natively and as wasm; and bundle loading on damaged and foreign files.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <set>

#include "dida/image.hpp"
#include "dida/inference.hpp"
#include "dida/json_text.hpp"
#include "dida/safetensors.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;

namespace dida {
namespace {

const std::string kFixtures = std::string(DIDA_SOURCE_DIR) + "/tests/fixtures/parity";

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e30;
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
  return m;
}

using test::error_of;

std::string read_text(const std::string& path) {
  const auto b = read_file_bytes(path);
  return std::string(b.begin(), b.end());
}

}  // namespace

TEST(Inference, CoreMatchesLibTorchOnEveryBundleOfTheParityMatrix) {
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(kFixtures)) {
    const std::string dir = entry.path().string(), which = entry.path().filename().string();
    ++seen;
    const Model m = Model::load(dir);
    const auto ref = SafeTensorsFile::load(dir + "/reference.safetensors");
    const auto& shape = ref.info("input").shape;
    Tensor4 x(static_cast<int>(shape[0]), static_cast<int>(shape[1]), static_cast<int>(shape[2]), static_cast<int>(shape[3]));
    x.data = ref.to_f32("input");
    const auto o = m.forward(x);
    Tensor4 other(x.n, x.c, x.h, x.w);  // the styles: the batch rotated by half
    for (int i = 0; i < x.n; ++i) std::copy(x.item((i + x.n / 2) % x.n), x.item((i + x.n / 2) % x.n) + x.per_item(), other.item(i));
    EXPECT_LT(max_diff(o.rows("logits").data, ref.to_f32("logits")), 1e-4) << which;
    // Values by their graph names; a wrong name or kind is an error that says so.
    try {
      (void)o.map("probs");
      ADD_FAILURE() << "probs is rows";
    } catch (const std::out_of_range& e) {
      EXPECT_STREQ(e.what(), "core: forward() keeps no map \"probs\" (it is rows)");
    }
    EXPECT_THROW((void)o.rows("z_invv"), std::out_of_range);
    EXPECT_EQ(o.map("f").c, m.config().feature_channels());
    EXPECT_LT(max_diff(o.rows("probs").data, ref.to_f32("probs")), 1e-4) << which;
    EXPECT_LT(max_diff(o.map("z_inv").data, ref.to_f32("z_inv")), 1e-4) << which;
    EXPECT_LT(max_diff(o.map("z_spe").data, ref.to_f32("z_spe")), 1e-4) << which;
    EXPECT_LT(max_diff(o.rows("dom_inv").data, ref.to_f32("dom_inv")), 1e-4) << which;
    EXPECT_LT(max_diff(o.rows("dom_spe").data, ref.to_f32("dom_spe")), 1e-4) << which;
    EXPECT_LT(max_diff(m.reconstruct_features(o.map("z_inv"), o.map("z_spe")).data, ref.to_f32("feat_rec")), 1e-4) << which;
    EXPECT_LT(max_diff(m.reconstruct_pixels(o.map("z_inv"), o.map("z_spe")).data, ref.to_f32("pix_rec")), 1e-4) << which;
    EXPECT_LT(max_diff(m.swap(x, other).data, ref.to_f32("swap")), 1e-4) << which;
    // Probabilities are the softmax of the logits.
    for (int i = 0; i < o.rows("probs").n; ++i) {
      double s = 0;
      for (int k = 0; k < o.rows("probs").d; ++k) s += o.rows("probs").row(i)[k];
      EXPECT_NEAR(s, 1.0, 1e-5);
    }
    EXPECT_EQ(m.class_names().size(), 10u);
  }
  // 8 of the matrix, the trained recipe, the 1-channel 24 x 24 model, the wide instance-norm
  // decoder, the style variant, with the AdaIN output, and with the erasure too (one direction, as
  // bundles before erase_directions; eight), and with the light S
  EXPECT_EQ(seen, 17);
}

TEST(Inference, ThreadsSplitTheBatchAndGiveTheSameOutputs) {
  Model m = Model::load(kFixtures + "/trained");
  Tensor4 x(7, 3, 32, 32);  // 7 images over 3 threads: parts of 3, 2 and 2
  for (std::size_t k = 0; k < x.data.size(); ++k) x.data[k] = std::sin(0.37f * static_cast<float>(k));
  const auto one = m.forward(x);
  for (const int threads : {2, 3, 16}) {
    m.set_threads(threads);
    const auto many = m.forward(x);
    EXPECT_EQ(many.rows("logits").n, 7);
    EXPECT_LT(max_diff(many.rows("logits").data, one.rows("logits").data), 1e-5) << threads;
    EXPECT_LT(max_diff(many.rows("probs").data, one.rows("probs").data), 1e-6) << threads;
    EXPECT_LT(max_diff(many.map("z_inv").data, one.map("z_inv").data), 1e-5) << threads;
    EXPECT_LT(max_diff(many.map("z_spe").data, one.map("z_spe").data), 1e-5) << threads;
    EXPECT_LT(max_diff(many.rows("dom_spe").data, one.rows("dom_spe").data), 1e-5) << threads;
    EXPECT_EQ(many.map("z_inv").n, 7);
    EXPECT_EQ(many.rows("p_inv").n, 7);
  }
}

TEST(Inference, InputStandardisationMatchesAHandComputation) {
  // Image (1, 2, 3, 4): mean 2.5, variance 1.25; a second, constant image becomes zeros.
  Tensor4 x(2, 1, 2, 2);
  x.data = {1, 2, 3, 4, 7, 7, 7, 7};
  const Tensor4 y = standardize_images(x);
  const double sd = std::sqrt(1.25 + ModelConfig::kInputNormEps);
  EXPECT_NEAR(y.data[0], -1.5 / sd, 1e-6);
  EXPECT_NEAR(y.data[1], -0.5 / sd, 1e-6);
  EXPECT_NEAR(y.data[3], 1.5 / sd, 1e-6);
  for (int j = 4; j < 8; ++j) EXPECT_EQ(y.data[static_cast<std::size_t>(j)], 0.f);
  // The trained fixture standardises its input (the trainer's default), the matrix's do not.
  EXPECT_EQ(Model::load(kFixtures + "/trained").config().input_norm, "standardize");
  EXPECT_EQ(Model::load(kFixtures + "/branch-flatten-progressive").config().input_norm, "none");
}

TEST(Inference, InstanceNormalisationMatchesAHandComputation) {
  // One image, two channels of 2 x 2: (1, 2, 3, 4) has mean 2.5 and variance 1.25; the constant
  // channel becomes zeros. Each channel is normalised on its own, unlike the input's standardisation.
  Tensor4 x(1, 2, 2, 2);
  x.data = {1, 2, 3, 4, 7, 7, 7, 7};
  const Tensor4 y = instance_normalize(x);
  const double sd = std::sqrt(1.25 + ModelConfig::kInputNormEps);
  EXPECT_NEAR(y.data[0], -1.5 / sd, 1e-6);
  EXPECT_NEAR(y.data[2], 0.5 / sd, 1e-6);
  for (int j = 4; j < 8; ++j) EXPECT_EQ(y.data[static_cast<std::size_t>(j)], 0.f);
  EXPECT_EQ(Model::load(kFixtures + "/decoder-wide-instance").config().decoder_norm, "instance");
}

TEST(Inference, InferenceOnlyBundlesLeaveOutTheTrainingOnlyTensors) {
  const std::string dir = kFixtures + "/branch-flatten-progressive";
  auto card = nlohmann::json::parse(read_text(dir + "/config.json"));
  // The network description decides which tensors only training uses: MINE's T, the progressive
  // heads and the progressive style branch, which only their losses read; the bundle's card lists
  // them for tools that strip them (the site builder).
  const auto training_only = training_only_tensors(ModelConfig::from_json(card["model"]));
  EXPECT_EQ(card["training_only_tensors"].get<std::vector<std::string>>(), training_only);
  std::set<std::string> prefixes;
  for (const auto& n : training_only) prefixes.insert(n.substr(0, n.find('.')));
  EXPECT_EQ(prefixes, (std::set<std::string>{"spe1", "dom_inv1", "dom_spe1", "mine"}));
  const auto full = SafeTensorsFile::load(dir + "/model.safetensors");
  SafeTensorsWriter w;
  for (const auto& name : full.names())
    if (std::find(training_only.begin(), training_only.end(), name) == training_only.end())
      w.add_f32(name, full.info(name).shape, full.to_f32(name));
  // Without the mark, a missing tensor is an error naming it.
  EXPECT_NE(error_of([&] { parse_bundle(card.dump(), w.to_bytes(), "site"); }).find("missing tensor \"spe1."),
            std::string::npos);
  card["inference_only"] = true;
  const Model stripped(parse_bundle(card.dump(), w.to_bytes(), "site"));
  const Model m = Model::load(dir);
  const auto ref = SafeTensorsFile::load(dir + "/reference.safetensors");
  Tensor4 x(4, 3, 32, 32);
  x.data = ref.to_f32("input");
  EXPECT_EQ(stripped.forward(x).rows("probs").data, m.forward(x).rows("probs").data);
  EXPECT_EQ(stripped.swap(x, x).data, m.swap(x, x).data);
}

// Weights of 3e38 are finite, so the bundle's own checks pass, but its outputs overflow: the model
// is refused at load with a line naming the bundle, not loaded to predict NaN.
TEST(Inference, ABundleWhoseOutputsOverflowIsRefusedAtLoad) {
  const std::string good = kFixtures + "/branch-flatten-progressive";
  const std::string config = read_text(good + "/config.json");
  BundleData b = parse_bundle(config, read_file_bytes(good + "/model.safetensors"), "b");
  EXPECT_NO_THROW(Model::from(b, "b"));
  for (auto& [name, values] : b.tensors)
    if (name.rfind("classifier.", 0) == 0)
      for (auto& v : values) v = 3e38f;
  const std::string err = error_of([&] { Model::from(b, "b"); });
  EXPECT_EQ(err.rfind("b: the model's output", 0), 0u) << err;
  EXPECT_NE(err.find("not finite"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

TEST(Inference, AnOlderBundleLayoutNamesItsVersionAndTheConversion) {
  const std::string dir = kFixtures + "/trained";
  auto card = nlohmann::json::parse(read_text(dir + "/config.json"));
  EXPECT_EQ(card["format_version"], kBundleFormatVersion);
  card["format_version"] = 1;
  const std::string err = error_of([&] { parse_bundle(card.dump(), read_file_bytes(dir + "/model.safetensors"), "old"); });
  EXPECT_NE(err.find("old/config.json: bundle format_version 1 is an older layout (this dida reads 2); convert it in place with: dida export old"),
            std::string::npos) << err;
  EXPECT_NO_THROW(parse_bundle(card.dump(), read_file_bytes(dir + "/model.safetensors"), "old", BundleAge::ConvertibleToo));
  card["format_version"] = 3;
  EXPECT_NE(error_of([&] { parse_bundle(card.dump(), read_file_bytes(dir + "/model.safetensors"), "new"); }).find("format_version 3 is not supported"),
            std::string::npos);
}

TEST(Inference, PixelConversionsRoundTrip) {
  std::vector<std::uint8_t> px = {0, 128, 255, 7, 9, 11};
  const Tensor4 t = pixels_to_input(px, 1, 1, 2, 3);  // NHWC 1x1x2x3 -> NCHW
  EXPECT_FLOAT_EQ(t.data[0], -1.f);                   // c0 at x0
  EXPECT_FLOAT_EQ(t.data[1], 7.f / 127.5f - 1.f);     // c0 at x1
  EXPECT_EQ(output_to_pixels(t), px);
}

TEST(Inference, DamagedAndForeignBundlesGiveOneLineErrors) {
  test::ScratchDir dir("bundle");
  const std::string good = kFixtures + "/branch-flatten-progressive";
  const std::string config = read_text(good + "/config.json");
  const auto weights = read_file_bytes(good + "/model.safetensors");
  auto check = [&](const std::string& cfg, std::vector<std::uint8_t> w, const std::string& expect) {
    const std::string err = error_of([&] { parse_bundle(cfg, std::move(w), "b"); });
    EXPECT_NE(err.find(expect), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  };
  // Truncated at many points, bit flips in the header: errors, never a crash.
  for (std::size_t n : {std::size_t{0}, std::size_t{7}, std::size_t{100}, weights.size() / 2, weights.size() - 1})
    check(config, std::vector<std::uint8_t>(weights.begin(), weights.begin() + static_cast<std::ptrdiff_t>(n)), "b/model.safetensors: ");
  // Each flipped bit either gives a one-line error naming the file, or a bundle that loads and
  // predicts finite probabilities (a flip inside a name's letters can leave a valid file).
  int refused = 0, loaded = 0;
  Tensor4 probe(2, 3, 32, 32);
  for (std::size_t k = 0; k < probe.data.size(); ++k) probe.data[k] = static_cast<float>(k % 17) / 8.f - 1.f;
  for (std::size_t i = 8; i < 200; i += 7) {
    auto flipped = weights;
    flipped[i] ^= 0x20;
    std::string err;
    try {
      const Model m(parse_bundle(config, flipped, "b"));
      const auto out = m.forward(probe);
      for (float p : out.rows("probs").data) ASSERT_TRUE(std::isfinite(p)) << "flip at byte " << i;
      ++loaded;
    } catch (const std::runtime_error& e) {
      err = e.what();
      ++refused;
      EXPECT_EQ(err.rfind("b/", 0), 0u) << "flip at byte " << i << ": " << err;
      EXPECT_EQ(err.find('\n'), std::string::npos) << err;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(loaded, 0) << "some flips (inside a name's letters) leave a valid file";
  {  // the header's opening brace flipped ('{' -> '['): not a header at all
    auto flipped = weights;
    flipped[8] ^= 0x20;
    EXPECT_NE(error_of([&] { parse_bundle(config, flipped, "b"); }).find("b/model.safetensors"), std::string::npos);
  }
  // Oversized header length.
  auto big = weights;
  big[6] = 0x7f;
  check(config, big, "exceeds");
  // A PNG renamed to model.safetensors.
  Image img(4, 4, 3, 200);
  check(config, encode_png(img), "b/model.safetensors: ");
  // An ONNX-like protobuf passed as a bundle's weights.
  check(config, {0x08, 0x07, 0x12, 0x04, 'd', 'i', 'd', 'a'}, "b/model.safetensors: ");
  // Config problems name the field.
  check("{\"format\": \"dida-bundle\", \"format_version\": 7, \"model\": {}}", weights, "format_version 7");
  check("{\"format\": \"dida-bundle\", \"format_version\": 2}", weights, "missing field \"model\"");
  check("[1, 2]", weights, "not a dida bundle config");
  check("{", weights, "b/config.json: not valid JSON");
  auto j = nlohmann::json::parse(config);
  j["model"]["architecture"] = "resnet";
  check(j.dump(), weights, "unknown architecture \"resnet\"");
  j = nlohmann::json::parse(config);
  j["model"]["width"] = 5;
  check(j.dump(), weights, "wrong shape");
  j = nlohmann::json::parse(config);
  j["model"]["progressive"] = false;  // the file has the progressive tensors: extra ones
  check(j.dump(), weights, "unexpected tensor");
  j = nlohmann::json::parse(config);
  j["model"].erase("variant");
  check(j.dump(), weights, "missing field \"variant\"");
  // class_names must name every class (a short list crashed `dida predict`).
  j = nlohmann::json::parse(config);
  for (const auto& names : {nlohmann::json::array(), nlohmann::json::array({"a", "b"}), nlohmann::json::array({1, 2, 3, 4, 5, 6, 7, 8, 9, 10})}) {
    j["class_names"] = names;
    check(j.dump(), weights, "b/config.json: \"class_names\" must be 10 strings");
  }
  // Damaged values: a NaN or an Inf anywhere, a negative batch-norm variance.
  const auto full = SafeTensorsFile::parse(weights, "w");
  auto with = [&](const std::string& tensor, float value) {
    SafeTensorsWriter w;
    for (const auto& name : full.names()) {
      auto v = full.to_f32(name);
      if (name == tensor) v[v.size() / 2] = value;
      w.add_f32(name, full.info(name).shape, v);
    }
    return w.to_bytes();
  };
  check(config, with("classifier.fc2.weight", std::nanf("")), "\"classifier.fc2.weight\" holds a non-finite value");
  check(config, with("encoder.conv1.bias", INFINITY), "\"encoder.conv1.bias\" holds a non-finite value");
  check(config, with("inv.bn.running_var", -0.5f), "\"inv.bn.running_var\" holds a negative variance");
  EXPECT_EQ(error_of([&] { parse_bundle(config, with("inv.bn.running_mean", -0.5f), "b"); }), "") << "a negative mean is fine";
  // Missing files.
  EXPECT_NE(error_of([&] { read_bundle(dir.path("nothing")); }).find("nothing/config.json"), std::string::npos);
}

}  // namespace dida

namespace dida {
namespace {

std::string nested(int depth) { return std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']'); }

}  // namespace

// JSON from anywhere is checked for size and depth before it is parsed: a value nested 100,000
// deep is one short line naming the file, not a stack overflow; brackets inside strings are text.
TEST(Json, DepthAndSizeAreCheckedBeforeParsing) {
  EXPECT_EQ(parse_json("{\"a\": [[1], {\"b\": \"[[[[[[\"}]}", "x").at("a").size(), 2u);
  const auto one_line = [](const std::string& text, const std::string& expect) {
    const std::string err = error_of([&] { parse_json(text, "f/config.json"); });
    EXPECT_NE(err.find("f/config.json: " + expect), std::string::npos) << err.substr(0, 200);
    EXPECT_EQ(err.find('\n'), std::string::npos);
    EXPECT_LT(err.size(), 200u);
    EXPECT_EQ(err.find("json.exception"), std::string::npos) << err;
  };
  one_line("{\"format_version\": " + nested(100000) + "}", "JSON nested deeper than 64 levels");
  one_line(nested(65), "JSON nested deeper than 64 levels");
  EXPECT_NO_THROW(parse_json(nested(64), "x"));
  one_line("{\"a\": 1,}", "not valid JSON (line 1, column 9");
  one_line("{\"epochs\": 88888888e8888888}", "not valid JSON (number overflow");  // found by fuzz_json
  one_line(std::string(kMaxJsonBytes + 1, ' '), "16777217 bytes of JSON, over the 16 MiB");
  EXPECT_EQ(json_excerpt(nlohmann::json(std::string(1000, 'a'))).size(), 40u + std::string("…").size());
}

// A bundle whose config.json nests deep, whose weights file is larger than its config's tensors
// can fill, or whose image_size would take gigabytes per prediction: refused by name, before the
// bytes are read (the weights file here is sparse: 300 MB that take no memory to refuse).
TEST(Json, AHostileBundleIsRefusedBeforeItsBytesAreRead) {
  namespace fs = std::filesystem;
  test::ScratchDir dir("hostile");
  const std::string good = kFixtures + "/trained", b = dir.path("b");
  fs::copy(good, b, fs::copy_options::recursive);
  auto card = nlohmann::json::parse(read_text(good + "/config.json"));
  const auto write = [&](const std::string& text) { std::ofstream(b + "/config.json", std::ios::binary) << text; };
  const auto refused = [&](const std::string& expect) {
    const std::string err = error_of([&] { Model::load(b); });
    EXPECT_NE(err.find(expect), std::string::npos) << err.substr(0, 300);
    EXPECT_EQ(err.find('\n'), std::string::npos);
    EXPECT_LT(err.size(), 300u);
  };
  std::string deep = card.dump();
  deep.insert(deep.size() - 1, ", \"unknown\": " + nested(100000));
  write(deep);
  refused(b + "/config.json: JSON nested deeper than 64 levels");
  auto big = card;
  big["model"]["image_size"] = 4096;
  write(big.dump());
  refused("image_size 4096 is over the 512 dida handles");
  write(card.dump());
  EXPECT_NO_THROW(Model::load(b));
  fs::resize_file(b + "/model.safetensors", 300u << 20);
  refused(b + "/model.safetensors: 314572800 bytes, more than the");
}

}  // namespace dida
