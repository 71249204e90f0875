#include "augment.hpp"

namespace dida {

torch::Tensor strong_view(const torch::Tensor& x, Rng& rng, int max_shift) {
  namespace F = torch::nn::functional;
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const auto padded = max_shift > 0
                          ? F::pad(x, F::PadFuncOptions({max_shift, max_shift, max_shift, max_shift}).mode(torch::kReplicate))
                          : x;
  std::vector<torch::Tensor> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto dy = static_cast<int64_t>(rng.below(static_cast<std::uint64_t>(2 * max_shift + 1)));
    const auto dx = static_cast<int64_t>(rng.below(static_cast<std::uint64_t>(2 * max_shift + 1)));
    auto img = padded[i].narrow(1, dy, h).narrow(2, dx, w);
    if (c > 1) {
      std::vector<int> order(static_cast<std::size_t>(c));
      for (int k = 0; k < c; ++k) order[static_cast<std::size_t>(k)] = k;
      rng.shuffle(order);
      img = img.index_select(0, torch::tensor(std::vector<int64_t>(order.begin(), order.end())).to(x.device()));
    }
    const double sign = rng.uniform() < 0.5 ? -1.0 : 1.0;
    const double contrast = rng.uniform(0.6, 1.4), brightness = rng.uniform(-0.2, 0.2);
    out.push_back((img * (sign * contrast) + brightness).clamp(-1.0, 1.0));
  }
  return torch::stack(out);
}

}  // namespace dida
