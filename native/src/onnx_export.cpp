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
  GraphBuilder(const BundleData& b, const Network& net, onnx::GraphProto* g) : b_(b), net_(net), g_(g) {}

  std::string initializer(const std::string& name, const std::vector<float>& values, const std::vector<int64_t>& dims) {
    if (!added_.insert(name).second) return name;
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
    return name;
  }
  std::string initializer_i64(const std::string& name, const std::vector<int64_t>& values) {
    if (!added_.insert(name).second) return name;
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int64_t)));
    return name;
  }
  std::string weight(const std::string& name) {
    const std::string module = name.substr(0, name.rfind('.'));
    for (const auto& spec : parameter_specs(net_.module(module)))
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

  // (x - mean) / sqrt(var + eps) over the given axes (both normalisations use eps 1e-5).
  void normalize(const std::string& x, const std::vector<int64_t>& axes, const std::string& out) {
    const std::string p = out + "/";
    attr(node("ReduceMean", {x}, p + "mean"), "axes", axes);
    node("Sub", {x, p + "mean"}, p + "centred");
    node("Mul", {p + "centred", p + "centred"}, p + "sq");
    attr(node("ReduceMean", {p + "sq"}, p + "var"), "axes", axes);
    node("Add", {p + "var", initializer("input_norm_eps", {ModelConfig::kInputNormEps}, {})}, p + "var_eps");
    node("Sqrt", {p + "var_eps"}, p + "dev");
    node("Div", {p + "centred", p + "dev"}, out);
  }

  // One layer of the network description as ONNX nodes; its output keeps the layer's value name.
  void layer(const Layer& l) {
    const std::string& x = l.in.empty() ? std::string() : l.in[0];
    switch (l.op) {
      case Op::Standardize:  // per image, over channels and pixels
        normalize(x, {1, 2, 3}, l.out);
        break;
      case Op::InstanceNorm:  // per image and channel, over pixels
        normalize(x, {2, 3}, l.out);
        break;
      case Op::Conv: {
        const ParamModule& m = net_.module(l.module);
        auto* n = node("Conv", {x, weight(m.name + ".weight"), weight(m.name + ".bias")}, l.out);
        attr(n, "kernel_shape", std::vector<int64_t>{m.kernel, m.kernel});
        const int64_t pad = m.kernel / 2;
        attr(n, "pads", std::vector<int64_t>{pad, pad, pad, pad});
        if (m.stride != 1) attr(n, "strides", std::vector<int64_t>{m.stride, m.stride});  // the default 1 unwritten: files unchanged
        break;
      }
      case Op::BatchNorm:
        attr(node("BatchNormalization", {x, weight(l.module + ".weight"), weight(l.module + ".bias"),
                                         weight(l.module + ".running_mean"), weight(l.module + ".running_var")},
                  l.out),
             "epsilon", 1e-5f);
        break;
      case Op::Linear:
        attr(node("Gemm", {x, weight(l.module + ".weight"), weight(l.module + ".bias")}, l.out), "transB", int64_t{1});
        break;
      case Op::Relu: node("Relu", {x}, l.out); break;
      case Op::Elu: node("Elu", {x}, l.out); break;
      case Op::Tanh: node("Tanh", {x}, l.out); break;
      case Op::LeakyRelu: attr(node("LeakyRelu", {x}, l.out), "alpha", 0.2f); break;
      case Op::MaxPool2: {
        auto* n = node("MaxPool", {x}, l.out);
        attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
        attr(n, "strides", std::vector<int64_t>{2, 2});
        break;
      }
      case Op::Upsample2: {
        auto* n = node("Resize", {x, "", initializer("upsample_scales", {1.f, 1.f, 2.f, 2.f}, {4})}, l.out);
        attr(n, "mode", std::string("nearest"));
        attr(n, "coordinate_transformation_mode", std::string("asymmetric"));
        attr(n, "nearest_mode", std::string("floor"));
        break;
      }
      case Op::GlobalAvgPool:
        node("GlobalAveragePool", {x}, l.out + "/gap");
        attr(node("Flatten", {l.out + "/gap"}, l.out), "axis", int64_t{1});
        break;
      case Op::AdaIn: {  // instance norm, then [N, C] scale and shift as [N, C, 1, 1]
        const std::string axes = initializer_i64("adain_axes", {2, 3});
        normalize(x, {2, 3}, l.out + "/norm");
        node("Unsqueeze", {l.in[2], axes}, l.out + "/scale");
        node("Unsqueeze", {l.in[1], axes}, l.out + "/shift");
        node("Mul", {l.out + "/norm", l.out + "/scale"}, l.out + "/scaled");
        node("Add", {l.out + "/scaled", l.out + "/shift"}, l.out);
        break;
      }
      case Op::SpatialMean:  // each channel's mean, expanded back to the map's shape
        node("GlobalAveragePool", {x}, l.out + "/gap");
        node("Shape", {x}, l.out + "/shape");
        node("Expand", {l.out + "/gap", l.out + "/shape"}, l.out);
        break;
      case Op::Flatten: attr(node("Flatten", {x}, l.out), "axis", int64_t{1}); break;
      case Op::UnflattenAs:  // Flatten's inverse: the reference map's shape
        node("Shape", {l.in[1]}, l.out + "/shape");
        node("Reshape", {x, l.out + "/shape"}, l.out);
        break;
      case Op::Add: node("Add", {x, l.in[1]}, l.out); break;
      case Op::Sub: node("Sub", {x, l.in[1]}, l.out); break;
      case Op::Concat: attr(node("Concat", {x, l.in[1]}, l.out), "axis", int64_t{1}); break;
      case Op::Softmax: attr(node("Softmax", {x}, l.out), "axis", int64_t{1}); break;
      case Op::SoftClip: throw std::logic_error("SoftClip (MINE's T) is training-only and not exported");
    }
  }

 private:
  const BundleData& b_;
  const Network& net_;
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

namespace {

// Graph `name` of the network as an ONNX model (opset 13), checked, serialised.
std::string graph_to_onnx(const BundleData& b, const Network& net, const std::string& name) {
  const Graph& graph = net.graph(name);
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("dida");
  model.set_model_version(1);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  auto* g = model.mutable_graph();
  g->set_name("dida_" + name);
  GraphBuilder gb(b, net, g);
  // Inputs are images, but the decoder's, which are feature maps.
  std::map<std::string, std::vector<int64_t>> given;
  const int64_t f = b.config.feature_channels(), fs = b.config.feature_size();
  for (const auto& in : graph.inputs)
    if (in == "z_inv" || in == "z_spe") given[in] = {f, fs, fs};
  const auto shapes = value_shapes(net, graph, given);
  for (const auto& in : graph.inputs) add_value(g->mutable_input(), in, shapes.at(in));
  for (const auto& l : graph.layers) gb.layer(l);
  for (const auto& out : graph.outputs) add_value(g->mutable_output(), out, shapes.at(out));
  auto* meta = model.add_metadata_props();
  meta->set_key("dida_bundle_config");
  meta->set_value(b.card.dump());
  try {
    onnx::checker::check_model(model);
    onnx::shape_inference::InferShapes(model);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw std::runtime_error(name + ".onnx: the ONNX model does not pass onnx::checker (" + what.substr(0, what.find('\n')) + ")");
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw std::runtime_error(name + ".onnx: ONNX serialisation failed");
  return bytes;
}

}  // namespace

const std::vector<OnnxFile>& onnx_files() {
  static const std::vector<OnnxFile> files = {
      {"predict", "onnx", "model.onnx"}, {"swap", "swap_onnx", "swap.onnx"}, {"pix_dec", "decoder_onnx", "decoder.onnx"}};
  return files;
}

std::vector<OnnxExportResult> export_onnx(const std::string& bundle_dir, const std::string& out_dir) {
  namespace stdfs = std::filesystem;
  if (stdfs::path(out_dir).extension() == ".onnx")
    throw std::runtime_error(out_dir + ": --out names a folder (the export writes model.onnx, swap.onnx and decoder.onnx into it)");
  const BundleData b = read_bundle(bundle_dir, BundleAge::ConvertibleToo);
  const Network net = describe_network(b.config);
  // Only the bundle's own ONNX files are recorded in its config.json: copies written elsewhere must
  // not change the record of the files that stay in the bundle.
  std::error_code ec;
  stdfs::create_directories(out_dir, ec);
  const bool own = stdfs::weakly_canonical(out_dir) == stdfs::weakly_canonical(bundle_dir);
  std::vector<OnnxExportResult> results;
  nlohmann::json card = b.card;
  for (const auto& [graph, key, file] : onnx_files()) {
    if (!net.graphs.count(graph)) continue;  // a model without a pixel decoder has no swap or decoder
    const std::string bytes = graph_to_onnx(b, net, graph);
    OnnxExportResult r;
    r.path = (stdfs::path(out_dir) / file).string();
    write_file_atomic(r.path, bytes.data(), bytes.size());
    r.bytes = bytes.size();
    r.crc32 = crc32(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    r.recorded = own;
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", r.crc32);
    card[key] = {{"file", file}, {"bytes", r.bytes}, {"crc32", hex}, {"opset", 13}};
    results.push_back(r);
  }
  if (own) {  // and an older bundle becomes one of this version (its tensors are the same)
    card["format_version"] = kBundleFormatVersion;
    card["training_only_tensors"] = training_only_tensors(b.config);
    const std::string text = card.dump(2) + "\n";
    write_file_atomic(bundle_dir + "/config.json", text.data(), text.size());
  }
  return results;
}

}  // namespace dida
