#pragma once
// The one model config: architecture and sizes of the disentangling network (METHOD.md), read by
// dida/network.hpp, which turns it into the network every engine runs.
//
//   x ─► E ─► F ─┬─► I ─► z_inv ─► pool ─► C ─► logits
//                │              └► pool ─► D_inv (behind a GRL)
//                └─► S ─► z_spe ─► pool ─► D_spe
//   (z_inv, z_spe) ─► T (MINE), R_feat (─► F_hat), R_pix (─► x_hat)
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dida {

// The defaults are the trainer's (`dida train`'s options read them); a bundle records every field.
struct ModelConfig {
  int format_version = 1;
  std::string architecture = "dida-cnn";
  int image_size = 32;       // input height = width
  int in_channels = 3;
  int num_classes = 10;
  int width = 16;            // channels of E's first block; F has 4 * width channels
  // "branch": I, S separate convs over F; "vector": z_spe = F - I(F); "style": S an encoder of its
  // own on the image before standardisation, z_spe one code per image (each channel's mean everywhere).
  std::string variant = "branch";
  bool progressive = false;  // a first split after E's first block: only F1 + I1(F1) flows on
  int head_hidden = 100;     // hidden units of C, D_inv, D_spe
  int mine_hidden = 128;     // hidden units of T
  bool pixel_decoder = true; // R_pix: [z_inv, z_spe] -> image
  // R_pix's size: "small" (one 3x3 conv per scale, 2w-w-w channels) or "wide" (two per scale,
  // 4w-2w-2w-w channels, and a last conv at full size).
  std::string decoder = "wide";
  // What R_pix does to z_inv before decoding: "none", or "instance" (normalised per image and
  // channel, so the style reaches it only through z_spe; docs/RESULTS.md).
  std::string decoder_norm = "instance";
  // How R_pix's output takes the style: "none" (it is whatever the convolutions make of [z_inv,
  // z_spe], through tanh) or "adain" (normalised per image and channel, then scaled and shifted by
  // two linear maps of z_spe's global average: the image's colour statistics come from z_spe).
  std::string decoder_style = "none";
  // The style variant's S: "full" (E's three blocks, 5-5-3 kernels, on the image) or "light" (3x3
  // kernels on the image max-pooled to half its size: about a tenth of the multiply-adds; the
  // colour statistics S must carry need no detail) or "pointwise" (the same with 1x1 kernels: no
  // stroke shapes, only colours over 8x8 patches).
  std::string style_encoder = "full";
  // z_inv with the domains' mean difference projected out: the differences between the source's
  // and the target's mean z_inv (every position and channel) on erase_directions disjoint parts of
  // the training images, measured once training is over, span what is removed from each image's
  // z_inv, so that no linear read-out of z_inv finds the domains' means apart (docs/METHOD.md,
  // "the erasure"). Bundles from before erase_directions erased one direction.
  bool erase_domain_mean = false;
  int erase_directions = 8;
  static constexpr int kMaxEraseDirections = 64;
  // The largest sizes a config may have (dida train's flags have the same bounds).
  static constexpr int kMaxImageSize = 512, kMaxWidth = 512, kMaxHidden = 4096;
  // How the heads see a feature map: "avg" (global average, METHOD.md) or "flatten" (every
  // position, as DANN's digit networks do).
  std::string pool = "flatten";
  // What E sees first: "none" (x as given, [-1, 1]) or "standardize" (each image minus its mean,
  // over its standard deviation across channels and pixels). Standardising inside the network
  // makes every engine (LibTorch, the core, ONNX) do it, and removes a domain's global brightness
  // and contrast before the first convolution (docs/RESULTS.md).
  std::string input_norm = "standardize";
  static constexpr float kInputNormEps = 1e-5f;  // added to the variance

  int feature_channels() const { return 4 * width; }
  int feature_size() const { return image_size / 8; }
  int pooled_size() const { return pool == "avg" ? feature_channels() : feature_channels() * feature_size() * feature_size(); }

  nlohmann::json to_json() const;
  // Throws std::invalid_argument naming the field for a missing, mistyped or unsupported value.
  static ModelConfig from_json(const nlohmann::json& j);
  // Checks the values (modes among their choices below, sizes positive, image size divisible by 8).
  void validate() const;

  // The allowed values of the modes (validate, and `dida train`'s option table).
  static const std::vector<std::string>& variants();      // branch, vector, style
  static const std::vector<std::string>& pools();         // avg, flatten
  static const std::vector<std::string>& input_norms();   // none, standardize
  static const std::vector<std::string>& decoders();      // small, wide
  static const std::vector<std::string>& decoder_norms(); // none, instance
  static const std::vector<std::string>& decoder_styles(); // none, adain
  static const std::vector<std::string>& style_encoders(); // full, light, pointwise
};

}  // namespace dida
