#include "bundle.hpp"

#include <filesystem>
#include <map>
#include <set>

#include "dida/safetensors.hpp"

namespace fs = std::filesystem;

namespace dida {

void save_bundle(DidaNetImpl& net, const std::string& dir, nlohmann::json card) {
  fs::create_directories(dir);
  SafeTensorsWriter w;
  for (const auto& [name, tensor] : named_state(net)) {
    const auto t = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    std::vector<std::int64_t> shape(t.sizes().begin(), t.sizes().end());
    w.add(name, DType::F32, shape, t.data_ptr<float>(), static_cast<std::size_t>(t.numel()) * sizeof(float));
  }
  w.set_metadata("format", "dida-bundle");
  w.save(dir + "/model.safetensors");
  card["format"] = "dida-bundle";
  card["format_version"] = 1;
  card["model"] = net.config.to_json();
  const std::string text = card.dump(2) + "\n";
  write_file_atomic(dir + "/config.json", text.data(), text.size());
}

std::string resolve_bundle_dir(const std::string& path) {
  if (fs::exists(fs::path(path) / "config.json") && fs::exists(fs::path(path) / "model.safetensors")) return path;
  if (fs::exists(fs::path(path) / "bundle" / "model.safetensors")) return (fs::path(path) / "bundle").string();
  if (fs::exists(fs::path(path) / "checkpoint.pt"))
    throw std::runtime_error(path + ": run has no bundle yet (it ends with one; resume it with dida train --resume " +
                             path + ")");
  throw std::runtime_error(path + ": not a run or bundle folder (expected config.json and model.safetensors)");
}

LoadedBundle load_bundle(const std::string& path) {
  const std::string dir = resolve_bundle_dir(path);
  const std::string config_path = dir + "/config.json";
  const std::string weights_path = dir + "/model.safetensors";
  LoadedBundle b;
  const auto bytes = read_file_bytes(config_path);
  try {
    b.card = nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(config_path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!b.card.is_object() || b.card.value("format", "") != "dida-bundle")
    throw std::runtime_error(config_path + ": not a dida bundle config (\"format\": \"dida-bundle\" missing)");
  if (b.card.value("format_version", 0) != 1)
    throw std::runtime_error(config_path + ": bundle format_version " + b.card.value("format_version", nlohmann::json(0)).dump() +
                             " is not supported (this dida reads 1)");
  if (!b.card.contains("model")) throw std::runtime_error(config_path + ": missing field \"model\"");
  ModelConfig config;
  try {
    config = ModelConfig::from_json(b.card["model"]);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(config_path + ": " + e.what());
  }
  const SafeTensorsFile weights = SafeTensorsFile::load(weights_path);
  b.net = DidaNet(config);
  std::map<std::string, torch::Tensor> state;
  for (const auto& [name, t] : named_state(*b.net)) state[name] = t;
  std::set<std::string> seen;
  for (const auto& spec : parameter_specs(config)) {
    if (!weights.contains(spec.name)) throw std::runtime_error(weights_path + ": missing tensor \"" + spec.name + "\"");
    const TensorInfo& info = weights.info(spec.name);
    if (info.dtype != DType::F32)
      throw std::runtime_error(weights_path + ": tensor \"" + spec.name + "\" is " + dtype_name(info.dtype) + ", expected F32");
    if (info.shape != spec.shape)
      throw std::runtime_error(weights_path + ": tensor \"" + spec.name + "\" has the wrong shape for this config");
    auto it = state.find(spec.name);
    if (it == state.end()) throw std::logic_error("parameter_specs and the LibTorch module disagree on " + spec.name);
    const auto values = weights.to_f32(spec.name);
    torch::NoGradGuard guard;
    it->second.copy_(torch::from_blob(const_cast<float*>(values.data()), it->second.sizes(), torch::kFloat32));
    seen.insert(spec.name);
  }
  for (const auto& name : weights.names())
    if (!seen.count(name)) throw std::runtime_error(weights_path + ": unexpected tensor \"" + name + "\" for this config");
  if (seen.size() != state.size()) throw std::logic_error("parameter_specs does not cover the LibTorch module");
  b.net->eval();
  return b;
}

}  // namespace dida
