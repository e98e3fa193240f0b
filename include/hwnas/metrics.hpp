// Regression metrics between predictions and targets: the error measures
// (RMSE, MAE, MAPE, ...) used to judge a latency or accuracy predictor, and
// the rank correlations (Kendall's tau-b, Spearman's rho) that matter most for
// NAS, where a predictor only has to order candidate architectures correctly.
//
// Every function validates its input the same way: both spans must have the
// same, non-zero size (hwnas::ShapeMismatch, hwnas::InvalidArgument) and hold
// only finite values (hwnas::InvalidArgument naming the first bad index).
// Correlations of a constant variable are undefined and return NaN, as scipy
// does, rather than throwing: a degenerate batch should not abort a search.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "hwnas/error.hpp"

namespace hwnas {

/// All metrics of one evaluation, as returned by evaluate(). Every
/// percentage is in percent (5.0 means 5 %), within5 and within10 included.
struct RegressionMetrics {
  double rmse = 0.0;        ///< Root mean squared error.
  double rmse_pct = 0.0;    ///< RMSE / |mean of targets| * 100.
  double mae = 0.0;         ///< Mean absolute error.
  double mape = 0.0;        ///< Mean absolute percentage error, in percent.
  double max_error = 0.0;   ///< Largest absolute error.
  double within5 = 0.0;     ///< Percent of rows within 5 % of their target.
  double within10 = 0.0;    ///< Percent of rows within 10 % of their target.
  double median_ape = 0.0;  ///< Median absolute percentage error, in percent.
  double kendall = 0.0;     ///< Kendall's tau-b (NaN if either side is constant).
  double spearman = 0.0;    ///< Spearman's rho (NaN if either side is constant).
  std::size_t n = 0;        ///< Number of rows.
};

/// Root mean squared error: sqrt(mean((p - t)^2)).
inline double rmse(std::span<const double> predictions, std::span<const double> targets);

/// RMSE relative to the targets' scale: rmse / |mean(t)| * 100.
/// Throws InvalidArgument when the mean of the targets is 0.
inline double rmse_pct(std::span<const double> predictions,
                       std::span<const double> targets);

/// Mean absolute error: mean(|p - t|).
inline double mae(std::span<const double> predictions, std::span<const double> targets);

/// Mean absolute percentage error in percent: mean(|p - t| / |t|) * 100.
/// Throws InvalidArgument when a target is 0.
inline double mape(std::span<const double> predictions, std::span<const double> targets);

/// Largest absolute error: max(|p - t|).
inline double max_abs_error(std::span<const double> predictions,
                            std::span<const double> targets);

/// Percent (0 to 100) of rows with |p - t| <= pct / 100 * |t|,
/// evaluated as 100 * |p - t| <= pct * |t| so that integer data is exact. A
/// zero target counts only when its prediction is exactly 0. Throws
/// InvalidArgument when pct is negative or not finite.
inline double within_pct(std::span<const double> predictions, std::span<const double> targets,
                         double pct);

/// Median of |p - t| / |t| * 100 (the mean of the two middle values when the
/// size is even). Robust to the outliers that dominate mape on measured data.
/// Throws InvalidArgument when a target is 0.
inline double median_abs_pct_error(std::span<const double> predictions,
                                   std::span<const double> targets);

/// Kendall's tau-b, (nc - nd) / sqrt((n0 - n1) * (n0 - n2)), with n0 the
/// number of pairs, n1 / n2 the pairs tied in x / y, and nc / nd the
/// concordant / discordant pairs. O(n log n) time (Knight's algorithm) and
/// O(n) memory; counts are 64-bit, so any size that fits in memory works.
/// Returns NaN when x or y is constant (or n < 2), as scipy does.
inline double kendall_tau_b(std::span<const double> x, std::span<const double> y);

/// Spearman's rho: Pearson's r of the ranks, where tied values share the
/// average of the ranks they span. O(n log n). Returns NaN when x or y is
/// constant (or n < 2).
inline double spearman_rho(std::span<const double> x, std::span<const double> y);

/// Pearson's correlation coefficient, clamped to [-1, 1]. Returns NaN when x
/// or y is constant (or n < 2).
inline double pearson_r(std::span<const double> x, std::span<const double> y);

/// Every metric of RegressionMetrics at once, validating the input only once.
/// Throws what the single metrics throw: InvalidArgument when a target is 0
/// (mape) or the targets average to 0 (rmse_pct).
inline RegressionMetrics evaluate(std::span<const double> predictions,
                                  std::span<const double> targets);

/// @name Single-precision overloads
/// Predictors default to float; these widen to double and forward, so results
/// and error messages are those of the double versions.
/// @{
inline double rmse(std::span<const float> predictions, std::span<const float> targets);
inline double rmse_pct(std::span<const float> predictions, std::span<const float> targets);
inline double mae(std::span<const float> predictions, std::span<const float> targets);
inline double mape(std::span<const float> predictions, std::span<const float> targets);
inline double max_abs_error(std::span<const float> predictions,
                            std::span<const float> targets);
inline double within_pct(std::span<const float> predictions, std::span<const float> targets,
                         double pct);
inline double median_abs_pct_error(std::span<const float> predictions,
                                   std::span<const float> targets);
inline double kendall_tau_b(std::span<const float> x, std::span<const float> y);
inline double spearman_rho(std::span<const float> x, std::span<const float> y);
inline double pearson_r(std::span<const float> x, std::span<const float> y);
inline RegressionMetrics evaluate(std::span<const float> predictions,
                                  std::span<const float> targets);
/// @}

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

namespace detail::metrics {

// Names used in messages: the error metrics compare predictions with targets,
// the correlations two symmetric variables x and y.
struct Labels {
  const char* a;
  const char* b;
};
inline constexpr Labels kPredTarget{"prediction", "target"};
inline constexpr Labels kXY{"x", "y"};

inline void check_finite(const char* fn, const char* label, std::span<const double> v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isfinite(v[i])) continue;
    const char* what = std::isnan(v[i]) ? "NaN" : (v[i] > 0 ? "inf" : "-inf");
    throw InvalidArgument(std::string("metrics: ") + label + "[" + std::to_string(i) +
                          "] is " + what + "; " + fn + " needs finite values");
  }
}

// Sizes first (a mismatch usually means the caller passed the wrong arrays),
// then emptiness, then finiteness of each side.
inline void check_inputs(const char* fn, std::span<const double> a,
                         std::span<const double> b, Labels labels = kPredTarget) {
  if (a.size() != b.size()) {
    throw ShapeMismatch(std::string("metrics: ") + fn + " got " + std::to_string(a.size()) +
                        " " + labels.a + " values and " + std::to_string(b.size()) + " " +
                        labels.b + " values; expected equal sizes");
  }
  if (a.empty()) {
    throw InvalidArgument(std::string("metrics: ") + fn +
                          " got empty input; expected at least one row");
  }
  check_finite(fn, labels.a, a);
  check_finite(fn, labels.b, b);
}

inline void check_nonzero_targets(const char* fn, std::span<const double> targets) {
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] == 0.0) {
      throw InvalidArgument("metrics: target[" + std::to_string(i) + "] is 0; " + fn +
                            " divides by |target| and needs non-zero targets");
    }
  }
}

inline double mean(std::span<const double> v) {
  double sum = 0.0;
  for (double e : v) sum += e;
  return sum / static_cast<double>(v.size());
}

// |mean of targets|, the scale rmse_pct divides by.
inline double rmse_pct_scale(const char* fn, std::span<const double> targets) {
  const double scale = std::abs(mean(targets));
  if (scale == 0.0) {
    throw InvalidArgument(std::string("metrics: ") + fn +
                          ": the mean of the targets is 0; rmse_pct needs a non-zero mean");
  }
  return scale;
}

inline bool is_constant(std::span<const double> v) {
  return std::all_of(v.begin(), v.end(), [&](double e) { return e == v.front(); });
}

inline std::vector<double> widen(std::span<const float> v) {
  return std::vector<double>(v.begin(), v.end());
}

// The *_unchecked functions assume check_inputs (and, where they divide by
// targets, check_nonzero_targets) has passed: evaluate() validates once.

inline double rmse_unchecked(std::span<const double> p, std::span<const double> t) {
  double sum = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) sum += (p[i] - t[i]) * (p[i] - t[i]);
  return std::sqrt(sum / static_cast<double>(p.size()));
}

inline double mae_unchecked(std::span<const double> p, std::span<const double> t) {
  double sum = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) sum += std::abs(p[i] - t[i]);
  return sum / static_cast<double>(p.size());
}

inline double mape_unchecked(std::span<const double> p, std::span<const double> t) {
  double sum = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) sum += std::abs(p[i] - t[i]) / std::abs(t[i]);
  return sum / static_cast<double>(p.size()) * 100.0;
}

inline double max_abs_error_unchecked(std::span<const double> p, std::span<const double> t) {
  double worst = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) worst = std::max(worst, std::abs(p[i] - t[i]));
  return worst;
}

inline double within_pct_unchecked(std::span<const double> p, std::span<const double> t,
                                   double pct) {
  std::size_t hits = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (100.0 * std::abs(p[i] - t[i]) <= pct * std::abs(t[i])) ++hits;
  }
  return 100.0 * static_cast<double>(hits) / static_cast<double>(p.size());
}

inline double median_abs_pct_error_unchecked(std::span<const double> p,
                                             std::span<const double> t) {
  std::vector<double> ape(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    ape[i] = std::abs(p[i] - t[i]) / std::abs(t[i]) * 100.0;
  }
  const std::size_t mid = ape.size() / 2;
  std::nth_element(ape.begin(), ape.begin() + static_cast<std::ptrdiff_t>(mid), ape.end());
  const double upper = ape[mid];
  if (ape.size() % 2 == 1) return upper;
  // After nth_element everything left of mid is <= upper; its max is the
  // other middle value.
  const double lower =
      *std::max_element(ape.begin(), ape.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2.0;
}

// Number of pairs among `count` equal elements.
inline long long tied_pairs(long long count) { return count * (count - 1) / 2; }

// Sorts v in place (stable bottom-up merge sort) and returns the number of
// inversions, i.e. pairs i < j with v[i] > v[j]. Equal elements never swap,
// so ties are not counted.
inline long long sort_counting_inversions(std::vector<double>& v) {
  const std::size_t n = v.size();
  std::vector<double> buffer(n);
  long long inversions = 0;
  for (std::size_t width = 1; width < n; width *= 2) {
    for (std::size_t lo = 0; lo < n; lo += 2 * width) {
      const std::size_t mid = std::min(lo + width, n);
      const std::size_t hi = std::min(lo + 2 * width, n);
      std::size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        if (v[j] < v[i]) {
          // v[j] jumps ahead of every element still waiting on the left.
          inversions += static_cast<long long>(mid - i);
          buffer[k++] = v[j++];
        } else {
          buffer[k++] = v[i++];
        }
      }
      while (i < mid) buffer[k++] = v[i++];
      while (j < hi) buffer[k++] = v[j++];
    }
    v.swap(buffer);
  }
  return inversions;
}

inline double kendall_tau_b_unchecked(std::span<const double> x, std::span<const double> y) {
  const std::size_t n = x.size();
  std::vector<std::pair<double, double>> xy(n);
  for (std::size_t i = 0; i < n; ++i) xy[i] = {x[i], y[i]};
  std::sort(xy.begin(), xy.end());

  const long long n0 = tied_pairs(static_cast<long long>(n));
  long long n1 = 0;  // pairs tied in x
  long long n3 = 0;  // pairs tied in both x and y
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && xy[j].first == xy[i].first) ++j;
    n1 += tied_pairs(static_cast<long long>(j - i));
    for (std::size_t k = i; k < j;) {  // y is sorted inside the x group
      std::size_t m = k;
      while (m < j && xy[m].second == xy[k].second) ++m;
      n3 += tied_pairs(static_cast<long long>(m - k));
      k = m;
    }
    i = j;
  }

  // With pairs ordered by x (ties by y), a pair whose y values are inverted
  // has x strictly increasing and y strictly decreasing: it is discordant.
  std::vector<double> ys(n);
  for (std::size_t i = 0; i < n; ++i) ys[i] = xy[i].second;
  const long long nd = sort_counting_inversions(ys);

  long long n2 = 0;  // pairs tied in y
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && ys[j] == ys[i]) ++j;
    n2 += tied_pairs(static_cast<long long>(j - i));
    i = j;
  }

  if (n0 == n1 || n0 == n2) return std::numeric_limits<double>::quiet_NaN();
  // nc = n0 - n1 - n2 + n3 - nd (inclusion-exclusion over the tied pairs).
  const long long nc_minus_nd = n0 - n1 - n2 + n3 - 2 * nd;
  // The product overflows 64-bit integers near n = 2e5, so form it in double
  // (the factors are exact below 2^53). One rounded product keeps
  // sqrt(a * a) == a, so identical tie patterns give exactly 1.
  const double tau = static_cast<double>(nc_minus_nd) /
                     std::sqrt(static_cast<double>(n0 - n1) * static_cast<double>(n0 - n2));
  return std::clamp(tau, -1.0, 1.0);
}

inline double pearson_r_unchecked(std::span<const double> x, std::span<const double> y) {
  // A mean of equal values need not equal them in floating point, so detect
  // constant input exactly instead of trusting a near-zero variance.
  if (x.size() < 2 || is_constant(x) || is_constant(y)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double mx = mean(x);
  const double my = mean(y);
  double sxx = 0.0, syy = 0.0, sxy = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double dx = x[i] - mx;
    const double dy = y[i] - my;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  if (sxx == 0.0 || syy == 0.0) return std::numeric_limits<double>::quiet_NaN();
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

// 1-based ranks; a run of equal values at sorted positions i..j-1 (0-based)
// shares the average rank (i + 1 + j) / 2.
inline std::vector<double> average_ranks(std::span<const double> v) {
  const std::size_t n = v.size();
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(n);
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && v[order[j]] == v[order[i]]) ++j;
    const double rank = static_cast<double>(i + 1 + j) / 2.0;
    for (std::size_t k = i; k < j; ++k) ranks[order[k]] = rank;
    i = j;
  }
  return ranks;
}

inline double spearman_rho_unchecked(std::span<const double> x, std::span<const double> y) {
  const std::vector<double> rx = average_ranks(x);
  const std::vector<double> ry = average_ranks(y);
  return pearson_r_unchecked(rx, ry);
}

}  // namespace detail::metrics

inline double rmse(std::span<const double> predictions, std::span<const double> targets) {
  detail::metrics::check_inputs("rmse", predictions, targets);
  return detail::metrics::rmse_unchecked(predictions, targets);
}

inline double rmse_pct(std::span<const double> predictions, std::span<const double> targets) {
  detail::metrics::check_inputs("rmse_pct", predictions, targets);
  const double scale = detail::metrics::rmse_pct_scale("rmse_pct", targets);
  return detail::metrics::rmse_unchecked(predictions, targets) / scale * 100.0;
}

inline double mae(std::span<const double> predictions, std::span<const double> targets) {
  detail::metrics::check_inputs("mae", predictions, targets);
  return detail::metrics::mae_unchecked(predictions, targets);
}

inline double mape(std::span<const double> predictions, std::span<const double> targets) {
  detail::metrics::check_inputs("mape", predictions, targets);
  detail::metrics::check_nonzero_targets("mape", targets);
  return detail::metrics::mape_unchecked(predictions, targets);
}

inline double max_abs_error(std::span<const double> predictions,
                            std::span<const double> targets) {
  detail::metrics::check_inputs("max_abs_error", predictions, targets);
  return detail::metrics::max_abs_error_unchecked(predictions, targets);
}

inline double within_pct(std::span<const double> predictions, std::span<const double> targets,
                         double pct) {
  detail::metrics::check_inputs("within_pct", predictions, targets);
  if (!std::isfinite(pct) || pct < 0.0) {
    throw InvalidArgument("metrics: within_pct: pct must be finite and >= 0, got " +
                          std::to_string(pct));
  }
  return detail::metrics::within_pct_unchecked(predictions, targets, pct);
}

inline double median_abs_pct_error(std::span<const double> predictions,
                                   std::span<const double> targets) {
  detail::metrics::check_inputs("median_abs_pct_error", predictions, targets);
  detail::metrics::check_nonzero_targets("median_abs_pct_error", targets);
  return detail::metrics::median_abs_pct_error_unchecked(predictions, targets);
}

inline double kendall_tau_b(std::span<const double> x, std::span<const double> y) {
  detail::metrics::check_inputs("kendall_tau_b", x, y, detail::metrics::kXY);
  return detail::metrics::kendall_tau_b_unchecked(x, y);
}

inline double spearman_rho(std::span<const double> x, std::span<const double> y) {
  detail::metrics::check_inputs("spearman_rho", x, y, detail::metrics::kXY);
  return detail::metrics::spearman_rho_unchecked(x, y);
}

inline double pearson_r(std::span<const double> x, std::span<const double> y) {
  detail::metrics::check_inputs("pearson_r", x, y, detail::metrics::kXY);
  return detail::metrics::pearson_r_unchecked(x, y);
}

inline RegressionMetrics evaluate(std::span<const double> predictions,
                                  std::span<const double> targets) {
  namespace m = detail::metrics;
  m::check_inputs("evaluate", predictions, targets);
  m::check_nonzero_targets("evaluate", targets);
  RegressionMetrics out;
  out.n = predictions.size();
  const double scale = m::rmse_pct_scale("evaluate", targets);
  out.rmse = m::rmse_unchecked(predictions, targets);
  out.rmse_pct = out.rmse / scale * 100.0;
  out.mae = m::mae_unchecked(predictions, targets);
  out.mape = m::mape_unchecked(predictions, targets);
  out.max_error = m::max_abs_error_unchecked(predictions, targets);
  out.within5 = m::within_pct_unchecked(predictions, targets, 5.0);
  out.within10 = m::within_pct_unchecked(predictions, targets, 10.0);
  out.median_ape = m::median_abs_pct_error_unchecked(predictions, targets);
  out.kendall = m::kendall_tau_b_unchecked(predictions, targets);
  out.spearman = m::spearman_rho_unchecked(predictions, targets);
  return out;
}

inline double rmse(std::span<const float> predictions, std::span<const float> targets) {
  return rmse(detail::metrics::widen(predictions), detail::metrics::widen(targets));
}
inline double rmse_pct(std::span<const float> predictions, std::span<const float> targets) {
  return rmse_pct(detail::metrics::widen(predictions), detail::metrics::widen(targets));
}
inline double mae(std::span<const float> predictions, std::span<const float> targets) {
  return mae(detail::metrics::widen(predictions), detail::metrics::widen(targets));
}
inline double mape(std::span<const float> predictions, std::span<const float> targets) {
  return mape(detail::metrics::widen(predictions), detail::metrics::widen(targets));
}
inline double max_abs_error(std::span<const float> predictions,
                            std::span<const float> targets) {
  return max_abs_error(detail::metrics::widen(predictions), detail::metrics::widen(targets));
}
inline double within_pct(std::span<const float> predictions, std::span<const float> targets,
                         double pct) {
  return within_pct(detail::metrics::widen(predictions), detail::metrics::widen(targets),
                    pct);
}
inline double median_abs_pct_error(std::span<const float> predictions,
                                   std::span<const float> targets) {
  return median_abs_pct_error(detail::metrics::widen(predictions),
                              detail::metrics::widen(targets));
}
inline double kendall_tau_b(std::span<const float> x, std::span<const float> y) {
  return kendall_tau_b(detail::metrics::widen(x), detail::metrics::widen(y));
}
inline double spearman_rho(std::span<const float> x, std::span<const float> y) {
  return spearman_rho(detail::metrics::widen(x), detail::metrics::widen(y));
}
inline double pearson_r(std::span<const float> x, std::span<const float> y) {
  return pearson_r(detail::metrics::widen(x), detail::metrics::widen(y));
}
inline RegressionMetrics evaluate(std::span<const float> predictions,
                                  std::span<const float> targets) {
  return evaluate(detail::metrics::widen(predictions), detail::metrics::widen(targets));
}

}  // namespace hwnas
