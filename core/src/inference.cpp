#include "dida/inference.hpp"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <stdexcept>
#ifndef __EMSCRIPTEN__
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#endif

#include "dida/safetensors.hpp"

namespace dida {
namespace {

using MatRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void maxpool2(const Tensor4& x, Tensor4& y) {
  y = Tensor4(x.n, x.c, x.h / 2, x.w / 2);
  for (int i = 0; i < x.n; ++i)
    for (int c = 0; c < x.c; ++c) {
      const float* src = x.item(i) + static_cast<std::size_t>(c) * x.h * x.w;
      float* dst = y.item(i) + static_cast<std::size_t>(c) * y.h * y.w;
      for (int yy = 0; yy < y.h; ++yy)
        for (int xx = 0; xx < y.w; ++xx) {
          const float* p = src + 2 * yy * x.w + 2 * xx;
          dst[yy * y.w + xx] = std::max(std::max(p[0], p[1]), std::max(p[x.w], p[x.w + 1]));
        }
    }
}

Tensor4 upsample2(const Tensor4& x) {
  Tensor4 y(x.n, x.c, x.h * 2, x.w * 2);
  for (int i = 0; i < x.n; ++i)
    for (int c = 0; c < x.c; ++c) {
      const float* src = x.item(i) + static_cast<std::size_t>(c) * x.h * x.w;
      float* dst = y.item(i) + static_cast<std::size_t>(c) * y.h * y.w;
      for (int yy = 0; yy < y.h; ++yy)
        for (int xx = 0; xx < y.w; ++xx) dst[yy * y.w + xx] = src[(yy / 2) * x.w + xx / 2];
    }
  return y;
}

Tensor4 concat_channels(const Tensor4& a, const Tensor4& b) {
  if (a.n != b.n || a.h != b.h || a.w != b.w) throw std::invalid_argument("concat: shapes differ");
  Tensor4 y(a.n, a.c + b.c, a.h, a.w);
  for (int i = 0; i < a.n; ++i) {
    std::copy(a.item(i), a.item(i) + a.per_item(), y.item(i));
    std::copy(b.item(i), b.item(i) + b.per_item(), y.item(i) + a.per_item());
  }
  return y;
}

#ifndef __EMSCRIPTEN__
// Worker threads that live as long as the process: each keeps its own im2col buffers (thread_local
// in Model::apply) from one forward pass to the next, which threads started per call would
// allocate and fault in again every time.
class WorkerPool {
 public:
  static WorkerPool& instance() {
    static WorkerPool pool;
    return pool;
  }
  // Runs job(0) on the calling thread and job(1) .. job(parts - 1) on workers; returns when all are done.
  void run(int parts, const std::function<void(int)>& job) {
    std::unique_lock<std::mutex> lock(mutex_);
    while (static_cast<int>(workers_.size()) < parts - 1) {
      const int id = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, id] { work(id); });
    }
    job_ = &job, parts_ = parts, pending_ = parts - 1, ++generation_;
    wake_.notify_all();
    lock.unlock();
    job(0);
    lock.lock();
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

 private:
  void work(int id) {
    int seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (id >= parts_) continue;
      const std::function<void(int)>* job = job_;
      lock.unlock();
      (*job)(id);
      lock.lock();
      if (--pending_ == 0) done_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  int parts_ = 0, pending_ = 0, generation_ = 0;
  bool stop_ = false;
};
#endif

}  // namespace

// ---- bundles ---------------------------------------------------------------------------------

BundleData parse_bundle(const std::string& config_text, std::vector<std::uint8_t> weights, const std::string& origin,
                        BundleAge age) {
  const std::string config_path = origin + "/config.json", weights_path = origin + "/model.safetensors";
  BundleData b;
  try {
    b.card = nlohmann::json::parse(config_text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(config_path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!b.card.is_object() || !b.card.contains("format") || b.card["format"] != "dida-bundle")
    throw std::runtime_error(config_path + ": not a dida bundle config (\"format\": \"dida-bundle\" missing)");
  const nlohmann::json version = b.card.value("format_version", nlohmann::json());
  if (version == 1 && age == BundleAge::Current)
    throw std::runtime_error(config_path + ": bundle format_version 1 is an older layout (this dida reads " +
                             std::to_string(kBundleFormatVersion) + "); convert it in place with: dida export " + origin);
  if (version != kBundleFormatVersion && version != 1)
    throw std::runtime_error(config_path + ": bundle format_version " + version.dump() + " is not supported (this dida reads " +
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
  const auto config = read_file_bytes(dir + "/config.json");
  return parse_bundle(std::string(config.begin(), config.end()), read_file_bytes(dir + "/model.safetensors"), dir, age);
}

// ---- model ----------------------------------------------------------------------------------

Model::Model(const BundleData& b) : config_(b.config), card_(b.card), network_(describe_network(b.config)) {
  for (const auto& name : Network::inference_graphs())
    if (network_.graphs.count(name)) programs_[name] = compile(network_.graph(name), b);
}

// A graph -> steps over numbered values. A convolution absorbs the batch norm and the ReLU that
// follow it when nothing else reads its output (batch norm folded into its weights, as at
// inference the statistics are fixed); a linear layer absorbs a following ReLU.
Model::Program Model::compile(const Graph& g, const BundleData& b) {
  Program p;
  auto id = [&p](const std::string& v) {
    const auto it = p.values.find(v);
    if (it != p.values.end()) return it->second;
    const int i = static_cast<int>(p.values.size());
    p.values[v] = i;
    return i;
  };
  std::map<std::string, int> readers;
  for (const auto& l : g.layers)
    for (const auto& i : l.in) ++readers[i];
  for (const auto& o : g.outputs) ++readers[o];
  // True when layer k exists, is `op`, and is the only reader of `value`.
  auto absorbs = [&](std::size_t k, Op op, const std::string& value) {
    return k < g.layers.size() && g.layers[k].op == op && g.layers[k].in.size() == 1 && g.layers[k].in[0] == value &&
           readers[value] == 1;
  };
  for (const auto& i : g.inputs) p.inputs.push_back(id(i));
  for (std::size_t k = 0; k < g.layers.size(); ++k) {
    const Layer& l = g.layers[k];
    Step s;
    s.op = l.op;
    for (const auto& i : l.in) s.in.push_back(id(i));
    std::string out = l.out;
    if (l.op == Op::Conv) {
      const ParamModule& m = network_.module(l.module);
      Conv c;
      c.in = m.in, c.out = m.out, c.k = m.kernel;
      c.w = b.tensors.at(m.name + ".weight");
      c.b = b.tensors.at(m.name + ".bias");
      if (absorbs(k + 1, Op::BatchNorm, out)) {  // y = (conv - mean) * gamma / sqrt(var + eps) + beta
        const std::string bn = g.layers[++k].module;
        const auto &gamma = b.tensors.at(bn + ".weight"), &beta = b.tensors.at(bn + ".bias");
        const auto &mean = b.tensors.at(bn + ".running_mean"), &var = b.tensors.at(bn + ".running_var");
        const std::size_t per_out = c.w.size() / static_cast<std::size_t>(c.out);
        for (std::size_t o = 0; o < static_cast<std::size_t>(c.out); ++o) {
          const float scale = gamma[o] / std::sqrt(var[o] + 1e-5f);
          for (std::size_t j = 0; j < per_out; ++j) c.w[o * per_out + j] *= scale;
          c.b[o] = (c.b[o] - mean[o]) * scale + beta[o];
        }
        out = g.layers[k].out;
      }
      if (absorbs(k + 1, Op::Relu, out)) s.relu = true, out = g.layers[++k].out;
      s.param = static_cast<int>(convs_.size());
      convs_.push_back(std::move(c));
    } else if (l.op == Op::Linear) {
      Linear lin;
      lin.w = b.tensors.at(l.module + ".weight");
      lin.b = b.tensors.at(l.module + ".bias");
      lin.out = static_cast<int>(lin.b.size());
      lin.in = static_cast<int>(lin.w.size() / lin.b.size());
      if (absorbs(k + 1, Op::Relu, out)) s.relu = true, out = g.layers[++k].out;
      s.param = static_cast<int>(linears_.size());
      linears_.push_back(std::move(lin));
    } else if (l.op == Op::BatchNorm) {  // on its own: a per-channel scale and shift
      Linear a;
      const auto &gamma = b.tensors.at(l.module + ".weight"), &beta = b.tensors.at(l.module + ".bias");
      const auto &mean = b.tensors.at(l.module + ".running_mean"), &var = b.tensors.at(l.module + ".running_var");
      for (std::size_t o = 0; o < gamma.size(); ++o) {
        a.w.push_back(gamma[o] / std::sqrt(var[o] + 1e-5f));
        a.b.push_back(beta[o] - mean[o] * a.w.back());
      }
      s.param = static_cast<int>(linears_.size());
      linears_.push_back(std::move(a));
    } else if (l.op == Op::Elu || l.op == Op::SoftClip) {
      throw std::invalid_argument(std::string("the core does not run ") + op_name(l.op) + " (a training-only layer)");
    }
    s.out = id(out);
    p.steps.push_back(std::move(s));
  }
  return p;
}

namespace {
Tensor4 elementwise(const Tensor4& a, const Tensor4& b, float sign) {
  if (a.data.size() != b.data.size()) throw std::invalid_argument("add/sub: shapes differ");
  Tensor4 y = a;
  for (std::size_t j = 0; j < y.data.size(); ++j) y.data[j] += sign * b.data[j];
  return y;
}
Tensor4 global_avg_pool(const Tensor4& z) {
  Tensor4 r(z.n, z.c, 1, 1);
  const int hw = z.h * z.w;
  for (int i = 0; i < z.n; ++i)
    for (int c = 0; c < z.c; ++c) {
      const float* p = z.item(i) + static_cast<std::size_t>(c) * hw;
      double s = 0;
      for (int j = 0; j < hw; ++j) s += p[j];
      r.item(i)[c] = static_cast<float>(s / hw);
    }
  return r;
}
Rows to_rows(const Tensor4& t) {
  Rows r;
  r.n = t.n, r.d = static_cast<int>(t.per_item()), r.data = t.data;
  return r;
}
}  // namespace

std::vector<Tensor4> Model::run(const std::string& graph, const std::vector<const Tensor4*>& inputs) const {
  const auto it = programs_.find(graph);
  if (it == programs_.end()) throw std::invalid_argument("this model has no \"" + graph + "\" graph");
  const Program& p = it->second;
  if (inputs.size() != p.inputs.size()) throw std::invalid_argument(graph + ": wrong number of inputs");
  std::vector<Tensor4> v(p.values.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) v[static_cast<std::size_t>(p.inputs[i])] = *inputs[i];
  for (const Step& s : p.steps) {
    const Tensor4& x = v[static_cast<std::size_t>(s.in[0])];
    Tensor4& y = v[static_cast<std::size_t>(s.out)];
    switch (s.op) {
      case Op::Standardize: y = standardize_images(x); break;
      case Op::Conv: y = apply(convs_[static_cast<std::size_t>(s.param)], x, s.relu); break;
      case Op::Linear: y = apply(linears_[static_cast<std::size_t>(s.param)], x, s.relu); break;
      case Op::BatchNorm: {
        const Linear& a = linears_[static_cast<std::size_t>(s.param)];
        y = x;
        const std::size_t hw = static_cast<std::size_t>(x.h) * x.w;
        for (int i = 0; i < x.n; ++i)
          for (int c = 0; c < x.c; ++c)
            for (std::size_t j = 0; j < hw; ++j) {
              float& e = y.item(i)[static_cast<std::size_t>(c) * hw + j];
              e = e * a.w[static_cast<std::size_t>(c)] + a.b[static_cast<std::size_t>(c)];
            }
        break;
      }
      case Op::Relu: y = x; for (float& e : y.data) e = std::max(e, 0.f); break;
      case Op::Tanh: y = x; for (float& e : y.data) e = std::tanh(e); break;
      case Op::MaxPool2: maxpool2(x, y); break;
      case Op::Upsample2: y = upsample2(x); break;
      case Op::GlobalAvgPool: y = global_avg_pool(x); break;
      case Op::Flatten: y = x, y.c = static_cast<int>(x.per_item()), y.h = y.w = 1; break;
      case Op::Add: y = elementwise(x, v[static_cast<std::size_t>(s.in[1])], 1.f); break;
      case Op::Sub: y = elementwise(x, v[static_cast<std::size_t>(s.in[1])], -1.f); break;
      case Op::Concat: y = concat_channels(x, v[static_cast<std::size_t>(s.in[1])]); break;
      case Op::Softmax:
        y = x;
        for (int i = 0; i < x.n; ++i) {
          const auto q = softmax(x.item(i), static_cast<int>(x.per_item()));
          std::copy(q.begin(), q.end(), y.item(i));
        }
        break;
      default: throw std::logic_error(std::string("core: ") + op_name(s.op) + " was not compiled");
    }
  }
  return v;
}

std::vector<std::string> Model::class_names() const {
  if (card_.contains("class_names") && card_["class_names"].is_array()) return card_["class_names"].get<std::vector<std::string>>();
  std::vector<std::string> names;
  for (int i = 0; i < config_.num_classes; ++i) names.push_back(std::to_string(i));
  return names;
}

#ifdef __wasm_simd128__
// C (m x n) = A (m x k) * B (k x n), all row-major, with WebAssembly SIMD. Eigen 3.4 has no
// WebAssembly packet math, so its GEMM runs scalar there; this kernel keeps a 4 x 8 block of C in
// registers and streams rows of B.
static void gemm_simd(const float* a, const float* b, float* c, int m, int k, int n) {
  int i = 0;
  for (; i + 4 <= m; i += 4) {
    const float* a0 = a + static_cast<std::size_t>(i) * k;
    int j = 0;
    for (; j + 8 <= n; j += 8) {
      v128_t c00 = wasm_f32x4_splat(0.f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      const float* bp = b + j;
      for (int p = 0; p < k; ++p, bp += n) {
        const v128_t b0 = wasm_v128_load(bp), b1 = wasm_v128_load(bp + 4);
        const v128_t x0 = wasm_f32x4_splat(a0[p]), x1 = wasm_f32x4_splat(a0[k + p]);
        const v128_t x2 = wasm_f32x4_splat(a0[2 * k + p]), x3 = wasm_f32x4_splat(a0[3 * k + p]);
        c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(x0, b0)), c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(x0, b1));
        c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(x1, b0)), c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(x1, b1));
        c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(x2, b0)), c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(x2, b1));
        c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(x3, b0)), c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(x3, b1));
      }
      float* cp = c + static_cast<std::size_t>(i) * n + j;
      wasm_v128_store(cp, c00), wasm_v128_store(cp + 4, c01);
      wasm_v128_store(cp + n, c10), wasm_v128_store(cp + n + 4, c11);
      wasm_v128_store(cp + 2 * n, c20), wasm_v128_store(cp + 2 * n + 4, c21);
      wasm_v128_store(cp + 3 * n, c30), wasm_v128_store(cp + 3 * n + 4, c31);
    }
    for (; j < n; ++j)  // columns left over
      for (int r = 0; r < 4; ++r) {
        float sum = 0.f;
        for (int p = 0; p < k; ++p) sum += a0[static_cast<std::size_t>(r) * k + p] * b[static_cast<std::size_t>(p) * n + j];
        c[static_cast<std::size_t>(i + r) * n + j] = sum;
      }
  }
  for (; i < m; ++i)  // rows left over
    for (int j = 0; j < n; ++j) {
      float sum = 0.f;
      for (int p = 0; p < k; ++p) sum += a[static_cast<std::size_t>(i) * k + p] * b[static_cast<std::size_t>(p) * n + j];
      c[static_cast<std::size_t>(i) * n + j] = sum;
    }
}
#endif

Tensor4 Model::apply(const Conv& c, const Tensor4& x, bool relu) const {
  if (x.c != c.in) throw std::invalid_argument("conv: input has " + std::to_string(x.c) + " channels, expected " + std::to_string(c.in));
  const int pad = c.k / 2, hw = x.h * x.w, kk = c.k * c.k;
  Tensor4 y(x.n, c.out, x.h, x.w);
  // Images are taken in groups so that one GEMM has about kGemmColumns columns (512 measured best of 256-4096): the deep layers'
  // maps are small (4x4, 8x8), and one GEMM per image would be too skinny to run fast.
  constexpr int kGemmColumns = 512;
  const int group = std::max(1, std::min(x.n, kGemmColumns / hw));
  // im2col and output buffers, kept across calls and layers (no allocation per layer).
  thread_local std::vector<float> buffer, result;
  const Eigen::Index rows = static_cast<Eigen::Index>(c.in) * kk;
  buffer.resize(static_cast<std::size_t>(rows) * group * hw);
  result.resize(static_cast<std::size_t>(c.out) * group * hw);
  const Eigen::Map<const MatRM> w(c.w.data(), c.out, rows);
  const Eigen::Map<const Eigen::VectorXf> bias(c.b.data(), c.out);
  for (int first = 0; first < x.n; first += group) {
    const int g = std::min(group, x.n - first), width = g * hw;
    Eigen::Map<MatRM> cols(buffer.data(), rows, width);
    for (int j = 0; j < g; ++j) {
      const float* src = x.item(first + j);
      for (int ci = 0; ci < c.in; ++ci)
        for (int ky = 0; ky < c.k; ++ky)
          for (int kx = 0; kx < c.k; ++kx) {
            float* row = cols.data() + (static_cast<Eigen::Index>(ci) * kk + ky * c.k + kx) * width + j * hw;
            // Output columns [x0, x1) read inside the image; the ones left and right of them are padding.
            const int shift = kx - pad, x0 = std::max(0, -shift), x1 = std::min(x.w, x.w - shift);
            for (int yy = 0; yy < x.h; ++yy) {
              float* out_row = row + yy * x.w;
              const int sy = yy + ky - pad;
              if (sy < 0 || sy >= x.h || x0 >= x1) {
                for (int xx = 0; xx < x.w; ++xx) out_row[xx] = 0.f;
                continue;
              }
              const float* line = src + (static_cast<std::size_t>(ci) * x.h + sy) * x.w + shift;
              // Plain loops, not memcpy/memset: the deep maps' lines are 4-8 values, too short for a call.
              for (int xx = 0; xx < x0; ++xx) out_row[xx] = 0.f;
              for (int xx = x0; xx < x1; ++xx) out_row[xx] = line[xx];
              for (int xx = x1; xx < x.w; ++xx) out_row[xx] = 0.f;
            }
          }
    }
    Eigen::Map<MatRM> out(result.data(), c.out, width);
#ifdef __wasm_simd128__
    gemm_simd(c.w.data(), cols.data(), result.data(), c.out, static_cast<int>(rows), width);
#else
    out.noalias() = w * cols;
#endif
    out.colwise() += bias;
    if (relu) out = out.cwiseMax(0.f);
    // [out][image][position] -> NCHW
    for (int j = 0; j < g; ++j)
      for (int m = 0; m < c.out; ++m)
        std::copy_n(result.data() + static_cast<std::size_t>(m) * width + static_cast<std::size_t>(j) * hw, hw,
                    y.item(first + j) + static_cast<std::size_t>(m) * hw);
  }
  return y;
}

Tensor4 Model::apply(const Linear& l, const Tensor4& x, bool relu) const {
  if (static_cast<int>(x.per_item()) != l.in)
    throw std::invalid_argument("linear: input has " + std::to_string(x.per_item()) + " features, expected " + std::to_string(l.in));
  Tensor4 y(x.n, l.out, 1, 1);
  const Eigen::Map<const MatRM> in(x.data.data(), x.n, l.in);
  const Eigen::Map<const MatRM> w(l.w.data(), l.out, l.in);
  const Eigen::Map<const Eigen::RowVectorXf> bias(l.b.data(), l.out);
  Eigen::Map<MatRM> out(y.data.data(), y.n, l.out);
  out.noalias() = in * w.transpose();
  out.rowwise() += bias;
  if (relu) out = out.cwiseMax(0.f);
  return y;
}

Rows Model::pool(const Tensor4& z) const {
  if (config_.pool == "flatten") return to_rows(z);
  return to_rows(global_avg_pool(z));
}

Model::Outputs Model::forward(const Tensor4& x) const {
  if (x.c != config_.in_channels || x.h != config_.image_size || x.w != config_.image_size)
    throw std::invalid_argument("input must be N x " + std::to_string(config_.in_channels) + " x " +
                                std::to_string(config_.image_size) + " x " + std::to_string(config_.image_size));
  // The batch runs through the whole network in chunks of kForwardChunk images: a chunk's maps
  // stay in the cache and its buffers are reused, where one pass over 256 images spent a third of
  // its time zero-filling and page-faulting maps of 16 MB. Natively the chunks are shared among
  // the worker threads; the outputs are concatenated in the batch's order.
  constexpr int kForwardChunk = 32;
  const int chunks = (x.n + kForwardChunk - 1) / kForwardChunk;
  if (chunks <= 1) return forward_one_thread(x);
  std::vector<Outputs> out(static_cast<std::size_t>(chunks));
  auto run_chunk = [&](int c) {
    const int first = c * kForwardChunk, n = std::min(kForwardChunk, x.n - first);
    Tensor4 in(n, x.c, x.h, x.w);
    std::copy_n(x.item(first), static_cast<std::size_t>(n) * x.per_item(), in.data.data());
    out[static_cast<std::size_t>(c)] = forward_one_thread(in);
  };
#ifndef __EMSCRIPTEN__
  const int parts = std::min(threads_, chunks);
  if (parts > 1) {
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(parts));
    const std::function<void(int)> work = [&](int p) {
      try {
        for (int c = p; c < chunks; c += parts) run_chunk(c);
      } catch (...) {
        errors[static_cast<std::size_t>(p)] = std::current_exception();
      }
    };
    WorkerPool::instance().run(parts, work);
    for (const auto& e : errors)
      if (e) std::rethrow_exception(e);
  } else
#endif
  {
    for (int c = 0; c < chunks; ++c) run_chunk(c);
  }
  Outputs o = std::move(out[0]);
  auto append = [](Tensor4& a, const Tensor4& b) { a.data.insert(a.data.end(), b.data.begin(), b.data.end()), a.n += b.n; };
  auto append_rows = [](Rows& a, const Rows& b) { a.data.insert(a.data.end(), b.data.begin(), b.data.end()), a.n += b.n; };
  for (std::size_t p = 1; p < out.size(); ++p) {
    append(o.f, out[p].f), append(o.z_inv, out[p].z_inv), append(o.z_spe, out[p].z_spe);
    append_rows(o.p_inv, out[p].p_inv), append_rows(o.p_spe, out[p].p_spe), append_rows(o.logits, out[p].logits);
    append_rows(o.probs, out[p].probs), append_rows(o.dom_inv, out[p].dom_inv), append_rows(o.dom_spe, out[p].dom_spe);
  }
  return o;
}

Model::Outputs Model::forward_one_thread(const Tensor4& x) const {
  auto v = run("predict", {&x});
  auto take = [&](const char* name) { return std::move(v.at(static_cast<std::size_t>(programs_.at("predict").values.at(name)))); };
  Outputs o;
  o.f = take("f"), o.z_inv = take("z_inv"), o.z_spe = take("z_spe");
  o.p_inv = to_rows(take("p_inv")), o.p_spe = to_rows(take("p_spe"));
  o.logits = to_rows(take("logits")), o.probs = to_rows(take("probs"));
  o.dom_inv = to_rows(take("dom_inv")), o.dom_spe = to_rows(take("dom_spe"));
  return o;
}

Tensor4 Model::reconstruct_features(const Tensor4& z_inv, const Tensor4& z_spe) const {
  auto v = run("feat_dec", {&z_inv, &z_spe});
  return std::move(v.at(static_cast<std::size_t>(programs_.at("feat_dec").values.at("feat_rec"))));
}

Tensor4 Model::reconstruct_pixels(const Tensor4& z_inv, const Tensor4& z_spe) const {
  if (!config_.pixel_decoder) throw std::invalid_argument("this model has no pixel decoder");
  auto v = run("pix_dec", {&z_inv, &z_spe});
  return std::move(v.at(static_cast<std::size_t>(programs_.at("pix_dec").values.at("pix_rec"))));
}

Tensor4 Model::swap(const Tensor4& content, const Tensor4& style) const {
  if (!config_.pixel_decoder) throw std::invalid_argument("this model has no pixel decoder");
  auto v = run("swap", {&content, &style});
  return std::move(v.at(static_cast<std::size_t>(programs_.at("swap").values.at("swap"))));
}

Tensor4 standardize_images(const Tensor4& x) {
  Tensor4 y = x;
  const std::size_t n = x.per_item();
  for (int i = 0; i < x.n; ++i) {
    float* p = y.item(i);
    double sum = 0;
    for (std::size_t j = 0; j < n; ++j) sum += p[j];
    const double mean = sum / static_cast<double>(n);
    double sq = 0;
    for (std::size_t j = 0; j < n; ++j) sq += (p[j] - mean) * (p[j] - mean);
    const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + ModelConfig::kInputNormEps);
    for (std::size_t j = 0; j < n; ++j) p[j] = static_cast<float>((p[j] - mean) * inv);
  }
  return y;
}

Tensor4 pixels_to_input(const std::vector<std::uint8_t>& pixels, int n, int h, int w, int c) {
  if (pixels.size() != static_cast<std::size_t>(n) * h * w * c) throw std::invalid_argument("pixels_to_input: size mismatch");
  Tensor4 t(n, c, h, w);
  for (int i = 0; i < n; ++i)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int ch = 0; ch < c; ++ch)
          t.item(i)[(static_cast<std::size_t>(ch) * h + y) * w + x] =
              static_cast<float>(pixels[((static_cast<std::size_t>(i) * h + y) * w + x) * c + ch]) / 127.5f - 1.f;
  return t;
}

std::vector<std::uint8_t> output_to_pixels(const Tensor4& t) {
  std::vector<std::uint8_t> out(t.data.size());
  for (int i = 0; i < t.n; ++i)
    for (int y = 0; y < t.h; ++y)
      for (int x = 0; x < t.w; ++x)
        for (int ch = 0; ch < t.c; ++ch) {
          const float v = t.item(i)[(static_cast<std::size_t>(ch) * t.h + y) * t.w + x];
          out[((static_cast<std::size_t>(i) * t.h + y) * t.w + x) * t.c + ch] =
              static_cast<std::uint8_t>(std::lround(std::clamp((v + 1.f) * 127.5f, 0.f, 255.f)));
        }
  return out;
}

std::vector<float> softmax(const float* logits, int n) {
  std::vector<float> p(static_cast<std::size_t>(n));
  const float m = *std::max_element(logits, logits + n);
  double s = 0;
  for (int i = 0; i < n; ++i) s += p[static_cast<std::size_t>(i)] = std::exp(logits[i] - m);
  for (float& v : p) v = static_cast<float>(v / s);
  return p;
}

}  // namespace dida
