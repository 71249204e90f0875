// Reading a model bundle (config.json + model.safetensors) into BundleData: the checks a file from
// anywhere needs (format, version, tensors against the network description).
#include <filesystem>
#include <set>
#include <stdexcept>

#include "dida/inference.hpp"
#include "dida/json_text.hpp"
#include "dida/safetensors.hpp"

namespace dida {

BundleData parse_bundle(const std::string& config_text, std::vector<std::uint8_t> weights, const std::string& origin,
                        BundleAge age) {
  const std::string config_path = origin + "/config.json", weights_path = origin + "/model.safetensors";
  BundleData b;
  b.card = parse_json(config_text, config_path);
  if (!b.card.is_object() || !b.card.contains("format") || b.card["format"] != "dida-bundle")
    throw std::runtime_error(config_path + ": not a dida bundle config (\"format\": \"dida-bundle\" missing)");
  const nlohmann::json version = b.card.value("format_version", nlohmann::json());
  if (version == 1 && age == BundleAge::Current)
    throw std::runtime_error(config_path + ": bundle format_version 1 is an older layout (this dida reads " +
                             std::to_string(kBundleFormatVersion) + "); convert it in place with: dida export " + origin);
  if (version != kBundleFormatVersion && version != 1)
    throw std::runtime_error(config_path + ": bundle format_version " + json_excerpt(version) + " is not supported (this dida reads " +
                             std::to_string(kBundleFormatVersion) + "; a newer dida wrote it, or retrain)");
  if (!b.card.contains("model")) throw std::runtime_error(config_path + ": missing field \"model\"");
  try {
    b.config = ModelConfig::from_json(b.card["model"]);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(config_path + ": " + e.what());
  }
  if (b.card.contains("class_names")) {
    const auto& names = b.card["class_names"];
    const bool strings = names.is_array() && std::all_of(names.begin(), names.end(), [](const nlohmann::json& n) { return n.is_string(); });
    if (!strings || names.size() != static_cast<std::size_t>(b.config.num_classes))
      throw std::runtime_error(config_path + ": \"class_names\" must be " + std::to_string(b.config.num_classes) +
                               " strings (model.num_classes), not " + names.dump().substr(0, 80));
  }
  // "inference_only": true marks a bundle without the tensors only training uses (the network
  // description says which: MINE's T, the progressive heads), as the site ships them.
  const bool inference_only = b.card.value("inference_only", false);
  const SafeTensorsFile f = SafeTensorsFile::parse(std::move(weights), weights_path);
  std::set<std::string> expected;
  for (const auto& spec : parameter_specs(b.config)) {
    if (inference_only && spec.training_only) continue;
    expected.insert(spec.name);
    if (!f.contains(spec.name)) throw std::runtime_error(weights_path + ": missing tensor \"" + spec.name + "\"");
    const TensorInfo& info = f.info(spec.name);
    if (info.dtype != DType::F32)
      throw std::runtime_error(weights_path + ": tensor \"" + spec.name + "\" is " + dtype_name(info.dtype) + ", expected F32");
    if (info.shape != spec.shape)
      throw std::runtime_error(weights_path + ": tensor \"" + spec.name + "\" has the wrong shape for this config");
    b.tensors[spec.name] = f.to_f32(spec.name);
    // Damaged weights would otherwise load and predict class 0 with NaN probabilities.
    const auto& t = b.tensors[spec.name];
    const auto bad = std::find_if(t.begin(), t.end(), [](float v) { return !std::isfinite(v); });
    if (bad != t.end())
      throw std::runtime_error(weights_path + ": tensor \"" + spec.name + "\" holds a non-finite value (NaN or Inf) at index " +
                               std::to_string(bad - t.begin()) + "; the weights are damaged (retrain or re-export)");
    if (spec.name.size() > 12 && spec.name.compare(spec.name.size() - 12, 12, ".running_var") == 0)
      for (std::size_t k = 0; k < t.size(); ++k)
        if (t[k] < 0)
          throw std::runtime_error(weights_path + ": tensor \"" + spec.name + "\" holds a negative variance at index " +
                                   std::to_string(k) + "; the weights are damaged (retrain or re-export)");
  }
  for (const auto& name : f.names())
    if (!expected.count(name)) throw std::runtime_error(weights_path + ": unexpected tensor \"" + name + "\" for this config");
  return b;
}

std::string resolve_bundle_dir(const std::string& path) {
  namespace fs = std::filesystem;
  if (fs::exists(fs::path(path) / "config.json") && fs::exists(fs::path(path) / "model.safetensors")) return path;
  if (fs::exists(fs::path(path) / "bundle" / "model.safetensors")) return (fs::path(path) / "bundle").string();
  if (fs::exists(fs::path(path) / "checkpoint.pt"))
    throw std::runtime_error(path + ": run has no bundle yet (it ends with one; resume it with dida train --resume " +
                             path + ")");
  throw std::runtime_error(path + ": not a run or bundle folder (expected config.json and model.safetensors)");
}

BundleData read_bundle(const std::string& dir, BundleAge age) {
  const auto config = read_file_bytes(dir + "/config.json", kMaxJsonBytes, "a config.json");
  const std::string text(config.begin(), config.end());
  // The weights hold the config's tensors and a header, no more: a file larger than that is
  // refused by its size before it is read (a valid config's error comes from parse_bundle).
  std::uint64_t most = kMaxSafetensorsHeader + 8;
  try {
    const auto card = parse_json(text, dir + "/config.json");
    for (const auto& spec : parameter_specs(ModelConfig::from_json(card.at("model")))) {
      std::uint64_t n = 4;
      for (const auto d : spec.shape) n *= static_cast<std::uint64_t>(d);
      most += n;
    }
  } catch (const std::exception&) {
    return parse_bundle(text, {}, dir, age);  // its error names what is wrong with config.json
  }
  return parse_bundle(text, read_file_bytes(dir + "/model.safetensors", most, "this model's weights"), dir, age);
}

}  // namespace dida
