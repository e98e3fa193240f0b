// What the search scores architectures with: the BatchScore concept every
// latency source and fitness fulfils (LutEstimator, LatencyPredictor,
// PredictorEnsemble, MeasuredLatency, FunctionScore), Memoized (a cache by
// network in front of any of them) and latency_margin (a safety margin from
// an estimate's held-out errors).
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/detail/text.hpp"
#include "hwnas/error.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas {

/// Anything that scores a batch of architectures of type Arch: a
/// LutEstimator, a LatencyPredictor (latency, or OFA's accuracy predictor as
/// fitness), a measurement, or a user's function wrapped in FunctionScore.
template <class S, class Arch = Architecture>
concept BatchScore = requires(const S& s, std::span<const Arch> archs) {
  { s.predict(archs) } -> std::convertible_to<std::vector<double>>;
};

/// A callable `std::vector<double>(std::span<const Arch>)` as a BatchScore.
template <class Arch>
class BasicFunctionScore {
 public:
  using Function = std::function<std::vector<double>(std::span<const Arch>)>;
  explicit BasicFunctionScore(Function f) : f_(std::move(f)) {
    if (!f_) throw InvalidArgument("search: empty score function");
  }
  std::vector<double> predict(std::span<const Arch> archs) const { return f_(archs); }

 private:
  Function f_;
};
using FunctionScore = BasicFunctionScore<Architecture>;

/// Wraps a score with a cache keyed by the network (the space's canonical
/// form): architectures seen before are not scored again. With enabled =
/// false it only counts. The cache lives in the wrapper; predict is const
/// but not thread-safe.
template <class S, class Space = MbConvSpace>
  requires BatchScore<S, typename Space::arch_type>
class Memoized {
 public:
  using Arch = typename Space::arch_type;

  Memoized(const Space& space, const S& source, bool enabled = true)
      : space_(&space), source_(&source), enabled_(enabled) {}

  std::vector<double> predict(std::span<const Arch> archs) const {
    if (!enabled_) {
      auto values = source_->predict(archs);
      check_size(values.size(), archs.size());
      misses_ += archs.size();
      return values;
    }
    std::vector<double> out(archs.size());
    // Networks not cached, each sent once even when the batch repeats it
    // (a repeat counts as a hit); asked[i] is archs[i]'s place in `missing`.
    std::vector<Arch> missing;
    std::vector<std::uint64_t> missing_keys;
    std::unordered_map<std::uint64_t, std::size_t> place;
    std::vector<std::size_t> asked(archs.size(), kCached);
    for (std::size_t i = 0; i < archs.size(); ++i) {
      const std::uint64_t key = space_->hash(archs[i]);
      if (const auto it = cache_.find(key); it != cache_.end()) {
        out[i] = it->second;
        ++hits_;
        continue;
      }
      const auto [it, first] = place.emplace(key, missing.size());
      if (first) {
        missing.push_back(archs[i]);
        missing_keys.push_back(key);
        ++misses_;
      } else {
        ++hits_;
      }
      asked[i] = it->second;
    }
    if (!missing.empty()) {
      const std::vector<double> fresh = source_->predict(missing);
      check_size(fresh.size(), missing.size());
      for (std::size_t j = 0; j < missing.size(); ++j) cache_.emplace(missing_keys[j], fresh[j]);
      for (std::size_t i = 0; i < archs.size(); ++i) {
        if (asked[i] != kCached) out[i] = fresh[asked[i]];
      }
    }
    return out;
  }
  /// Architectures answered from the cache, and sent to the source.
  std::size_t hits() const noexcept { return hits_; }
  std::size_t misses() const noexcept { return misses_; }
  double hit_rate() const noexcept {
    const auto n = hits_ + misses_;
    return n == 0 ? 0.0 : static_cast<double>(hits_) / static_cast<double>(n);
  }

 private:
  static constexpr std::size_t kCached = static_cast<std::size_t>(-1);
  static void check_size(std::size_t got, std::size_t want) {
    if (got != want) {
      throw ShapeMismatch("search: a score returned " + std::to_string(got) + " values for " + std::to_string(want) +
                          " architectures");
    }
  }

  const Space* space_;
  const S* source_;
  bool enabled_;
  mutable std::unordered_map<std::uint64_t, double> cache_;
  mutable std::size_t hits_ = 0, misses_ = 0;
};

/// A safety margin for EvolutionOptions::latency_margin from a latency
/// estimate's errors on architectures it was not fitted to: the `quantile`
/// (in [0, 1]) of its relative under-estimates max(0, (measured - predicted)
/// / predicted). The default, 1, is the worst under-estimate: a search picks
/// its winners among the architectures the estimate under-estimates most,
/// so a typical error (a 95th percentile) is not enough (docs/search.md).
inline double latency_margin(std::span<const double> predicted, std::span<const double> measured,
                             double quantile = 1.0) {
  if (predicted.size() != measured.size() || predicted.empty()) {
    throw ShapeMismatch("latency_margin: " + std::to_string(predicted.size()) + " predictions and " +
                        std::to_string(measured.size()) + " measurements; need the same number, at least one");
  }
  if (!(quantile >= 0 && quantile <= 1)) {
    throw InvalidArgument("latency_margin: quantile must be in [0, 1], found " + detail::format_double(quantile));
  }
  std::vector<double> under;
  for (std::size_t i = 0; i < predicted.size(); ++i) {
    if (!(predicted[i] > 0) || !std::isfinite(predicted[i]) || !(measured[i] > 0) || !std::isfinite(measured[i])) {
      throw InvalidArgument("latency_margin: latencies must be finite and > 0; row " + std::to_string(i) +
                            " has predicted " + detail::format_double(predicted[i]) + ", measured " +
                            detail::format_double(measured[i]));
    }
    under.push_back(std::max(0.0, (measured[i] - predicted[i]) / predicted[i]));
  }
  std::sort(under.begin(), under.end());
  return under[static_cast<std::size_t>(std::floor(quantile * static_cast<double>(under.size() - 1)))];
}

}  // namespace hwnas
