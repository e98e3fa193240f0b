// An explicit, seeded random number generator. hwnas never uses a global RNG
// and never relies on std:: distributions, whose output differs between
// standard libraries: the same seed gives the same numbers everywhere.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "hwnas/error.hpp"

namespace hwnas {

/// xoshiro256** seeded through splitmix64. Satisfies
/// UniformRandomBitGenerator. Not thread-safe: give each thread its own.
class Rng {
 public:
  using result_type = std::uint64_t;

  explicit Rng(std::uint64_t seed = 0) noexcept { reseed(seed); }

  void reseed(std::uint64_t seed) noexcept {
    for (auto& word : state_) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept {
    return std::numeric_limits<result_type>::max();
  }

  result_type operator()() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform integer in [0, n), without modulo bias. Throws for n == 0.
  std::uint64_t uniform_index(std::uint64_t n) {
    if (n == 0) throw InvalidArgument("Rng::uniform_index: n must be positive, got 0");
    // Rejection on the top of the range keeps every residue equally likely.
    const std::uint64_t limit = max() - max() % n;
    std::uint64_t x;
    do {
      x = (*this)();
    } while (x >= limit);
    return x % n;
  }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform01() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  /// True with probability p.
  bool bernoulli(double p) noexcept { return uniform01() < p; }

  /// One element of a non-empty list, chosen uniformly.
  template <class T>
  const T& choice(std::span<const T> items) {
    if (items.empty()) throw InvalidArgument("Rng::choice: the list of choices is empty");
    return items[uniform_index(items.size())];
  }

  template <class T>
  const T& choice(const std::vector<T>& items) {
    return choice(std::span<const T>(items));
  }

  /// Fisher-Yates shuffle (std::shuffle's order differs between libraries).
  template <class T>
  void shuffle(std::span<T> items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      std::swap(items[i - 1], items[uniform_index(i)]);
    }
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }

  std::uint64_t state_[4];
};

}  // namespace hwnas
