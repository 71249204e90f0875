#include "dida/conv2d.hpp"

#include <algorithm>
#include <cstddef>
#include <stdexcept>

namespace dida {
namespace {

// GCC/Clang vector types: one source for every SIMD width.
typedef float f32x4 __attribute__((vector_size(16)));
typedef float f32x8 __attribute__((vector_size(32)));
typedef float f32x16 __attribute__((vector_size(64)));

// Unaligned loads and stores (memcpy of one vector compiles to a single instruction); a cast
// pointer would promise the vector's alignment.
template <typename V>
inline V load(const float* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(V));
  return v;
}
template <typename V>
inline void store(float* p, V v) {
  __builtin_memcpy(p, &v, sizeof(V));
}

#if defined(__AVX512F__)
constexpr int kMaxLanes = 16;
#elif defined(__AVX__)
constexpr int kMaxLanes = 8;
#else
constexpr int kMaxLanes = 4;  // SSE, NEON, WebAssembly SIMD128
#endif
// Registers the target has for accumulators: 32 with AVX-512, 16 otherwise.
#if defined(__AVX512F__)
constexpr int kAccumulators = 16;
#else
constexpr int kAccumulators = 8;
#endif

// Keeps a loaded vector in a register: GCC otherwise folds the load into every multiply-add that
// uses it (P memory reads per weight vector instead of one; measured 30 % slower on AVX-512).
template <typename V>
inline void in_register(V& v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
  asm("" : "+v"(v));
#else
  (void)v;
#endif
}

template <typename V>
inline V splat(float s) {
  return s - V{};  // s - 0 is s for every s (s + 0 is not, for -0), so it folds to a broadcast
}

// One tile of output: P neighbouring positions of row y (from x0) times NV vectors of output
// channels (from co). xp: the image, zero-padded left and right by k/2 columns, [h][wp][cin];
// rows outside the image are skipped (their taps would only multiply zeros).
// Not inlined: each tile is a small function of its own, which WebAssembly engines compile to
// optimised code soon (one large function stays in the baseline tier for many calls).
template <typename V, int L, int NV, int P>
__attribute__((noinline)) void tile(const PackedConv& c, const float* xp, int h, int wp, int y, int x0, int co, float* out, int w, bool relu) {
  V acc[P][NV];
  for (int j = 0; j < NV; ++j) {
    const V b = load<V>(c.b.data() + co + j * L);
    for (int p = 0; p < P; ++p) acc[p][j] = b;
  }
  const int k = c.k, pad = k / 2, cin = c.in, cp = c.out_padded;
  const int ky0 = std::max(0, pad - y), ky1 = std::min(k, h + pad - y);
  // Within one kernel row, the (kx, ci) pairs are consecutive both in the padded input row
  // (position p reads from p * cin on) and in the packed weights: one loop over k * cin.
  const int taps = k * cin;
  for (int ky = ky0; ky < ky1; ++ky) {
    const float* xs = xp + (static_cast<std::size_t>(y + ky - pad) * wp + x0) * cin;
    const float* ws = c.w.data() + static_cast<std::size_t>(ky) * taps * cp + co;
    for (int t = 0; t < taps; ++t, ws += cp) {
      V xb[P];
      for (int p = 0; p < P; ++p) xb[p] = splat<V>(xs[p * cin + t]);
      for (int j = 0; j < NV; ++j) {
        V wv = load<V>(ws + j * L);
        in_register(wv);
        for (int p = 0; p < P; ++p) acc[p][j] += xb[p] * wv;
      }
    }
  }
  const int cout = c.out;
  for (int p = 0; p < P; ++p) {
    float* o = out + (static_cast<std::size_t>(y) * w + x0 + p) * cout + co;
    for (int j = 0; j < NV; ++j) {
      V r = acc[p][j];
      if (relu) {  // lane-wise max(r, 0): keep the bits where r > 0
        const auto positive = r > splat<V>(0.f);
        r = (V)((decltype(positive))r & positive);
      }
      if (co + (j + 1) * L <= cout) {
        store<V>(o + j * L, r);
      } else {  // the last vector of a layer whose channels are not a multiple of L
        for (int l = 0; co + j * L + l < cout; ++l) o[j * L + l] = r[l];
      }
    }
  }
}

// Positions per tile for NV vectors: the accumulators fill the registers the target has.
template <int NV>
constexpr int tile_positions() {
  return std::max(1, kAccumulators / NV);
}

template <typename V, int L, int NV>
void row_group(const PackedConv& c, const float* xp, int h, int w, int wp, int y, int co, float* out, bool relu) {
  constexpr int P = tile_positions<NV>();
  int x = 0;
  for (; x + P <= w; x += P) tile<V, L, NV, P>(c, xp, h, wp, y, x, co, out, w, relu);
  for (; x < w; ++x) tile<V, L, NV, 1>(c, xp, h, wp, y, x, co, out, w, relu);
}

template <typename V, int L>
void conv_image(const PackedConv& c, const float* xp, int h, int w, int wp, float* out, bool relu) {
  const int vectors = c.out_padded / L;
  for (int y = 0; y < h; ++y) {
    int co = 0;
    for (; vectors - co / L >= 4; co += 4 * L) row_group<V, L, 4>(c, xp, h, w, wp, y, co, out, relu);
    switch (vectors - co / L) {
      case 3: row_group<V, L, 3>(c, xp, h, w, wp, y, co, out, relu); break;
      case 2: row_group<V, L, 2>(c, xp, h, w, wp, y, co, out, relu); break;
      case 1: row_group<V, L, 1>(c, xp, h, w, wp, y, co, out, relu); break;
      default: break;
    }
  }
}

}  // namespace

PackedConv pack_conv(int in, int out, int k, const std::vector<float>& w, const std::vector<float>& b) {
  if (k % 2 == 0) throw std::invalid_argument("conv: only odd kernel sizes are supported");
  if (w.size() != static_cast<std::size_t>(out) * in * k * k || b.size() != static_cast<std::size_t>(out))
    throw std::invalid_argument("conv: weight or bias size does not match the layer");
  PackedConv c;
  c.in = in, c.out = out, c.k = k;
  // The vector width that needs the fewest vectors for the output channels (padding the last one
  // with zero weights: 100 hidden units take 7 of 16 lanes, not 25 of 4); on a tie the narrower.
  c.lanes = 4;
  for (int l = 8; l <= kMaxLanes; l *= 2)
    if ((out + l - 1) / l < (out + c.lanes - 1) / c.lanes) c.lanes = l;
  c.out_padded = (out + c.lanes - 1) / c.lanes * c.lanes;
  c.w.assign(static_cast<std::size_t>(k) * k * in * c.out_padded, 0.f);
  c.b.assign(static_cast<std::size_t>(c.out_padded), 0.f);
  for (int o = 0; o < out; ++o) {
    c.b[static_cast<std::size_t>(o)] = b[static_cast<std::size_t>(o)];
    for (int i = 0; i < in; ++i)
      for (int ky = 0; ky < k; ++ky)
        for (int kx = 0; kx < k; ++kx)
          c.w[((static_cast<std::size_t>(ky) * k + kx) * in + i) * c.out_padded + o] =
              w[((static_cast<std::size_t>(o) * in + i) * k + ky) * k + kx];
  }
  return c;
}

void conv2d_channels_last(const PackedConv& c, const float* x, int n, int h, int w, float* y, bool relu) {
  const int pad = c.k / 2, wp = w + 2 * pad;
  // One image at a time, copied with zero columns left and right (kept across calls; per thread
  // natively, where the worker threads run chunks side by side; the wasm build has one thread).
#ifdef __EMSCRIPTEN__
  static std::vector<float> padded;
#else
  thread_local std::vector<float> padded;
#endif
  padded.assign(static_cast<std::size_t>(h) * wp * c.in, 0.f);
  const std::size_t in_row = static_cast<std::size_t>(w) * c.in, out_image = static_cast<std::size_t>(h) * w * c.out;
  for (int i = 0; i < n; ++i) {
    const float* src = x + static_cast<std::size_t>(i) * h * in_row;
    for (int r = 0; r < h; ++r)
      std::copy_n(src + r * in_row, in_row, padded.data() + (static_cast<std::size_t>(r) * wp + pad) * c.in);
    float* out = y + static_cast<std::size_t>(i) * out_image;
    // Only the widths the target has are compiled (pack_conv never picks a wider one).
    if constexpr (kMaxLanes >= 16)
      if (c.lanes == 16) {
        conv_image<f32x16, 16>(c, padded.data(), h, w, wp, out, relu);
        continue;
      }
    if constexpr (kMaxLanes >= 8)
      if (c.lanes == 8) {
        conv_image<f32x8, 8>(c, padded.data(), h, w, wp, out, relu);
        continue;
      }
    conv_image<f32x4, 4>(c, padded.data(), h, w, wp, out, relu);
  }
}

}  // namespace dida
