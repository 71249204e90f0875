#include "onnx_export.hpp"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <array>
#include <filesystem>
#include <cstdio>
#include <set>
#include <stdexcept>

#include "dida/formats.hpp"
#include "dida/inference.hpp"
#include "dida/safetensors.hpp"

namespace dida {
namespace {

class GraphBuilder {
 public:
  GraphBuilder(const BundleData& b, onnx::GraphProto* g) : b_(b), g_(g) {}

  std::string initializer(const std::string& name, const std::vector<float>& values, const std::vector<int64_t>& dims) {
    if (!added_.insert(name).second) return name;
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
    return name;
  }
  std::string weight(const std::string& name) {
    for (const auto& spec : parameter_specs(b_.config))
      if (spec.name == name) return initializer(name, b_.tensors.at(name), spec.shape);
    throw std::logic_error("no tensor " + name);
  }
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& in, const std::string& out) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(out + "/" + op);
    for (const auto& i : in) n->add_input(i);
    n->add_output(out);
    return n;
  }
  static void attr(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr(onnx::NodeProto* n, const std::string& name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  static void attr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }

  std::string conv(const std::string& x, const std::string& name, const std::string& out) {
    const auto w = weight(name + ".weight");
    int64_t k = 0;
    for (const auto& spec : parameter_specs(b_.config))
      if (spec.name == name + ".weight") k = spec.shape[2];
    auto* n = node("Conv", {x, w, weight(name + ".bias")}, out);
    attr(n, "kernel_shape", std::vector<int64_t>{k, k});
    attr(n, "pads", std::vector<int64_t>{k / 2, k / 2, k / 2, k / 2});
    return out;
  }
  std::string bn(const std::string& x, const std::string& name, const std::string& out) {
    auto* n = node("BatchNormalization",
                   {x, weight(name + ".weight"), weight(name + ".bias"), weight(name + ".running_mean"), weight(name + ".running_var")},
                   out);
    attr(n, "epsilon", 1e-5f);
    return out;
  }
  std::string relu(const std::string& x, const std::string& out) { return node("Relu", {x}, out), out; }
  std::string maxpool(const std::string& x, const std::string& out) {
    auto* n = node("MaxPool", {x}, out);
    attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
    attr(n, "strides", std::vector<int64_t>{2, 2});
    return out;
  }
  std::string conv_bn_relu(const std::string& x, const std::string& c, const std::string& b, const std::string& out) {
    return relu(bn(conv(x, c, out + "_conv"), b, out + "_bn"), out);
  }
  std::string gemm(const std::string& x, const std::string& name, const std::string& out) {
    auto* n = node("Gemm", {x, weight(name + ".weight"), weight(name + ".bias")}, out);
    attr(n, "transB", int64_t{1});
    return out;
  }
  std::string head(const std::string& x, const std::string& name, const std::string& out) {
    return gemm(relu(gemm(x, name + ".fc1", out + "_fc1"), out + "_relu"), name + ".fc2", out);
  }
  std::string pool(const std::string& z, const std::string& out) {
    if (b_.config.pool == "avg") {
      node("GlobalAveragePool", {z}, out + "_gap");
      attr(node("Flatten", {out + "_gap"}, out), "axis", int64_t{1});
    } else {
      attr(node("Flatten", {z}, out), "axis", int64_t{1});
    }
    return out;
  }
  std::string upsample(const std::string& x, const std::string& out) {
    const auto scales = initializer("upsample_scales", {1.f, 1.f, 2.f, 2.f}, {4});
    auto* n = node("Resize", {x, "", scales}, out);
    attr(n, "mode", std::string("nearest"));
    attr(n, "coordinate_transformation_mode", std::string("asymmetric"));
    attr(n, "nearest_mode", std::string("floor"));
    return out;
  }

  // input_norm "standardize": (x - mean) / sqrt(var + eps) per image, over channels and pixels.
  std::string standardize(const std::string& x, const std::string& p) {
    const std::vector<int64_t> axes{1, 2, 3};
    attr(node("ReduceMean", {x}, p + "std_mean"), "axes", axes);
    node("Sub", {x, p + "std_mean"}, p + "std_centred");
    node("Mul", {p + "std_centred", p + "std_centred"}, p + "std_sq");
    attr(node("ReduceMean", {p + "std_sq"}, p + "std_var"), "axes", axes);
    node("Add", {p + "std_var", initializer("input_norm_eps", {ModelConfig::kInputNormEps}, {})}, p + "std_var_eps");
    node("Sqrt", {p + "std_var_eps"}, p + "std_dev");
    node("Div", {p + "std_centred", p + "std_dev"}, p + "std_out");
    return p + "std_out";
  }

  // E, I, S on one input; returns {z_inv, z_spe, F}.
  std::array<std::string, 3> encode(const std::string& input, const std::string& p) {
    const std::string x = b_.config.input_norm == "standardize" ? standardize(input, p) : input;
    std::string h = maxpool(conv_bn_relu(x, "encoder.conv1", "encoder.bn1", p + "e1"), p + "e1_pool");
    if (b_.config.progressive) h = (node("Add", {h, conv_bn_relu(h, "inv1.conv", "inv1.bn", p + "inv1")}, p + "h1"), p + "h1");
    h = maxpool(conv_bn_relu(h, "encoder.conv2", "encoder.bn2", p + "e2"), p + "e2_pool");
    const std::string f = maxpool(conv_bn_relu(h, "encoder.conv3", "encoder.bn3", p + "e3"), p + "f");
    const std::string zi = conv_bn_relu(f, "inv.conv", "inv.bn", p + "inv_out");
    std::string zs;
    if (b_.config.variant == "vector") zs = (node("Sub", {f, zi}, p + "spe_out"), p + "spe_out");
    else zs = conv_bn_relu(f, "spe.conv", "spe.bn", p + "spe_out");
    return {zi, zs, f};
  }
  std::string pixel_decoder(const std::string& zi, const std::string& zs, const std::string& out) {
    auto* cat = node("Concat", {zi, zs}, out + "_cat");
    attr(cat, "axis", int64_t{1});
    std::string h = relu(conv(out + "_cat", "pix_dec.conv1", out + "_c1"), out + "_r1");
    h = relu(conv(upsample(h, out + "_u1"), "pix_dec.conv2", out + "_c2"), out + "_r2");
    h = relu(conv(upsample(h, out + "_u2"), "pix_dec.conv3", out + "_c3"), out + "_r3");
    h = conv(upsample(h, out + "_u3"), "pix_dec.conv4", out + "_c4");
    node("Tanh", {h}, out);
    return out;
  }

 private:
  const BundleData& b_;
  onnx::GraphProto* g_;
  std::set<std::string> added_;
};

void add_value(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list, const std::string& name,
               const std::vector<int64_t>& dims) {
  auto* v = list->Add();
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = t->mutable_shape();
  shape->add_dim()->set_dim_param("N");
  for (auto d : dims) shape->add_dim()->set_dim_value(d);
}

}  // namespace

OnnxExportResult export_onnx(const std::string& bundle_dir, const std::string& out_path) {
  const BundleData b = read_bundle(bundle_dir);
  const ModelConfig& c = b.config;
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("dida");
  model.set_model_version(1);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  auto* g = model.mutable_graph();
  g->set_name("dida");
  GraphBuilder gb(b, g);
  const int s = c.image_size, fs = c.feature_size(), f = c.feature_channels();
  add_value(g->mutable_input(), "input", {c.in_channels, s, s});
  add_value(g->mutable_input(), "style", {c.in_channels, s, s});

  const auto [zi, zs, fmap] = gb.encode("input", "");
  gb.node("Identity", {zi}, "z_inv");
  gb.node("Identity", {zs}, "z_spe");
  const std::string p_inv = gb.pool(zi, "p_inv"), p_spe = gb.pool(zs, "p_spe");
  gb.head(p_inv, "classifier", "logits");
  GraphBuilder::attr(gb.node("Softmax", {"logits"}, "probs"), "axis", int64_t{1});
  gb.head(p_inv, "dom_inv", "dom_inv");
  gb.head(p_spe, "dom_spe", "dom_spe");
  GraphBuilder::attr(gb.node("Concat", {zi, zs}, "feat_cat"), "axis", int64_t{1});
  gb.conv("feat_cat", "feat_dec", "feat_rec");
  if (c.pixel_decoder) {
    gb.pixel_decoder(zi, zs, "pix_rec");
    const auto style = gb.encode("style", "style_");
    gb.pixel_decoder(zi, style[1], "swap");
  }
  (void)fmap;
  add_value(g->mutable_output(), "logits", {c.num_classes});
  add_value(g->mutable_output(), "probs", {c.num_classes});
  add_value(g->mutable_output(), "z_inv", {f, fs, fs});
  add_value(g->mutable_output(), "z_spe", {f, fs, fs});
  add_value(g->mutable_output(), "dom_inv", {2});
  add_value(g->mutable_output(), "dom_spe", {2});
  add_value(g->mutable_output(), "feat_rec", {f, fs, fs});
  if (c.pixel_decoder) {
    add_value(g->mutable_output(), "pix_rec", {c.in_channels, s, s});
    add_value(g->mutable_output(), "swap", {c.in_channels, s, s});
  }
  auto* meta = model.add_metadata_props();
  meta->set_key("dida_bundle_config");
  meta->set_value(b.card.dump());

  try {
    onnx::checker::check_model(model);
    onnx::shape_inference::InferShapes(model);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw std::runtime_error(out_path + ": the ONNX model does not pass onnx::checker (" + what.substr(0, what.find('\n')) + ")");
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw std::runtime_error(out_path + ": ONNX serialisation failed");
  write_file_atomic(out_path, bytes.data(), bytes.size());

  OnnxExportResult r;
  r.path = out_path;
  r.bytes = bytes.size();
  r.crc32 = crc32(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  // Only the bundle's own ONNX file is recorded in its config.json: a copy written elsewhere must not
  // change the record of the file that stays in the bundle.
  namespace stdfs = std::filesystem;
  r.recorded = stdfs::weakly_canonical(out_path) == stdfs::weakly_canonical(stdfs::path(bundle_dir) / "model.onnx");
  if (r.recorded) {
    nlohmann::json card = b.card;
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", r.crc32);
    card["onnx"] = {{"file", "model.onnx"}, {"bytes", r.bytes}, {"crc32", hex}, {"opset", 13}};
    const std::string text = card.dump(2) + "\n";
    write_file_atomic(bundle_dir + "/config.json", text.data(), text.size());
  }
  return r;
}

}  // namespace dida
