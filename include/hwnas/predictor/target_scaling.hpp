// How latencies are scaled before a network sees them: (f(y) - mean) / scale
// with f = identity or log. Fitted on training latencies; part of a fitted
// predictor's state (its options only say which transform to start from).
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <string_view>

#include "hwnas/error.hpp"

namespace hwnas {

/// The f of the scaling.
enum class TargetTransform {
  standardize,      ///< (y - mean) / std on the training targets (the method)
  log_standardize,  ///< the same on log(y): errors become relative
};

constexpr std::string_view to_string(TargetTransform t) noexcept {
  return t == TargetTransform::standardize ? "standardize" : "log-standardize";
}

/// "standardize" or "log-standardize"; InvalidArgument otherwise.
inline TargetTransform target_transform_from_string(std::string_view name) {
  if (name == to_string(TargetTransform::standardize)) return TargetTransform::standardize;
  if (name == to_string(TargetTransform::log_standardize)) return TargetTransform::log_standardize;
  throw InvalidArgument("predictor: unknown target transform '" + std::string(name) +
                        "'; expected standardize or log-standardize");
}

/// scaled = (f(y) - mean) / scale.
struct TargetScaling {
  TargetTransform transform = TargetTransform::standardize;
  double mean = 0;
  double scale = 1;

  double apply(double y) const {
    const double f = transform == TargetTransform::log_standardize ? std::log(y) : y;
    return (f - mean) / scale;
  }
  double invert(double s) const {
    const double f = s * scale + mean;
    return transform == TargetTransform::log_standardize ? std::exp(f) : f;
  }
  /// InvalidArgument unless mean is finite and scale finite and positive.
  void set(double new_mean, double new_scale) {
    if (!std::isfinite(new_mean) || !std::isfinite(new_scale) || new_scale <= 0) {
      throw InvalidArgument("predictor: target scaling needs a finite mean and a positive scale, found " +
                            std::to_string(new_mean) + " and " + std::to_string(new_scale));
    }
    mean = new_mean;
    scale = new_scale;
  }
  /// Mean and population standard deviation (numpy's y.std()) of f(y); a
  /// constant target gets scale 1.
  void fit(std::span<const double> latencies) {
    double sum = 0, sq = 0;
    for (double y : latencies) {
      const double f = transform == TargetTransform::log_standardize ? std::log(y) : y;
      sum += f;
      sq += f * f;
    }
    const double n = static_cast<double>(latencies.size());
    const double m = sum / n;
    const double var = std::max(0.0, sq / n - m * m);
    set(m, var > 0 ? std::sqrt(var) : 1.0);
  }
};

}  // namespace hwnas
