// A new device as a sum of per-feature costs. Many devices' latencies add
// up over layers (a lookup table is exact for them), so a new device is
// written as an additive prior, the nearest base's per-feature table scaled,
// plus the network's MACs where the space knows them, plus a per-feature
// correction that the measured samples pay for:
//   y(x) = a + b * table_m(x) + c * macs(x) + delta . features(x)
// (docs/generalisation.md has the measurements).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "hwnas/device.hpp"
#include "hwnas/error.hpp"
#include "hwnas/predictor/device_predictor.hpp"
#include "hwnas/random.hpp"

namespace hwnas {

struct AdditiveOptions {
  /// Random architectures whose predictions by the nearest base give its
  /// per-feature table (least squares).
  std::size_t table_samples = 2000;
  std::uint64_t seed = 7;
};

/// The fitted additive model of one device: intercept + weights . features
/// + macs_weight * MACs (ms). Immutable; const members are thread-safe.
template <class Scalar = float, class Space = MbConvSpace>
class AdditiveDevice {
 public:
  using Arch = typename Space::arch_type;
  using Encoder = encoder_for<Space>;

  AdditiveDevice(Encoder encoder, Space space, double intercept, std::vector<double> weights, double macs_weight)
      : encoder_(std::move(encoder)), space_(std::move(space)), intercept_(intercept),
        weights_(std::move(weights)), macs_weight_(macs_weight) {}

  double predict(const Arch& arch) const {
    double y = intercept_;
    encoder_.for_each_feature(arch, {}, [&](std::size_t j, double v) { y += weights_[j] * v; });
    if (macs_weight_ != 0) y += macs_weight_ * static_cast<double>(space_.cost(arch).macs);
    return y;
  }
  std::vector<double> predict(std::span<const Arch> archs) const {
    std::vector<double> out;
    out.reserve(archs.size());
    for (const auto& a : archs) out.push_back(predict(a));
    return out;
  }

  double intercept() const noexcept { return intercept_; }
  /// One cost (ms) per feature of the base's encoding.
  const std::vector<double>& weights() const noexcept { return weights_; }
  /// ms per multiply-accumulate; 0 for a space without a layer list.
  double macs_weight() const noexcept { return macs_weight_; }

  std::size_t base = 0;  ///< the nearest base, whose table is the prior
  /// The correction's penalty (features and latencies in units of the mean
  /// latency); infinite when the samples did not pay for a correction.
  double ridge = std::numeric_limits<double>::infinity();
  double loo_rmse = 0;  ///< leave-one-out relative RMSE on the calibration samples
  std::size_t samples = 0;  ///< calibration samples: fingerprint plus measured

 private:
  Encoder encoder_;
  Space space_;
  double intercept_;
  std::vector<double> weights_;
  double macs_weight_;
};

namespace detail {

// Whether MACs are known for the space's architectures.
template <class Space>
bool knows_macs(const Space& space) {
  if constexpr (requires { space.has_layers(); }) {
    return space.has_layers();
  } else {
    return requires(const typename Space::arch_type& a) { space.cost(a); };
  }
}

// Least-squares intercept and per-feature costs of `y` (a small penalty:
// one-hot blocks are collinear with the intercept).
inline Eigen::VectorXd additive_table(const Eigen::MatrixXd& x, std::span<const double> y) {
  Eigen::MatrixXd a(x.rows(), x.cols() + 1);
  a.col(0).setOnes();
  a.rightCols(x.cols()) = x;
  Eigen::MatrixXd g = a.transpose() * a;
  g.diagonal().array() += 1e-6;
  const Eigen::Map<const Eigen::VectorXd> t(y.data(), static_cast<Eigen::Index>(y.size()));
  return g.ldlt().solve(a.transpose() * t);
}

}  // namespace detail

/// Fingerprint mode: the additive model of `target` from its fingerprint
/// and N measured samples (the calibration samples of DevicePredictor::map,
/// whose nearest base gives the table). a, b and c are fitted freely; the
/// correction delta by ridge regression, both in relative error. Its
/// penalty comes from a grid (infinite = none, 1e2 .. 1e-4) by exact
/// leave-one-out, with the rule of blend(): a penalty is used only when its
/// gain over none is at least twice its paired standard error.
template <class Scalar, class Space>
AdditiveDevice<Scalar, Space> fit_additive_device(const DevicePredictor<Scalar, Space>& model,
                                                  const DeviceDescriptor& target,
                                                  std::span<const typename Space::arch_type> archs,
                                                  std::span<const double> latencies,
                                                  const AdditiveOptions& options = {}) {
  using Arch = typename Space::arch_type;
  const DeviceMapping mapping = model.map(target, archs, latencies);
  const auto& nearest = model.models()[mapping.base];
  const Space& space = nearest.space();
  const bool macs = detail::knows_macs(space);
  if (options.table_samples == 0) throw InvalidArgument("additive device: table_samples must be positive");

  const auto [cal, y] = model.calibration(target, archs, latencies);
  const std::size_t free_terms = macs ? 3 : 2;
  if (y.size() < free_terms + 2) {
    throw InvalidArgument("additive device '" + target.name + "': " + std::to_string(y.size()) +
                          " calibration latencies; at least " + std::to_string(free_terms + 2) + " are needed");
  }

  // The prior: the nearest base's table, from its predictions of random architectures.
  Rng rng(options.seed);
  std::vector<Arch> random;
  random.reserve(options.table_samples);
  for (std::size_t i = 0; i < options.table_samples; ++i) random.push_back(space.sample(rng));
  const auto& encoder = nearest.encoder();
  const Eigen::VectorXd table =
      detail::additive_table(encoder.template encode_batch<double>(std::span<const Arch>(random)),
                             nearest.predict(std::span<const Arch>(random)));

  // Columns: 1, table(x), macs(x) (each scaled to mean 1: a tiny penalty
  // keeps them free), then the features; rows in relative error.
  const Eigen::MatrixXd x = encoder.template encode_batch<double>(std::span<const Arch>(cal));
  const auto n = static_cast<Eigen::Index>(y.size()), d = x.cols();
  const auto f = static_cast<Eigen::Index>(free_terms);
  double y_mean = 0;
  for (double v : y) y_mean += v / static_cast<double>(y.size());
  Eigen::VectorXd prior = (x * table.tail(d)).array() + table(0);
  Eigen::VectorXd m = Eigen::VectorXd::Zero(n);
  if (macs) {
    for (Eigen::Index i = 0; i < n; ++i) m(i) = static_cast<double>(space.cost(cal[static_cast<std::size_t>(i)]).macs);
  }
  const double prior_scale = prior.mean(), macs_scale = macs ? m.mean() : 1.0;
  if (!(std::abs(prior_scale) > 0) || !(macs_scale > 0) || !std::isfinite(prior_scale)) {
    throw InvalidArgument("additive device '" + target.name + "': the nearest base's table predicts no latency");
  }
  Eigen::MatrixXd a(n, f + d);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double w = 1.0 / y[static_cast<std::size_t>(i)];  // relative error; columns in units of the mean latency
    a(i, 0) = w;
    a(i, 1) = w * prior(i) / prior_scale;
    if (macs) a(i, 2) = w * m(i) / macs_scale;
    a.row(i).tail(d) = w * x.row(i);
  }
  a.rightCols(d) *= y_mean;  // a feature's cost in units of the mean latency
  const Eigen::VectorXd t = Eigen::VectorXd::Ones(n);

  const std::vector<double> grid{std::numeric_limits<double>::infinity(), 1e2, 1e1, 1.0, 1e-1, 1e-2, 1e-3, 1e-4};
  const Eigen::MatrixXd gram = a.transpose() * a;
  std::vector<Eigen::VectorXd> theta(grid.size());
  std::vector<std::vector<double>> sq(grid.size(), std::vector<double>(y.size()));
  for (std::size_t g = 0; g < grid.size(); ++g) {
    Eigen::MatrixXd pen = gram;
    if (std::isinf(grid[g])) {  // no correction: the free terms alone
      pen = gram.topLeftCorner(f, f);
    } else {
      pen.diagonal().tail(d).array() += grid[g];
    }
    pen.diagonal().head(f).array() += 1e-9;
    const Eigen::Index p = pen.rows();
    const Eigen::MatrixXd inv = pen.ldlt().solve(Eigen::MatrixXd::Identity(p, p));
    const auto cols = a.leftCols(p);
    theta[g] = inv * (cols.transpose() * t);
    const Eigen::VectorXd leverage = ((cols * inv).array() * cols.array()).rowwise().sum();
    const Eigen::VectorXd e = t - cols * theta[g];
    for (Eigen::Index i = 0; i < n; ++i) {
      sq[g][static_cast<std::size_t>(i)] = std::pow(e(i) / std::max(1 - leverage(i), 1e-9), 2);
    }
  }
  const std::size_t chosen = detail::significant_best(sq);
  if (!std::isfinite(detail::mean_of(sq[chosen]))) {
    throw InvalidArgument("additive device '" + target.name + "': its calibration samples give no finite fit");
  }

  // Back to ms: y = a + b * prior / prior_scale + c * macs / macs_scale + y_mean * delta . x
  const Eigen::VectorXd& th = theta[chosen];
  const double b = th(1) / prior_scale;
  std::vector<double> weights(static_cast<std::size_t>(d));
  for (Eigen::Index j = 0; j < d; ++j) {
    const double delta = th.size() > f ? th(f + j) * y_mean : 0.0;
    weights[static_cast<std::size_t>(j)] = b * table(1 + j) + delta;
  }
  AdditiveDevice<Scalar, Space> out(encoder, space, th(0) + b * table(0), std::move(weights),
                                    macs ? th(2) / macs_scale : 0.0);
  out.base = mapping.base;
  out.ridge = grid[chosen];
  out.loo_rmse = std::sqrt(detail::mean_of(sq[chosen]));
  out.samples = y.size();
  return out;
}

}  // namespace hwnas
