#include "replay_recorder.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
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
                          const std::string& target, double source_val, double target_test) const {
  if (!enabled() || !fs::exists(path_)) return 0;
  auto text = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  Replay r = replay_from_run_logs(text(path_), text(log_path), sources_ + targets_, sources_, source, target);
  if (r.epochs.empty()) return 0;
  r.source_val.back() = static_cast<float>(source_val), r.target_test.back() = static_cast<float>(target_test);
  const auto bytes = replay_to_bytes(r);
  write_file_atomic(bundle_dir + "/replay.safetensors", bytes.data(), bytes.size());
  return r.epoch_count();
}

}  // namespace dida
