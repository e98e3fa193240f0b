// One latency model for many devices, and for devices it was never trained
// on (docs/generalisation.md). One MLP conditioned on device features
// generalises badly from a handful of training devices (docs/results.md), so
// architectures and devices are kept apart: one base predictor per known
// device, and a new device is reached through the base whose line in log
// space fits its fingerprint best (map()):
//   log y_new(x) = a + c * log y_base(x),
// corrected, once samples are measured, by a ridge blend of every base
// where leave-one-out says the correction pays (blend();
// docs/generalisation.md). The conditioned MLP stays as the baseline
// (DescriptorMode::spec, ::both).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "hwnas/architecture.hpp"
#include "hwnas/dataset.hpp"
#include "hwnas/split.hpp"
#include "hwnas/device.hpp"
#include "hwnas/predictor/ensemble.hpp"
#include "hwnas/error.hpp"
#include "hwnas/metrics.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/random.hpp"
#include "hwnas/predictor/transfer.hpp"

namespace hwnas {

/// What a DevicePredictor conditions on.
enum class DescriptorMode {
  fingerprint,  ///< one base per device, a new device mapped by its fingerprint (the default)
  spec,         ///< one MLP on the encoding plus the spec features (the method's 131-d model)
  both,         ///< one MLP on the encoding plus the spec and fingerprint features
};

inline std::string_view to_string(DescriptorMode m) noexcept {
  return m == DescriptorMode::fingerprint ? "fingerprint" : m == DescriptorMode::spec ? "spec" : "both";
}

inline DescriptorMode descriptor_mode_from_string(std::string_view s) {
  if (s == "fingerprint") return DescriptorMode::fingerprint;
  if (s == "spec") return DescriptorMode::spec;
  if (s == "both") return DescriptorMode::both;
  throw InvalidArgument("device predictor: unknown descriptor '" + std::string(s) +
                        "'; expected spec, fingerprint or both");
}

/// How a device is reached from a base: log y = intercept + slope * log base(x).
struct DeviceMapping {
  std::size_t base = 0;  ///< index of the base (training device)
  double intercept = 0;
  double slope = 1;
  /// Leave-one-out RMSE of the line on the calibration samples, in log
  /// units (about a relative error); 0 for a training device itself.
  double loo_rmse = 0;
  std::size_t samples = 0;  ///< calibration samples: fingerprint plus measured
};

/// How a new device is reached from every base at once, in ms: the nearest
/// base through its line in log space (map()), corrected by the bases:
///   y(x) = exp(a + c * log base_m(x)) + offset + sum_b weights[b] * base_b(x).
struct DeviceBlend {
  DeviceMapping mapping;        ///< the nearest base and its line
  std::vector<double> weights;  ///< one per base (training device); all 0: the nearest base alone
  double offset = 0;
  /// The penalty chosen (on standardised base predictions); infinite when
  /// the correction is left out.
  double ridge = std::numeric_limits<double>::infinity();
  /// Leave-one-out relative RMSE on the calibration samples (the line
  /// refitted too); 0 for a training device itself.
  double loo_rmse = 0;
  std::size_t samples = 0;  ///< calibration samples: fingerprint plus measured
};

/// The conditioned models' hardware features: the log spec features named
/// here, then (DescriptorMode::both) the fingerprint features, each
/// standardised with the mean and scale of the training devices.
struct DeviceFeatures {
  std::vector<std::string> spec_names;
  std::vector<double> mean, scale;
};

namespace detail {

// InvalidArgument unless the device has one fingerprint latency per reference architecture.
inline void check_fingerprint_size(const DeviceDescriptor& d, std::size_t n_reference) {
  if (d.fingerprint.size() != n_reference) {
    throw InvalidArgument("device '" + d.name + "': " + std::to_string(d.fingerprint.size()) +
                          " fingerprint latencies for " + std::to_string(n_reference) + " reference architectures");
  }
}

inline std::vector<double> raw_device_features(DescriptorMode mode, const DeviceDescriptor& d,
                                               std::span<const std::string> spec_names, std::size_t n_reference) {
  std::vector<double> f = spec_features(d, spec_names);
  if (mode == DescriptorMode::both) {
    check_fingerprint_size(d, n_reference);
    const auto fp = fingerprint_features(d);
    f.insert(f.end(), fp.begin(), fp.end());
  }
  return f;
}

inline double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Leave-one-out squared errors sq[candidate][point], candidate 0 being no
// correction: the candidate of smallest mean among those whose gain over
// candidate 0 is at least twice its standard error (paired over the
// points; with few points a correction often wins by chance), else 0.
inline std::size_t significant_best(const std::vector<std::vector<double>>& sq) {
  const auto n = static_cast<double>(sq.front().size());
  std::size_t chosen = 0;
  for (std::size_t g = 1; g < sq.size(); ++g) {
    double mean = 0, var = 0;
    for (std::size_t i = 0; i < sq[g].size(); ++i) mean += (sq[0][i] - sq[g][i]) / n;
    for (std::size_t i = 0; i < sq[g].size(); ++i) var += std::pow(sq[0][i] - sq[g][i] - mean, 2) / (n - 1);
    if (mean > 2 * std::sqrt(var / n) && mean_of(sq[g]) < mean_of(sq[chosen])) chosen = g;
  }
  return chosen;
}

// Ridge regression: (g + ridge I)^-1 rhs.
inline Eigen::VectorXd ridge_solve(Eigen::MatrixXd g, const Eigen::VectorXd& rhs, double ridge) {
  g.diagonal().array() += ridge;
  return g.ldlt().solve(rhs);
}

}  // namespace detail

/// A latency model over devices. Const members are thread-safe.
template <class Scalar = float, class Space = MbConvSpace>
class DevicePredictor {
 public:
  using Arch = typename Space::arch_type;
  using Predictor = LatencyPredictor<Scalar, Space>;

  /// `models`: for DescriptorMode::fingerprint one log-target predictor per
  /// device, in the order of `devices`; otherwise one predictor whose
  /// hardware features are hardware_features(device). `reference`: the
  /// architectures the fingerprints measure (needed by fingerprint and
  /// both). `features`: empty in fingerprint mode. InvalidArgument for
  /// inconsistent parts.
  DevicePredictor(DescriptorMode mode, std::vector<Arch> reference, std::vector<DeviceDescriptor> devices,
                  DeviceFeatures features, std::vector<Predictor> models)
      : mode_(mode),
        reference_(std::move(reference)),
        devices_(std::move(devices)),
        features_(std::move(features)),
        models_(std::move(models)) {
    if (devices_.empty()) throw InvalidArgument("device predictor: no devices");
    for (std::size_t i = 0; i < devices_.size(); ++i) {
      check_device(devices_[i]);
      for (std::size_t j = 0; j < i; ++j) {
        if (devices_[j].name == devices_[i].name) {
          throw InvalidArgument("device predictor: device '" + devices_[i].name + "' appears twice");
        }
      }
    }
    const std::size_t want = mode_ == DescriptorMode::fingerprint ? devices_.size() : 1;
    if (models_.size() != want) {
      throw InvalidArgument("device predictor: " + std::to_string(models_.size()) + " models for " +
                            std::to_string(devices_.size()) + " devices in mode " + std::string(to_string(mode_)) +
                            " (expected " + std::to_string(want) + ")");
    }
    for (const auto& m : models_) {
      if (!(m.space() == models_.front().space())) {
        throw InvalidArgument("device predictor: the models search different spaces");
      }
    }
    if (mode_ == DescriptorMode::fingerprint) {
      for (std::size_t i = 0; i < models_.size(); ++i) {
        if (models_[i].target_transform() != TargetTransform::log_standardize) {
          throw InvalidArgument("device predictor: base '" + devices_[i].name +
                                "' must predict in log space (TargetTransform::log_standardize)");
        }
        if (models_[i].encoder().options().hardware_features != 0) {
          throw InvalidArgument("device predictor: base '" + devices_[i].name + "' takes hardware features");
        }
      }
    }
    for (const auto& a : reference_) space().validate(a);
    for (const auto& d : devices_) {
      if (mode_ != DescriptorMode::spec) detail::check_fingerprint_size(d, reference_.size());
    }
    if (mode_ == DescriptorMode::fingerprint) {
      if (!features_.spec_names.empty() || !features_.mean.empty() || !features_.scale.empty()) {
        throw InvalidArgument("device predictor: a fingerprint model takes no conditioning features");
      }
      return;
    }
    const std::size_t n = models_.front().encoder().options().hardware_features;
    const std::size_t raw = detail::raw_device_features(mode_, devices_.front(), features_.spec_names,
                                                        reference_.size()).size();
    if (n != raw || features_.mean.size() != n || features_.scale.size() != n) {
      throw InvalidArgument("device predictor: the conditioned model takes " + std::to_string(n) +
                            " hardware features; the descriptors give " + std::to_string(raw) + ", with " +
                            std::to_string(features_.mean.size()) + " means and " +
                            std::to_string(features_.scale.size()) + " scales");
    }
    for (std::size_t k = 0; k < n; ++k) {
      if (!std::isfinite(features_.mean[k]) || !std::isfinite(features_.scale[k]) || features_.scale[k] <= 0) {
        throw InvalidArgument("device predictor: feature " + std::to_string(k) + " has mean " +
                              std::to_string(features_.mean[k]) + " and scale " +
                              std::to_string(features_.scale[k]) + " (finite, scale > 0)");
      }
    }
    for (const auto& d : devices_) (void)hardware_features(d);
  }

  DescriptorMode mode() const noexcept { return mode_; }
  std::span<const Arch> reference() const noexcept { return reference_; }
  std::span<const DeviceDescriptor> devices() const noexcept { return devices_; }
  const DeviceFeatures& features() const noexcept { return features_; }
  std::span<const Predictor> models() const noexcept { return models_; }
  const Space& space() const noexcept { return models_.front().space(); }

  /// Index of the training device called `name`.
  std::optional<std::size_t> find(std::string_view name) const {
    for (std::size_t i = 0; i < devices_.size(); ++i) {
      if (devices_[i].name == name) return i;
    }
    return std::nullopt;
  }

  /// The conditioned model's hardware features of a device (DeviceFeatures).
  std::vector<double> hardware_features(const DeviceDescriptor& d) const {
    std::vector<double> f = detail::raw_device_features(mode_, d, features_.spec_names, reference_.size());
    for (std::size_t k = 0; k < f.size(); ++k) f[k] = (f[k] - features_.mean[k]) / features_.scale[k];
    return f;
  }

  /// Fingerprint mode: the base and line that reach `target` (each call
  /// predicts the calibration rows with every base: predicting many batches
  /// for one device, map once and keep mapped(mapping)). A training
  /// device (by name) is its own base. Otherwise the calibration samples are
  /// the fingerprint plus (archs, latencies), at least 3; every base's line
  /// is fitted in log space and the one with the smallest leave-one-out
  /// error (and a positive slope) wins.
  DeviceMapping map(const DeviceDescriptor& target, std::span<const Arch> archs = {},
                    std::span<const double> latencies = {}) const {
    require_mode(DescriptorMode::fingerprint, "map");
    if (const auto i = find(target.name)) return {.base = *i, .samples = reference_.size()};
    const auto [cal, y] = calibration(target, archs, latencies);
    return nearest_line(target.name, base_predictions(cal), y);
  }

  /// Fingerprint mode: the blend that reaches `target` (a training device,
  /// by name, is its own base alone). The calibration samples are as for
  /// map(): the nearest base's line, then a correction by every base, fitted
  /// to the line's relative errors by ridge regression on the standardised
  /// base predictions. The penalty comes from a grid (infinite = no
  /// correction, 1e3 .. 1e-3) by leave-one-out, the line refitted without
  /// the point too: the smallest error among the penalties whose gain over
  /// no correction is at least twice its standard error (with few points a
  /// correction often wins by chance). Only with measured samples: from
  /// the fingerprint alone (10 points) a correction over-fitted
  /// (docs/generalisation.md).
  DeviceBlend blend(const DeviceDescriptor& target, std::span<const Arch> archs = {},
                    std::span<const double> latencies = {}) const {
    require_mode(DescriptorMode::fingerprint, "blend");
    const std::size_t k = models_.size();
    DeviceBlend best;
    best.weights.assign(k, 0.0);
    if (find(target.name)) {
      best.mapping = map(target);
      best.samples = reference_.size();
      return best;
    }
    const auto [cal, y] = calibration(target, archs, latencies);
    const auto p = base_predictions(cal);
    best.mapping = nearest_line(target.name, p, y);
    const std::size_t n = y.size();
    best.samples = n;
    best.loo_rmse = best.mapping.loo_rmse;  // log units: about relative
    if (archs.empty()) return best;  // the fingerprint alone: measured, a correction over-fits it
    const auto rows = static_cast<Eigen::Index>(n);
    Eigen::MatrixXd a(rows, static_cast<Eigen::Index>(k + 1));
    std::vector<double> mean(k), scale(k);
    for (std::size_t b = 0; b < k; ++b) {
      double m = 0, v = 0;
      for (double x : p[b]) m += x / static_cast<double>(n);
      for (double x : p[b]) v += (x - m) * (x - m) / static_cast<double>(n);
      mean[b] = m;
      scale[b] = v > 0 ? std::sqrt(v) : 1.0;
      for (std::size_t i = 0; i < n; ++i) a(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(b + 1)) = (p[b][i] - m) / scale[b];
    }
    double y_mean = 0;
    for (double v : y) y_mean += v / static_cast<double>(n);
    for (Eigen::Index i = 0; i < rows; ++i) {
      a(i, 0) = 1;
      a.row(i) *= y_mean / y[static_cast<std::size_t>(i)];  // offsets in units of the mean latency
    }
    // The nearest base's line in log space, fitted without row `skip`:
    // its relative residuals on every row.
    std::vector<double> log_p(n), log_y(n);
    for (std::size_t i = 0; i < n; ++i) {
      log_p[i] = std::log(p[best.mapping.base][i]);
      log_y[i] = std::log(y[i]);
    }
    auto line_residuals = [&](std::size_t skip) {
      std::vector<double> lp, ly;
      for (std::size_t i = 0; i < n; ++i) {
        if (i != skip) lp.push_back(log_p[i]), ly.push_back(log_y[i]);
      }
      const auto f = detail::fit_line(lp, ly);
      Eigen::VectorXd r(rows);
      for (std::size_t i = 0; i < n; ++i) r(static_cast<Eigen::Index>(i)) = 1 - std::exp(f.a + f.c * log_p[i]) / y[i];
      return r;
    };
    // Leave-one-out squared errors per penalty: row i's gram and right-hand
    // side are the whole data's less row i (O(n) memory, O(n^2) time).
    const std::vector<double> grid{std::numeric_limits<double>::infinity(), 1e3, 1e2, 1e1, 1.0, 1e-1, 1e-2, 1e-3};
    const Eigen::MatrixXd gram = a.transpose() * a;
    std::vector<std::vector<double>> sq(grid.size(), std::vector<double>(n));
    for (std::size_t i = 0; i < n; ++i) {
      const auto row = static_cast<Eigen::Index>(i);
      const Eigen::VectorXd r = line_residuals(i);
      const Eigen::VectorXd rhs = a.transpose() * r - a.row(row).transpose() * r(row);
      const Eigen::MatrixXd g_without = gram - a.row(row).transpose() * a.row(row);
      for (std::size_t g = 0; g < grid.size(); ++g) {
        const double correction = std::isinf(grid[g]) ? 0.0 : a.row(row).dot(detail::ridge_solve(g_without, rhs, grid[g]));
        sq[g][i] = std::pow(r(row) - correction, 2);
      }
    }
    if (!std::all_of(sq.begin(), sq.end(), [](const auto& v) { return std::isfinite(detail::mean_of(v)); })) {
      throw InvalidArgument("device '" + target.name + "': the bases' predictions of its calibration samples are not finite");
    }
    const std::size_t chosen = detail::significant_best(sq);
    best.ridge = grid[chosen];
    best.loo_rmse = std::sqrt(detail::mean_of(sq[chosen]));
    if (std::isinf(best.ridge)) return best;
    const Eigen::VectorXd theta = detail::ridge_solve(gram, a.transpose() * line_residuals(n), best.ridge);
    best.offset = y_mean * theta(0);
    for (std::size_t b = 0; b < k; ++b) {
      best.weights[b] = y_mean * theta(static_cast<Eigen::Index>(b + 1)) / scale[b];
      best.offset -= best.weights[b] * mean[b];
    }
    return best;
  }

  /// A blend as one ensemble: the mapped nearest base (weight 1) and the
  /// bases of non-zero weight; without a correction, that base alone.
  PredictorEnsemble<Scalar, Space> blended(const DeviceBlend& b) const {
    require_mode(DescriptorMode::fingerprint, "blended");
    if (b.weights.size() != models_.size()) {
      throw InvalidArgument("device predictor: a blend of " + std::to_string(b.weights.size()) + " bases for " +
                            std::to_string(models_.size()));
    }
    std::vector<Predictor> members{mapped(b.mapping)};
    if (b.offset == 0 && std::all_of(b.weights.begin(), b.weights.end(), [](double w) { return w == 0; })) {
      return PredictorEnsemble<Scalar, Space>(std::move(members));  // the nearest base alone
    }
    std::vector<double> weights{1.0};
    for (std::size_t i = 0; i < models_.size(); ++i) {
      if (b.weights[i] != 0) members.push_back(models_[i]), weights.push_back(b.weights[i]);
    }
    return PredictorEnsemble<Scalar, Space>(std::move(members), std::move(weights), b.offset);
  }

  /// A base predictor with a mapping folded into its target scaling: it
  /// predicts exp(intercept + slope * log base(x)).
  Predictor mapped(const DeviceMapping& m) const {
    require_mode(DescriptorMode::fingerprint, "mapped");
    Predictor p = models_.at(m.base);
    p.set_target_scaling(m.intercept + m.slope * p.target_mean(), m.slope * p.target_scale());
    return p;
  }

  /// Latencies (ms) of `archs` on `device` (a training device by name, or a
  /// new one by its descriptor).
  std::vector<double> predict(const DeviceDescriptor& device, std::span<const Arch> archs) const {
    if (mode_ == DescriptorMode::fingerprint) {
      if (const auto i = find(device.name)) return models_[*i].predict(archs);
      return blended(blend(device)).predict(archs);
    }
    const auto i = find(device.name);
    const auto h = hardware_features(i ? devices_[*i] : device);
    std::vector<double> rows;
    for (std::size_t k = 0; k < archs.size(); ++k) rows.insert(rows.end(), h.begin(), h.end());
    return models_.front().predict(archs, rows);
  }

  /// The calibration samples of a new device, as map() and blend() take
  /// them: (archs, latencies), then the reference architectures with its
  /// fingerprint. InvalidArgument for fewer than 3 or a malformed device.
  std::pair<std::vector<Arch>, std::vector<double>> calibration(const DeviceDescriptor& target,
                                                                std::span<const Arch> archs,
                                                                std::span<const double> latencies) const {
    check_device(target);
    detail::check_latencies(latencies, archs.size(), "calibration");
    if (!target.fingerprint.empty()) detail::check_fingerprint_size(target, reference_.size());
    std::vector<Arch> cal(archs.begin(), archs.end());
    std::vector<double> y(latencies.begin(), latencies.end());
    if (!target.fingerprint.empty()) cal.insert(cal.end(), reference_.begin(), reference_.end());
    y.insert(y.end(), target.fingerprint.begin(), target.fingerprint.end());
    if (y.size() < 3) {
      throw InvalidArgument("device '" + target.name + "': " + std::to_string(y.size()) +
                            " calibration latencies (fingerprint plus samples); at least 3 are needed");
    }
    return {std::move(cal), std::move(y)};
  }

 private:
  // Every base's predictions (ms) of the calibration architectures.
  std::vector<std::vector<double>> base_predictions(const std::vector<Arch>& cal) const {
    std::vector<std::vector<double>> p;
    for (const auto& m : models_) p.push_back(m.predict(std::span<const Arch>(cal)));
    return p;
  }

  // The base whose line in log space, fitted on (predictions p, latencies
  // y), has the smallest leave-one-out error among lines with a positive slope.
  DeviceMapping nearest_line(const std::string& name, const std::vector<std::vector<double>>& p,
                             const std::vector<double>& y) const {
    std::vector<double> log_y(y.size());
    std::transform(y.begin(), y.end(), log_y.begin(), [](double v) { return std::log(v); });
    DeviceMapping best;
    best.loo_rmse = std::numeric_limits<double>::infinity();
    for (std::size_t b = 0; b < p.size(); ++b) {
      std::vector<double> log_p(p[b].size());
      std::transform(p[b].begin(), p[b].end(), log_p.begin(), [](double v) { return std::log(v); });
      const auto f = detail::fit_line(log_p, log_y);
      if (f.c > 0 && f.loo_rmse < best.loo_rmse) best = {b, f.a, f.c, f.loo_rmse, y.size()};
    }
    if (!std::isfinite(best.loo_rmse)) {
      throw InvalidArgument("device '" + name + "': its latencies fit no base (every line through them falls)");
    }
    return best;
  }

  void require_mode(DescriptorMode m, const char* what) const {
    if (mode_ != m) {
      throw InvalidArgument(std::string("device predictor: ") + what + " needs a " + std::string(to_string(m)) +
                            " model; this one is " + std::string(to_string(mode_)));
    }
  }

  DescriptorMode mode_;
  std::vector<Arch> reference_;
  std::vector<DeviceDescriptor> devices_;
  DeviceFeatures features_;
  std::vector<Predictor> models_;
};

/// A device's fingerprint: its latencies in `column` at the rows of the
/// reference ids. InvalidArgument naming a missing id.
template <class Arch>
std::vector<double> fingerprint_from(const BasicDataset<Arch>& data, std::string_view column,
                                     std::span<const std::int64_t> reference_ids) {
  const std::size_t c = data.column_index(column);
  std::vector<double> f;
  for (const auto id : reference_ids) f.push_back(data.latency(data.row_of_id(id), c));
  return f;
}

/// Trains a DevicePredictor for `space` on the columns named by the devices
/// (train and validation rows of `split`) with `recipe`; fingerprint bases
/// are kept in log space. `reference_ids`: the rows whose latencies become
/// the devices' fingerprints. `spec_names`: the spec features of the
/// conditioned modes. Deterministic for recipe.training.seed.
template <class Scalar = float, class Space = MbConvSpace>
DevicePredictor<Scalar, Space> train_device_predictor(const BasicDataset<typename Space::arch_type>& data,
                                                      const Split& split, const Space& space,
                                               std::vector<DeviceDescriptor> devices,
                                               std::span<const std::int64_t> reference_ids,
                                               DescriptorMode mode = DescriptorMode::fingerprint,
                                               std::vector<std::string> spec_names = {},
                                               const Recipe& recipe = default_recipe(),
                                               std::vector<FitReport>* reports = nullptr) {
  using Arch = typename Space::arch_type;
  if (devices.empty()) throw InvalidArgument("train_device_predictor: no devices");
  std::vector<Arch> reference;
  if (mode != DescriptorMode::spec) {
    for (const auto id : reference_ids) reference.push_back(data.archs().at(data.row_of_id(id)));
    for (auto& d : devices) d.fingerprint = fingerprint_from(data, d.name, reference_ids);
  }
  auto archs_at = [&](const std::vector<std::size_t>& rows) {
    std::vector<Arch> a;
    for (auto r : rows) a.push_back(data.archs()[r]);
    return a;
  };
  auto latencies_at = [&](const DeviceDescriptor& d, const std::vector<std::size_t>& rows) {
    const std::size_t c = data.column_index(d.name);
    std::vector<double> y;
    for (auto r : rows) y.push_back(data.latency(r, c));
    return y;
  };
  const auto ta = archs_at(split.train), va = archs_at(split.validation);
  std::vector<LatencyPredictor<Scalar, Space>> models;
  std::vector<FitReport> fits;
  DeviceFeatures features;
  if (mode == DescriptorMode::fingerprint) {
    TrainOptions training = recipe.training;
    training.choose_target = false;
    PredictorOptions po = recipe.predictor;
    po.target = TargetTransform::log_standardize;
    for (const auto& d : devices) {
      LatencyPredictor<Scalar, Space> p(space, po);
      fits.push_back(p.fit(ta, latencies_at(d, split.train), va, latencies_at(d, split.validation), training));
      models.push_back(std::move(p));
    }
  } else {
    // One model on every device's rows, each row with its device's features
    // standardised over the devices.
    std::vector<std::vector<double>> raw;
    for (const auto& d : devices) raw.push_back(detail::raw_device_features(mode, d, spec_names, reference.size()));
    const std::size_t n = raw.front().size();
    features.spec_names = spec_names;
    features.mean.assign(n, 0);
    features.scale.assign(n, 0);
    for (const auto& f : raw) {
      for (std::size_t k = 0; k < n; ++k) features.mean[k] += f[k] / static_cast<double>(raw.size());
    }
    for (const auto& f : raw) {
      for (std::size_t k = 0; k < n; ++k) {
        features.scale[k] += (f[k] - features.mean[k]) * (f[k] - features.mean[k]) / static_cast<double>(raw.size());
      }
    }
    for (double& s : features.scale) s = s > 1e-24 ? std::sqrt(s) : 1.0;  // a constant feature stays 0
    std::vector<Arch> xa, xv;
    std::vector<double> ha, hv, ya, yv;
    for (std::size_t i = 0; i < devices.size(); ++i) {
      std::vector<double> h = raw[i];
      for (std::size_t k = 0; k < n; ++k) h[k] = (h[k] - features.mean[k]) / features.scale[k];
      const auto yt = latencies_at(devices[i], split.train), yvv = latencies_at(devices[i], split.validation);
      xa.insert(xa.end(), ta.begin(), ta.end());
      xv.insert(xv.end(), va.begin(), va.end());
      ya.insert(ya.end(), yt.begin(), yt.end());
      yv.insert(yv.end(), yvv.begin(), yvv.end());
      for (std::size_t r = 0; r < ta.size(); ++r) ha.insert(ha.end(), h.begin(), h.end());
      for (std::size_t r = 0; r < va.size(); ++r) hv.insert(hv.end(), h.begin(), h.end());
    }
    PredictorOptions po = recipe.predictor;
    po.encoding.hardware_features = n;
    LatencyPredictor<Scalar, Space> p(space, po);
    fits.push_back(p.fit_with_hardware(xa, ha, ya, xv, hv, yv, recipe.training));
    models.push_back(std::move(p));
  }
  if (reports) *reports = std::move(fits);
  return DevicePredictor<Scalar, Space>(mode, std::move(reference), std::move(devices), std::move(features),
                                        std::move(models));
}

/// fine_tune_from over a fingerprint model's bases, on the samples (archs,
/// latencies) plus the target's fingerprint of the reference architectures.
template <class Scalar, class Space>
PredictorEnsemble<Scalar, Space> fine_tune_to_device(const DevicePredictor<Scalar, Space>& model,
                                                     const DeviceDescriptor& target,
                                                     std::span<const typename Space::arch_type> archs,
                                                     std::span<const double> latencies,
                                                     const TransferOptions& options = TransferOptions(),
                                                     TransferReport* report = nullptr) {
  std::vector<typename Space::arch_type> xa(archs.begin(), archs.end());
  std::vector<double> ya(latencies.begin(), latencies.end());
  if (!target.fingerprint.empty()) {
    detail::check_fingerprint_size(target, model.reference().size());
    xa.insert(xa.end(), model.reference().begin(), model.reference().end());
    ya.insert(ya.end(), target.fingerprint.begin(), target.fingerprint.end());
  }
  return fine_tune_from<Scalar, Space>(model.models(), xa, ya, options, report);
}

/// Few-shot adaptation to a new device (adapt_to_device).
struct AdaptOptions {
  /// From this many measured samples on, fine-tuning is tried too: a seeded
  /// hold-out of `holdout` x N samples scores the blend and the bases
  /// fine-tuned on the other samples (fine_tune_from, with the fingerprint),
  /// and the better one is rebuilt on every sample. With fewer samples, the
  /// blend: measured, fine-tuning up to 50 samples loses to it, and a
  /// hold-out of 10 picks the loser too often (docs/generalisation.md).
  std::size_t fine_tune_samples = 100;
  double holdout = 0.2;
  /// How the bases are fine-tuned; training.seed also draws the hold-out.
  TransferOptions transfer{};
};

struct AdaptReport {
  DeviceBlend blend;  ///< the blend from the fingerprint and every sample
  /// ms, on the hold-out, when fine-tuning was tried (NaN otherwise).
  double blend_holdout_rmse = std::numeric_limits<double>::quiet_NaN();
  double fine_tuned_holdout_rmse = std::numeric_limits<double>::quiet_NaN();
  bool fine_tuned = false;  ///< the result is the fine-tuned bases
  TransferReport transfer;  ///< the final fine-tuning, when fine_tuned
};

/// A latency model of `target` (a new device of a fingerprint model) from
/// its fingerprint and N measured samples (N may be 0): the blend of the
/// bases, or the fine-tuned bases when they do better on a hold-out of the
/// samples. Deterministic for options.transfer.training.seed.
template <class Scalar, class Space>
PredictorEnsemble<Scalar, Space> adapt_to_device(const DevicePredictor<Scalar, Space>& model,
                                                 const DeviceDescriptor& target,
                                                 std::span<const typename Space::arch_type> archs,
                                                 std::span<const double> latencies,
                                                 const AdaptOptions& options = AdaptOptions(),
                                                 AdaptReport* report = nullptr) {
  using Arch = typename Space::arch_type;
  if (!(options.holdout > 0 && options.holdout < 1)) {
    throw InvalidArgument("adapt_to_device: holdout must lie in (0, 1), found " + std::to_string(options.holdout));
  }
  AdaptReport rep;
  rep.blend = model.blend(target, archs, latencies);
  auto fine_tune = [&](std::span<const Arch> xa, std::span<const double> ya, TransferReport* tr) {
    return fine_tune_to_device(model, target, xa, ya, options.transfer, tr);
  };
  const std::size_t n = archs.size();
  if (n >= options.fine_tune_samples && n >= 2 && !target.fingerprint.empty()) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    Rng rng(options.transfer.training.seed ^ 0xada97ULL);
    rng.shuffle(std::span<std::size_t>(order));
    const auto n_hold = std::clamp<std::size_t>(
        static_cast<std::size_t>(std::llround(options.holdout * static_cast<double>(n))), 1, n - 1);
    std::vector<Arch> xt, xh;
    std::vector<double> yt, yh;
    for (std::size_t k = 0; k < n; ++k) {
      (k < n_hold ? xh : xt).push_back(archs[order[k]]);
      (k < n_hold ? yh : yt).push_back(latencies[order[k]]);
    }
    rep.blend_holdout_rmse = rmse(model.blended(model.blend(target, xt, yt)).predict(xh), yh);
    rep.fine_tuned_holdout_rmse = rmse(fine_tune(xt, yt, nullptr).predict(xh), yh);
    rep.fine_tuned = rep.fine_tuned_holdout_rmse < rep.blend_holdout_rmse;
  }
  auto result = rep.fine_tuned ? fine_tune(archs, latencies, &rep.transfer) : model.blended(rep.blend);
  if (report) *report = std::move(rep);
  return result;
}

/// A new device's part of a dataset, for adapt_to_device: its fingerprint
/// (the column's latencies at the rows of the model's reference
/// architectures) and the split's train and test rows without those rows
/// (the samples are drawn from `train`; `test` scores the result).
struct AdaptRows {
  std::vector<double> fingerprint;  ///< empty when a reference has no row
  std::optional<std::size_t> missing_reference;  ///< the first reference no row holds
  std::vector<std::size_t> train, test;
};

template <class Scalar, class Space>
AdaptRows adapt_rows(const DevicePredictor<Scalar, Space>& model, const BasicDataset<typename Space::arch_type>& data,
                     std::string_view column, const Split& split) {
  const std::size_t c = data.column_index(column);
  AdaptRows out;
  std::vector<bool> is_reference(data.size(), false);
  const auto& archs = data.archs();
  for (std::size_t k = 0; k < model.reference().size(); ++k) {
    const auto it = std::find(archs.begin(), archs.end(), model.reference()[k]);
    if (it == archs.end()) {
      if (!out.missing_reference) out.missing_reference = k;
      continue;
    }
    const auto row = static_cast<std::size_t>(it - archs.begin());
    is_reference[row] = true;
    out.fingerprint.push_back(data.latency(row, c));
  }
  if (out.missing_reference) out.fingerprint.clear();
  for (const auto r : split.train) {
    if (!is_reference[r]) out.train.push_back(r);
  }
  for (const auto r : split.test) {
    if (!is_reference[r]) out.test.push_back(r);
  }
  return out;
}

}  // namespace hwnas
