#pragma once
// `dida export`: a bundle as an ONNX file (Debian's libonnx: ModelProto, checker, shape inference).
// Built into the `dida` front end, which does not link LibTorch (a pip-wheel LibTorch carries its
// own protobuf). Inputs: "input" and "style" (N x C x S x S in [-1, 1], N dynamic). Outputs:
// logits, probs, z_inv, z_spe, dom_inv, dom_spe, feat_rec, pix_rec, swap (= R_pix(z_inv(input),
// z_spe(style))).
#include <cstdint>
#include <string>

namespace dida {

struct OnnxExportResult {
  std::string path;
  std::uint64_t bytes = 0;
  std::uint32_t crc32 = 0;
  bool recorded = false;  // written as BUNDLE/model.onnx, so its size and CRC-32 went into config.json
};

// Writes the ONNX file atomically; when it is the bundle's own model.onnx, records its size and
// CRC-32 in the bundle's config.json (a copy elsewhere leaves the bundle untouched).
OnnxExportResult export_onnx(const std::string& bundle_dir, const std::string& out_path);

}  // namespace dida
