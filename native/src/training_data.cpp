#include "training_data.hpp"

namespace dida {

torch::Tensor images_to_tensor(const Domain& d) {
  auto t = torch::from_blob(const_cast<std::uint8_t*>(d.pixels.data()), {d.size(), d.height, d.width, d.channels},
                            torch::kUInt8);
  return t.permute({0, 3, 1, 2}).to(torch::kFloat32).div(127.5).sub(1.0).contiguous();
}

torch::Tensor labels_to_tensor(const Domain& d) {
  std::vector<int64_t> y(d.labels.begin(), d.labels.end());
  return torch::tensor(y, torch::kLong);
}

torch::Device pick_device(DeviceChoice device) {
  if (device == DeviceChoice::Cpu) return torch::kCPU;
  if (device == DeviceChoice::Cuda) {
    if (!torch::cuda::is_available()) throw std::runtime_error("--device cuda: CUDA is not available to this LibTorch");
    return torch::kCUDA;
  }
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

double accuracy(DidaNetImpl& net, const torch::Tensor& x, const torch::Tensor& y, const torch::Device& device) {
  torch::NoGradGuard guard;
  const bool was_training = net.is_training();
  net.eval();
  int64_t correct = 0;
  for (int64_t i = 0; i < x.size(0); i += 500) {
    const auto xb = x.slice(0, i, std::min(i + 500, x.size(0))).to(device);
    const auto pred = net.forward(xb)["logits"].argmax(1).cpu();
    correct += pred.eq(y.slice(0, i, i + xb.size(0))).sum().item<int64_t>();
  }
  net.train(was_training);
  return x.size(0) ? static_cast<double>(correct) / static_cast<double>(x.size(0)) : 0.0;
}

LabelFreeStats label_free_stats(DidaNetImpl& net, const torch::Tensor& x, const torch::Device& device) {
  torch::NoGradGuard guard;
  const bool was_training = net.is_training();
  net.eval();
  std::vector<torch::Tensor> probs;
  for (int64_t i = 0; i < x.size(0); i += 500)
    probs.push_back(torch::softmax(net.forward(x.slice(0, i, std::min(i + 500, x.size(0))).to(device))["logits"], 1).cpu());
  net.train(was_training);
  LabelFreeStats s;
  if (probs.empty()) return s;
  const auto p = torch::cat(probs).to(torch::kFloat64);
  s.confidence = std::get<0>(p.max(1)).mean().item<double>();
  const auto hard = torch::one_hot(p.argmax(1), p.size(1)).to(torch::kFloat64).mean(0);
  s.balance = std::clamp(-(hard * (hard + 1e-12).log()).sum().item<double>() / std::log(static_cast<double>(p.size(1))), 0.0, 1.0);
  return s;
}

DomainPair pair_for(const TrainOptions& o) {
  PairOptions po;
  po.seed = o.data_seed;
  po.max_per_domain = o.max_per_domain;
  po.cache_dir = o.cache_dir.empty() ? default_cache_dir() : (o.cache_dir == "none" ? "" : o.cache_dir);
  return build_pair(o.source, o.target, DataSources::from_environment(DIDA_SOURCE_DIR), po);
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace dida
