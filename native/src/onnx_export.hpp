#pragma once
// `dida export`: a bundle as an ONNX file (Debian's libonnx: ModelProto, checker, shape inference).
// Built into the `dida` front end, which does not link LibTorch (a pip-wheel LibTorch carries its
// own protobuf). The graphs are the network description's (dida/network.hpp):
//   model.onnx  input (N x C x S x S in [-1, 1], N dynamic) -> logits, probs, z_inv, z_spe, dom_inv, dom_spe
//   swap.onnx   content, style -> swap = R_pix(z_inv(content), z_spe(style)) (models with a pixel decoder)
//   decoder.onnx  z_inv, z_spe -> pix_rec = R_pix(z_inv, z_spe) (the same; the page's style mixer
//                 decodes a code between two styles' z_spe with it)
#include <cstdint>
#include <string>
#include <vector>

namespace dida {

struct OnnxExportResult {
  std::string path;
  std::uint64_t bytes = 0;
  std::uint32_t crc32 = 0;
  bool recorded = false;  // written into the bundle, so its size and CRC-32 went into config.json
};

// The files: the graph, its key in config.json, the file name.
struct OnnxFile {
  std::string graph, key, file;
};
const std::vector<OnnxFile>& onnx_files();

// Writes OUT_DIR/model.onnx, swap.onnx and decoder.onnx atomically. When OUT_DIR is the bundle itself,
// records their sizes and CRC-32s in its config.json and converts an older bundle layout to this
// version (a copy elsewhere leaves the bundle untouched).
std::vector<OnnxExportResult> export_onnx(const std::string& bundle_dir, const std::string& out_dir);

}  // namespace dida
