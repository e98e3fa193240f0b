// One latency model for many devices, and for devices it was never trained
// on (docs/generalisation.md). One MLP conditioned on device features
// generalises badly from a handful of training devices (docs/results.md), so
// ranking and scale are kept apart: the architecture ranking comes
// from a base predictor trained on one known device, the scale and the
// relation between the devices from a line in log space fitted on the new
// device's fingerprint:
//   log y_new(x) = a + c * log y_base(x),
// with the base whose line fits the fingerprint best (leave-one-out). The
// conditioned MLP stays as the baseline (DescriptorMode::spec, ::both).
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
#include <vector>

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
    check_device(target);
    detail::check_latencies(latencies, archs.size(), "calibration");
    if (!target.fingerprint.empty()) detail::check_fingerprint_size(target, reference_.size());
    std::vector<Arch> cal(archs.begin(), archs.end());
    std::vector<double> y;
    if (!target.fingerprint.empty()) cal.insert(cal.end(), reference_.begin(), reference_.end());
    for (double v : latencies) y.push_back(std::log(v));
    for (double v : target.fingerprint) y.push_back(std::log(v));
    if (y.size() < 3) {
      throw InvalidArgument("device '" + target.name + "': " + std::to_string(y.size()) +
                            " calibration latencies (fingerprint plus samples); at least 3 are needed");
    }
    DeviceMapping best;
    best.loo_rmse = std::numeric_limits<double>::infinity();
    for (std::size_t b = 0; b < models_.size(); ++b) {
      std::vector<double> p = models_[b].predict(std::span<const Arch>(cal));
      for (double& v : p) v = std::log(v);
      const auto f = detail::fit_line(p, y);
      if (f.c > 0 && f.loo_rmse < best.loo_rmse) best = {b, f.a, f.c, f.loo_rmse, y.size()};
    }
    if (!std::isfinite(best.loo_rmse)) {
      throw InvalidArgument("device '" + target.name + "': its latencies fit no base (every line through them falls)");
    }
    return best;
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
    if (mode_ == DescriptorMode::fingerprint) return mapped(map(device)).predict(archs);
    const auto i = find(device.name);
    const auto h = hardware_features(i ? devices_[*i] : device);
    std::vector<double> rows;
    for (std::size_t k = 0; k < archs.size(); ++k) rows.insert(rows.end(), h.begin(), h.end());
    return models_.front().predict(archs, rows);
  }

 private:
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

/// Few-shot adaptation to a new device (adapt_to_device).
struct AdaptOptions {
  /// From this many measured samples on, fine-tuning is tried too: a seeded
  /// hold-out of `holdout` x N samples scores the mapped base and the bases
  /// fine-tuned on the other samples (fine_tune_from, with the fingerprint),
  /// and the better one is rebuilt on every sample. With fewer samples, the
  /// mapped base: measured, fine-tuning up to 50 samples loses to a line, and
  /// a hold-out of 10 picks the loser too often (docs/generalisation.md).
  std::size_t fine_tune_samples = 100;
  double holdout = 0.2;
  /// How the bases are fine-tuned; training.seed also draws the hold-out.
  TransferOptions transfer{};
};

struct AdaptReport {
  DeviceMapping mapping;  ///< the line from the fingerprint and every sample
  /// ms, on the hold-out, when fine-tuning was tried (NaN otherwise).
  double mapped_holdout_rmse = std::numeric_limits<double>::quiet_NaN();
  double fine_tuned_holdout_rmse = std::numeric_limits<double>::quiet_NaN();
  bool fine_tuned = false;  ///< the result is the fine-tuned bases
  TransferReport transfer;  ///< the final fine-tuning, when fine_tuned
};

/// A latency model of `target` (a new device of a fingerprint model) from
/// its fingerprint and N measured samples (N may be 0): the mapped base, or
/// the fine-tuned bases when they do better on a hold-out of the samples.
/// Deterministic for options.transfer.training.seed.
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
  rep.mapping = model.map(target, archs, latencies);
  // The bases fine-tuned on samples plus the fingerprint.
  auto fine_tune = [&](std::vector<Arch> xa, std::vector<double> ya, TransferReport* tr) {
    xa.insert(xa.end(), model.reference().begin(), model.reference().end());
    ya.insert(ya.end(), target.fingerprint.begin(), target.fingerprint.end());
    return fine_tune_from<Scalar, Space>(model.models(), std::span<const Arch>(xa), std::span<const double>(ya),
                                         options.transfer, tr);
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
    rep.mapped_holdout_rmse = rmse(model.mapped(model.map(target, xt, yt)).predict(xh), yh);
    rep.fine_tuned_holdout_rmse = rmse(fine_tune(xt, yt, nullptr).predict(xh), yh);
    rep.fine_tuned = rep.fine_tuned_holdout_rmse < rep.mapped_holdout_rmse;
  }
  std::vector<LatencyPredictor<Scalar, Space>> members;
  if (rep.fine_tuned) {
    const auto tuned = fine_tune({archs.begin(), archs.end()}, {latencies.begin(), latencies.end()}, &rep.transfer);
    members.assign(tuned.members().begin(), tuned.members().end());
  } else {
    members.push_back(model.mapped(rep.mapping));
  }
  if (report) *report = std::move(rep);
  return PredictorEnsemble<Scalar, Space>(std::move(members));
}

}  // namespace hwnas
