// The core's convolution: stride 1, "same" zero padding, odd square kernels, on maps stored
// channels-last (N x H x W x C), computed directly (no im2col) with the output channels in SIMD
// vectors. Taps that fall on padding rows are skipped, not multiplied by zero. The same source
// builds natively (AVX-512 / AVX / SSE vectors) and as WebAssembly (SIMD128).
#pragma once

#include <vector>

namespace dida {

struct PackedConv {
  int in = 0, out = 0, k = 0;
  int lanes = 4;         // floats per SIMD vector this layer uses
  int out_padded = 0;    // out rounded up to a multiple of lanes
  std::vector<float> w;  // [ky][kx][in][out_padded]
  std::vector<float> b;  // [out_padded]
};

// w: out x in x k x k (PyTorch's order), b: out.
PackedConv pack_conv(int in, int out, int k, const std::vector<float>& w, const std::vector<float>& b);

// x: n x h x w x c.in, y: n x h x w x c.out (both channels-last); y = conv(x) (+ ReLU). A linear
// layer is the 1 x 1 case on one row of n positions.
void conv2d_channels_last(const PackedConv& c, const float* x, int n, int h, int w, float* y, bool relu);

}  // namespace dida
