// The compiled inference graph: a bundle's graphs as steps over numbered values, run on maps in
// either layout (channels-first or channels-last), and the map operations they use.
#include "dida/inference.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <exception>

#include "dida/safetensors.hpp"
#include "worker_pool.hpp"

namespace dida {
namespace {

// Maps inside a forward pass are either N x C x H x W (the API's layout) or channels-last,
// N x H x W x C (what the convolutions read and write); Tensor4's n, c, h, w say the shape in
// both cases and Model::run keeps track of which layout each value is in.
// One layout to the other, image by image (to_last: channels-first -> channels-last).
Tensor4 relayout(const Tensor4& x, bool to_last) {
  Tensor4 y(x.n, x.c, x.h, x.w);
  const std::size_t hw = static_cast<std::size_t>(x.h) * x.w;
  for (int i = 0; i < x.n; ++i) {
    const float* src = x.item(i);
    float* dst = y.item(i);
    for (int c = 0; c < x.c; ++c)
      for (std::size_t p = 0; p < hw; ++p) {
        const std::size_t first = c * hw + p, last = p * x.c + c;
        dst[to_last ? last : first] = src[to_last ? first : last];
      }
  }
  return y;
}

void maxpool2(const Tensor4& x, Tensor4& y, bool channels_last) {
  y = Tensor4(x.n, x.c, x.h / 2, x.w / 2);
  if (channels_last) {
    const std::size_t c = static_cast<std::size_t>(x.c);
    for (int i = 0; i < x.n; ++i)
      for (int yy = 0; yy < y.h; ++yy)
        for (int xx = 0; xx < y.w; ++xx) {
          const float* p = x.item(i) + ((2 * yy) * static_cast<std::size_t>(x.w) + 2 * xx) * c;
          const float* q = p + static_cast<std::size_t>(x.w) * c;
          float* dst = y.item(i) + (static_cast<std::size_t>(yy) * y.w + xx) * c;
          for (std::size_t k = 0; k < c; ++k) dst[k] = std::max(std::max(p[k], p[c + k]), std::max(q[k], q[c + k]));
        }
    return;
  }
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

// Nearest-neighbour x2; in either layout a "pixel" is the run of values one position holds.
Tensor4 upsample2(const Tensor4& x, bool channels_last) {
  Tensor4 y(x.n, x.c, x.h * 2, x.w * 2);
  const int planes = channels_last ? 1 : x.c, run = channels_last ? x.c : 1;
  for (int i = 0; i < x.n; ++i)
    for (int c = 0; c < planes; ++c) {
      const float* src = x.item(i) + static_cast<std::size_t>(c) * x.h * x.w;
      float* dst = y.item(i) + static_cast<std::size_t>(c) * y.h * y.w;
      for (int yy = 0; yy < y.h; ++yy)
        for (int xx = 0; xx < y.w; ++xx)
          std::copy_n(src + (static_cast<std::size_t>(yy / 2) * x.w + xx / 2) * run, run,
                      dst + (static_cast<std::size_t>(yy) * y.w + xx) * run);
    }
  return y;
}

Tensor4 concat_channels(const Tensor4& a, const Tensor4& b, bool channels_last) {
  if (a.n != b.n || a.h != b.h || a.w != b.w) throw std::invalid_argument("concat: shapes differ");
  Tensor4 y(a.n, a.c + b.c, a.h, a.w);
  for (int i = 0; i < a.n; ++i) {
    if (!channels_last) {
      std::copy(a.item(i), a.item(i) + a.per_item(), y.item(i));
      std::copy(b.item(i), b.item(i) + b.per_item(), y.item(i) + a.per_item());
      continue;
    }
    for (std::size_t p = 0; p < static_cast<std::size_t>(a.h) * a.w; ++p) {
      std::copy_n(a.item(i) + p * a.c, a.c, y.item(i) + p * y.c);
      std::copy_n(b.item(i) + p * b.c, b.c, y.item(i) + p * y.c + a.c);
    }
  }
  return y;
}


}  // namespace

// ---- model ----------------------------------------------------------------------------------

Model::Model(const BundleData& b) : config_(b.config), card_(b.card), network_(describe_network(b.config)) {
  for (const auto& name : Network::inference_graphs())
    if (network_.graphs.count(name)) programs_[name] = compile(network_.graph(name), b);
  const Graph& predict = network_.graph("predict");
  kept_ = predict.outputs;
  for (const char* v : {"f", "p_inv", "p_spe"}) kept_.push_back(v);
  const auto shapes = value_shapes(network_, predict);
  for (const auto& v : kept_) kept_as_rows_[v] = shapes.at(v).size() == 1;
  refuse_non_finite_outputs();
}

Model Model::load(const std::string& dir) { return from(read_bundle(dir), dir); }

Model Model::from(const BundleData& bundle, const std::string& origin) {
  try {
    return Model(bundle);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(origin + ": " + e.what());
  }
}

// Finite weights can still overflow (3e38 times a few is inf, and inf - inf is NaN): probe images
// go through every output at load, so such a bundle is refused with a message rather than
// predicting NaN. Four probes, since one can leave a layer all zero after its ReLU: a ramp over
// [-1, 1], the same reversed, mid-grey, and noise of a fixed seed.
void Model::refuse_non_finite_outputs() const {
  const int s = config_.image_size, c = config_.in_channels;
  Tensor4 probe(4, c, s, s);
  const std::size_t per = probe.per_item();
  std::uint32_t state = 12345;
  for (std::size_t i = 0; i < per; ++i) {
    const float ramp = -1.f + 2.f * static_cast<float>(i) / static_cast<float>(std::max<std::size_t>(per - 1, 1));
    state = state * 1664525u + 1013904223u;
    probe.data[i] = ramp, probe.data[per + i] = -ramp, probe.data[2 * per + i] = 0.f;
    probe.data[3 * per + i] = static_cast<float>(state >> 8) / static_cast<float>(1u << 23) - 1.f;
  }
  auto check = [](const std::vector<float>& v, const std::string& name) {
    for (float x : v)
      if (!std::isfinite(x))
        throw std::runtime_error("the model's output " + name +
                                 " is not finite on a probe image (weights too large, or NaN): refused");
  };
  const Outputs out = forward_one_thread(probe);
  for (const auto& v : kept_) check(kept_as_rows_.at(v) ? out.rows(v).data : out.map(v).data, v);
  if (config_.pixel_decoder) check(swap(probe, probe).data, "swap");
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
      if (m.stride != 1) throw std::invalid_argument("core: " + m.name + " has stride " + std::to_string(m.stride) + " (the core convolves at stride 1)");
      std::vector<float> w = b.tensors.at(m.name + ".weight"), bias = b.tensors.at(m.name + ".bias");
      if (absorbs(k + 1, Op::BatchNorm, out)) {  // y = (conv - mean) * gamma / sqrt(var + eps) + beta
        const std::string bn = g.layers[++k].module;
        const auto &gamma = b.tensors.at(bn + ".weight"), &beta = b.tensors.at(bn + ".bias");
        const auto &mean = b.tensors.at(bn + ".running_mean"), &var = b.tensors.at(bn + ".running_var");
        const std::size_t per_out = w.size() / static_cast<std::size_t>(m.out);
        for (std::size_t o = 0; o < static_cast<std::size_t>(m.out); ++o) {
          const float scale = gamma[o] / std::sqrt(var[o] + 1e-5f);
          for (std::size_t j = 0; j < per_out; ++j) w[o * per_out + j] *= scale;
          bias[o] = (bias[o] - mean[o]) * scale + beta[o];
        }
        out = g.layers[k].out;
      }
      if (absorbs(k + 1, Op::Relu, out)) s.relu = true, out = g.layers[++k].out;
      s.param = static_cast<int>(convs_.size());
      convs_.push_back(pack_conv(m.in, m.out, m.kernel, w, bias));
    } else if (l.op == Op::Linear) {
      // A linear layer runs as a 1 x 1 convolution over the batch's rows.
      const auto &w = b.tensors.at(l.module + ".weight"), &bias = b.tensors.at(l.module + ".bias");
      if (absorbs(k + 1, Op::Relu, out)) s.relu = true, out = g.layers[++k].out;
      s.param = static_cast<int>(convs_.size());
      convs_.push_back(pack_conv(static_cast<int>(w.size() / bias.size()), static_cast<int>(bias.size()), 1, w, bias));
    } else if (l.op == Op::BatchNorm) {  // on its own: a per-channel scale and shift
      Scale a;
      const auto &gamma = b.tensors.at(l.module + ".weight"), &beta = b.tensors.at(l.module + ".bias");
      const auto &mean = b.tensors.at(l.module + ".running_mean"), &var = b.tensors.at(l.module + ".running_var");
      for (std::size_t o = 0; o < gamma.size(); ++o) {
        a.w.push_back(gamma[o] / std::sqrt(var[o] + 1e-5f));
        a.b.push_back(beta[o] - mean[o] * a.w.back());
      }
      s.param = static_cast<int>(scales_.size());
      scales_.push_back(std::move(a));
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
// Each channel of each image set, at every position, to its mean over the positions.
Tensor4 spatial_mean(const Tensor4& z) {
  const Tensor4 m = global_avg_pool(z);
  Tensor4 y = z;
  const std::size_t hw = static_cast<std::size_t>(z.h) * z.w;
  for (int i = 0; i < z.n; ++i)
    for (int c = 0; c < z.c; ++c) std::fill_n(y.item(i) + c * hw, hw, m.item(i)[c]);
  return y;
}
Rows to_rows(const Tensor4& t) {
  Rows r;
  r.n = t.n, r.d = static_cast<int>(t.per_item()), r.data = t.data;
  return r;
}
}  // namespace

std::vector<Tensor4> Model::run(const std::string& graph, const std::vector<const Tensor4*>& inputs,
                                const std::vector<std::string>& wanted) const {
  const auto it = programs_.find(graph);
  if (it == programs_.end()) throw std::invalid_argument("this model has no \"" + graph + "\" graph");
  const Program& p = it->second;
  if (inputs.size() != p.inputs.size()) throw std::invalid_argument(graph + ": wrong number of inputs");
  std::vector<Tensor4> v(p.values.size());
  std::vector<char> last(p.values.size(), 0);  // value i is channels-last
  auto channels_first = [&](int i) -> const Tensor4& {
    const auto k = static_cast<std::size_t>(i);
    if (last[k]) v[k] = relayout(v[k], false), last[k] = 0;
    return v[k];
  };
  auto channels_last = [&](int i) -> const Tensor4& {
    const auto k = static_cast<std::size_t>(i);
    if (!last[k]) v[k] = relayout(v[k], true), last[k] = 1;
    return v[k];
  };
  for (std::size_t i = 0; i < inputs.size(); ++i) v[static_cast<std::size_t>(p.inputs[i])] = *inputs[i];
  for (const Step& s : p.steps) {
    const auto out = static_cast<std::size_t>(s.out);
    const int a = s.in[0];
    // Ops that work in either layout give their result in their (first) input's.
    const bool keeps = s.op == Op::Relu || s.op == Op::Tanh || s.op == Op::MaxPool2 || s.op == Op::Upsample2 ||
                       s.op == Op::Add || s.op == Op::Sub || s.op == Op::Concat || s.op == Op::Standardize;
    const bool cl = keeps && last[static_cast<std::size_t>(a)];
    const Tensor4& x = s.op == Op::Conv ? channels_last(a) : keeps ? v[static_cast<std::size_t>(a)] : channels_first(a);
    const Tensor4* second = s.in.size() > 1 ? &(cl ? channels_last(s.in[1]) : channels_first(s.in[1])) : nullptr;
    Tensor4& y = v[out];
    last[out] = s.op == Op::Conv || cl;
    switch (s.op) {
      case Op::Standardize: y = standardize_images(x); break;
      case Op::InstanceNorm: y = instance_normalize(x); break;
      case Op::Conv: {
        const Conv& c = convs_[static_cast<std::size_t>(s.param)];
        if (x.c != c.in)
          throw std::invalid_argument("conv: input has " + std::to_string(x.c) + " channels, expected " + std::to_string(c.in));
        y = Tensor4(x.n, c.out, x.h, x.w);
        conv2d_channels_last(c, x.data.data(), x.n, x.h, x.w, y.data.data(), s.relu);
        break;
      }
      case Op::Linear: {
        const Conv& l = convs_[static_cast<std::size_t>(s.param)];
        if (static_cast<int>(x.per_item()) != l.in)
          throw std::invalid_argument("linear: input has " + std::to_string(x.per_item()) + " features, expected " +
                                      std::to_string(l.in));
        y = Tensor4(x.n, l.out, 1, 1);
        conv2d_channels_last(l, x.data.data(), 1, 1, x.n, y.data.data(), s.relu);
        break;
      }
      case Op::BatchNorm: {
        const Scale& bn = scales_[static_cast<std::size_t>(s.param)];
        y = x;
        const std::size_t hw = static_cast<std::size_t>(x.h) * x.w;
        for (int i = 0; i < x.n; ++i)
          for (int c = 0; c < x.c; ++c)
            for (std::size_t j = 0; j < hw; ++j) {
              float& e = y.item(i)[static_cast<std::size_t>(c) * hw + j];
              e = e * bn.w[static_cast<std::size_t>(c)] + bn.b[static_cast<std::size_t>(c)];
            }
        break;
      }
      case Op::Relu: y = x; for (float& e : y.data) e = std::max(e, 0.f); break;
      case Op::LeakyRelu: y = x; for (float& e : y.data) e = e > 0 ? e : 0.2f * e; break;
      case Op::Tanh: y = x; for (float& e : y.data) e = std::tanh(e); break;
      case Op::MaxPool2: maxpool2(x, y, cl); break;
      case Op::Upsample2: y = upsample2(x, cl); break;
      case Op::GlobalAvgPool: y = global_avg_pool(x); break;
      case Op::SpatialMean: y = spatial_mean(x); break;
      case Op::AdaIn: {  // x instance-normalised, then each image's channels scaled and shifted
        const Tensor4& scale = channels_first(s.in[2]);
        if (second->per_item() != static_cast<std::size_t>(x.c) || scale.per_item() != static_cast<std::size_t>(x.c))
          throw std::invalid_argument("adain: shift and scale must have one value per channel");
        y = instance_normalize(x);
        const std::size_t hw = static_cast<std::size_t>(x.h) * x.w;
        for (int i = 0; i < x.n; ++i)
          for (int c = 0; c < x.c; ++c) {
            const float a = scale.item(i)[c], b = second->item(i)[c];
            float* p = y.item(i) + c * hw;
            for (std::size_t j = 0; j < hw; ++j) p[j] = p[j] * a + b;
          }
        break;
      }
      case Op::Flatten: y = x, y.c = static_cast<int>(x.per_item()), y.h = y.w = 1; break;
      case Op::UnflattenAs:
        if (x.per_item() != second->per_item()) throw std::invalid_argument("unflatten: sizes differ");
        y = x, y.c = second->c, y.h = second->h, y.w = second->w;
        break;
      case Op::Add: y = elementwise(x, *second, 1.f); break;
      case Op::Sub: y = elementwise(x, *second, -1.f); break;
      case Op::Concat: y = concat_channels(x, *second, cl); break;
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
  for (const auto& name : network_.graph(graph).outputs) channels_first(p.values.at(name));
  for (const auto& name : wanted) channels_first(p.values.at(name));
  // The rest may be channels-last: nobody reads them as maps.
  for (std::size_t k = 0; k < v.size(); ++k)
    if (last[k]) v[k] = Tensor4();
  return v;
}

std::vector<std::string> Model::class_names() const {
  if (card_.contains("class_names") && card_["class_names"].is_array()) return card_["class_names"].get<std::vector<std::string>>();
  std::vector<std::string> names;
  for (int i = 0; i < config_.num_classes; ++i) names.push_back(std::to_string(i));
  return names;
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
  for (std::size_t p = 1; p < out.size(); ++p) o.append(out[p]);
  return o;
}

Model::Outputs Model::forward_one_thread(const Tensor4& x) const {
  auto v = run("predict", {&x}, kept_);
  const auto& values = programs_.at("predict").values;
  Outputs o;
  for (const auto& name : kept_) o.add(name, std::move(v.at(static_cast<std::size_t>(values.at(name)))), kept_as_rows_.at(name));
  return o;
}

const Tensor4& Model::Outputs::map(const std::string& name) const {
  const auto it = maps_.find(name);
  if (it != maps_.end()) return it->second;
  throw std::out_of_range("core: forward() keeps no map \"" + name + "\"" + (rows_.count(name) ? " (it is rows)" : ""));
}

const Rows& Model::Outputs::rows(const std::string& name) const {
  const auto it = rows_.find(name);
  if (it != rows_.end()) return it->second;
  throw std::out_of_range("core: forward() keeps no rows \"" + name + "\"" + (maps_.count(name) ? " (it is a map)" : ""));
}

void Model::Outputs::add(const std::string& name, Tensor4 value, bool as_rows) {
  if (as_rows) rows_[name] = to_rows(value);
  else maps_[name] = std::move(value);
}

void Model::Outputs::append(const Outputs& next) {
  for (auto& [name, m] : maps_) {
    const Tensor4& b = next.map(name);
    m.data.insert(m.data.end(), b.data.begin(), b.data.end()), m.n += b.n;
  }
  for (auto& [name, r] : rows_) {
    const Rows& b = next.rows(name);
    r.data.insert(r.data.end(), b.data.begin(), b.data.end()), r.n += b.n;
  }
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

namespace {
// (x - mean) / sqrt(var + kInputNormEps) over each run of n values.
void normalize_runs(Tensor4& y, std::size_t n) {
  for (std::size_t r = 0; r < y.data.size() / std::max<std::size_t>(n, 1); ++r) {
    float* p = y.data.data() + r * n;
    double sum = 0;
    for (std::size_t j = 0; j < n; ++j) sum += p[j];
    const double mean = sum / static_cast<double>(n);
    double sq = 0;
    for (std::size_t j = 0; j < n; ++j) sq += (p[j] - mean) * (p[j] - mean);
    const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + ModelConfig::kInputNormEps);
    for (std::size_t j = 0; j < n; ++j) p[j] = static_cast<float>((p[j] - mean) * inv);
  }
}
}  // namespace

Tensor4 standardize_images(const Tensor4& x) {
  Tensor4 y = x;
  normalize_runs(y, x.per_item());
  return y;
}

Tensor4 instance_normalize(const Tensor4& x) {
  Tensor4 y = x;
  normalize_runs(y, static_cast<std::size_t>(x.h) * static_cast<std::size_t>(x.w));
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
