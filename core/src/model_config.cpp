#include "dida/model_config.hpp"

#include <stdexcept>

namespace dida {

nlohmann::json ModelConfig::to_json() const {
  return {{"format_version", format_version}, {"architecture", architecture}, {"image_size", image_size},
          {"in_channels", in_channels},       {"num_classes", num_classes},   {"width", width},
          {"variant", variant},               {"progressive", progressive},   {"head_hidden", head_hidden},
          {"mine_hidden", mine_hidden},       {"pixel_decoder", pixel_decoder}, {"pool", pool},
          {"input_norm", input_norm},         {"decoder", decoder},
          {"decoder_norm", decoder_norm},       {"decoder_style", decoder_style},
          {"style_encoder", style_encoder},
          {"erase_domain_mean", erase_domain_mean}, {"erase_directions", erase_directions}};
}

namespace {
template <typename T>
void read(const nlohmann::json& j, const char* key, T& out) {
  if (!j.contains(key)) throw std::invalid_argument(std::string("model config: missing field \"") + key + "\"");
  try {
    out = j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(std::string("model config: field \"") + key + "\" has the wrong type");
  }
}
}  // namespace

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("model config: not a JSON object");
  ModelConfig c;
  read(j, "format_version", c.format_version);
  read(j, "architecture", c.architecture);
  read(j, "image_size", c.image_size);
  read(j, "in_channels", c.in_channels);
  read(j, "num_classes", c.num_classes);
  read(j, "width", c.width);
  read(j, "variant", c.variant);
  read(j, "progressive", c.progressive);
  read(j, "head_hidden", c.head_hidden);
  read(j, "mine_hidden", c.mine_hidden);
  read(j, "pixel_decoder", c.pixel_decoder);
  // Older bundles lack the later fields: they were made with what these say.
  c.pool = "avg", c.input_norm = "none", c.decoder = "small", c.decoder_norm = "none";
  if (j.contains("pool")) read(j, "pool", c.pool);
  if (j.contains("input_norm")) read(j, "input_norm", c.input_norm);
  if (j.contains("decoder")) read(j, "decoder", c.decoder);
  if (j.contains("decoder_norm")) read(j, "decoder_norm", c.decoder_norm);
  if (j.contains("decoder_style")) read(j, "decoder_style", c.decoder_style);
  if (j.contains("style_encoder")) read(j, "style_encoder", c.style_encoder);
  if (j.contains("erase_domain_mean")) read(j, "erase_domain_mean", c.erase_domain_mean);
  c.erase_directions = 1;
  if (j.contains("erase_directions")) read(j, "erase_directions", c.erase_directions);
  c.validate();
  return c;
}

const std::vector<std::string>& ModelConfig::variants() {
  static const std::vector<std::string> v = {"branch", "vector", "style"};
  return v;
}
const std::vector<std::string>& ModelConfig::pools() {
  static const std::vector<std::string> v = {"avg", "flatten"};
  return v;
}
const std::vector<std::string>& ModelConfig::input_norms() {
  static const std::vector<std::string> v = {"none", "standardize"};
  return v;
}
const std::vector<std::string>& ModelConfig::decoders() {
  static const std::vector<std::string> v = {"small", "wide"};
  return v;
}
const std::vector<std::string>& ModelConfig::decoder_styles() {
  static const std::vector<std::string> v = {"none", "adain"};
  return v;
}
const std::vector<std::string>& ModelConfig::style_encoders() {
  static const std::vector<std::string> v = {"full", "light", "pointwise"};
  return v;
}
const std::vector<std::string>& ModelConfig::decoder_norms() {
  static const std::vector<std::string> v = {"none", "instance"};
  return v;
}

namespace {
void check_choice(const char* field, const std::string& value, const std::vector<std::string>& allowed) {
  for (const auto& a : allowed)
    if (a == value) return;
  std::string all;
  for (const auto& a : allowed) all += (all.empty() ? "\"" : " or \"") + a + "\"";
  throw std::invalid_argument(std::string("model config: ") + field + " must be " + all + ", not \"" + value + "\"");
}
}  // namespace

void ModelConfig::validate() const {
  if (format_version != 1)
    throw std::invalid_argument("model config: format_version " + std::to_string(format_version) +
                                " is not supported (this dida reads 1)");
  if (architecture != "dida-cnn")
    throw std::invalid_argument("model config: unknown architecture \"" + architecture + "\"");
  check_choice("variant", variant, variants());
  check_choice("pool", pool, pools());
  check_choice("input_norm", input_norm, input_norms());
  check_choice("decoder", decoder, decoders());
  check_choice("decoder_norm", decoder_norm, decoder_norms());
  check_choice("decoder_style", decoder_style, decoder_styles());
  check_choice("style_encoder", style_encoder, style_encoders());
  if (image_size < 8 || image_size % 8 != 0)
    throw std::invalid_argument("model config: image_size must be a multiple of 8");
  // Beyond these a single prediction or the weights take gigabytes: refused before any allocation.
  if (image_size > kMaxImageSize)
    throw std::invalid_argument("model config: image_size " + std::to_string(image_size) + " is over the " +
                                std::to_string(kMaxImageSize) + " dida handles");
  if (width > kMaxWidth || head_hidden > kMaxHidden || mine_hidden > kMaxHidden)
    throw std::invalid_argument("model config: width (at most " + std::to_string(kMaxWidth) + "), head_hidden and mine_hidden (at most " +
                                std::to_string(kMaxHidden) + ") are over what dida handles");
  if (in_channels != 1 && in_channels != 3) throw std::invalid_argument("model config: in_channels must be 1 or 3");
  if (num_classes < 2) throw std::invalid_argument("model config: num_classes must be at least 2");
  if (width < 1 || head_hidden < 1 || mine_hidden < 1)
    throw std::invalid_argument("model config: width, head_hidden and mine_hidden must be positive");
  if (erase_directions < 1 || erase_directions > kMaxEraseDirections)
    throw std::invalid_argument("model config: erase_directions must be in [1, " + std::to_string(kMaxEraseDirections) + "]");
}

}  // namespace dida
