#include "explorer_model.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "dida/image.hpp"
#include "dida/style_retrieval.hpp"

namespace dida::web {
namespace {
// Box-filter resize (each output pixel the mean of the input area it covers, bilinear-like when
// enlarging): enough for a photo or a drawing going to 32 x 32, and it keeps stb_image_resize
// (about 60 kB of wasm) out of the page.
Image area_resize(const Image& in, int h, int w) {
  Image out(h, w, in.channels);
  const double sy = static_cast<double>(in.height) / h, sx = static_cast<double>(in.width) / w;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double y0 = y * sy, y1 = std::max(y0 + 1e-9, (y + 1) * sy), x0 = x * sx, x1 = std::max(x0 + 1e-9, (x + 1) * sx);
      for (int c = 0; c < in.channels; ++c) {
        double sum = 0, area = 0;
        for (int iy = static_cast<int>(y0); iy < std::min(in.height, static_cast<int>(std::ceil(y1))); ++iy)
          for (int ix = static_cast<int>(x0); ix < std::min(in.width, static_cast<int>(std::ceil(x1))); ++ix) {
            const double a = std::max(0.0, std::min<double>(iy + 1, y1) - std::max<double>(iy, y0)) *
                             std::max(0.0, std::min<double>(ix + 1, x1) - std::max<double>(ix, x0));
            const double weight = a > 0 ? a : 1e-12;  // enlarging: the nearest pixel
            sum += weight * in.at(iy, ix, c), area += weight;
          }
        out.at(y, x, c) = static_cast<std::uint8_t>(std::lround(area > 0 ? sum / area : 0));
      }
    }
  return out;
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

std::string ExplorerModel::load(const std::string& config_text, std::vector<std::uint8_t> weights,
                                const std::vector<std::uint8_t>& sample_bytes, const std::string& origin) {
  try {
    auto model = std::make_unique<Model>(Model::from(parse_bundle(config_text, std::move(weights), origin), origin));
    SampleSet s = read_sample_set(sample_bytes, "samples.safetensors");
    const ModelConfig& c = model->config();
    const std::string shape = sample_shape_mismatch(s, c.image_size, c.in_channels, "samples.safetensors");
    if (!shape.empty()) return shape;
    const int n = s.images.size();
    input_ = pixels_to_input(s.images.pixels, n, s.images.height, s.images.width, s.images.channels);
    probe_input_ = s.probe_images.size() > 0 ? pixels_to_input(s.probe_images.pixels, s.probe_images.size(), s.images.height,
                                                               s.images.width, s.images.channels)
                                             : Tensor4();
    probe_inv_feat_.clear(), probe_spe_feat_.clear(), probe_predicted_ = 0, probes_pending_ = false;
    core_ = EngineOutputs{};
    ort_ = EngineOutputs{};
    engine_max_diff_ = -1;
    ort_status_ = "not run on this model";
    parameter_count_ = 0;  // what inference uses: tensors only training uses are not counted
    for (const auto& spec : parameter_specs(c)) {
      if (spec.training_only) continue;
      std::int64_t v = 1;
      for (const auto d : spec.shape) v *= d;
      parameter_count_ += v;
    }
    const auto data = model->card().value("data", nlohmann::json::object());
    pair_warning_ = sample_pair_mismatch(s, data.value("source", ""), data.value("target", ""));
    model_ = std::move(model);
    samples_ = std::move(s);
    for (auto& items : domain_items_) items.clear();
    for (int i = 0; i < n; ++i) domain_items_[samples_.domains[static_cast<std::size_t>(i)] ? 1 : 0].push_back(i);
    selected_ = -1;
    engine_ = kCore;
    predicted_.assign(static_cast<std::size_t>(n), -1);
    confidence_.assign(static_cast<std::size_t>(n), 0.f);
    inv_xy_.clear(), spe_xy_.clear();
    tsne_inv_.reset(), tsne_spe_.reset();
    swap_rows_.clear(), swap_cols_.clear();
    for (int i = 0; i < n; ++i) {
      auto& v = samples_.domains[static_cast<std::size_t>(i)] == 0 ? swap_rows_ : swap_cols_;
      if (static_cast<int>(v.size()) < kSwapSize) v.push_back(i);
    }
    next_row_ = next_col_ = 0;
    swap_pixels_.clear();
    swap_core_ = Tensor4();
    ort_swap_.reset();
    swap_readout_ = SwapReadout{};
    ++swap_version_;
    mixer_.clear(), ort_mix_.reset(), mix_pixels_.clear();
    mix_a_ = 0, mix_b_ = 1, mix_ort_ms_ = mix_ort_max_diff_ = -1;
    ++mix_version_;
    predicted_count_ = 0;
    accuracy_[0] = accuracy_[1] = 0;
    for (auto& p : probes_) p.reset();
    replay_.reset(), replay_epoch_ = -1;
    // The visitor's images stay (predicted again by the new model) if they fit its input.
    const std::size_t bytes = static_cast<std::size_t>(c.image_size) * c.image_size * c.in_channels;
    user_.erase(std::remove_if(user_.begin(), user_.end(), [&](const UserImage& u) { return u.pixels.size() != bytes; }), user_.end());
    predict_user(0);
    predict_next(kFirstChunk);  // the first predictions at once, the rest a chunk per frame
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

void ExplorerModel::predict_next(int count) {
  if (!model_ || core_.ready) return;
  const int n = input_.n, begin = predicted_count_, end = std::min(n, begin + std::max(1, count));
  Tensor4 x(end - begin, input_.c, input_.h, input_.w);
  std::copy_n(input_.item(begin), x.data.size(), x.data.data());
  const double t0 = now_ms();
  const auto out = model_->forward(x);
  core_.ms += now_ms() - t0;
  const Rows& probs = out.rows("probs");
  const Tensor4 &z_inv = out.map("z_inv"), &z_spe = out.map("z_spe");
  core_.probs.insert(core_.probs.end(), probs.data.begin(), probs.data.end());
  core_.z_inv.insert(core_.z_inv.end(), z_inv.data.begin(), z_inv.data.end());
  core_.z_spe.insert(core_.z_spe.end(), z_spe.data.begin(), z_spe.data.end());
  for (int i = begin; i < end; ++i) {
    const float* p = probs.row(i - begin);
    const int best = static_cast<int>(std::max_element(p, p + probs.d) - p);
    predicted_[static_cast<std::size_t>(i)] = best;
    confidence_[static_cast<std::size_t>(i)] = p[best];
  }
  predicted_count_ = end;
  if (end < n) return;
  core_.ready = true;
  apply_engine();
  if (model_->config().pixel_decoder) compute_swap();
}

// Predictions, accuracies and projections from the chosen engine's outputs.
void ExplorerModel::apply_engine() {
  const EngineOutputs& e = engine_ == kOrt && ort_.ready ? ort_ : core_;
  if (!swap_core_.data.empty()) show_swap(engine_ == kOrt && ort_swap_ ? *ort_swap_ : swap_core_);
  if (mixer_.ready()) show_mix();
  const Domain& d = samples_.images;
  const int n = d.size(), k = model_->config().num_classes;
  int correct[2] = {0, 0}, count[2] = {0, 0};
  for (int i = 0; i < n; ++i) {
    const float* p = e.probs.data() + static_cast<std::size_t>(i) * k;
    const int best = static_cast<int>(std::max_element(p, p + k) - p);
    predicted_[static_cast<std::size_t>(i)] = best;
    confidence_[static_cast<std::size_t>(i)] = p[best];
    const int dom = samples_.domains[static_cast<std::size_t>(i)] ? 1 : 0;
    ++count[dom];
    correct[dom] += best == d.labels[static_cast<std::size_t>(i)];
  }
  for (int dom = 0; dom < 2; ++dom) accuracy_[dom] = count[dom] ? static_cast<double>(correct[dom]) / count[dom] : 0.0;
  // The plots show what the heads see: the maps pooled as the model pools them.
  const ModelConfig& c = model_->config();
  const int f = c.feature_channels(), fs = c.feature_size();
  auto pooled = [&](const std::vector<float>& maps) {
    Tensor4 z(n, f, fs, fs);
    z.data = maps;
    return model_->pool(z);
  };
  const Rows pi = pooled(e.z_inv), ps = pooled(e.z_spe);
  inv_feat_ = pi.data, spe_feat_ = ps.data;
  inv_dim_ = pi.d, spe_dim_ = ps.d;
  inv_plane_ = pca_plane(inv_feat_, n, inv_dim_);
  spe_plane_ = pca_plane(spe_feat_, n, spe_dim_);
  inv_pca_.resize(static_cast<std::size_t>(n) * 2), spe_pca_.resize(static_cast<std::size_t>(n) * 2);
  for (int i = 0; i < n; ++i) {
    inv_plane_.project(inv_feat_.data() + static_cast<std::size_t>(i) * inv_dim_, inv_pca_.data() + 2 * i);
    spe_plane_.project(spe_feat_.data() + static_cast<std::size_t>(i) * spe_dim_, spe_pca_.data() + 2 * i);
  }
  inv_xy_ = inv_pca_, spe_xy_ = spe_pca_;
  const bool was_tsne = use_tsne_;
  use_tsne_ = false;
  tsne_inv_.reset(), tsne_spe_.reset();
  if (was_tsne) set_projection(true);
  start_probes();
  predict_user(0);  // their nearest samples, for the t-SNE layout
}

void ExplorerModel::start_probes() {
  for (auto& p : probes_) p.reset();
  probes_pending_ = probe_predicted_ < probe_input_.n;
  if (!probes_pending_) fit_probes();
}

// The probe images' features, `count` images at a time (the core model, whichever engine shows
// the samples: the two agree to float rounding), pooled as the plots' are.
void ExplorerModel::predict_probe_images(int count) {
  const int m = probe_input_.n, begin = probe_predicted_, end = std::min(m, begin + std::max(1, count));
  Tensor4 x(end - begin, probe_input_.c, probe_input_.h, probe_input_.w);
  std::copy_n(probe_input_.item(begin), x.data.size(), x.data.data());
  const auto out = model_->forward(x);
  const Rows pi = model_->pool(out.map("z_inv")), ps = model_->pool(out.map("z_spe"));
  probe_inv_feat_.insert(probe_inv_feat_.end(), pi.data.begin(), pi.data.end());
  probe_spe_feat_.insert(probe_spe_feat_.end(), ps.data.begin(), ps.data.end());
  probe_predicted_ = end;
}

void ExplorerModel::fit_probes() {
  // The rows: each domain's shown samples, then its probe images, source first: the k-th row of a
  // domain is its k-th held-out image, as `dida eval` reproduces the page's draws (page_probes).
  const int n = samples_.images.size(), m = probe_predicted_;
  std::vector<float> inv, spe;
  std::vector<int> dom, label, items[2];
  auto add = [&](const std::vector<float>& fi, const std::vector<float>& fs, int i, int d, int y) {
    items[d].push_back(static_cast<int>(dom.size()));
    inv.insert(inv.end(), fi.begin() + static_cast<std::ptrdiff_t>(i) * inv_dim_, fi.begin() + static_cast<std::ptrdiff_t>(i + 1) * inv_dim_);
    spe.insert(spe.end(), fs.begin() + static_cast<std::ptrdiff_t>(i) * spe_dim_, fs.begin() + static_cast<std::ptrdiff_t>(i + 1) * spe_dim_);
    dom.push_back(d), label.push_back(y);
  };
  for (int d = 0; d < 2; ++d) {
    for (int i = 0; i < n; ++i)
      if ((samples_.domains[static_cast<std::size_t>(i)] ? 1 : 0) == d) add(inv_feat_, spe_feat_, i, d, samples_.images.labels[static_cast<std::size_t>(i)]);
    for (int i = 0; i < m; ++i)
      if (samples_.probe_domains[static_cast<std::size_t>(i)] == d)
        add(probe_inv_feat_, probe_spe_feat_, i, d, samples_.probe_images.labels[static_cast<std::size_t>(i)]);
  }
  const int rows = static_cast<int>(dom.size());
  // At most kProbeRows rows to fit and to test (evenly spread): a large sample set's probes stay
  // a matter of seconds; the site's sets (500 rows of each domain) are used whole.
  auto cap = [](std::vector<int> r) {
    if (r.size() <= kProbeRows) return r;
    std::vector<int> kept;
    for (std::size_t k = 0; k < kProbeRows; ++k) kept.push_back(r[k * r.size() / kProbeRows]);
    return kept;
  };
  const auto draws = page_probe_draws(items[0], items[1]);
  if (draws.empty() || draws[0].domain_fit.size() < 2 || draws[0].domain_test.empty()) return;
  for (auto& p : probes_) p = std::make_unique<ProbeOverDraws>();
  for (const auto& d : draws) {
    const auto fit = cap(d.domain_fit), test = cap(d.domain_test), cfit = cap(d.class_fit), ctest = cap(d.class_test);
    probes_[kDomainInv]->add(CrossFitProbe(inv, rows, inv_dim_, dom, 2, fit, test));
    probes_[kDomainSpe]->add(CrossFitProbe(spe, rows, spe_dim_, dom, 2, fit, test));
    probes_[kClassSpe]->add(CrossFitProbe(spe, rows, spe_dim_, label, std::max(2, model_->config().num_classes), cfit, ctest));
  }
}

void ExplorerModel::step_probes(long work) {
  if (probes_pending_) {  // the probe images' features first, a chunk per call
    predict_probe_images(kChunk);
    if (probe_predicted_ >= probe_input_.n) probes_pending_ = false, fit_probes();
    return;
  }
  for (auto& p : probes_)
    if (p && !p->done()) {
      p->advance(work);
      return;  // one probe at a time: the frame's work stays bounded
    }
}

bool ExplorerModel::probes_done() const {
  if (probes_pending_) return false;
  for (const auto& p : probes_)
    if (p && !p->done()) return false;
  return true;
}

ExplorerModel::ProbeReadout ExplorerModel::probe(ProbeKind k) const {
  ProbeReadout r;
  const auto& p = probes_[k];
  if (!p) return r;
  r.progress = p->progress();
  r.draws = p->draws();
  r.chance = p->chance();
  if (p->done()) r.accuracy = p->test_accuracy();
  return r;
}

std::string ExplorerModel::load_replay(std::vector<std::uint8_t> bytes, const std::string& origin) {
  if (!model_) return origin + ": no model is loaded";
  try {
    return use_replay(parse_replay(std::move(bytes), origin), origin, false);
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::string ExplorerModel::load_run_replay(const std::string& layouts, const std::string& log, const std::string& origin) {
  if (!model_) return origin + ": no model is loaded";
  try {
    return use_replay(replay_from_run_logs(layouts, log, samples_.images.size(), static_cast<int>(domain_items_[0].size()),
                                           samples_.source, samples_.target),
                      origin, true);
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::string ExplorerModel::use_replay(Replay r, const std::string& origin, bool keep_epoch) {
  const int n = samples_.images.size(), sources = static_cast<int>(domain_items_[0].size());
  // The replay's points are the sample set's images, in order: the same count, pair and split.
  if (r.samples != n || r.source_samples != sources || r.source != samples_.source || r.target != samples_.target)
    return origin + ": recorded on " + std::to_string(r.samples) + " samples of " + r.source + " -> " + r.target +
           ", the page shows " + std::to_string(n) + " of " + samples_.source + " -> " + samples_.target;
  if (r.epochs.empty()) return origin + ": no epochs recorded";
  // A replay that grows (a run training): the epoch shown stays, unless it was the newest.
  const bool at_newest = !replay_ || replay_epoch_ < 0 || replay_epoch_ >= replay_->epoch_count() - 1;
  const int shown = replay_epoch_;
  replay_ = std::move(r);
  set_replay_epoch(keep_epoch && !at_newest ? shown : replay_->epoch_count() - 1);
  return "";
}

void ExplorerModel::set_replay_epoch(int e) {
  if (!replay_ || e < 0) {
    replay_epoch_ = -1;
    return;
  }
  replay_epoch_ = std::min(e, replay_->epoch_count() - 1);
  const std::size_t per = static_cast<std::size_t>(replay_->samples) * 2, at = per * static_cast<std::size_t>(replay_epoch_);
  replay_inv_.assign(replay_->inv_2d.begin() + static_cast<std::ptrdiff_t>(at), replay_->inv_2d.begin() + static_cast<std::ptrdiff_t>(at + per));
  replay_spe_.assign(replay_->spe_2d.begin() + static_cast<std::ptrdiff_t>(at), replay_->spe_2d.begin() + static_cast<std::ptrdiff_t>(at + per));
}

std::string ExplorerModel::add_user_rgba(const std::string& name, const std::vector<std::uint8_t>& rgba, int width, int height) {
  if (!model_) return name + ": no model is loaded";
  if (static_cast<int>(user_.size()) >= kMaxUserImages) return name + ": at most " + std::to_string(kMaxUserImages) + " images of yours";
  if (width < 1 || height < 1 || static_cast<std::int64_t>(width) * height > kMaxImagePixels ||
      rgba.size() != static_cast<std::size_t>(width) * height * 4)
    return name + ": not a decodable image (drop a PNG or JPEG image)";
  Image rgb(height, width, 3);
  for (std::size_t p = 0; p < static_cast<std::size_t>(width) * height; ++p)
    for (int ch = 0; ch < 3; ++ch) rgb.pixels[p * 3 + ch] = rgba[p * 4 + ch];
  return add_user_image(name, convert_channels(rgb, model_->config().in_channels));
}

std::string ExplorerModel::add_user_image(const std::string& name, Image img) {
  const ModelConfig& c = model_->config();
  img = area_resize(img, c.image_size, c.image_size);
  UserImage u;
  u.name = name;
  u.pixels = std::move(img.pixels);
  user_.push_back(std::move(u));
  predict_user(user_.size() - 1);
  return "";
}

int ExplorerModel::drawing_index() const {
  for (std::size_t i = 0; i < user_.size(); ++i)
    if (user_[i].name == kDrawingName) return static_cast<int>(i);
  return -1;
}

void ExplorerModel::set_drawing(const std::vector<float>& ink, int size) {
  if (!model_ || size < 1 || ink.size() != static_cast<std::size_t>(size) * size) return;
  const int at = drawing_index();
  int x0 = size, y0 = size, x1 = -1, y1 = -1;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      if (ink[static_cast<std::size_t>(y) * size + x] > 0.05f) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  if (x1 < 0) {  // nothing drawn: the drawing goes, and so do its swap rows and columns
    if (at < 0) return;
    const int n = samples_.images.size(), gone = n + at;
    for (auto* v : {&swap_rows_, &swap_cols_})
      for (std::size_t k = 0; k < v->size(); ++k) {
        int& e = (*v)[k];
        if (e == gone) e = v == &swap_rows_ ? domain_items_[0][k % domain_items_[0].size()] : domain_items_[1][k % domain_items_[1].size()];
        else if (e > gone) --e;
      }
    user_.erase(user_.begin() + at);
    ++user_version_;
    compute_swap();
    return;
  }
  // As MNIST's digits: the strokes' box scaled so that its longer side is 20/28 of the frame,
  // centred (MNIST centres by mass; the box's centre is close for a single digit).
  const ModelConfig& c = model_->config();
  const int s = c.image_size, bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  Image crop(bh, bw, 1);
  for (int y = 0; y < bh; ++y)
    for (int x = 0; x < bw; ++x)
      crop.at(y, x, 0) = static_cast<std::uint8_t>(std::lround(255.f * std::clamp(ink[static_cast<std::size_t>(y0 + y) * size + x0 + x], 0.f, 1.f)));
  const double k = (20.0 / 28.0) * s / std::max(bw, bh);
  const int tw = std::max(1, static_cast<int>(std::lround(bw * k))), th = std::max(1, static_cast<int>(std::lround(bh * k)));
  const Image scaled = area_resize(crop, th, tw);
  UserImage u;
  u.name = kDrawingName;
  u.pixels.assign(static_cast<std::size_t>(s) * s * c.in_channels, 0);
  const int ox = (s - tw) / 2, oy = (s - th) / 2;
  for (int y = 0; y < th; ++y)
    for (int x = 0; x < tw; ++x)
      for (int ch = 0; ch < c.in_channels; ++ch)
        u.pixels[(static_cast<std::size_t>(oy + y) * s + ox + x) * c.in_channels + ch] = scaled.at(y, x, 0);
  if (at >= 0) {
    user_[static_cast<std::size_t>(at)] = std::move(u);
    predict_user(static_cast<std::size_t>(at));
    const int e = samples_.images.size() + at;  // a drawing in the swap grid is redrawn as it changes
    if (std::count(swap_rows_.begin(), swap_rows_.end(), e) || std::count(swap_cols_.begin(), swap_cols_.end(), e)) compute_swap();
  } else {
    user_.insert(user_.begin(), std::move(u));
    // Entries of the user images behind it move one on.
    const int n = samples_.images.size();
    for (auto* v : {&swap_rows_, &swap_cols_})
      for (int& e : *v)
        if (e >= n) ++e;
    predict_user(0);
  }
}

// Predicts user images from `from` on with the core, and finds each one's nearest sample.
void ExplorerModel::predict_user(std::size_t from) {
  ++user_version_;
  if (!model_ || from >= user_.size()) return;
  const ModelConfig& c = model_->config();
  const int s = c.image_size;
  for (std::size_t i = from; i < user_.size(); ++i) {
    UserImage& u = user_[i];
    const auto out = model_->forward(pixels_to_input(u.pixels, 1, s, s, c.in_channels));
    u.probs.assign(out.rows("probs").data.begin(), out.rows("probs").data.end());
    u.predicted = static_cast<int>(std::max_element(u.probs.begin(), u.probs.end()) - u.probs.begin());
    u.confidence = u.probs[static_cast<std::size_t>(u.predicted)];
    u.ort_predicted = -1;
    u.inv_feat = model_->pool(out.map("z_inv")).data, u.spe_feat = model_->pool(out.map("z_spe")).data;
    if (!core_.ready || static_cast<int>(u.inv_feat.size()) != inv_dim_) continue;
    auto nearest = [&](const std::vector<float>& all, const std::vector<float>& feat, int d) {
      int best = 0;
      double best_d = INFINITY;
      for (int k = 0; k < samples_.images.size(); ++k) {
        double dd = 0;
        for (int j = 0; j < d; ++j) {
          const double t = all[static_cast<std::size_t>(k) * d + j] - feat[static_cast<std::size_t>(j)];
          dd += t * t;
        }
        if (dd < best_d) best_d = dd, best = k;
      }
      return best;
    };
    u.nearest_inv = nearest(inv_feat_, u.inv_feat, inv_dim_);
    u.nearest_spe = nearest(spe_feat_, u.spe_feat, spe_dim_);
  }
}

std::array<float, 2> ExplorerModel::user_xy(int i, bool inv) const {
  std::array<float, 2> xy = {0, 0};
  if (i < 0 || static_cast<std::size_t>(i) >= user_.size() || !core_.ready) return xy;
  const UserImage& u = user_[static_cast<std::size_t>(i)];
  const std::vector<float>& feat = inv ? u.inv_feat : u.spe_feat;
  const int d = inv ? inv_dim_ : spe_dim_;
  if (static_cast<int>(feat.size()) != d) return xy;
  if (!use_tsne_) {
    (inv ? inv_plane_ : spe_plane_).project(feat.data(), xy.data());
    return xy;
  }
  // t-SNE has no mapping for new points: the nearest sample's place.
  const int best = std::max(0, inv ? u.nearest_inv : u.nearest_spe);
  const std::vector<float>& layout = inv ? inv_xy_ : spe_xy_;
  return {layout[2 * static_cast<std::size_t>(best)], layout[2 * static_cast<std::size_t>(best) + 1]};
}

Tensor4 ExplorerModel::user_input() const {
  if (!model_ || user_.empty()) return Tensor4();
  const ModelConfig& c = model_->config();
  std::vector<std::uint8_t> all;
  for (const auto& u : user_) all.insert(all.end(), u.pixels.begin(), u.pixels.end());
  return pixels_to_input(all, static_cast<int>(user_.size()), c.image_size, c.image_size, c.in_channels);
}

void ExplorerModel::set_ort_user(int count, int version, const float* probs) {
  if (!model_ || version != user_version_ || count != static_cast<int>(user_.size())) return;
  const std::size_t k = static_cast<std::size_t>(model_->config().num_classes);
  for (std::size_t i = 0; i < user_.size(); ++i) {
    const float* p = probs + i * k;
    const int best = static_cast<int>(std::max_element(p, p + k) - p);
    user_[i].ort_predicted = best;
    user_[i].ort_confidence = p[best];
  }
}

void ExplorerModel::use_user_as_row(int i) {
  if (i < 0 || static_cast<std::size_t>(i) >= user_.size() || swap_rows_.empty()) return;
  swap_rows_[static_cast<std::size_t>(next_row_)] = samples_.images.size() + i;
  next_row_ = (next_row_ + 1) % static_cast<int>(swap_rows_.size());
  compute_swap();
}

void ExplorerModel::use_user_as_column(int i) {
  if (i < 0 || static_cast<std::size_t>(i) >= user_.size() || swap_cols_.empty()) return;
  swap_cols_[static_cast<std::size_t>(next_col_)] = samples_.images.size() + i;
  next_col_ = (next_col_ + 1) % static_cast<int>(swap_cols_.size());
  compute_swap();
}

std::vector<std::uint8_t> ExplorerModel::entry_pixels(int e) const {
  const int n = samples_.images.size();
  if (e >= n && static_cast<std::size_t>(e - n) < user_.size()) return user_[static_cast<std::size_t>(e - n)].pixels;
  return samples_.images.image(std::clamp(e, 0, n - 1)).pixels;
}

void ExplorerModel::set_ort_outputs(double ms, int threads, const float* probs, const float* z_inv, const float* z_spe) {
  if (!model_ || !core_.ready) return;  // outputs for all samples, compared with the core's
  ort_.probs.assign(probs, probs + core_.probs.size());
  ort_.z_inv.assign(z_inv, z_inv + core_.z_inv.size());
  ort_.z_spe.assign(z_spe, z_spe + core_.z_spe.size());
  ort_.ms = ms;
  ort_.ready = true;
  ort_threads_ = threads;
  // Absolute difference up to magnitude 1, relative above: on the features (magnitudes above 1) the
  // two engines' float32 arithmetic (other summation orders, batch norm folded in the core) differed
  // by up to 1.2e-4 in absolute terms on the shipped models.
  double m = 0;
  auto cmp = [&m](const std::vector<float>& a, const std::vector<float>& b) {
    for (std::size_t i = 0; i < a.size(); ++i)
      m = std::max(m, static_cast<double>(std::abs(a[i] - b[i])) / std::max(1.0, static_cast<double>(std::abs(a[i]))));
  };
  cmp(core_.probs, ort_.probs), cmp(core_.z_inv, ort_.z_inv), cmp(core_.z_spe, ort_.z_spe);
  engine_max_diff_ = m;
  ort_status_ = "ready";
  if (engine_ == kOrt) apply_engine();
}

void ExplorerModel::use_engine(Engine e) {
  if (!model_ || (e == kOrt && !ort_.ready) || e == engine_) return;
  engine_ = e;
  apply_engine();
}

void ExplorerModel::set_projection(bool tsne) {
  if (!model_ || !core_.ready) return;
  use_tsne_ = tsne;
  if (!tsne) {
    inv_xy_ = inv_pca_, spe_xy_ = spe_pca_;
    return;
  }
  if (!tsne_inv_) {
    const int n = samples_.images.size();
    tsne_inv_ = std::make_unique<Tsne>(inv_feat_, n, inv_dim_);
    tsne_spe_ = std::make_unique<Tsne>(spe_feat_, n, spe_dim_);
  }
}

void ExplorerModel::step_tsne(int iterations) {
  if (!use_tsne_ || !tsne_inv_) return;
  if (tsne_inv_->iteration() < tsne_inv_->total_iterations()) {
    tsne_inv_->step(iterations);
    tsne_spe_->step(iterations);
  }
  inv_xy_ = tsne_inv_->embedding(), spe_xy_ = tsne_spe_->embedding();
}

double ExplorerModel::tsne_progress() const {
  return tsne_inv_ ? static_cast<double>(tsne_inv_->iteration()) / tsne_inv_->total_iterations() : 0.0;
}

int ExplorerModel::tsne_iteration() const { return tsne_inv_ ? tsne_inv_->iteration() : 0; }

void ExplorerModel::select(int i) {
  if (model_ && i >= -1 && i < samples_.images.size()) selected_ = i;
}

void ExplorerModel::use_selected_as_row() {
  if (selected_ < 0 || swap_rows_.empty()) return;
  swap_rows_[static_cast<std::size_t>(next_row_)] = selected_;
  next_row_ = (next_row_ + 1) % static_cast<int>(swap_rows_.size());
  compute_swap();
}

void ExplorerModel::use_selected_as_column() {
  if (selected_ < 0 || swap_cols_.empty()) return;
  swap_cols_[static_cast<std::size_t>(next_col_)] = selected_;
  next_col_ = (next_col_ + 1) % static_cast<int>(swap_cols_.size());
  compute_swap();
}

void ExplorerModel::compute_swap() {
  if (!model_ || !model_->config().pixel_decoder) return;
  const Domain& d = samples_.images;
  const int r = static_cast<int>(swap_rows_.size()), c = static_cast<int>(swap_cols_.size());
  if (r == 0 || c == 0) return;
  std::vector<std::uint8_t> content, style;
  for (int i = 0; i < r; ++i)
    for (int j = 0; j < c; ++j) {
      const auto a = entry_pixels(swap_rows_[static_cast<std::size_t>(i)]), b = entry_pixels(swap_cols_[static_cast<std::size_t>(j)]);
      content.insert(content.end(), a.begin(), a.end());
      style.insert(style.end(), b.begin(), b.end());
    }
  swap_content_ = pixels_to_input(content, r * c, d.height, d.width, d.channels);
  swap_style_ = pixels_to_input(style, r * c, d.height, d.width, d.channels);
  const double t0 = now_ms();
  swap_core_ = model_->swap(swap_content_, swap_style_);
  swap_readout_.ms = now_ms() - t0;
  ort_swap_.reset();
  swap_readout_.ort_ms = swap_readout_.ort_max_diff = -1;
  show_swap(swap_core_);
  compute_mix();
}

void ExplorerModel::set_mix_columns(int a, int b) {
  const int c = static_cast<int>(swap_cols_.size());
  if (a < 0 || b < 0 || a >= c || b >= c) return;
  mix_a_ = a, mix_b_ = b;
  compute_mix();
}

void ExplorerModel::compute_mix() {
  if (!model_ || !model_->config().pixel_decoder || swap_rows_.empty() || swap_cols_.size() < 2) return;
  const Domain& d = samples_.images;
  std::vector<std::uint8_t> content;
  for (const int e : swap_rows_) {
    const auto p = entry_pixels(e);
    content.insert(content.end(), p.begin(), p.end());
  }
  const auto style = [&](int column) {
    return pixels_to_input(entry_pixels(swap_cols_[static_cast<std::size_t>(column)]), 1, d.height, d.width, d.channels);
  };
  const double t = mixer_.mix();
  mixer_.set_inputs(*model_, pixels_to_input(content, static_cast<int>(swap_rows_.size()), d.height, d.width, d.channels),
                    style(mix_a_), style(mix_b_));
  mixer_.set_mix(*model_, t);
  show_mix();
}

void ExplorerModel::set_mix(double t) {
  if (!model_ || !mixer_.ready()) return;
  mixer_.set_mix(*model_, t);
  show_mix();
}

void ExplorerModel::set_ort_mix(double ms, int version, const float* row) {
  if (!mixer_.ready() || version != mixer_.version()) return;
  const Tensor4& core = mixer_.row();
  Tensor4 t(core.n, core.c, core.h, core.w);
  t.data.assign(row, row + core.data.size());
  double m = 0;  // images in [-1, 1]: an absolute difference
  for (std::size_t i = 0; i < t.data.size(); ++i) m = std::max(m, static_cast<double>(std::abs(t.data[i] - core.data[i])));
  mix_ort_ms_ = ms, mix_ort_max_diff_ = m;
  ort_mix_ = std::move(t);
  ort_mix_of_ = version;
  show_mix();
}

// The row shown: ORT's when it is the engine and has answered for this mix, else the core's.
void ExplorerModel::show_mix() {
  mix_pixels_ = output_to_pixels(engine_ == kOrt && ort_mix_ready() ? *ort_mix_ : mixer_.row());
  ++mix_version_;
}

void ExplorerModel::set_ort_swap(double ms, const float* swap) {
  if (!model_ || swap_core_.data.empty()) return;
  Tensor4 t(swap_core_.n, swap_core_.c, swap_core_.h, swap_core_.w);
  t.data.assign(swap, swap + swap_core_.data.size());
  double m = 0;  // the images are in [-1, 1]: an absolute difference
  for (std::size_t i = 0; i < t.data.size(); ++i) m = std::max(m, static_cast<double>(std::abs(t.data[i] - swap_core_.data[i])));
  swap_readout_.ort_ms = ms, swap_readout_.ort_max_diff = m;
  ort_swap_ = std::move(t);
  if (engine_ == kOrt) show_swap(*ort_swap_);
}

void ExplorerModel::show_swap(const Tensor4& cells) {
  swap_pixels_ = output_to_pixels(cells);
  ++swap_version_;
  // How different the cells are from each other and from a blank image (for readouts and tests).
  const int n = cells.n;
  const std::size_t bytes = swap_pixels_.size() / static_cast<std::size_t>(std::max(n, 1));
  swap_readout_.min_pair_diff = 1e9, swap_readout_.min_cell_std = 1e9;
  for (int a = 0; a < n; ++a) {
    double sum = 0, sq = 0;
    for (std::size_t k = 0; k < bytes; ++k) {
      const double v = swap_pixels_[a * bytes + k];
      sum += v, sq += v * v;
    }
    const double mean = sum / bytes;
    swap_readout_.min_cell_std = std::min(swap_readout_.min_cell_std, std::sqrt(std::max(0.0, sq / bytes - mean * mean)));
    for (int b = a + 1; b < n; ++b) {
      double diff = 0;
      for (std::size_t k = 0; k < bytes; ++k)
        diff += std::abs(static_cast<int>(swap_pixels_[a * bytes + k]) - static_cast<int>(swap_pixels_[b * bytes + k]));
      swap_readout_.min_pair_diff = std::min(swap_readout_.min_pair_diff, diff / bytes);
    }
  }
  // Whose style each cell shows: with one column every cell would be "right".
  const std::size_t cols = swap_cols_.size();
  swap_readout_.style_retrieval = -1;
  if (cols < 2 || static_cast<std::size_t>(n) != cols * swap_rows_.size()) return;
  const int channels = cells.c, pixels = cells.h * cells.w;
  const auto descriptor = [&](const std::uint8_t* nhwc) {  // bytes, pixel by pixel, to channel planes
    std::vector<float> planes(static_cast<std::size_t>(channels) * pixels);
    for (int i = 0; i < pixels; ++i)
      for (int c = 0; c < channels; ++c) planes[static_cast<std::size_t>(c) * pixels + i] = nhwc[i * channels + c];
    return style_descriptor(planes.data(), channels, pixels);
  };
  std::vector<StyleDescriptor> styles, shown;
  for (const int e : swap_cols_) styles.push_back(descriptor(entry_pixels(e).data()));
  for (int a = 0; a < n; ++a) shown.push_back(descriptor(swap_pixels_.data() + a * bytes));
  swap_readout_.style_retrieval = style_retrieval(shown, styles);
}

double ExplorerModel::bench_core(int batch, int reps) const {
  if (!model_ || batch < 1 || reps < 1) return -1;
  const std::size_t per = input_.per_item();
  Tensor4 x(batch, input_.c, input_.h, input_.w);
  for (int i = 0; i < batch; ++i) std::copy_n(input_.item(i % input_.n), per, x.item(i));
  model_->forward(x);  // warm-up: buffers sized once
  // The mean over `reps` calls: the page's clock is coarse (0.1 ms without cross-origin isolation).
  const double t0 = now_ms();
  for (int r = 0; r < reps; ++r) model_->forward(x);
  return (now_ms() - t0) / reps;
}

}  // namespace dida::web
