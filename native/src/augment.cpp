#include "augment.hpp"

namespace dida {

torch::Tensor strong_view(const torch::Tensor& x, Rng& rng, int max_shift) {
  namespace F = torch::nn::functional;
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const auto padded = max_shift > 0
                          ? F::pad(x, F::PadFuncOptions({max_shift, max_shift, max_shift, max_shift}).mode(torch::kReplicate))
                          : x;
  // Every image's draws first, in the order a per-image loop makes them (so a seed gives the same
  // views as before), then one gather and one affine map for the whole batch: a loop of small
  // tensor operations per image cost about a thousand operator calls per training step.
  std::vector<int64_t> dy(static_cast<std::size_t>(n)), dx(static_cast<std::size_t>(n)), order(static_cast<std::size_t>(n * c));
  std::vector<float> scale(static_cast<std::size_t>(n)), shift(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    dy[k] = static_cast<int64_t>(rng.below(static_cast<std::uint64_t>(2 * max_shift + 1)));
    dx[k] = static_cast<int64_t>(rng.below(static_cast<std::uint64_t>(2 * max_shift + 1)));
    std::vector<int> perm(static_cast<std::size_t>(c));
    for (int j = 0; j < c; ++j) perm[static_cast<std::size_t>(j)] = j;
    if (c > 1) rng.shuffle(perm);
    for (int64_t j = 0; j < c; ++j) order[static_cast<std::size_t>(i * c + j)] = perm[static_cast<std::size_t>(j)];
    const double sign = rng.uniform() < 0.5 ? -1.0 : 1.0;
    const double contrast = rng.uniform(0.6, 1.4), brightness = rng.uniform(-0.2, 0.2);
    // As the per-image code computed it: the product in double, then used as a float scalar.
    scale[k] = static_cast<float>(sign * contrast);
    shift[k] = static_cast<float>(brightness);
  }
  const auto dev = x.device();
  const auto longs = torch::TensorOptions().dtype(torch::kLong);
  const auto rows = (torch::tensor(dy).view({n, 1, 1, 1}) + torch::arange(h, longs).view({1, 1, h, 1})).to(dev);
  const auto cols = (torch::tensor(dx).view({n, 1, 1, 1}) + torch::arange(w, longs).view({1, 1, 1, w})).to(dev);
  const auto images = torch::arange(n, longs).view({n, 1, 1, 1}).to(dev);
  const auto channels = torch::tensor(order).view({n, c, 1, 1}).to(dev);
  const auto img = padded.index({images, channels, rows, cols});  // n x c x h x w
  const auto s = torch::tensor(scale).view({n, 1, 1, 1}).to(dev, x.scalar_type());
  const auto b = torch::tensor(shift).view({n, 1, 1, 1}).to(dev, x.scalar_type());
  return (img * s + b).clamp(-1.0, 1.0);
}

}  // namespace dida
