// The linear path of a latency predictor ("wide & deep"): scaled latency =
// w.x + rho^2 u.x_layers + b, where x are the encoder's features, x_layers
// their layer bits and rho = r / the largest resolution (each layer choice
// costs a fixed part, a launch, and a part that grows with the pixels; a
// space without a resolution has no layer bits here, so no u). It is
// solved in closed form: a ridge regression, made robust by Huber weights,
// whose penalty can pull towards a base predictor's path (fine-tuning).
// choose_linear_path picks the target transform and the penalty on
// validation rows.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "hwnas/error.hpp"
#include "hwnas/metrics.hpp"
#include "hwnas/nn/sparse_rows.hpp"
#include "hwnas/predictor/encoding.hpp"
#include "hwnas/predictor/target_scaling.hpp"

namespace hwnas {

/// The penalty of one fit: its strength and whether the pixel terms u are
/// used (without them u = 0).
struct LinearSettings {
  double ridge = 1.0;
  bool pixel_terms = true;
};

namespace detail {

/// The normal equations G = Z'WZ, b = Z'Ws of a weighted least-squares fit
/// on sparse rows plus an intercept (the last column). The width is small
/// (266 for OFA with one bit per resolution) and each row has ~45 non-zeros.
struct NormalEquations {
  Eigen::MatrixXd g;
  Eigen::VectorXd b;
  template <class Scalar>
  NormalEquations(const SparseRows<Scalar>& z, std::span<const double> s, std::span<const double> weight) {
    const auto d = static_cast<Eigen::Index>(z.width);
    g = Eigen::MatrixXd::Zero(d + 1, d + 1);
    b = Eigen::VectorXd::Zero(d + 1);
    for (std::size_t i = 0; i < s.size(); ++i) {
      const std::size_t begin = z.offsets[i], end = z.offsets[i + 1];
      const double wi = weight.empty() ? 1.0 : weight[i];
      for (std::size_t k = begin; k < end; ++k) {
        const auto a = static_cast<Eigen::Index>(z.index[k]);
        const double va = wi * static_cast<double>(z.value[k]);
        for (std::size_t l = k; l < end; ++l) g(z.index[l], a) += va * static_cast<double>(z.value[l]);  // lower
        g(d, a) += va;
        b(a) += va * s[i];
      }
      g(d, d) += wi;
      b(d) += wi * s[i];
    }
    g.template triangularView<Eigen::StrictlyUpper>() = g.transpose();
  }
};

/// w's intercept (its last value) plus row i of z times w.
template <class Scalar, class Weights>
double row_output(const SparseRows<Scalar>& z, std::size_t i, const Weights& w) {
  double out = static_cast<double>(w(static_cast<Eigen::Index>(z.width)));
  for (std::size_t k = z.offsets[i]; k < z.offsets[i + 1]; ++k) {
    out += static_cast<double>(z.value[k]) * static_cast<double>(w(static_cast<Eigen::Index>(z.index[k])));
  }
  return out;
}

/// Median of v (v is reordered).
inline double median_of(std::vector<double>& v) {
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (v.size() % 2 == 1) return *mid;
  return 0.5 * (*mid + *std::max_element(v.begin(), mid));
}

}  // namespace detail

/// The weights w (encoder dim()), u (layer_dim()) and b, on the scaled
/// target, and how they are fitted. Empty (no weights) when a predictor has
/// no linear path; the layout is known either way, so that a predictor
/// without one can still fit candidates to choose its target transform.
template <class Scalar = float>
class LinearPath {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  LinearPath() = default;
  /// The layout of `encoder`'s features (any space's encoder: Encoder,
  /// SpaceEncoder); `enabled`: zero weights, else none.
  template <class Enc>
  LinearPath(const Enc& encoder, bool enabled);

  bool enabled() const noexcept { return w_.size() != 0; }
  /// dim() + layer_dim() + 1 (what enabled() paths hold).
  std::size_t size() const noexcept { return dim_ + layers_ + 1; }
  const Vector& weights() const noexcept { return w_; }
  /// ShapeMismatch unless `w` has size() values, or none (disables the path).
  void set_weights(std::span<const Scalar> w);
  void disable() { w_.resize(0); }

  /// The path's inputs for feature rows x of `archs`: x, then x's layer bits
  /// times encoder.pixels(arch).
  template <class Enc, class Arch>
  SparseRows<Scalar> inputs(const SparseRows<Scalar>& x, const Enc& encoder, std::span<const Arch> archs) const;
  /// The output for row i of inputs() (0 when disabled).
  double output(const SparseRows<Scalar>& z, std::size_t i) const;
  /// Visits arch's features (visit(i, v), Encoder::for_each_feature) and
  /// returns the path's output from them (0 when disabled): a prediction
  /// reads an architecture's features once.
  template <class Enc, class Arch, class Visit>
  double visit_output(const Enc& encoder, const Arch& arch, std::span<const double> hardware, Visit&& visit) const;

  /// The robust fit to scaled targets `s` (Huber's k = huber in robust
  /// scale units, 0 = least squares), its penalty pulling towards `w0`;
  /// then the intercept is moved so that the mean residual is zero. Returns
  /// the rows' final Huber weights.
  std::vector<double> fit(const SparseRows<Scalar>& z, std::span<const double> s, const LinearSettings& settings,
                          double huber, const Eigen::VectorXd& w0);
  /// A weighted least-squares fit from prepared normal equations (the
  /// candidates of choose_linear_path share them), then the mean residual
  /// set to zero as fit() does.
  void fit(const detail::NormalEquations& eq, const SparseRows<Scalar>& z, std::span<const double> s,
           const LinearSettings& settings, const Eigen::VectorXd& w0);
  /// Where the penalty pulls: zero, or with an enabled `prior` (a base
  /// predictor's path, fitted for another device and scaling) that path
  /// mapped onto `s` by the least-squares line s = a + c prior(z).
  Eigen::VectorXd pull_towards(const SparseRows<Scalar>& z, std::span<const double> s, const LinearPath& prior) const;
  /// Divides every weight (rescaling the target it predicts).
  void divide(double by) { w_ /= static_cast<Scalar>(by); }

 private:
  Eigen::VectorXd solve(const detail::NormalEquations& eq, const LinearSettings& settings,
                        const Eigen::VectorXd& w0) const;
  void set_mean_zero(const SparseRows<Scalar>& z, std::span<const double> s, Eigen::VectorXd w);

  std::size_t dim_ = 0, layers_ = 0;
  std::size_t resolution_bits_ = 0;  // an ordered resolution one-hot after the layer bits; 0: none
  Vector w_;
};

/// What choose_linear_path chose.
struct LinearChoice {
  TargetScaling scaling;
  LinearSettings settings;
  double huber = 0;  ///< Huber's k of the robust fit; 0: least squares
};

/// Picks, by the validation RMSE (ms) of the linear path alone, the target
/// transform (among `transforms`), the penalty (among `ridges`) and whether
/// to use pixel terms, and whether the fit is robust (Huber's k = `huber`)
/// or least squares. Latencies that add up over layers (batch 1,
/// launch-bound) fit better in ms, those of compute-bound runs with pixel
/// terms; few samples need a stronger penalty; where the noise has no
/// outliers, least squares wastes less. Each candidate is a weighted
/// least-squares fit with the Huber weights of the `given` settings' robust
/// fit: one robust fit per transform instead of one per candidate. `prior`:
/// what the penalty pulls towards (an empty path: zero); with an enabled
/// prior (fine-tuning) the fit stays robust.
template <class Scalar>
LinearChoice choose_linear_path(const LinearPath<Scalar>& prior, const SparseRows<Scalar>& z,
                                std::span<const double> latencies, const SparseRows<Scalar>& z_validation,
                                std::span<const double> validation_latencies,
                                std::span<const TargetTransform> transforms, std::span<const double> ridges,
                                const LinearSettings& given, double huber);

// ---------------------------------------------------------------------------

template <class Scalar>
template <class Enc>
LinearPath<Scalar>::LinearPath(const Enc& encoder, bool enabled) : dim_(encoder.dim()), layers_(encoder.layer_dim()) {
  const auto kind = encoder.options().resolution;
  if ((kind == ResolutionEncoding::one_hot || kind == ResolutionEncoding::bins8) && encoder.resolution_dim() > 1) {
    resolution_bits_ = encoder.resolution_dim();
  }
  if (enabled) w_ = Vector::Zero(static_cast<Eigen::Index>(size()));
}

template <class Scalar>
void LinearPath<Scalar>::set_weights(std::span<const Scalar> w) {
  if (!w.empty() && w.size() != size()) {
    throw ShapeMismatch("predictor: " + std::to_string(w.size()) + " linear weights, expected " +
                        std::to_string(size()) +
                        " (the features, the layer features times pixels, the intercept) or 0 (no linear path)");
  }
  w_ = Eigen::Map<const Vector>(w.data(), static_cast<Eigen::Index>(w.size()));
}

template <class Scalar>
template <class Enc, class Arch>
SparseRows<Scalar> LinearPath<Scalar>::inputs(const SparseRows<Scalar>& x, const Enc& encoder,
                                              std::span<const Arch> archs) const {
  SparseRows<Scalar> z;
  z.width = dim_ + layers_;
  for (std::size_t i = 0; i < archs.size(); ++i) {
    const std::size_t begin = x.offsets[i], end = x.offsets[i + 1];
    for (std::size_t k = begin; k < end; ++k) z.push(x.index[k], x.value[k]);
    const auto px = static_cast<Scalar>(encoder.pixels(archs[i]));
    for (std::size_t k = begin; k < end && x.index[k] < layers_; ++k) z.push(x.width + x.index[k], x.value[k] * px);
    z.end_row();
  }
  return z;
}

template <class Scalar>
double LinearPath<Scalar>::output(const SparseRows<Scalar>& z, std::size_t i) const {
  return enabled() ? detail::row_output(z, i, w_) : 0.0;
}

template <class Scalar>
template <class Enc, class Arch, class Visit>
double LinearPath<Scalar>::visit_output(const Enc& encoder, const Arch& arch, std::span<const double> hardware,
                                        Visit&& visit) const {
  const bool on = enabled();
  double lin = 0, lin_px = 0;  // w.x and u.x_layers
  encoder.for_each_feature(arch, hardware, [&](std::size_t i, double v) {
    visit(i, v);
    if (on) {
      lin += v * static_cast<double>(w_(static_cast<Eigen::Index>(i)));
      if (i < layers_) lin_px += v * static_cast<double>(w_(static_cast<Eigen::Index>(dim_ + i)));
    }
  });
  if (on) lin += static_cast<double>(w_(w_.size() - 1)) + (layers_ ? encoder.pixels(arch) * lin_px : 0.0);
  return lin;
}

template <class Scalar>
Eigen::VectorXd LinearPath<Scalar>::pull_towards(const SparseRows<Scalar>& z, std::span<const double> s,
                                                 const LinearPath& prior) const {
  const auto d = static_cast<Eigen::Index>(z.width);
  Eigen::VectorXd w0 = Eigen::VectorXd::Zero(d + 1);
  const auto& p = prior.w_;
  if (p.size() != d + 1) return w0;
  const std::size_t n = s.size();
  double sp = 0, ss = 0, spp = 0, sps = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double q = detail::row_output(z, i, p);
    sp += q;
    ss += s[i];
    spp += q * q;
    sps += q * s[i];
  }
  const double nn = static_cast<double>(n), var = spp / nn - (sp / nn) * (sp / nn);
  const double c = var > 1e-12 ? (sps / nn - (sp / nn) * (ss / nn)) / var : 0.0;
  w0 = c * p.template cast<double>();
  w0(d) += ss / nn - c * sp / nn;
  return w0;
}

template <class Scalar>
Eigen::VectorXd LinearPath<Scalar>::solve(const detail::NormalEquations& eq, const LinearSettings& settings,
                                          const Eigen::VectorXd& w0) const {
  // The penalty ridge * (w - w0)' P (w - w0). Ordered resolution bits get a
  // penalty on their second differences (and 1 % of the plain one, which
  // pins their level against the intercept): with 100 samples the 25
  // resolutions get 4 each, and the latency follows a smooth curve over the
  // resolution, which this penalty leaves free up to its curvature. The
  // intercept is free; without pixel terms, u is 0.
  const Eigen::Index d = eq.g.rows() - 1;
  Eigen::MatrixXd p = Eigen::MatrixXd::Zero(d + 1, d + 1);
  p.diagonal().head(d).setOnes();
  const auto r0 = static_cast<Eigen::Index>(layers_);
  const auto nr = static_cast<Eigen::Index>(resolution_bits_);
  if (nr > 1) {
    // D' D for the difference operator D of order min(2, nr - 1).
    const Eigen::Index order = std::min<Eigen::Index>(2, nr - 1);
    Eigen::MatrixXd diff = Eigen::MatrixXd::Identity(nr, nr);
    for (Eigen::Index k = 0; k < order; ++k) {
      diff = (diff.bottomRows(diff.rows() - 1) - diff.topRows(diff.rows() - 1)).eval();
    }
    p.block(r0, r0, nr, nr) = 0.01 * Eigen::MatrixXd::Identity(nr, nr) + diff.transpose() * diff;
  }
  p *= settings.ridge;
  Eigen::MatrixXd g = eq.g + p;
  Eigen::VectorXd b = eq.b + p * w0;
  if (!settings.pixel_terms) {
    const auto u0 = static_cast<Eigen::Index>(dim_);
    for (Eigen::Index j = u0; j < d; ++j) {
      g.row(j).setZero();
      g.col(j).setZero();
      g(j, j) = 1;
      b(j) = 0;
    }
  }
  return g.ldlt().solve(b);
}

template <class Scalar>
void LinearPath<Scalar>::set_mean_zero(const SparseRows<Scalar>& z, std::span<const double> s, Eigen::VectorXd w) {
  // A robust fit follows the typical measurement; the mean is what RMSE
  // asks for (HELP's batch-1 columns: one run in six is ~18 % slow). So the
  // intercept moves until the mean residual is zero.
  const auto d = static_cast<Eigen::Index>(z.width);
  double sum = 0;
  for (std::size_t i = 0; i < s.size(); ++i) sum += s[i] - detail::row_output(z, i, w);
  w(d) += sum / static_cast<double>(s.size());
  if (!w.allFinite()) throw InvalidArgument("predictor: the linear path's fit is not finite");
  w_ = w.template cast<Scalar>();
}

template <class Scalar>
void LinearPath<Scalar>::fit(const detail::NormalEquations& eq, const SparseRows<Scalar>& z,
                             std::span<const double> s, const LinearSettings& settings, const Eigen::VectorXd& w0) {
  set_mean_zero(z, s, solve(eq, settings, w0));
}

template <class Scalar>
std::vector<double> LinearPath<Scalar>::fit(const SparseRows<Scalar>& z, std::span<const double> s,
                                            const LinearSettings& settings, double huber, const Eigen::VectorXd& w0) {
  // Iteratively reweighted least squares for Huber's loss, from the
  // least-squares fit; the scale is the residuals' MAD / 0.6745.
  const std::size_t n = s.size();
  auto residuals = [&](const Eigen::VectorXd& w) {
    std::vector<double> r(n);
    for (std::size_t i = 0; i < n; ++i) r[i] = s[i] - detail::row_output(z, i, w);
    return r;
  };
  Eigen::VectorXd w = solve(detail::NormalEquations(z, s, {}), settings, w0);
  std::vector<double> weight(n, 1.0);
  for (int iter = 0; huber > 0 && iter < 30; ++iter) {
    const auto r = residuals(w);
    std::vector<double> dev = r;
    const double med = detail::median_of(dev);
    for (std::size_t i = 0; i < n; ++i) dev[i] = std::abs(r[i] - med);
    const double cut = huber * detail::median_of(dev) / 0.6745;
    if (!(cut > 0)) break;  // at least half the rows fit exactly
    for (std::size_t i = 0; i < n; ++i) weight[i] = std::abs(r[i]) <= cut ? 1.0 : cut / std::abs(r[i]);
    const Eigen::VectorXd next = solve(detail::NormalEquations(z, s, weight), settings, w0);
    const double change = (next - w).cwiseAbs().maxCoeff();
    w = next;
    if (change <= 1e-6 * (1.0 + w.cwiseAbs().maxCoeff())) break;
  }
  set_mean_zero(z, s, w);
  return weight;
}

template <class Scalar>
LinearChoice choose_linear_path(const LinearPath<Scalar>& prior, const SparseRows<Scalar>& z,
                                std::span<const double> latencies, const SparseRows<Scalar>& z_validation,
                                std::span<const double> validation_latencies,
                                std::span<const TargetTransform> transforms, std::span<const double> ridges,
                                const LinearSettings& given, double huber) {
  LinearPath<Scalar> candidate = prior;
  double best = std::numeric_limits<double>::infinity();
  LinearChoice choice{{transforms.front()}, given, huber};
  std::vector<double> s(latencies.size()), predicted(validation_latencies.size());
  // Fine-tuning chooses on a few validation rows, where twice the
  // candidates means choices made by noise: it keeps the robust fit.
  std::vector<double> hubers{huber};
  if (huber > 0 && !prior.enabled()) hubers.push_back(0.0);
  for (const auto t : transforms) {
    TargetScaling scaling{t};
    scaling.fit(latencies);
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = scaling.apply(latencies[i]);
    const Eigen::VectorXd w0 = candidate.pull_towards(z, s, prior);
    for (const double k : hubers) {
      const std::vector<double> weight = candidate.fit(z, s, given, k, w0);
      const detail::NormalEquations eq(z, s, weight);
      for (const bool pixel_terms : {false, true}) {
        for (const double ridge : ridges) {
          const LinearSettings settings{ridge, pixel_terms};
          candidate.fit(eq, z, s, settings, w0);
          for (std::size_t i = 0; i < predicted.size(); ++i) predicted[i] = scaling.invert(candidate.output(z_validation, i));
          const double err = rmse(predicted, validation_latencies);
          if (err < best) {
            best = err;
            choice = {scaling, settings, k};
          }
        }
      }
    }
  }
  return choice;
}

}  // namespace hwnas
