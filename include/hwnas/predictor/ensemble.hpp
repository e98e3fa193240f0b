// PredictorEnsemble: several latency predictors answering as one, by the mean
// of their predictions in ms. What fine_tune_from() returns (transfer.hpp);
// model files hold one (model_file.hpp), and any latency model file loads as
// an ensemble (a single predictor is an ensemble of one, with identical
// predictions).
#pragma once

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

  std::span<const Predictor> members() const noexcept { return members_; }
  std::size_t size() const noexcept { return members_.size(); }
  const Space& space() const noexcept { return members_.front().space(); }
  std::size_t hardware_features() const noexcept { return members_.front().encoder().options().hardware_features; }

  /// The members' mean latency in ms. Thread-safe, as the members' predict.
  double predict(const Arch& arch, std::span<const double> hardware = {}) const {
    double sum = 0;
    for (const auto& m : members_) sum += m.predict(arch, hardware);
    return sum / static_cast<double>(members_.size());
  }
  std::vector<double> predict(std::span<const Arch> archs, std::span<const double> hardware = {}) const {
    std::vector<double> sum = members_.front().predict(archs, hardware);
    for (std::size_t k = 1; k < members_.size(); ++k) {
      const auto p = members_[k].predict(archs, hardware);
      for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += p[i];
    }
    for (double& v : sum) v /= static_cast<double>(members_.size());
    return sum;
  }
  RegressionMetrics evaluate(std::span<const Arch> archs, std::span<const double> latencies) const {
    return hwnas::evaluate(predict(archs), latencies);
  }

 private:
  std::vector<Predictor> members_;
};

}  // namespace hwnas
