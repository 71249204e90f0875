#include "bundle.hpp"

#include <algorithm>
#include <filesystem>

#include "dida/inference.hpp"
#include "dida/safetensors.hpp"

namespace fs = std::filesystem;

namespace dida {

void save_bundle(DidaNetImpl& net, const std::string& dir, nlohmann::json card, bool inference_only) {
  fs::create_directories(dir);
  SafeTensorsWriter w;
  const auto training_only = training_only_tensors(net.config);
  for (const auto& [name, tensor] : named_state(net)) {
    if (inference_only && std::find(training_only.begin(), training_only.end(), name) != training_only.end()) continue;
    const auto t = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    std::vector<std::int64_t> shape(t.sizes().begin(), t.sizes().end());
    w.add(name, DType::F32, shape, t.data_ptr<float>(), static_cast<std::size_t>(t.numel()) * sizeof(float));
  }
  w.set_metadata("format", "dida-bundle");
  w.save(dir + "/model.safetensors");
  card["format"] = "dida-bundle";
  card["format_version"] = kBundleFormatVersion;
  card["model"] = net.config.to_json();
  card["training_only_tensors"] = training_only;
  if (inference_only) card["inference_only"] = true;
  const std::string text = card.dump(2) + "\n";
  write_file_atomic(dir + "/config.json", text.data(), text.size());
}

LoadedBundle load_bundle(const std::string& path) {
  // The core reads and validates the files; here the tensors go into the LibTorch module.
  const BundleData data = read_bundle(resolve_bundle_dir(path));
  (void)Model::from(data, path);  // the core's checks at load, the page's: outputs finite on a probe image
  LoadedBundle b;
  b.card = data.card;
  b.net = DidaNet(data.config);
  const auto state = named_state(*b.net);
  // The site's bundles leave out the tensors only training uses (docs/BUNDLE.md): they predict, in
  // the page and with `dida predict`, but eval and export need every tensor.
  std::size_t training_only = 0;
  for (const auto& [name, tensor] : state) training_only += !data.tensors.count(name);
  if (training_only > 0 && state.size() == data.tensors.size() + training_only)
    throw std::runtime_error(path + ": an inference-only bundle (" + std::to_string(training_only) +
                             " tensors only training uses were left out, as the site's are): it predicts (dida predict), "
                             "but this command needs the bundle `dida train` wrote");
  if (state.size() != data.tensors.size()) throw std::logic_error("parameter_specs does not cover the LibTorch module");
  torch::NoGradGuard guard;
  for (const auto& [name, tensor] : state) {
    auto it = data.tensors.find(name);
    if (it == data.tensors.end()) throw std::logic_error("parameter_specs and the LibTorch module disagree on " + name);
    tensor.copy_(torch::from_blob(const_cast<float*>(it->second.data()), tensor.sizes(), torch::kFloat32));
  }
  b.net->eval();
  return b;
}

}  // namespace dida
