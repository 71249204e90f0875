#pragma once
// Model bundles (docs/BUNDLE.md): a folder with config.json and model.safetensors.
#include <nlohmann/json.hpp>
#include <string>

#include "model.hpp"

namespace dida {

// Writes DIR/model.safetensors (every tensor of named_state, F32) and DIR/config.json, each atomically.
// `card` holds everything but "model", which comes from the network's config. `inference_only`:
// without the tensors only training uses, marked so (docs/BUNDLE.md), as the site ships bundles.
void save_bundle(DidaNetImpl& net, const std::string& dir, nlohmann::json card, bool inference_only = false);

struct LoadedBundle {
  nlohmann::json card;  // config.json
  DidaNet net{nullptr};
};
// Reads and validates a bundle: every tensor the config needs, no extra, shapes and dtypes.
// Throws std::runtime_error naming the file and the tensor or field.
LoadedBundle load_bundle(const std::string& dir);


}  // namespace dida
