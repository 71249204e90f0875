#pragma once
// A seeded random generator whose every draw is defined here, not by the standard library:
// std::uniform_int_distribution & co. differ between libstdc++ (native) and libc++ (wasm),
// and the same seed must give the same data set in both builds.
#include <cstdint>
#include <utility>
#include <vector>

namespace dida {

class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  // Derives an independent stream, e.g. Rng(seed).fork("mnistm").
  Rng fork(const char* stream) const;
  std::uint64_t next_u64();
  // Uniform integer in [0, n), n > 0 (rejection sampling, no modulo bias).
  std::uint64_t below(std::uint64_t n);
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Fisher-Yates shuffle.
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  std::uint64_t s_[4];
};

// 0, 1, ..., n-1 in an order drawn from rng.
std::vector<int> permutation(int n, Rng& rng);

}  // namespace dida
