// The timing protocol every measurement adapter shares: warm-up runs,
// repeats, outlier trimming and the statistics of what is kept.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "hwnas/error.hpp"

namespace hwnas::measure {

/// Which runs count.
enum class Outliers {
  keep,   ///< every run
  tukey,  ///< drop runs outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR] (a preempted or throttled run)
};

struct TimingOptions {
  std::size_t warmup = 10;   ///< untimed runs first (caches, allocators, clocks, JIT)
  std::size_t repeats = 50;  ///< timed runs
  Outliers outliers = Outliers::tukey;
};

/// Statistics in ms over the kept runs.
struct TimingStats {
  std::size_t count = 0;      ///< runs kept
  std::size_t discarded = 0;  ///< runs dropped as outliers
  double median = 0, mean = 0, p90 = 0, std = 0, min = 0, max = 0;
};

/// InvalidArgument unless repeats >= 1.
inline void check(const TimingOptions& o) {
  if (o.repeats == 0) throw InvalidArgument("measure: repeats must be at least 1");
}

/// The q-quantile (0..1) of sorted values, interpolated linearly (NumPy's default).
inline double quantile_sorted(std::span<const double> sorted, double q) {
  if (sorted.empty()) throw InvalidArgument("measure: quantile of no values");
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

/// Trims and summarises run times (ms); InvalidArgument for no runs or a
/// negative or non-finite time.
inline TimingStats summarize(std::vector<double> ms, Outliers outliers = Outliers::tukey) {
  if (ms.empty()) throw InvalidArgument("measure: no runs to summarise");
  for (double v : ms) {
    if (!std::isfinite(v) || v < 0) throw InvalidArgument("measure: a run time must be finite and >= 0, found " + std::to_string(v));
  }
  std::sort(ms.begin(), ms.end());
  const std::size_t taken = ms.size();
  if (outliers == Outliers::tukey && ms.size() >= 4) {
    const double q1 = quantile_sorted(ms, 0.25), q3 = quantile_sorted(ms, 0.75);
    const double lo = q1 - 1.5 * (q3 - q1), hi = q3 + 1.5 * (q3 - q1);
    std::erase_if(ms, [&](double v) { return v < lo || v > hi; });
  }
  TimingStats s;
  s.count = ms.size();
  s.discarded = taken - ms.size();
  s.median = quantile_sorted(ms, 0.5);
  s.p90 = quantile_sorted(ms, 0.9);
  s.min = ms.front();
  s.max = ms.back();
  for (double v : ms) s.mean += v;
  s.mean /= static_cast<double>(ms.size());
  if (ms.size() > 1) {
    double sq = 0;
    for (double v : ms) sq += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(sq / static_cast<double>(ms.size() - 1));
  }
  return s;
}

/// Runs `once()` options.warmup times, then times options.repeats runs.
/// `once` returns the run's time in ms when it times itself (a device
/// timer such as CUDA events), or void, and is then timed with
/// std::chrono::steady_clock.
template <class Once>
TimingStats time_runs(Once&& once, const TimingOptions& options = {}) {
  check(options);
  for (std::size_t i = 0; i < options.warmup; ++i) once();
  std::vector<double> ms;
  ms.reserve(options.repeats);
  for (std::size_t i = 0; i < options.repeats; ++i) {
    if constexpr (std::is_convertible_v<decltype(once()), double>) {
      ms.push_back(static_cast<double>(once()));
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      once();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  return summarize(std::move(ms), options.outliers);
}

}  // namespace hwnas::measure
