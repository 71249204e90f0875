#include "dida/replay.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "dida/json_text.hpp"
#include "dida/safetensors.hpp"

namespace dida {

std::vector<std::uint8_t> replay_to_bytes(const Replay& r) {
  const std::int64_t e = r.epoch_count(), n = r.samples, k = static_cast<std::int64_t>(r.loss_names.size());
  SafeTensorsWriter w;
  w.add_f32("z_inv_2d", {e, n, 2}, r.inv_2d);
  w.add_f32("z_spe_2d", {e, n, 2}, r.spe_2d);
  w.add_i64("epoch", {e}, r.epochs);
  w.add_f32("source_val_accuracy", {e}, r.source_val);
  w.add_f32("target_test_accuracy", {e}, r.target_test);
  w.add_f32("losses", {e, k}, r.losses);
  w.set_metadata("format", "dida-replay");
  w.set_metadata("loss_names", nlohmann::json(r.loss_names).dump());
  w.set_metadata("source", r.source);
  w.set_metadata("target", r.target);
  w.set_metadata("source_samples", std::to_string(r.source_samples));
  w.set_metadata("projection",
                 "each epoch's PCA plane of the pooled features, centred, scaled to unit RMS radius and rotated or "
                 "reflected onto the last epoch's (orthogonal Procrustes)");
  w.set_metadata("note", "target_test_accuracy is for reporting only; nothing was selected by it");
  return w.to_bytes();
}

Replay replay_from_run_logs(const std::string& layouts, const std::string& log, int samples, int source_samples,
                            const std::string& source, const std::string& target) {
  auto by_epoch = [](const std::string& text, const char* what) {
    std::map<int, nlohmann::json> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      nlohmann::json j;
      try {
        j = parse_json(line, what);
      } catch (const std::runtime_error&) {
        continue;  // a line being written, or not one of training's
      }
      const int epoch = j.is_object() && j.contains("epoch") && j["epoch"].is_number_integer() ? j["epoch"].get<int>() : 0;
      if (epoch >= 1) lines[epoch] = std::move(j);
    }
    return lines;
  };
  const auto laid = by_epoch(layouts, "replay.jsonl"), logged = by_epoch(log, "log.jsonl");
  Replay r;
  r.samples = samples, r.source_samples = source_samples, r.source = source, r.target = target;
  const auto points = [&](const nlohmann::json& v) {
    return v.is_array() && v.size() == static_cast<std::size_t>(2 * samples) &&
           std::all_of(v.begin(), v.end(), [](const nlohmann::json& x) { return x.is_number(); });
  };
  for (const auto& [epoch, l] : laid) {
    const auto it = logged.find(epoch);
    if (it == logged.end() || !l.contains("inv") || !l.contains("spe") || !points(l["inv"]) || !points(l["spe"]) ||
        !it->second.contains("losses") || !it->second["losses"].is_object())
      continue;
    const auto& logged_losses = it->second["losses"];
    if (r.loss_names.empty())
      for (const auto& [name, v] : logged_losses.items()) r.loss_names.push_back(name);
    r.epochs.push_back(epoch);
    for (const auto& v : l["inv"]) r.inv_2d.push_back(v.get<float>());
    for (const auto& v : l["spe"]) r.spe_2d.push_back(v.get<float>());
    const auto number = [](const nlohmann::json& j, const char* key) {
      return j.contains(key) && j[key].is_number() ? j[key].get<float>() : 0.f;
    };
    r.source_val.push_back(number(it->second, "source_val_accuracy"));
    r.target_test.push_back(number(it->second, "target_test_accuracy"));
    for (const auto& name : r.loss_names) r.losses.push_back(number(logged_losses, name.c_str()));
  }
  if (!r.epochs.empty()) {
    align_layouts(r.inv_2d, r.epoch_count(), r.samples);
    align_layouts(r.spe_2d, r.epoch_count(), r.samples);
  }
  return r;
}

Replay parse_replay(std::vector<std::uint8_t> bytes, const std::string& origin) {
  const SafeTensorsFile f = SafeTensorsFile::parse(std::move(bytes), origin);
  if (f.metadata_or("format", "") != "dida-replay") throw std::runtime_error(origin + ": not a dida replay (format is not dida-replay)");
  for (const char* name : {"z_inv_2d", "z_spe_2d", "epoch", "source_val_accuracy", "target_test_accuracy", "losses"})
    if (!f.contains(name)) throw std::runtime_error(origin + ": missing tensor \"" + name + "\"");
  Replay r;
  r.epochs = f.to_i64("epoch");
  const auto& inv = f.info("z_inv_2d");
  const std::int64_t e = static_cast<std::int64_t>(r.epochs.size());
  if (inv.shape.size() != 3 || inv.shape[0] != e || inv.shape[2] != 2 || f.info("z_spe_2d").shape != inv.shape)
    throw std::runtime_error(origin + ": z_inv_2d and z_spe_2d must both be [epochs, samples, 2]");
  r.samples = static_cast<int>(inv.shape[1]);
  r.inv_2d = f.to_f32("z_inv_2d"), r.spe_2d = f.to_f32("z_spe_2d");
  r.source_val = f.to_f32("source_val_accuracy"), r.target_test = f.to_f32("target_test_accuracy");
  if (static_cast<std::int64_t>(r.source_val.size()) != e || static_cast<std::int64_t>(r.target_test.size()) != e)
    throw std::runtime_error(origin + ": the accuracies must have one value per epoch");
  const auto names = nlohmann::json::parse(f.metadata_or("loss_names", "[]"), nullptr, false);
  if (names.is_array())
    for (const auto& s : names)
      if (s.is_string()) r.loss_names.push_back(s.get<std::string>());
  const auto& li = f.info("losses");
  if (li.shape.size() != 2 || li.shape[0] != e || li.shape[1] != static_cast<std::int64_t>(r.loss_names.size()))
    throw std::runtime_error(origin + ": losses must be [epochs, loss_names]");
  r.losses = f.to_f32("losses");
  r.source = f.metadata_or("source", ""), r.target = f.metadata_or("target", "");
  try {
    r.source_samples = std::stoi(f.metadata_or("source_samples", "0"));
  } catch (const std::exception&) {
    r.source_samples = 0;
  }
  return r;
}

void align_layouts(std::vector<float>& xy, int epochs, int n) {
  if (epochs < 1 || n < 1 || xy.size() != static_cast<std::size_t>(epochs) * n * 2)
    throw std::invalid_argument("align_layouts: xy must be epochs x n x 2");
  auto layout = [&](int e) {
    Eigen::MatrixXd m(n, 2);
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < 2; ++k) m(i, k) = xy[(static_cast<std::size_t>(e) * n + i) * 2 + k];
    m.rowwise() -= m.colwise().mean();
    const double rms = std::sqrt(m.squaredNorm() / n);
    if (rms > 1e-12) m /= rms;
    return m;
  };
  const Eigen::MatrixXd last = layout(epochs - 1);
  for (int e = 0; e < epochs; ++e) {
    Eigen::MatrixXd a = layout(e);
    // argmin over orthogonal R of |a R - last|: R = U V^T from the SVD of a^T last.
    Eigen::JacobiSVD<Eigen::Matrix2d> svd(Eigen::Matrix2d(a.transpose() * last), Eigen::ComputeFullU | Eigen::ComputeFullV);
    a = a * (svd.matrixU() * svd.matrixV().transpose());
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < 2; ++k) xy[(static_cast<std::size_t>(e) * n + i) * 2 + k] = static_cast<float>(a(i, k));
  }
}

std::vector<float> Replay::loss_curve(const std::string& name) const {
  std::vector<float> v(epochs.size(), 0.f);
  const std::size_t k = loss_names.size();
  const auto at = static_cast<std::size_t>(std::find(loss_names.begin(), loss_names.end(), name) - loss_names.begin());
  if (at < k)
    for (std::size_t e = 0; e < v.size() && e * k + at < losses.size(); ++e) v[e] = losses[e * k + at];
  return v;
}

}  // namespace dida
