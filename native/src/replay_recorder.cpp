#include "replay_recorder.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "dida/projection.hpp"
#include "dida/replay.hpp"
#include "dida/safetensors.hpp"
#include "trainer.hpp"
#include "training_data.hpp"

namespace dida {
namespace fs = std::filesystem;

ReplayRecorder::ReplayRecorder(const std::string& run_dir, const DomainPair& pair, int per_domain)
    : path_(run_dir + "/replay.jsonl") {
  const int ns = std::min(per_domain, pair.source_val.size()), nt = std::min(per_domain, pair.target_test.size());
  if (ns < 1 || nt < 1 || ns + nt < 3) return;  // too few for a layout
  sources_ = ns, targets_ = nt;
  const auto xs = images_to_tensor(pair.source_val).slice(0, 0, ns), xt = images_to_tensor(pair.target_test).slice(0, 0, nt);
  x_ = torch::cat({xs, xt});
}

void ReplayRecorder::trim(int epochs_kept) const {
  if (enabled()) trim_epoch_lines(path_, epochs_kept);
}

void ReplayRecorder::record(DidaNetImpl& net, int epoch, const torch::Device& device) const {
  if (!enabled()) return;
  torch::NoGradGuard guard;
  const bool was_training = net.is_training();
  net.eval();
  const Outputs o = net.forward(x_.to(device));
  net.train(was_training);
  auto layout = [](const torch::Tensor& f) {
    const auto c = f.to(torch::kCPU, torch::kFloat).contiguous().view({f.size(0), -1});
    const std::vector<float> v(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    return pca_2d(v, static_cast<int>(c.size(0)), static_cast<int>(c.size(1)));
  };
  const nlohmann::json line = {{"epoch", epoch}, {"inv", layout(o["p_inv"])}, {"spe", layout(o["p_spe"])}};
  append_line(path_, line.dump());
}

int ReplayRecorder::write(const std::string& bundle_dir, const std::string& log_path, const std::string& source,
                          const std::string& target) const {
  if (!enabled() || !fs::exists(path_)) return 0;
  std::map<int, nlohmann::json> layouts, logged;
  auto read = [](const std::string& path, std::map<int, nlohmann::json>& into) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      const int epoch = j.is_object() ? j.value("epoch", 0) : 0;
      if (epoch >= 1) into[epoch] = std::move(j);
    }
  };
  read(path_, layouts);
  read(log_path, logged);
  Replay r;
  r.samples = sources_ + targets_, r.source_samples = sources_, r.source = source, r.target = target;
  for (const auto& [epoch, l] : layouts) {
    const auto it = logged.find(epoch);
    if (it == logged.end() || !l.contains("inv") || !l.contains("spe") || !it->second.contains("losses") ||
        l["inv"].size() != static_cast<std::size_t>(2 * r.samples) || l["spe"].size() != l["inv"].size())
      continue;
    if (r.loss_names.empty())
      for (const auto& [name, v] : it->second["losses"].items()) r.loss_names.push_back(name);
    r.epochs.push_back(epoch);
    for (const auto& v : l["inv"]) r.inv_2d.push_back(v.get<float>());
    for (const auto& v : l["spe"]) r.spe_2d.push_back(v.get<float>());
    r.source_val.push_back(it->second.value("source_val_accuracy", 0.f));
    r.target_test.push_back(it->second.value("target_test_accuracy", 0.f));
    for (const auto& name : r.loss_names) r.losses.push_back(it->second["losses"].value(name, 0.f));
  }
  if (r.epochs.empty()) return 0;
  align_layouts(r.inv_2d, r.epoch_count(), r.samples);
  align_layouts(r.spe_2d, r.epoch_count(), r.samples);
  const auto bytes = replay_to_bytes(r);
  write_file_atomic(bundle_dir + "/replay.safetensors", bytes.data(), bytes.size());
  return r.epoch_count();
}

}  // namespace dida
