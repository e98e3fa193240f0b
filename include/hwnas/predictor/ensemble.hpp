// PredictorEnsemble: several latency predictors answering as one, by the mean
// of their predictions in ms (what fine_tune_from() returns, transfer.hpp),
// or by a weighted sum plus an offset (a blend of device bases,
// adapt_to_device in device_predictor.hpp). Model files hold one
// (model_file.hpp), and any latency model file loads as an ensemble (a single
// predictor is an ensemble of one, with identical predictions).
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/error.hpp"
#include "hwnas/metrics.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas {

template <class Scalar = float, class Space = MbConvSpace>
class PredictorEnsemble {
 public:
  using Predictor = LatencyPredictor<Scalar, Space>;
  using Arch = typename Space::arch_type;

  /// InvalidArgument when `members` is empty, or when they differ in search
  /// space or in the number of hardware features they take (every member
  /// must answer every architecture the ensemble accepts).
  explicit PredictorEnsemble(std::vector<Predictor> members) : members_(std::move(members)) {
    if (members_.empty()) throw InvalidArgument("ensemble: no members");
    weights_.assign(members_.size(), 1.0 / static_cast<double>(members_.size()));
    const auto& first = members_.front();
    for (std::size_t i = 1; i < members_.size(); ++i) {
      const auto& m = members_[i];
      if (!(m.space() == first.space())) {
        throw InvalidArgument("ensemble: member " + std::to_string(i) + " searches space '" + m.space().name() +
                              "' but member 0 searches '" + first.space().name() + "' (or the same name with other options)");
      }
      if (m.encoder().options().hardware_features != first.encoder().options().hardware_features) {
        throw InvalidArgument("ensemble: member " + std::to_string(i) + " takes " +
                              std::to_string(m.encoder().options().hardware_features) +
                              " hardware features but member 0 takes " +
                              std::to_string(first.encoder().options().hardware_features));
      }
    }
  }

  /// offset + sum_i weights[i] * members[i]; InvalidArgument unless there is
  /// one finite weight per member and a finite offset.
  PredictorEnsemble(std::vector<Predictor> members, std::vector<double> weights, double offset)
      : PredictorEnsemble(std::move(members)) {
    if (weights.size() != members_.size()) {
      throw InvalidArgument("ensemble: " + std::to_string(weights.size()) + " weights for " +
                            std::to_string(members_.size()) + " members");
    }
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (!std::isfinite(weights[i])) throw InvalidArgument("ensemble: weight " + std::to_string(i) + " is not finite");
    }
    if (!std::isfinite(offset)) throw InvalidArgument("ensemble: the offset is not finite");
    weights_ = std::move(weights);
    offset_ = offset;
    mean_ = false;
  }

  std::span<const Predictor> members() const noexcept { return members_; }
  std::span<const double> weights() const noexcept { return weights_; }
  double offset() const noexcept { return offset_; }
  /// Built as the members' mean (the first constructor).
  bool is_mean() const noexcept { return mean_; }
  std::size_t size() const noexcept { return members_.size(); }
  const Space& space() const noexcept { return members_.front().space(); }
  std::size_t hardware_features() const noexcept { return members_.front().encoder().options().hardware_features; }

  /// The latency in ms: the members' weighted sum plus the offset (by
  /// default their mean). Thread-safe, as the members' predict.
  double predict(const Arch& arch, std::span<const double> hardware = {}) const {
    double sum = 0;
    for (std::size_t k = 0; k < members_.size(); ++k) sum += weight(k) * members_[k].predict(arch, hardware);
    return total(sum);
  }
  std::vector<double> predict(std::span<const Arch> archs, std::span<const double> hardware = {}) const {
    std::vector<double> sum(archs.size(), 0.0);
    for (std::size_t k = 0; k < members_.size(); ++k) {
      const auto p = members_[k].predict(archs, hardware);
      for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += weight(k) * p[i];
    }
    for (double& v : sum) v = total(v);
    return sum;
  }
  RegressionMetrics evaluate(std::span<const Arch> archs, std::span<const double> latencies) const {
    return hwnas::evaluate(predict(archs), latencies);
  }

 private:
  // The mean divides the plain sum once, as it always has (the same bits).
  double weight(std::size_t k) const { return mean_ ? 1.0 : weights_[k]; }
  double total(double sum) const { return mean_ ? sum / static_cast<double>(members_.size()) : offset_ + sum; }

  std::vector<Predictor> members_;
  std::vector<double> weights_;
  double offset_ = 0;
  bool mean_ = true;
};

}  // namespace hwnas
