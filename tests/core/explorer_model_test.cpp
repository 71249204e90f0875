// The page's explorer model without the page: loading, chunked prediction, the engine comparison,
// projections, selection and the swap grid, natively and as wasm.
#include <gtest/gtest.h>

#include <cmath>

#include "dida/data.hpp"
#include "dida/inference.hpp"
#include "dida/safetensors.hpp"
#include "comparison.hpp"
#include "explorer_model.hpp"
#include "findings.hpp"
#include "frame_work.hpp"
#include "replay_player.hpp"
#include "test_util.hpp"

namespace dida::web {
namespace {

const std::string kBundle = std::string(DIDA_SOURCE_DIR) + "/tests/fixtures/parity/trained";

struct Loaded {
  test::ScratchDir dir{"explorer"};
  ExplorerModel m;
  std::vector<std::uint8_t> config, weights, samples;
  explicit Loaded(int probe_n = 0) {
    PairOptions o;
    o.max_per_domain = probe_n > 0 ? 1000 : 400;  // enough held-out images for the probe images too
    o.cache_dir = "";
    const DomainPair p = build_pair("mnist", "mnistm", DataSources::from_root(DIDA_SOURCE_DIR), o);
    write_sample_set(p, 40, dir.path("s.safetensors"), probe_n);  // 40 source-val + 40 target-test images
    config = read_file_bytes(kBundle + "/config.json");
    weights = read_file_bytes(kBundle + "/model.safetensors");
    samples = read_file_bytes(dir.path("s.safetensors"));
  }
  std::string load() { return m.load(std::string(config.begin(), config.end()), weights, samples, "b"); }
};

}  // namespace

TEST(ExplorerModel, PredictsInChunksAsTheCoreDoesForTheWholeSet) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  const int n = l.m.samples().images.size();
  ASSERT_EQ(n, 80);
  EXPECT_EQ(l.m.predicted_count(), std::min(n, ExplorerModel::kFirstChunk));
  EXPECT_FALSE(l.m.predicted_all());
  while (!l.m.predicted_all()) l.m.predict_next(7);
  // The chunks give what one forward pass over all samples gives.
  const Model whole = Model::load(kBundle);
  const auto o = whole.forward(l.m.input());
  int correct[2] = {0, 0}, count[2] = {0, 0};
  for (int i = 0; i < n; ++i) {
    const float* p = o.rows("probs").row(i);
    const int best = static_cast<int>(std::max_element(p, p + o.rows("probs").d) - p);  // the rows by their graph name
    EXPECT_EQ(l.m.predicted()[static_cast<std::size_t>(i)], best) << i;
    const int dom = l.m.samples().domains[static_cast<std::size_t>(i)];
    ++count[dom];
    correct[dom] += best == l.m.samples().images.labels[static_cast<std::size_t>(i)];
  }
  EXPECT_EQ(count[0], 40);
  EXPECT_EQ(static_cast<int>(l.m.domain_items(1).size()), count[1]);
  EXPECT_DOUBLE_EQ(l.m.accuracy(0), static_cast<double>(correct[0]) / count[0]);
  EXPECT_DOUBLE_EQ(l.m.accuracy(1), static_cast<double>(correct[1]) / count[1]);
  // Both plots have a point per sample, spread out (not all at one place).
  ASSERT_EQ(l.m.inv_xy().size(), static_cast<std::size_t>(2 * n));
  ASSERT_EQ(l.m.spe_xy().size(), static_cast<std::size_t>(2 * n));
  EXPECT_GT(std::abs(l.m.inv_xy()[0] - l.m.inv_xy()[2]) + std::abs(l.m.inv_xy()[1] - l.m.inv_xy()[3]), 1e-6);
  // The parameters inference uses: every tensor but MINE's T.
  std::int64_t expected = 0;
  for (const auto& s : parameter_specs(l.m.model().config()))
    if (s.name.rfind("mine.", 0) != 0) {
      std::int64_t v = 1;
      for (auto d : s.shape) v *= d;
      expected += v;
    }
  EXPECT_EQ(l.m.parameter_count(), expected);
}

TEST(ExplorerModel, OrtOutputsAreComparedAndDriveThePageWhenChosen) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  while (!l.m.predicted_all()) l.m.predict_next();
  const auto core = l.m.core_outputs();
  l.m.use_engine(ExplorerModel::kOrt);  // refused before ORT's outputs arrive
  EXPECT_EQ(l.m.engine(), ExplorerModel::kCore);
  // "ORT" here: the core's outputs with the first sample's probabilities swapped between two classes.
  auto probs = core.probs;
  const int k = l.m.model().config().num_classes;
  const int best = l.m.predicted()[0], other = (best + 1) % k;
  std::swap(probs[static_cast<std::size_t>(best)], probs[static_cast<std::size_t>(other)]);
  l.m.set_ort_outputs(2.5, 1, probs.data(), core.z_inv.data(), core.z_spe.data());
  EXPECT_NEAR(l.m.engine_max_diff(), std::abs(core.probs[static_cast<std::size_t>(best)] - core.probs[static_cast<std::size_t>(other)]), 1e-6);
  EXPECT_EQ(l.m.ort_status(), "ready");
  EXPECT_EQ(l.m.predicted()[0], best) << "the core still drives the page";
  l.m.use_engine(ExplorerModel::kOrt);
  EXPECT_EQ(l.m.engine(), ExplorerModel::kOrt);
  EXPECT_EQ(l.m.predicted()[0], other) << "ORT's outputs drive the predictions now";
  l.m.use_engine(ExplorerModel::kCore);
  EXPECT_EQ(l.m.predicted()[0], best);
}

TEST(ExplorerModel, SwapGridCellsFollowTheSelectionAndOrtCellsAreCompared) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  while (!l.m.predicted_all()) l.m.predict_next();
  const int r = static_cast<int>(l.m.swap_rows().size()), c = static_cast<int>(l.m.swap_cols().size());
  ASSERT_EQ(r, ExplorerModel::kSwapSize);
  ASSERT_EQ(c, ExplorerModel::kSwapSize);
  for (int i : l.m.swap_rows()) EXPECT_EQ(l.m.samples().domains[static_cast<std::size_t>(i)], 0);
  for (int j : l.m.swap_cols()) EXPECT_EQ(l.m.samples().domains[static_cast<std::size_t>(j)], 1);
  const Domain& d = l.m.samples().images;
  ASSERT_EQ(l.m.swap_pixels().size(), static_cast<std::size_t>(r * c) * d.image_bytes());
  // Cell (1, 2) is the model's swap of row 1's image in column 2's style.
  const Model model = Model::load(kBundle);
  auto input_of = [&](int i) { return pixels_to_input(d.image(i).pixels, 1, d.height, d.width, d.channels); };
  const Tensor4 cell = model.swap(input_of(l.m.swap_rows()[1]), input_of(l.m.swap_cols()[2]));
  const auto px = output_to_pixels(cell);
  EXPECT_TRUE(std::equal(px.begin(), px.end(), l.m.swap_pixels().begin() + static_cast<std::ptrdiff_t>((1 * c + 2) * d.image_bytes())));
  // Selecting a target image and using it as the next style column replaces column 0.
  const int version = l.m.swap_version();
  const int pick = l.m.domain_items(1).back();
  l.m.select(pick);
  EXPECT_EQ(l.m.selected(), pick);
  l.m.use_selected_as_column();
  EXPECT_EQ(l.m.swap_cols()[0], pick);
  EXPECT_GT(l.m.swap_version(), version);
  l.m.select(10000);  // out of range: ignored
  EXPECT_EQ(l.m.selected(), pick);
  // ORT's cells: compared with the core's, shown when ORT is the engine.
  const int cells = r * c;
  std::vector<float> ort(static_cast<std::size_t>(cells) * d.image_bytes(), 0.f);
  l.m.set_ort_swap(1.0, ort.data());
  EXPECT_TRUE(l.m.ort_swap_ready());
  EXPECT_GT(l.m.swap_readout().ort_max_diff, 0.01);
  EXPECT_GT(l.m.swap_readout().min_cell_std, 1.0) << "the core's cells are shown while the core is the engine";
}

// The style mixer: at t = 0 its row is the swap grid's column a, at t = 1 column b, and in between
// the cells move by less the smaller the step of t (a continuous path, not a switch); ORT's row is
// compared with the core's and shown when ORT is the engine, and one of an older mix is ignored.
TEST(ExplorerModel, TheStyleMixerSlidesBetweenTwoColumnsContinuously) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  EXPECT_FALSE(l.m.mixer().ready());
  while (!l.m.predicted_all()) l.m.predict_next();
  ASSERT_TRUE(l.m.mixer().ready());
  const int r = static_cast<int>(l.m.swap_rows().size()), c = static_cast<int>(l.m.swap_cols().size());
  const std::size_t cell = l.m.samples().images.image_bytes();
  const auto column = [&](int j) {  // the swap grid's column j, as one row of cells
    std::vector<std::uint8_t> out;
    for (int i = 0; i < r; ++i) {
      const auto from = l.m.swap_pixels().begin() + static_cast<std::ptrdiff_t>((i * c + j) * cell);
      out.insert(out.end(), from, from + static_cast<std::ptrdiff_t>(cell));
    }
    return out;
  };
  l.m.set_mix_columns(1, 3);
  EXPECT_EQ(l.m.mix_column(0), 1);
  EXPECT_EQ(l.m.mix_column(1), 3);
  l.m.set_mix(0.0);
  EXPECT_EQ(l.m.mix_pixels(), column(1));
  l.m.set_mix(1.0);
  EXPECT_EQ(l.m.mix_pixels(), column(3));
  const auto row_at = [&](double t) {
    l.m.set_mix(t);
    return l.m.mixer().row().data;
  };
  const auto distance = [](const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::abs(a[i] - b[i])));
    return m;
  };
  const auto mid = row_at(0.5), near = row_at(0.5 + 1e-3), far = row_at(0.6);
  EXPECT_GT(distance(row_at(0.0), row_at(1.0)), 0.05) << "two styles, two looks";
  EXPECT_LT(distance(mid, near), 0.02);
  EXPECT_LT(distance(mid, near), distance(mid, far));
  EXPECT_GT(distance(mid, far), 0.0);
  l.m.set_mix(7.0);
  EXPECT_EQ(l.m.mixer().mix(), 1.0) << "t is clamped";
  // ORT's row: compared, shown under ORT only, and dropped once the mix moves on.
  const int version = l.m.mixer().version();
  std::vector<float> ort = l.m.mixer().row().data;
  ort[0] += 0.25f;
  l.m.set_ort_mix(2.0, version - 1, ort.data());
  EXPECT_FALSE(l.m.ort_mix_ready()) << "an answer for an older mix";
  l.m.set_ort_mix(2.0, version, ort.data());
  ASSERT_TRUE(l.m.ort_mix_ready());
  EXPECT_NEAR(l.m.mix_ort_max_diff(), 0.25, 1e-6);
  EXPECT_EQ(l.m.mix_pixels(), output_to_pixels(l.m.mixer().row())) << "the core is the engine";
  const auto& core = l.m.core_outputs();
  l.m.set_ort_outputs(1.0, 1, core.probs.data(), core.z_inv.data(), core.z_spe.data());
  l.m.use_engine(ExplorerModel::kOrt);
  Tensor4 ort_row = l.m.mixer().row();
  ort_row.data = ort;
  EXPECT_EQ(l.m.mix_pixels(), output_to_pixels(ort_row)) << "ORT is the engine";
  l.m.set_mix(0.3);
  EXPECT_FALSE(l.m.ort_mix_ready());
  // The decoder's inputs for ORT: each row's z_inv and N copies of the mixed code.
  EXPECT_EQ(l.m.mixer().z_inv().n, r);
  EXPECT_EQ(l.m.mixer().mixed_z_spe().n, r);
}

TEST(ExplorerModel, AWrongSampleSetOrBundleIsOneLineAndKeepsWhatWasLoaded) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  const std::string bad = l.m.load("{}", l.weights, l.samples, "b");
  EXPECT_NE(bad.find("b/config.json"), std::string::npos) << bad;
  EXPECT_EQ(bad.find('\n'), std::string::npos);
  EXPECT_TRUE(l.m.loaded());
  EXPECT_EQ(l.m.samples().images.size(), 80) << "the model loaded before stays";
  const std::string not_samples = l.m.load(std::string(l.config.begin(), l.config.end()), l.weights, l.weights, "b");
  EXPECT_NE(not_samples.find("samples.safetensors"), std::string::npos) << not_samples;
}

TEST(ExplorerModel, TsneReplacesPcaAndPcaComesBack) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  while (!l.m.predicted_all()) l.m.predict_next();
  const auto pca = l.m.inv_xy();
  l.m.set_projection(true);
  l.m.step_tsne(30);
  EXPECT_TRUE(l.m.tsne());
  EXPECT_EQ(l.m.tsne_iteration(), 30);
  EXPECT_GT(l.m.tsne_progress(), 0.0);
  EXPECT_NE(l.m.inv_xy(), pca);
  l.m.set_projection(false);
  EXPECT_EQ(l.m.inv_xy(), pca);
}

namespace {
// An image as the browser hands it over: RGBA bytes.
std::vector<std::uint8_t> rgba_of(const Image& img) {
  std::vector<std::uint8_t> out;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      for (int c = 0; c < 3; ++c) out.push_back(img.at(y, x, img.channels == 3 ? c : 0));
      out.push_back(255);
    }
  return out;
}
}  // namespace

TEST(ExplorerModel, YourImagesArePredictedAndPlacedAmongTheSamples) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  while (!l.m.predicted_all()) l.m.predict_next();
  // Sample 5 as the browser decodes it: the same prediction, and the same place in both plots (PCA and t-SNE).
  const Domain& d = l.m.samples().images;
  ASSERT_EQ(l.m.add_user_rgba("five.png", rgba_of(d.image(5)), d.width, d.height), "");
  ASSERT_EQ(l.m.user_images().size(), 1u);
  const auto& u = l.m.user_images()[0];
  EXPECT_EQ(u.name, "five.png");
  EXPECT_EQ(u.predicted, l.m.predicted()[5]);
  EXPECT_EQ(u.pixels, d.image(5).pixels);
  for (const bool inv : {true, false}) {
    const auto xy = l.m.user_xy(0, inv);
    const auto& all = inv ? l.m.inv_xy() : l.m.spe_xy();
    EXPECT_NEAR(xy[0], all[10], 1e-3) << inv;
    EXPECT_NEAR(xy[1], all[11], 1e-3) << inv;
  }
  l.m.set_projection(true);
  l.m.step_tsne(20);
  EXPECT_EQ(l.m.user_xy(0, true)[0], l.m.inv_xy()[10]) << "under t-SNE: the nearest sample's place";
  // ONNX Runtime Web's answer is taken for the images it was asked about, not older ones.
  std::vector<float> probs(static_cast<std::size_t>(l.m.model().config().num_classes), 0.f);
  probs[3] = 1.f;
  l.m.set_ort_user(1, l.m.user_version() - 1, probs.data());
  EXPECT_EQ(l.m.user_images()[0].ort_predicted, -1);
  l.m.set_ort_user(1, l.m.user_version(), probs.data());
  EXPECT_EQ(l.m.user_images()[0].ort_predicted, 3);
  // Pixels that do not make the image they claim: a one-line error naming it, nothing added.
  const std::string bad = l.m.add_user_rgba("notes.txt", {'h', 'e', 'l', 'l', 'o'}, 2, 2);
  EXPECT_EQ(bad.rfind("notes.txt", 0), 0u) << bad;
  EXPECT_EQ(bad.find('\n'), std::string::npos);
  EXPECT_EQ(l.m.user_images().size(), 1u);
  // A larger image is resized to the model's input.
  Image big(100, 60, 3, 200);
  ASSERT_EQ(l.m.add_user_rgba("big.png", rgba_of(big), big.width, big.height), "");
  EXPECT_EQ(l.m.user_images()[1].pixels.size(), d.image(0).pixels.size());
}

TEST(ExplorerModel, TheDrawingIsCentredPredictedAndJoinsTheSwapGrid) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  while (!l.m.predicted_all()) l.m.predict_next();
  const int s = 32;
  std::vector<float> ink(static_cast<std::size_t>(s) * s, 0.f);
  for (int y = 2; y < 12; ++y) ink[static_cast<std::size_t>(y) * s + 3] = 1.f;  // a short bar in a corner
  l.m.set_drawing(ink, s);
  ASSERT_EQ(l.m.drawing_index(), 0);
  const auto& u = l.m.user_images()[0];
  EXPECT_GE(u.predicted, 0);
  // Scaled to 20/28 of the frame and centred: ink in the middle rows, none in the corner drawn in.
  const int c = l.m.model().config().in_channels;
  auto px = [&](int y, int x) { return u.pixels[(static_cast<std::size_t>(y) * s + x) * c]; };
  EXPECT_GT(px(s / 2, s / 2), 100);
  EXPECT_EQ(px(3, 3), 0);
  int rows = 0;
  for (int y = 0; y < s; ++y) rows += px(y, s / 2) > 0;
  EXPECT_NEAR(rows, 20.0 / 28.0 * s, 2.0);
  // As a content row: the first row's cells are swaps of the drawing, and redrawn as it changes.
  const int version = l.m.swap_version();
  l.m.use_user_as_row(0);
  EXPECT_EQ(l.m.swap_rows()[0], l.m.samples().images.size());
  EXPECT_GT(l.m.swap_version(), version);
  EXPECT_EQ(l.m.entry_pixels(l.m.swap_rows()[0]), u.pixels);
  const auto before = l.m.swap_pixels();
  for (int x = 3; x < 12; ++x) ink[static_cast<std::size_t>(7) * s + x] = 1.f;  // a cross bar
  l.m.set_drawing(ink, s);
  EXPECT_NE(l.m.swap_pixels(), before);
  // Cleared: the drawing goes and the swap grid is back to samples.
  l.m.set_drawing(std::vector<float>(ink.size(), 0.f), s);
  EXPECT_EQ(l.m.drawing_index(), -1);
  EXPECT_LT(l.m.swap_rows()[0], l.m.samples().images.size());
}

namespace {
// Features whose answers are known, handed in as ONNX Runtime Web's and shown: z_inv the same for
// every image (nothing to read), z_spe zero but for the class (one-hot, values 0..9 of the flattened
// map) and the domain (value 10). The trained fixture pools by flattening: every value is a feature.
void show_known_features(Loaded& l) {
  while (!l.m.predicted_all()) l.m.predict_next();
  ASSERT_EQ(l.m.model().config().pool, "flatten");
  const auto& core = l.m.core_outputs();
  const std::size_t n = static_cast<std::size_t>(l.m.samples().images.size());
  const std::size_t spe = core.z_spe.size() / n;
  ASSERT_GT(spe, 10u);
  std::vector<float> z_inv(core.z_inv.size(), 0.5f), z_spe(core.z_spe.size(), 0.f);
  for (std::size_t i = 0; i < n; ++i) {
    z_spe[i * spe + static_cast<std::size_t>(l.m.samples().images.labels[i])] = 1.f;
    z_spe[i * spe + 10] = static_cast<float>(l.m.samples().domains[i]);
  }
  l.m.set_ort_outputs(1, 1, core.probs.data(), z_inv.data(), z_spe.data());
  l.m.use_engine(ExplorerModel::kOrt);
}
}  // namespace

TEST(ExplorerModel, LiveProbesFindWhatTheShownFeaturesHold) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  EXPECT_EQ(l.m.probe(ExplorerModel::kDomainInv).accuracy, -1);
  show_known_features(l);
  EXPECT_EQ(l.m.probe(ExplorerModel::kDomainInv).accuracy, -1) << "another engine: fitted again";
  while (!l.m.probes_done()) l.m.step_probes(1L << 30);
  for (const auto kind : {ExplorerModel::kDomainInv, ExplorerModel::kDomainSpe, ExplorerModel::kClassSpe})
    EXPECT_DOUBLE_EQ(l.m.probe(kind).progress, 1.0) << kind;
  EXPECT_DOUBLE_EQ(l.m.probe(ExplorerModel::kDomainInv).chance, 0.5);  // 20 + 20 test rows
  EXPECT_DOUBLE_EQ(l.m.probe(ExplorerModel::kDomainInv).accuracy, 0.5) << "nothing in z_inv: chance";
  EXPECT_DOUBLE_EQ(l.m.probe(ExplorerModel::kDomainSpe).accuracy, 1.0) << "the domain is value 10 of z_spe";
  EXPECT_GT(l.m.probe(ExplorerModel::kClassSpe).accuracy, 0.9) << "the class is one-hot in z_spe";
  // Back on the core: the trained fixture's own features, whose z_spe tells the domains apart.
  l.m.use_engine(ExplorerModel::kCore);
  while (!l.m.probes_done()) l.m.step_probes(1L << 30);
  EXPECT_GT(l.m.probe(ExplorerModel::kDomainSpe).accuracy, 0.8);
}

// With probe images the probes read them beside the shown samples, each domain's rows in its
// held-out order (what `dida eval`'s page_probes reproduces): the figures are those of probes
// fitted here on the model's own features of those rows.
TEST(ExplorerModel, TheProbesReadTheProbeImagesBesideTheShownOnes) {
  Loaded l(30);
  ASSERT_EQ(l.load(), "");
  ASSERT_EQ(l.m.probe_images(), 60);
  while (!l.m.predicted_all()) l.m.predict_next();
  EXPECT_FALSE(l.m.probes_done()) << "the probe images' features come first";
  int calls = 0;
  while (!l.m.probes_done()) l.m.step_probes(1L << 30), ++calls;
  EXPECT_GE(calls, 2);
  const Model whole = Model::load(kBundle);
  const SampleSet& s = l.m.samples();
  const auto shown = whole.forward(l.m.input());
  const Tensor4 probe_in = pixels_to_input(s.probe_images.pixels, 60, s.images.height, s.images.width, s.images.channels);
  const auto more = whole.forward(probe_in);
  const Rows si = whole.pool(shown.map("z_inv")), ss = whole.pool(shown.map("z_spe"));
  const Rows pi = whole.pool(more.map("z_inv")), ps = whole.pool(more.map("z_spe"));
  std::vector<float> inv, spe;
  std::vector<int> dom, label, items[2];
  for (int d = 0; d < 2; ++d) {
    for (int i = 0; i < 80; ++i)
      if (s.domains[static_cast<std::size_t>(i)] == d) {
        items[d].push_back(static_cast<int>(dom.size()));
        inv.insert(inv.end(), si.row(i), si.row(i) + si.d), spe.insert(spe.end(), ss.row(i), ss.row(i) + ss.d);
        dom.push_back(d), label.push_back(s.images.labels[static_cast<std::size_t>(i)]);
      }
    for (int i = 0; i < 60; ++i)
      if (s.probe_domains[static_cast<std::size_t>(i)] == d) {
        items[d].push_back(static_cast<int>(dom.size()));
        inv.insert(inv.end(), pi.row(i), pi.row(i) + pi.d), spe.insert(spe.end(), ps.row(i), ps.row(i) + ps.d);
        dom.push_back(d), label.push_back(s.probe_images.labels[static_cast<std::size_t>(i)]);
      }
  }
  ASSERT_EQ(items[0].size(), 70u);
  std::vector<int> fit, test, cfit, ctest;
  for (std::size_t k = 0; k < 70; ++k)
    for (int d = 0; d < 2; ++d) (k % 2 ? test : fit).push_back(items[d][k]);
  for (int i = 0; i < 140; ++i) (i % 2 ? ctest : cfit).push_back(i);
  auto fitted = [](CrossFitProbe p) {
    while (p.step(CrossFitProbe::kSteps)) {
    }
    return p.test_accuracy();
  };
  EXPECT_NEAR(l.m.probe(ExplorerModel::kDomainInv).accuracy, fitted(CrossFitProbe(inv, 140, si.d, dom, 2, fit, test)), 1e-6);
  EXPECT_NEAR(l.m.probe(ExplorerModel::kDomainSpe).accuracy, fitted(CrossFitProbe(spe, 140, ss.d, dom, 2, fit, test)), 1e-6);
  EXPECT_NEAR(l.m.probe(ExplorerModel::kClassSpe).accuracy, fitted(CrossFitProbe(spe, 140, ss.d, label, 10, cfit, ctest)), 1e-6);
  EXPECT_DOUBLE_EQ(l.m.probe(ExplorerModel::kDomainInv).chance, 0.5);
  EXPECT_EQ(l.m.probe(ExplorerModel::kDomainInv).draws, 1);  // as many rows of each domain: one draw
  EXPECT_NE(probe_findings(l.m).find("These are one draw, this page's held-out images"), std::string::npos);
}

// A sample set with fewer held-out images of one domain (optdigits has 180 source-val images): the
// probes read every row in draws (page_probe_draws) and show the draws' mean.
TEST(ExplorerModel, WithFewerRowsOfOneDomainTheProbesReadEveryRowInDraws) {
  test::ScratchDir dir("explorer-draws");
  PairOptions o;
  o.max_per_domain = 1000, o.cache_dir = "";
  DomainPair p = build_pair("mnist", "mnistm", DataSources::from_root(DIDA_SOURCE_DIR), o);
  std::vector<int> first(50);
  for (int i = 0; i < 50; ++i) first[static_cast<std::size_t>(i)] = i;
  p.source_val = p.source_val.subset(first);             // 40 shown + 10 probe images of the source
  write_sample_set(p, 40, dir.path("s.safetensors"), 30);  // 40 shown + 30 probe images of the target
  ExplorerModel m;
  const auto config = read_file_bytes(kBundle + "/config.json");
  ASSERT_EQ(m.load(std::string(config.begin(), config.end()), read_file_bytes(kBundle + "/model.safetensors"),
                   read_file_bytes(dir.path("s.safetensors")), "b"),
            "");
  while (!m.predicted_all()) m.predict_next();
  while (!m.probes_done()) m.step_probes(1L << 30);
  const SampleSet& s = m.samples();
  const Model whole = Model::load(kBundle);
  const auto shown = whole.forward(m.input());
  const auto more = whole.forward(pixels_to_input(s.probe_images.pixels, s.probe_images.size(), s.images.height,
                                                  s.images.width, s.images.channels));
  const Rows si = whole.pool(shown.map("z_inv")), ss = whole.pool(shown.map("z_spe"));
  const Rows pi = whole.pool(more.map("z_inv")), ps = whole.pool(more.map("z_spe"));
  std::vector<float> inv, spe;
  std::vector<int> dom, label, items[2];
  for (int d = 0; d < 2; ++d) {
    for (int i = 0; i < s.images.size(); ++i)
      if (s.domains[static_cast<std::size_t>(i)] == d) {
        items[d].push_back(static_cast<int>(dom.size()));
        inv.insert(inv.end(), si.row(i), si.row(i) + si.d), spe.insert(spe.end(), ss.row(i), ss.row(i) + ss.d);
        dom.push_back(d), label.push_back(s.images.labels[static_cast<std::size_t>(i)]);
      }
    for (int i = 0; i < s.probe_images.size(); ++i)
      if (s.probe_domains[static_cast<std::size_t>(i)] == d) {
        items[d].push_back(static_cast<int>(dom.size()));
        inv.insert(inv.end(), pi.row(i), pi.row(i) + pi.d), spe.insert(spe.end(), ps.row(i), ps.row(i) + ps.d);
        dom.push_back(d), label.push_back(s.probe_images.labels[static_cast<std::size_t>(i)]);
      }
  }
  ASSERT_EQ(items[0].size(), 50u);
  ASSERT_EQ(items[1].size(), 70u);
  // Two draws: the 50 source rows with target rows 0..49, then with 50..69 and 0..29.
  const int n = static_cast<int>(dom.size());
  double dom_inv = 0, cls = 0;
  for (int j = 0; j < 2; ++j) {
    std::vector<int> t, fit, test, cfit, ctest;
    for (int i = 0; i < 50; ++i) t.push_back(items[1][static_cast<std::size_t>((50 * j + i) % 70)]);
    for (int i = 0; i < 50; ++i) {
      auto& half = i % 2 ? test : fit;
      half.push_back(items[0][static_cast<std::size_t>(i)]), half.push_back(t[static_cast<std::size_t>(i)]);
    }
    for (int i = 0; i < 100; ++i) (i % 2 ? ctest : cfit).push_back(i < 50 ? items[0][static_cast<std::size_t>(i)] : t[static_cast<std::size_t>(i - 50)]);
    CrossFitProbe a(inv, n, si.d, dom, 2, fit, test), c(spe, n, ss.d, label, 10, cfit, ctest);
    while (a.step(CrossFitProbe::kSteps)) {
    }
    while (c.step(CrossFitProbe::kSteps)) {
    }
    dom_inv += a.test_accuracy() / 2, cls += c.test_accuracy() / 2;
  }
  EXPECT_EQ(m.probe(ExplorerModel::kDomainInv).draws, 2);
  EXPECT_NEAR(m.probe(ExplorerModel::kDomainInv).accuracy, dom_inv, 1e-6);
  EXPECT_NEAR(m.probe(ExplorerModel::kClassSpe).accuracy, cls, 1e-6);
  EXPECT_DOUBLE_EQ(m.probe(ExplorerModel::kDomainInv).progress, 1.0);
  EXPECT_NE(probe_findings(m).find("These are the mean of 2 draws of this page's held-out images"), std::string::npos)
      << probe_findings(m);
}

TEST(ExplorerModel, TsneKeepsEachClassOfTheShownFeaturesTogether) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  show_known_features(l);
  // z_spe's classes are ten orthogonal directions: t-SNE's layout keeps each class together.
  l.m.set_projection(true);
  l.m.step_tsne(1000);
  EXPECT_DOUBLE_EQ(l.m.tsne_progress(), 1.0);
  const auto& xy = l.m.spe_xy();
  const auto& labels = l.m.samples().images.labels;
  const int n = l.m.samples().images.size();
  int same = 0;  // points whose nearest point in the layout has their class (and domain)
  for (int i = 0; i < n; ++i) {
    int best = -1;
    float bd = 1e30f;
    for (int j = 0; j < n; ++j) {
      const float dx = xy[2 * i] - xy[2 * j], dy = xy[2 * i + 1] - xy[2 * j + 1];
      if (j != i && dx * dx + dy * dy < bd) bd = dx * dx + dy * dy, best = j;
    }
    same += labels[static_cast<std::size_t>(best)] == labels[static_cast<std::size_t>(i)];
  }
  EXPECT_GT(same, 0.9 * n) << "nearest neighbours in the t-SNE layout share their class";
}

TEST(ExplorerModel, ATrainingReplayOfTheseSamplesPlaysAndOneOfOthersIsRefused) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  while (!l.m.predicted_all()) l.m.predict_next();
  Replay r;
  r.epochs = {1, 2, 3};
  r.samples = 80, r.source_samples = 40, r.source = "mnist", r.target = "mnistm";
  for (int e = 0; e < 3; ++e)
    for (int i = 0; i < 160; ++i) r.inv_2d.push_back(static_cast<float>(e * 1000 + i)), r.spe_2d.push_back(static_cast<float>(-e));
  r.source_val = {0.1f, 0.5f, 0.9f}, r.target_test = {0.1f, 0.3f, 0.6f};
  r.loss_names = {"task", "total"};
  r.losses = {2, 3, 1, 2, 0.5f, 1};
  ASSERT_EQ(l.m.load_replay(replay_to_bytes(r), "replay.safetensors"), "");
  EXPECT_EQ(l.m.replay_epoch(), 2) << "opens on the last epoch";
  EXPECT_EQ(l.m.shown_inv_xy()[0], 2000.f);
  l.m.set_replay_epoch(0);
  EXPECT_EQ(l.m.shown_inv_xy()[5], 5.f);
  EXPECT_EQ(l.m.shown_spe_xy()[0], 0.f);
  l.m.set_replay_epoch(-1);
  EXPECT_EQ(l.m.shown_inv_xy(), l.m.inv_xy()) << "back to the live plots";
  // Recorded on other samples: refused with a sentence naming both, the replay loaded before stays.
  Replay other = r;
  other.target = "fashionm";
  const std::string e = l.m.load_replay(replay_to_bytes(other), "x/replay.safetensors");
  EXPECT_NE(e.find("x/replay.safetensors: recorded on 80 samples of mnist -> fashionm"), std::string::npos) << e;
  EXPECT_TRUE(l.m.has_replay());
  EXPECT_NE(l.m.load_replay({1, 2, 3}, "y/replay.safetensors").find("y/replay.safetensors"), std::string::npos);
}

}  // namespace dida::web

namespace dida::web {

namespace {
Replay three_epochs() {
  Replay r;
  r.epochs = {1, 2, 3};
  r.samples = 80, r.source_samples = 40, r.source = "mnist", r.target = "mnistm";
  r.inv_2d.assign(3 * 160, 0.f), r.spe_2d.assign(3 * 160, 0.f);
  r.source_val = {0.1f, 0.5f, 0.9f}, r.target_test = {0.1f, 0.3f, 0.6f};
  r.loss_names = {"task", "total"};
  r.losses = {2, 3, 1, 2, 0.5f, 1};
  return r;
}
}  // namespace

TEST(ReplayPlayer, PlaysTwoEpochsASecondStopsAtTheEndAndOnASeek) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  ReplayPlayer p;
  p.start(l.m, 0.0);  // no replay: nothing happens
  EXPECT_FALSE(p.playing());
  ASSERT_EQ(l.m.load_replay(replay_to_bytes(three_epochs()), "r"), "");
  p.start(l.m, 10.0);
  EXPECT_EQ(l.m.replay_epoch(), 0);
  EXPECT_TRUE(p.playing());
  p.tick(l.m, 10.4);
  EXPECT_EQ(l.m.replay_epoch(), 0) << "not half a second yet";
  p.tick(l.m, 10.6);
  EXPECT_EQ(l.m.replay_epoch(), 1);
  p.tick(l.m, 11.0);
  EXPECT_EQ(l.m.replay_epoch(), 1) << "half a second from the last step, not from the start";
  p.tick(l.m, 11.2);
  EXPECT_EQ(l.m.replay_epoch(), 2);
  p.tick(l.m, 12.0);
  EXPECT_EQ(l.m.replay_epoch(), 2);
  EXPECT_FALSE(p.playing()) << "stops at the last epoch";
  p.toggle(l.m, 13.0);  // play at the end: from the first again
  EXPECT_TRUE(p.playing());
  EXPECT_EQ(l.m.replay_epoch(), 0);
  p.seek(l.m, 7);
  EXPECT_EQ(l.m.replay_epoch(), 2) << "clamped";
  EXPECT_FALSE(p.playing());
  p.toggle(l.m, 14.0);
  p.toggle(l.m, 14.1);  // pause
  p.tick(l.m, 20.0);
  EXPECT_EQ(l.m.replay_epoch(), 0);
  p.back_to_live(l.m);
  EXPECT_EQ(l.m.replay_epoch(), -1);
  EXPECT_FALSE(p.playing());
  EXPECT_EQ(l.m.shown_inv_xy(), l.m.inv_xy());
}

TEST(Replay, ALossCurveIsItsColumnAndZerosForATermTheRunHadNot) {
  const Replay r = three_epochs();
  EXPECT_EQ(r.loss_curve("task"), (std::vector<float>{2, 1, 0.5f}));
  EXPECT_EQ(r.loss_curve("total"), (std::vector<float>{3, 2, 1}));
  EXPECT_EQ(r.loss_curve("stats"), (std::vector<float>{0, 0, 0}));
}

TEST(Comparison, TheModelBesideStaysOnlyOnTheSamePairAndSamples) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  const std::string config(l.config.begin(), l.config.end());
  Comparison c;
  EXPECT_EQ(c.model(), nullptr);
  ASSERT_EQ(c.load(l.m, config, l.weights, l.samples, "beside", 3), "");
  ASSERT_NE(c.model(), nullptr);
  EXPECT_EQ(c.index(), 3);
  EXPECT_TRUE(Comparison::comparable(l.m, *c.model()));
  // A bundle of another pair: refused, the one beside stays.
  auto card = nlohmann::json::parse(config);
  card["data"]["target"] = "fashionm";
  const std::string e = c.load(l.m, card.dump(), l.weights, l.samples, "other", 4);
  EXPECT_EQ(e, "other: another pair or sample set than the model shown");
  EXPECT_EQ(c.index(), 3);
  // A bundle that does not load: its one-line error, the one beside stays.
  EXPECT_NE(c.load(l.m, "{}", l.weights, l.samples, "broken", 5).find("broken"), std::string::npos);
  EXPECT_EQ(c.index(), 3);
  // The model shown changes to another pair: the one beside goes.
  c.keep_if_comparable(l.m);
  EXPECT_NE(c.model(), nullptr) << "the same pair: it stays";
  ExplorerModel other_pair;
  ASSERT_EQ(other_pair.load(card.dump(), l.weights, l.samples, "b"), "");
  c.keep_if_comparable(other_pair);
  EXPECT_EQ(c.model(), nullptr);
  EXPECT_EQ(c.index(), -1);
}

TEST(FrameWork, TheShownModelFirstThenTheOneBesideOneProbeAtATime) {
  Loaded l;
  ASSERT_EQ(l.load(), "");
  ExplorerModel beside;
  ASSERT_EQ(beside.load(std::string(l.config.begin(), l.config.end()), l.weights, l.samples, "b"), "");
  FrameBudget budget;
  budget.predict_chunk = 30;
  budget.probe_work = 1L << 40;  // a whole probe step per frame
  do_frame_work(l.m, &beside, budget);
  EXPECT_EQ(l.m.predicted_count(), ExplorerModel::kFirstChunk + 30);
  EXPECT_EQ(beside.predicted_count(), ExplorerModel::kFirstChunk + 30) << "both predict from the first frame";
  while (!l.m.predicted_all() || !beside.predicted_all()) do_frame_work(l.m, &beside, budget);
  // The probes: the shown model's to the end before the other's start.
  int frames = 0;
  while (!l.m.probes_done()) {
    EXPECT_LT(beside.probe(ExplorerModel::kDomainInv).progress, 1e-9) << "frame " << frames;
    do_frame_work(l.m, &beside, budget);
    ASSERT_LT(++frames, 10 * CrossFitProbe::kSteps);
  }
  while (!beside.probes_done()) {
    do_frame_work(l.m, &beside, budget);
    ASSERT_LT(++frames, 20 * CrossFitProbe::kSteps);
  }
  EXPECT_DOUBLE_EQ(beside.probe(ExplorerModel::kClassSpe).accuracy, l.m.probe(ExplorerModel::kClassSpe).accuracy)
      << "the same bundle on the same samples";
  // t-SNE advances in both while it is the projection, and not at all under PCA.
  l.m.set_projection(true), beside.set_projection(true);
  do_frame_work(l.m, &beside, budget);
  EXPECT_EQ(l.m.tsne_iteration(), budget.tsne_iterations);
  EXPECT_EQ(beside.tsne_iteration(), budget.tsne_iterations);
  l.m.set_projection(false), beside.set_projection(false);
  do_frame_work(l.m, &beside, budget);
  EXPECT_EQ(l.m.tsne_iteration(), budget.tsne_iterations);
  EXPECT_EQ(beside.tsne_iteration(), budget.tsne_iterations);
}


// The walkthrough's sentences about the shown model come from the page's own measurements: on
// features with known answers the probes' verdicts are those answers, and a grid whose cells are
// their columns' style images is said to keep each column's look, one whose rows keep their
// content's look is not.
TEST(Findings, TheWalkthroughSaysWhatThePageMeasures) {
  EXPECT_EQ(ProbeVerdict::of(0.55, 0.5), "close to chance");
  EXPECT_EQ(ProbeVerdict::of(0.25, 0.1), "close to chance");
  EXPECT_EQ(ProbeVerdict::of(0.70, 0.5), "above chance");
  EXPECT_EQ(ProbeVerdict::of(0.90, 0.5), "far above chance");
  EXPECT_NEAR(ProbeVerdict::share(0.23, 0.11), 0.135, 1e-3);
  Loaded l;
  ASSERT_EQ(l.load(), "");
  show_known_features(l);
  EXPECT_NE(probe_findings(l.m).find("still fitting"), std::string::npos);
  while (!l.m.probes_done()) l.m.step_probes(1L << 30);
  const std::string said = probe_findings(l.m);
  EXPECT_NE(said.find("domain read from z_spe 100 % (chance 50 %): far above chance (100 % of the way from chance to every image right)"),
            std::string::npos) << said;
  EXPECT_NE(said.find("domain read from z_inv 50 % (chance 50 %): close to chance (0 % of the way"), std::string::npos) << said;
  EXPECT_NE(said.find("class read from z_spe"), std::string::npos) << said;

  const Domain& d = l.m.samples().images;
  const int r = static_cast<int>(l.m.swap_rows().size()), c = static_cast<int>(l.m.swap_cols().size());
  ASSERT_GE(c, 2);
  const auto cells_of = [&](auto entry_of_cell) {  // swap.onnx's layout: cells NCHW in [-1, 1]
    const int px = d.height * d.width;
    std::vector<float> out;
    for (int i = 0; i < r; ++i)
      for (int j = 0; j < c; ++j) {
        const auto p = l.m.entry_pixels(entry_of_cell(i, j));
        for (int ch = 0; ch < d.channels; ++ch)
          for (int k = 0; k < px; ++k) out.push_back(p[static_cast<std::size_t>(k * d.channels + ch)] / 127.5f - 1.f);
      }
    return out;
  };
  const auto styles = cells_of([&](int, int j) { return l.m.swap_cols()[static_cast<std::size_t>(j)]; });
  l.m.set_ort_swap(1.0, styles.data());
  EXPECT_DOUBLE_EQ(l.m.swap_readout().style_retrieval, 1.0);
  const std::string all = std::to_string(r * c);
  EXPECT_NE(swap_findings(l.m).find(all + " of " + all + " cells"), std::string::npos) << swap_findings(l.m);
  EXPECT_NE(swap_findings(l.m).find("every cell takes its own column's look"), std::string::npos);
  const auto contents = cells_of([&](int i, int) { return l.m.swap_rows()[static_cast<std::size_t>(i)]; });
  l.m.set_ort_swap(1.0, contents.data());
  EXPECT_NEAR(l.m.swap_readout().style_retrieval, 1.0 / c, 1e-9) << "each row right in the one column nearest its content";
  EXPECT_NE(swap_findings(l.m).find("the cells do not take their own columns' looks"), std::string::npos) << swap_findings(l.m);
}

// The page refuses a bundle whose weights are finite but whose outputs overflow (3e38 in C's first
// layer): one line naming the bundle, rather than a model that predicts NaN (shown as class 0).
TEST(ExplorerModel, ABundleWhoseOutputsOverflowIsNotShown) {
  Loaded l;
  SafeTensorsFile f = SafeTensorsFile::parse(l.weights, "w");
  SafeTensorsWriter w;
  for (const auto& name : f.names()) {
    auto v = f.to_f32(name);
    if (name.rfind("classifier.fc1", 0) == 0)
      for (auto& x : v) x = 3e38f;
    w.add_f32(name, f.info(name).shape, v);
  }
  w.set_metadata("format", "dida-bundle");
  l.weights = w.to_bytes();
  const std::string err = l.load();
  EXPECT_EQ(err.rfind("b: the model's output", 0), 0u) << err;
  EXPECT_NE(err.find("not finite"), std::string::npos) << err;
}

}  // namespace dida::web
