// LatencyPredictor: encoder + target scaling + MLP, trained from measured
// (architecture, latency) pairs. The `paper` recipe is exactly the method
// (128-d one-hot, 400-400 MLP, RMSE loss, SGD lr 0.03 momentum 0.9 weight
// decay 1e-5, 100 epochs, batch 32, last epoch).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "hwnas/architecture.hpp"
#include "hwnas/dataset.hpp"
#include "hwnas/split.hpp"
#include "hwnas/predictor/encoding.hpp"
#include "hwnas/error.hpp"
#include "hwnas/metrics.hpp"
#include "hwnas/nn/loss.hpp"
#include "hwnas/nn/mlp.hpp"
#include "hwnas/nn/sgd.hpp"
#include "hwnas/random.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas {

/// How latencies are scaled before the network sees them.
enum class TargetTransform {
  standardize,      ///< (y - mean) / std on the training targets (the method)
  log_standardize,  ///< the same on log(y): errors become relative
};

constexpr std::string_view to_string(TargetTransform t) noexcept {
  return t == TargetTransform::standardize ? "standardize" : "log-standardize";
}

/// Why training stopped.
enum class StopReason {
  converged,   ///< early stopping: no validation improvement for `patience` epochs
  max_epochs,  ///< ran every epoch
  callback,    ///< the epoch callback asked to stop
  non_finite,  ///< the loss became NaN or infinite (divergence); the last finite weights are kept
};

constexpr std::string_view to_string(StopReason r) noexcept {
  switch (r) {
    case StopReason::converged: return "converged";
    case StopReason::max_epochs: return "max_epochs";
    case StopReason::callback: return "callback";
    case StopReason::non_finite: return "non_finite";
  }
  return "?";
}

/// What the epoch callback sees.
struct EpochInfo {
  std::size_t epoch = 0;          ///< 0-based
  double train_loss = 0;          ///< mean batch loss of the epoch (scaled targets)
  double validation_rmse = std::numeric_limits<double>::quiet_NaN();  ///< ms; NaN without validation data
  double learning_rate = 0;
};

/// How to train: the optimiser, the schedule, the stopping rules.
struct TrainOptions {
  Loss loss = Loss::rmse;
  double learning_rate = 0.03;
  double momentum = 0.9;
  double weight_decay = 1e-5;
  bool nesterov = false;
  LearningRateSchedule schedule{};
  std::size_t epochs = 100;
  std::size_t batch_size = 32;
  bool keep_best = false;      ///< restore the weights of the best validation epoch
  std::size_t patience = 0;    ///< early stopping after this many epochs without improvement; 0 = off
  std::size_t frozen_layers = 0;  ///< the first layers keep their weights (fine-tuning)
  std::uint64_t seed = 0;      ///< initialisation, shuffling and the hold-out rows
  /// Without validation rows: this fraction of the training rows (chosen
  /// with the seed) becomes the validation rows, for keep_best, patience and
  /// choose_linear. Fine-tuning from N measured samples then uses nothing
  /// but them. 0 = off; ignored when validation rows are given.
  double holdout = 0;
  /// Linear path (PredictorOptions::linear): the strength of its penalty. It
  /// penalises the squared weights, except for an ordered resolution one-hot
  /// (bins8, one_hot), where it penalises the second differences between
  /// neighbouring resolutions (a straight trend over the resolution costs
  /// nothing), and the intercept, which is free. fine_tune() pulls towards
  /// the base's linear path instead of towards zero.
  double linear_ridge = 1.0;
  /// Linear path: use the pixel terms u (PredictorOptions::linear).
  bool linear_pixel_terms = true;
  /// Linear path: Huber's k, in units of the residuals' robust scale
  /// (median absolute deviation / 0.6745); 0 = least squares. Measurements a
  /// few scales off the fit weigh less, so they do not pull the fit; the
  /// intercept is then moved so that the mean residual is zero.
  double linear_huber = 1.345;
  /// With validation rows, choose before training, by the validation RMSE of
  /// the linear path alone: the target transform (both are tried;
  /// options().target then says which), the penalty (among
  /// linear_ridge_choices) and whether to use the pixel terms. Candidates are
  /// weighted least-squares fits with the Huber weights of the linear_ridge
  /// fit, so one robust fit per transform is needed. The MLP is trained
  /// once, on the chosen fit. Without validation rows, or false:
  /// options().target, linear_ridge and linear_pixel_terms.
  bool choose_linear = false;
  /// choose_linear also chooses the target transform; false keeps
  /// options().target (a multi-device model keeps its bases in log space, so
  /// that a device's line in log space maps them: device_predictor.hpp).
  bool choose_target = true;
  /// The penalties choose_linear tries (empty: linear_ridge alone).
  std::vector<double> linear_ridge_choices{0.1, 0.3, 1.0, 3.0, 10.0, 30.0};
  /// keep_best with a linear path and validation rows: the MLP is kept only
  /// if its best epoch's validation RMSE is at least this fraction below the
  /// linear path's alone; otherwise its output layer is zeroed and the
  /// predictor is the linear path. On noisy columns an MLP that gains less
  /// has fit noise, and it varies from seed to seed.
  double mlp_min_gain = 0.01;
  /// Called after every epoch; returning true stops training.
  std::function<bool(const EpochInfo&)> on_epoch;
};

/// The result of fit() and fine_tune().
struct FitReport {
  StopReason stop_reason = StopReason::max_epochs;
  std::size_t epochs = 0;      ///< epochs run
  std::size_t best_epoch = 0;  ///< epoch with the lowest validation RMSE (0-based)
  double best_validation_rmse = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> train_loss;       ///< per epoch
  std::vector<double> validation_rmse;  ///< per epoch, ms (empty without validation data)
  /// The linear path's validation RMSE alone (ms); NaN without a linear path
  /// or validation data.
  double linear_validation_rmse = std::numeric_limits<double>::quiet_NaN();
  /// TrainOptions::mlp_min_gain switched the MLP off: the predictor is the
  /// linear path, best_validation_rmse is linear_validation_rmse.
  bool mlp_off = false;
  /// Rows trained on and validated on (with TrainOptions::holdout, the
  /// held-out part of the training rows).
  std::size_t train_rows = 0;
  std::size_t validation_rows = 0;
  double seconds = 0;
};

/// What a predictor is: its encoding, its network shape, its target scaling.
struct PredictorOptions {
  Encoder::Options encoding{};
  std::vector<std::size_t> hidden{400, 400};
  TargetTransform target = TargetTransform::standardize;
  /// A linear path beside the MLP ("wide & deep"): scaled output = w.x +
  /// rho^2 u.x_layers + b + MLP(x), where x_layers are the layer bits of the
  /// features and rho = r / the largest resolution: each layer choice costs a
  /// fixed part (launch) and a part that grows with the pixels. fit() solves
  /// w, u, b in closed form (a robust ridge regression), then trains the MLP
  /// on what the linear fit leaves.
  bool linear = false;
};

/// A predictor's shape and how to train it.
struct Recipe {
  PredictorOptions predictor;
  TrainOptions training;
};

/// The method exactly: 128-d encoding with 8 resolution bins, 400-400 MLP,
/// standardised targets; RMSE loss, SGD lr 0.03 momentum 0.9 weight decay
/// 1e-5, 100 epochs, batch 32, the last epoch's weights.
inline Recipe paper_recipe() { return {}; }

/// hwnas's default, chosen by measurement on HELP's 9 GPU columns
/// (docs/predictor.md): one bit per resolution (the 8 bins merge resolutions
/// 4 px apart whose latencies differ); a robust linear path that the MLP
/// corrects; the target transform (log or not) chosen on validation; cosine-
/// annealed learning rate 0.01, weight decay 1e-4 and the best validation
/// epoch.
inline Recipe default_recipe() {
  Recipe r;
  r.predictor.encoding.resolution = ResolutionEncoding::one_hot;
  r.predictor.target = TargetTransform::log_standardize;
  r.predictor.linear = true;
  r.training.learning_rate = 0.01;
  r.training.weight_decay = 1e-4;
  r.training.schedule = {.kind = LearningRateSchedule::Kind::cosine, .total_epochs = r.training.epochs};
  r.training.keep_best = true;
  r.training.choose_linear = true;
  return r;
}

/// Fine-tuning a base predictor to a new device from N measured samples
/// (docs/predictor.md): the default recipe's training with every layer
/// trainable, the linear path pulled towards the base's, and 20 % of the N
/// samples held out for the choices and keep_best, so that no measurement
/// beyond the N is needed. The method's fine-tuning is the paper recipe's
/// training with frozen_layers = 2 (and no hold-out: the last epoch).
inline Recipe finetune_recipe() {
  Recipe r = default_recipe();
  r.training.holdout = 0.2;
  return r;
}

/// "paper", "default" or "finetune"; InvalidArgument otherwise.
inline Recipe recipe_from_string(std::string_view name) {
  if (name == "paper") return paper_recipe();
  if (name == "default") return default_recipe();
  if (name == "finetune") return finetune_recipe();
  throw InvalidArgument("predictor: unknown recipe '" + std::string(name) + "'; expected paper, default or finetune");
}

namespace detail {
struct NormalEquations;
}  // namespace detail

/// Predicts the latency (ms) of architectures of one space on one device.
/// Const members (predict, evaluate) are thread-safe; fit and fine_tune are
/// not.
template <class Scalar = float>
class LatencyPredictor {
 public:
  using Net = Mlp<Scalar>;

  LatencyPredictor(MbConvSpace space, PredictorOptions options = {});

  const MbConvSpace& space() const noexcept { return space_; }
  const Encoder& encoder() const noexcept { return encoder_; }
  const PredictorOptions& options() const noexcept { return options_; }
  Net& network() noexcept { return net_; }
  const Net& network() const noexcept { return net_; }
  /// Target scaling: scaled = (f(y) - mean) / scale with f = identity or log.
  double target_mean() const noexcept { return mean_; }
  double target_scale() const noexcept { return scale_; }
  void set_target_scaling(double mean, double scale);
  /// The linear path on the scaled target: w (encoder().dim() values), u
  /// (encoder().layer_dim() values), then the intercept b (all zero until
  /// fitted); empty without options().linear.
  const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& linear_weights() const noexcept { return linear_; }
  /// linear_weights().size() with a linear path: dim() + layer_dim() + 1.
  std::size_t linear_size() const noexcept { return encoder_.dim() + encoder_.layer_dim() + 1; }
  /// ShapeMismatch unless `w` has linear_size() values (0 without a linear
  /// path).
  void set_linear_weights(std::span<const Scalar> w);

  /// Trains from scratch (weights initialised from options.seed). Targets in
  /// ms, finite and positive. Validation data (optional) drives keep_best,
  /// early stopping and the report's curve.
  FitReport fit(std::span<const Architecture> archs, std::span<const double> latencies,
                std::span<const Architecture> val_archs = {}, std::span<const double> val_latencies = {},
                const TrainOptions& options = {});
  /// fit() on the train and validation rows of a split of one device column.
  FitReport fit(const Dataset& data, std::string_view column, const Split& split,
                const TrainOptions& options = {});
  /// fit() on rows of several devices: `hardware` holds a row of
  /// encoder().options().hardware_features values per architecture
  /// (row-major), `val_hardware` the same for the validation rows. This is
  /// how a model conditioned on device features is trained.
  FitReport fit_with_hardware(std::span<const Architecture> archs, std::span<const double> hardware,
                              std::span<const double> latencies, std::span<const Architecture> val_archs,
                              std::span<const double> val_hardware, std::span<const double> val_latencies,
                              const TrainOptions& options = {});

  /// Keeps the weights, re-fits the target scaling on the new device's
  /// latencies (choosing again with options.choose_linear), re-fits the
  /// linear path pulled towards the current one, and trains the layers after
  /// options.frozen_layers (the method freezes 2).
  FitReport fine_tune(std::span<const Architecture> archs, std::span<const double> latencies,
                      std::span<const Architecture> val_archs = {}, std::span<const double> val_latencies = {},
                      const TrainOptions& options = {});

  /// Latency of one architecture in ms; no heap allocation for hidden layers
  /// up to kMaxFastWidth units.
  double predict(const Architecture& arch, std::span<const double> hardware = {}) const;
  /// Latencies of many architectures (batched matrix products).
  std::vector<double> predict(std::span<const Architecture> archs, std::span<const double> hardware = {}) const;
  /// Metrics of the predictions against measured latencies.
  RegressionMetrics evaluate(std::span<const Architecture> archs, std::span<const double> latencies) const;

  static constexpr std::size_t kMaxFastWidth = 2048;

 private:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  // fit() (from_scratch) and fine_tune(): the hold-out split, then prepare()
  // and train().
  // `hardware` and `val_hardware`: a row of hardware features per
  // architecture (empty without hardware features).
  FitReport run(std::span<const Architecture> archs, std::span<const double> hardware,
                std::span<const double> latencies, std::span<const Architecture> val_archs,
                std::span<const double> val_hardware, std::span<const double> val_latencies,
                const TrainOptions& options, bool from_scratch);
  SparseRows<Scalar> features(std::span<const Architecture> archs, std::span<const double> hardware) const;
  // The linear path's inputs: x, then x's layer bits times rho^2.
  SparseRows<Scalar> linear_features(const SparseRows<Scalar>& x, std::span<const Architecture> archs) const;
  double pixels(const Architecture& arch) const {
    const double rho = static_cast<double>(arch.r) / static_cast<double>(encoder_.options().resolutions.back());
    return rho * rho;
  }
  struct LinearSettings {
    double ridge;
    bool pixel_terms;
  };
  // Target transform, scaling and linear path for new training data.
  void prepare(const SparseRows<Scalar>& z, std::span<const double> latencies, std::span<const Architecture> val_archs,
               std::span<const double> val_hardware, std::span<const double> val_latencies,
               const TrainOptions& options, const Vector& prior);
  std::vector<double> scaled_targets(std::span<const double> latencies) const;
  Eigen::VectorXd linear_prior(const SparseRows<Scalar>& z, std::span<const double> latencies,
                               const Vector& prior) const;
  Eigen::VectorXd solve_linear(const detail::NormalEquations& eq, const LinearSettings& settings,
                               const Eigen::VectorXd& w0) const;
  // Sets linear_ to the robust fit; returns the rows' final Huber weights.
  std::vector<double> fit_linear(const SparseRows<Scalar>& z, std::span<const double> latencies,
                                 const LinearSettings& settings, double huber, const Vector& prior);
  void set_linear_mean_zero(const SparseRows<Scalar>& z, std::span<const double> s, Eigen::VectorXd w);
  // The linear path's output for row i of linear_features() (0 without a
  // linear path).
  double linear_output(const SparseRows<Scalar>& z, std::size_t i) const;
  // Calls visit(i, v) for each feature of arch (Encoder::for_each_feature)
  // and returns the linear path's output (0 without a linear path): both
  // predicts read an architecture's features once.
  template <class Visit>
  double visit_features(const Architecture& arch, std::span<const double> hardware, Visit&& visit) const;
  // Both predicts, one architecture at a time with buffers on the stack
  // (Mlp::forward_one), when every layer fits them; false otherwise.
  bool fits_stack() const;
  double predict_on_stack(const Architecture& arch, std::span<const double> hardware) const;
  FitReport train(const SparseRows<Scalar>& x, const SparseRows<Scalar>& z, std::span<const double> latencies,
                  std::span<const Architecture> val_archs, std::span<const double> val_hardware,
                  std::span<const double> val_latencies, const TrainOptions& options);
  void fit_scaling(std::span<const double> latencies);
  double scale_target(double y) const {
    const double f = options_.target == TargetTransform::log_standardize ? std::log(y) : y;
    return (f - mean_) / scale_;
  }
  double unscale(double s) const {
    const double f = s * scale_ + mean_;
    return options_.target == TargetTransform::log_standardize ? std::exp(f) : f;
  }

  MbConvSpace space_;
  PredictorOptions options_;
  Encoder encoder_;
  Net net_;
  Vector linear_;
  double mean_ = 0;
  double scale_ = 1;
};

// ---------------------------------------------------------------------------

namespace detail {

inline void check_latencies(std::span<const double> y, std::size_t n, const char* what) {
  if (y.size() != n) {
    throw ShapeMismatch(std::string("predictor: ") + std::to_string(n) + " " + what + " architectures but " +
                        std::to_string(y.size()) + " latencies");
  }
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i]) || y[i] <= 0) {
      throw InvalidArgument(std::string("predictor: ") + what + " latency[" + std::to_string(i) +
                            "] = " + std::to_string(y[i]) + "; latencies must be finite and positive");
    }
  }
}

inline void check_train_options(const TrainOptions& o) {
  if (o.batch_size == 0) throw InvalidArgument("predictor: batch_size must be positive");
  if (o.epochs == 0) throw InvalidArgument("predictor: epochs must be positive");
  for (double ridge : o.linear_ridge_choices) {
    if (!std::isfinite(ridge) || ridge <= 0) {
      throw InvalidArgument("predictor: linear_ridge_choices must be finite and > 0, found " + std::to_string(ridge));
    }
  }
  if (!std::isfinite(o.linear_ridge) || o.linear_ridge <= 0) {
    throw InvalidArgument("predictor: linear_ridge must be finite and > 0, found " + std::to_string(o.linear_ridge));
  }
  if (!std::isfinite(o.holdout) || o.holdout < 0 || o.holdout >= 1) {
    throw InvalidArgument("predictor: holdout must be in [0, 1), found " + std::to_string(o.holdout));
  }
  if (!std::isfinite(o.mlp_min_gain) || o.mlp_min_gain < 0 || o.mlp_min_gain >= 1) {
    throw InvalidArgument("predictor: mlp_min_gain must be in [0, 1), found " + std::to_string(o.mlp_min_gain));
  }
  if (!std::isfinite(o.linear_huber) || o.linear_huber < 0) {
    throw InvalidArgument("predictor: linear_huber must be finite and >= 0, found " + std::to_string(o.linear_huber));
  }
}

/// The normal equations G = Z'WZ, b = Z'Ws of a weighted least-squares fit
/// on sparse rows plus an intercept (the last column). dim() is small (266
/// for OFA with one bit per resolution) and each row has ~45 non-zeros.
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

/// Median of v (v is reordered).
inline double median_of(std::vector<double>& v) {
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (v.size() % 2 == 1) return *mid;
  return 0.5 * (*mid + *std::max_element(v.begin(), mid));
}

}  // namespace detail

template <class Scalar>
LatencyPredictor<Scalar>::LatencyPredictor(MbConvSpace space, PredictorOptions options)
    : space_(std::move(space)), options_(std::move(options)), encoder_(space_, options_.encoding) {
  std::vector<std::size_t> sizes{encoder_.dim()};
  sizes.insert(sizes.end(), options_.hidden.begin(), options_.hidden.end());
  sizes.push_back(1);
  net_ = Net(std::move(sizes));
  if (options_.linear) linear_ = Vector::Zero(static_cast<Eigen::Index>(linear_size()));
}

template <class Scalar>
void LatencyPredictor<Scalar>::set_target_scaling(double mean, double scale) {
  if (!std::isfinite(mean) || !std::isfinite(scale) || scale <= 0) {
    throw InvalidArgument("predictor: target scaling needs a finite mean and a positive scale, found " +
                          std::to_string(mean) + " and " + std::to_string(scale));
  }
  mean_ = mean;
  scale_ = scale;
}

template <class Scalar>
void LatencyPredictor<Scalar>::set_linear_weights(std::span<const Scalar> w) {
  const std::size_t want = options_.linear ? linear_size() : 0;
  if (w.size() != want) {
    throw ShapeMismatch("predictor: " + std::to_string(w.size()) + " linear weights, expected " + std::to_string(want) +
                        (options_.linear ? " (the features, the layer features times pixels, the intercept)"
                                         : " (no linear path)"));
  }
  linear_ = Eigen::Map<const Vector>(w.data(), static_cast<Eigen::Index>(w.size()));
}

template <class Scalar>
void LatencyPredictor<Scalar>::fit_scaling(std::span<const double> latencies) {
  const bool log = options_.target == TargetTransform::log_standardize;
  double sum = 0, sq = 0;
  for (double y : latencies) {
    const double f = log ? std::log(y) : y;
    sum += f;
    sq += f * f;
  }
  const double n = static_cast<double>(latencies.size());
  const double mean = sum / n;
  const double var = std::max(0.0, sq / n - mean * mean);  // population std, as numpy's y.std()
  set_target_scaling(mean, var > 0 ? std::sqrt(var) : 1.0);
}

template <class Scalar>
FitReport LatencyPredictor<Scalar>::fit(std::span<const Architecture> archs, std::span<const double> latencies,
                                        std::span<const Architecture> val_archs,
                                        std::span<const double> val_latencies, const TrainOptions& options) {
  return run(archs, {}, latencies, val_archs, {}, val_latencies, options, true);
}

template <class Scalar>
FitReport LatencyPredictor<Scalar>::fit_with_hardware(std::span<const Architecture> archs,
                                                      std::span<const double> hardware,
                                                      std::span<const double> latencies,
                                                      std::span<const Architecture> val_archs,
                                                      std::span<const double> val_hardware,
                                                      std::span<const double> val_latencies,
                                                      const TrainOptions& options) {
  return run(archs, hardware, latencies, val_archs, val_hardware, val_latencies, options, true);
}

template <class Scalar>
FitReport LatencyPredictor<Scalar>::fit(const Dataset& data, std::string_view column, const Split& split,
                                        const TrainOptions& options) {
  const auto y = data.column(column);
  auto gather = [&](const std::vector<std::size_t>& rows, std::vector<Architecture>& a, std::vector<double>& t) {
    for (auto r : rows) {
      a.push_back(data.archs().at(r));
      t.push_back(y.at(r));
    }
  };
  std::vector<Architecture> ta, va;
  std::vector<double> ty, vy;
  gather(split.train, ta, ty);
  gather(split.validation, va, vy);
  return fit(ta, ty, va, vy, options);
}

template <class Scalar>
FitReport LatencyPredictor<Scalar>::fine_tune(std::span<const Architecture> archs, std::span<const double> latencies,
                                              std::span<const Architecture> val_archs,
                                              std::span<const double> val_latencies, const TrainOptions& options) {
  return run(archs, {}, latencies, val_archs, {}, val_latencies, options, false);
}

template <class Scalar>
FitReport LatencyPredictor<Scalar>::run(std::span<const Architecture> archs, std::span<const double> hardware,
                                        std::span<const double> latencies, std::span<const Architecture> val_archs,
                                        std::span<const double> val_hardware,
                                        std::span<const double> val_latencies, const TrainOptions& options,
                                        bool from_scratch) {
  detail::check_latencies(latencies, archs.size(), "training");
  const std::size_t hw = encoder_.options().hardware_features;
  auto check_hardware = [hw](std::span<const double> values, std::size_t rows, const char* what) {
    if (values.size() != rows * hw) {
      throw ShapeMismatch(std::string("predictor: ") + std::to_string(values.size()) + " " + what +
                          " hardware values for " + std::to_string(rows) + " rows of " + std::to_string(hw) +
                          " hardware features" + (hw > 0 && values.empty() ? " (fit_with_hardware takes them)" : ""));
    }
  };
  check_hardware(hardware, archs.size(), "training");
  check_hardware(val_hardware, val_archs.size(), "validation");
  if (archs.empty()) {
    throw InvalidArgument(from_scratch ? "predictor: no training architectures" : "predictor: no fine-tuning architectures");
  }
  detail::check_train_options(options);
  detail::check_latencies(val_latencies, val_archs.size(), "validation");
  const std::size_t n = archs.size();
  const auto n_holdout = std::min(n - 1, static_cast<std::size_t>(std::llround(options.holdout * static_cast<double>(n))));
  if (val_archs.empty() && n_holdout > 0) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    Rng rng(options.seed ^ 0x401d0075ULL);
    rng.shuffle(std::span<std::size_t>(order));
    std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_holdout));
    std::sort(order.begin() + static_cast<std::ptrdiff_t>(n_holdout), order.end());
    std::vector<Architecture> ta, va;
    std::vector<double> ty, vy, th, vh;
    for (std::size_t k = 0; k < n; ++k) {
      (k < n_holdout ? va : ta).push_back(archs[order[k]]);
      (k < n_holdout ? vy : ty).push_back(latencies[order[k]]);
      const auto row = hardware.subspan(order[k] * hw, hw);
      (k < n_holdout ? vh : th).insert((k < n_holdout ? vh : th).end(), row.begin(), row.end());
    }
    TrainOptions o = options;
    o.holdout = 0;
    return run(ta, th, ty, va, vh, vy, o, from_scratch);
  }
  const auto x = features(archs, hardware);
  const auto z = linear_features(x, archs);
  Vector prior;
  if (from_scratch) {
    Rng init_rng(options.seed);
    net_.init(init_rng);
  } else {
    prior = linear_;
  }
  prepare(z, latencies, val_archs, val_hardware, val_latencies, options, prior);
  return train(x, z, latencies, val_archs, val_hardware, val_latencies, options);
}

template <class Scalar>
SparseRows<Scalar> LatencyPredictor<Scalar>::features(std::span<const Architecture> archs,
                                                      std::span<const double> hardware) const {
  // The one-hot features, kept sparse: the first layer then adds a few weight
  // rows per architecture instead of multiplying a dense matrix.
  SparseRows<Scalar> x;
  x.width = encoder_.dim();
  const std::size_t hw = encoder_.options().hardware_features;
  for (std::size_t r = 0; r < archs.size(); ++r) {
    encoder_.for_each_feature(archs[r], hardware.subspan(r * hw, hw), [&x](std::size_t i, double v) {
      if (v != 0.0) x.push(i, static_cast<Scalar>(v));
    });
    x.end_row();
  }
  return x;
}

template <class Scalar>
SparseRows<Scalar> LatencyPredictor<Scalar>::linear_features(const SparseRows<Scalar>& x,
                                                             std::span<const Architecture> archs) const {
  SparseRows<Scalar> z;
  z.width = encoder_.dim() + encoder_.layer_dim();
  const std::size_t layers = encoder_.layer_dim();
  for (std::size_t i = 0; i < archs.size(); ++i) {
    const std::size_t begin = x.offsets[i], end = x.offsets[i + 1];
    for (std::size_t k = begin; k < end; ++k) z.push(x.index[k], x.value[k]);
    const auto px = static_cast<Scalar>(pixels(archs[i]));
    for (std::size_t k = begin; k < end && x.index[k] < layers; ++k) z.push(x.width + x.index[k], x.value[k] * px);
    z.end_row();
  }
  return z;
}

template <class Scalar>
double LatencyPredictor<Scalar>::linear_output(const SparseRows<Scalar>& z, std::size_t i) const {
  if (linear_.size() == 0) return 0.0;
  double out = static_cast<double>(linear_(linear_.size() - 1));
  for (std::size_t k = z.offsets[i]; k < z.offsets[i + 1]; ++k) {
    out += static_cast<double>(z.value[k]) * static_cast<double>(linear_(static_cast<Eigen::Index>(z.index[k])));
  }
  return out;
}

template <class Scalar>
void LatencyPredictor<Scalar>::prepare(const SparseRows<Scalar>& z, std::span<const double> latencies,
                                       std::span<const Architecture> val_archs,
                                       std::span<const double> val_hardware,
                                       std::span<const double> val_latencies, const TrainOptions& options,
                                       const Vector& prior) {
  const LinearSettings given{options.linear_ridge, options.linear_pixel_terms};
  LinearSettings chosen = given;
  if (options.choose_linear && !val_archs.empty()) {
    // The linear path's fit decides, on the validation rows. Latencies that
    // add up over layers (batch 1, launch-bound) fit better in ms, those of
    // compute-bound runs with pixel terms; few samples need a stronger
    // penalty. Each candidate is a weighted least-squares fit with the
    // weights of the Huber fit of the given settings (one robust fit per
    // transform instead of one per candidate). The MLP then corrects the
    // chosen fit.
    const auto zv = linear_features(features(val_archs, val_hardware), val_archs);
    std::vector<double> ridges = options.linear_ridge_choices;
    if (ridges.empty()) ridges = {options.linear_ridge};
    double best = std::numeric_limits<double>::infinity();
    TargetTransform choice = options_.target;
    std::vector<TargetTransform> transforms{options_.target};
    if (options.choose_target) transforms = {TargetTransform::standardize, TargetTransform::log_standardize};
    for (const auto t : transforms) {
      options_.target = t;
      fit_scaling(latencies);
      const std::vector<double> weight = fit_linear(z, latencies, given, options.linear_huber, prior);
      const std::vector<double> st = scaled_targets(latencies);
      const detail::NormalEquations eq(z, st, weight);
      const Eigen::VectorXd w0 = linear_prior(z, latencies, prior);
      for (const bool pixel_terms : {false, true}) {
        for (const double ridge : ridges) {
          const LinearSettings settings{ridge, pixel_terms};
          set_linear_mean_zero(z, st, solve_linear(eq, settings, w0));
          std::vector<double> pred(val_latencies.size());
          for (std::size_t i = 0; i < pred.size(); ++i) pred[i] = unscale(linear_output(zv, i));
          const double err = rmse(pred, val_latencies);
          if (err < best) {
            best = err;
            choice = t;
            chosen = settings;
          }
        }
      }
    }
    options_.target = choice;
  }
  fit_scaling(latencies);
  linear_.resize(0);
  if (!options_.linear) return;
  fit_linear(z, latencies, chosen, options.linear_huber, prior);
  // The MLP learns what the linear path leaves, rescaled to unit variance,
  // so that its learning rate and initialisation mean the same whether the
  // linear fit leaves 3 % or 30 %.
  double sq = 0;
  for (std::size_t i = 0; i < latencies.size(); ++i) {
    const double r = scale_target(latencies[i]) - linear_output(z, i);  // mean 0: see fit_linear
    sq += r * r;
  }
  const double sd = std::sqrt(sq / static_cast<double>(latencies.size()));
  if (sd > 1e-6) {
    set_target_scaling(mean_, scale_ * sd);
    linear_ /= static_cast<Scalar>(sd);
  }
}

template <class Scalar>
std::vector<double> LatencyPredictor<Scalar>::scaled_targets(std::span<const double> latencies) const {
  std::vector<double> s(latencies.size());
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = scale_target(latencies[i]);
  return s;
}

template <class Scalar>
Eigen::VectorXd LatencyPredictor<Scalar>::linear_prior(const SparseRows<Scalar>& z, std::span<const double> latencies,
                                                      const Vector& prior) const {
  const auto d = static_cast<Eigen::Index>(z.width);
  Eigen::VectorXd w0 = Eigen::VectorXd::Zero(d + 1);
  if (prior.size() != d + 1) return w0;
  // The prior (a base predictor's linear path, fitted for another device
  // and another scaling) is mapped onto this target by the least-squares
  // line s = a + c * prior(x); the penalty then pulls towards that.
  const std::size_t n = latencies.size();
  double sp = 0, ss = 0, spp = 0, sps = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double q = static_cast<double>(prior(d));
    for (std::size_t k = z.offsets[i]; k < z.offsets[i + 1]; ++k) {
      q += static_cast<double>(z.value[k]) * static_cast<double>(prior(z.index[k]));
    }
    const double si = scale_target(latencies[i]);
    sp += q;
    ss += si;
    spp += q * q;
    sps += q * si;
  }
  const double nn = static_cast<double>(n), var = spp / nn - (sp / nn) * (sp / nn);
  const double c = var > 1e-12 ? (sps / nn - (sp / nn) * (ss / nn)) / var : 0.0;
  w0 = c * prior.template cast<double>();
  w0(d) += ss / nn - c * sp / nn;
  return w0;
}

template <class Scalar>
Eigen::VectorXd LatencyPredictor<Scalar>::solve_linear(const detail::NormalEquations& eq,
                                                      const LinearSettings& settings,
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
  const auto& eo = encoder_.options();
  const auto r0 = static_cast<Eigen::Index>(encoder_.layer_dim());
  const auto nr = static_cast<Eigen::Index>(encoder_.resolution_dim());
  if ((eo.resolution == ResolutionEncoding::one_hot || eo.resolution == ResolutionEncoding::bins8) && nr > 1) {
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
    const auto u0 = static_cast<Eigen::Index>(encoder_.dim());
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
void LatencyPredictor<Scalar>::set_linear_mean_zero(const SparseRows<Scalar>& z, std::span<const double> s,
                                                    Eigen::VectorXd w) {
  // A robust fit follows the typical measurement; the mean is what RMSE
  // asks for (HELP's batch-1 columns: one run in six is ~18 % slow). So the
  // intercept moves until the mean residual is zero.
  const auto d = static_cast<Eigen::Index>(z.width);
  double sum = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    double out = w(d);
    for (std::size_t k = z.offsets[i]; k < z.offsets[i + 1]; ++k) out += static_cast<double>(z.value[k]) * w(z.index[k]);
    sum += s[i] - out;
  }
  w(d) += sum / static_cast<double>(s.size());
  if (!w.allFinite()) throw InvalidArgument("predictor: the linear path's fit is not finite");
  linear_ = w.template cast<Scalar>();
}

template <class Scalar>
std::vector<double> LatencyPredictor<Scalar>::fit_linear(const SparseRows<Scalar>& z,
                                                         std::span<const double> latencies,
                                                         const LinearSettings& settings, double huber,
                                                         const Vector& prior) {
  // Iteratively reweighted least squares for Huber's loss, from the
  // least-squares fit; the scale is the residuals' MAD / 0.6745.
  const std::vector<double> s = scaled_targets(latencies);
  const std::size_t n = s.size();
  const Eigen::VectorXd w0 = linear_prior(z, latencies, prior);
  const auto d = static_cast<Eigen::Index>(z.width);
  auto residuals = [&](const Eigen::VectorXd& w) {
    std::vector<double> r(n);
    for (std::size_t i = 0; i < n; ++i) {
      double out = w(d);
      for (std::size_t k = z.offsets[i]; k < z.offsets[i + 1]; ++k) out += static_cast<double>(z.value[k]) * w(z.index[k]);
      r[i] = s[i] - out;
    }
    return r;
  };
  Eigen::VectorXd w = solve_linear(detail::NormalEquations(z, s, {}), settings, w0);
  std::vector<double> weight(n, 1.0);
  for (int iter = 0; huber > 0 && iter < 30; ++iter) {
    const auto r = residuals(w);
    std::vector<double> dev = r;
    const double med = detail::median_of(dev);
    for (std::size_t i = 0; i < n; ++i) dev[i] = std::abs(r[i] - med);
    const double cut = huber * detail::median_of(dev) / 0.6745;
    if (!(cut > 0)) break;  // at least half the rows fit exactly
    for (std::size_t i = 0; i < n; ++i) weight[i] = std::abs(r[i]) <= cut ? 1.0 : cut / std::abs(r[i]);
    const Eigen::VectorXd next = solve_linear(detail::NormalEquations(z, s, weight), settings, w0);
    const double change = (next - w).cwiseAbs().maxCoeff();
    w = next;
    if (change <= 1e-6 * (1.0 + w.cwiseAbs().maxCoeff())) break;
  }
  set_linear_mean_zero(z, s, w);
  return weight;
}

template <class Scalar>
FitReport LatencyPredictor<Scalar>::train(const SparseRows<Scalar>& x, const SparseRows<Scalar>& z,
                                          std::span<const double> latencies,
                                          std::span<const Architecture> val_archs,
                                          std::span<const double> val_hardware,
                                          std::span<const double> val_latencies, const TrainOptions& options) {
  using Matrix = typename Net::Matrix;
  if (options.frozen_layers >= net_.num_layers()) {
    throw InvalidArgument("predictor: cannot freeze " + std::to_string(options.frozen_layers) + " of " +
                          std::to_string(net_.num_layers()) + " layers");
  }
  const auto start = std::chrono::steady_clock::now();

  SgdMomentum<Scalar> sgd({.learning_rate = options.learning_rate,
                           .momentum = options.momentum,
                           .weight_decay = options.weight_decay,
                           .nesterov = options.nesterov});
  const std::vector<ParameterRange> trainable{{net_.layer_begin(options.frozen_layers), net_.num_parameters()}};

  const auto n = static_cast<Eigen::Index>(latencies.size());
  Vector t(n), w(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double y = latencies[static_cast<std::size_t>(i)];
    // The MLP learns what the linear path leaves.
    t(i) = static_cast<Scalar>(scale_target(y) - linear_output(z, static_cast<std::size_t>(i)));
    // The relative loss weighs the scaled error back to a fraction of y.
    w(i) = static_cast<Scalar>(options_.target == TargetTransform::log_standardize ? scale_ : scale_ / y);
  }

  SparseRows<Scalar> xb;
  xb.width = x.width;
  Vector tb, wb, grad(static_cast<Eigen::Index>(net_.num_parameters()));
  Matrix dy;
  typename Net::Workspace ws;
  std::vector<std::size_t> order(latencies.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  Rng shuffle_rng(options.seed ^ 0x5eed5eed5eed5eedULL);

  FitReport report;
  report.train_rows = latencies.size();
  report.validation_rows = val_latencies.size();
  if (linear_.size() != 0 && !val_archs.empty()) {
    const auto zv = linear_features(features(val_archs, val_hardware), val_archs);
    std::vector<double> pred(val_latencies.size());
    for (std::size_t i = 0; i < pred.size(); ++i) pred[i] = unscale(linear_output(zv, i));
    report.linear_validation_rmse = rmse(pred, val_latencies);
  }
  Vector best = net_.parameters(), last_good = net_.parameters();
  std::size_t since_best = 0;
  for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
    const double lr = options.schedule.rate(options.learning_rate, epoch);
    sgd.set_learning_rate(lr);
    shuffle_rng.shuffle(std::span<std::size_t>(order));
    double loss_sum = 0;
    std::size_t batches = 0;
    bool finite = true;
    for (std::size_t k = 0; k < order.size(); k += options.batch_size) {
      const auto m = static_cast<Eigen::Index>(std::min(options.batch_size, order.size() - k));
      tb.resize(m);
      wb.resize(m);
      dy.resize(m, 1);
      xb.clear();
      for (Eigen::Index i = 0; i < m; ++i) {
        const std::size_t row = order[k + static_cast<std::size_t>(i)];
        for (std::size_t j = x.offsets[row]; j < x.offsets[row + 1]; ++j) xb.push(x.index[j], x.value[j]);
        xb.end_row();
        tb(i) = t(static_cast<Eigen::Index>(row));
        wb(i) = w(static_cast<Eigen::Index>(row));
      }
      const Matrix y = net_.forward(xb, ws);
      auto dcol = dy.col(0);
      const Scalar loss = loss_and_gradient<Scalar>(options.loss, y.col(0), tb, wb, dcol);
      if (!std::isfinite(static_cast<double>(loss))) {
        finite = false;
        break;
      }
      net_.backward(xb, dy, ws, grad);
      sgd.step(net_.parameters(), grad, trainable);
      loss_sum += static_cast<double>(loss);
      ++batches;
    }
    if (finite && !net_.parameters().allFinite()) finite = false;
    if (!finite) {
      net_.parameters() = options.keep_best && !report.validation_rmse.empty() ? best : last_good;
      report.stop_reason = StopReason::non_finite;
      break;
    }
    last_good = net_.parameters();
    EpochInfo info{.epoch = epoch, .train_loss = loss_sum / static_cast<double>(batches), .learning_rate = lr};
    report.train_loss.push_back(info.train_loss);
    report.epochs = epoch + 1;
    if (!val_archs.empty()) {
      const auto pred = predict(val_archs, val_hardware);
      info.validation_rmse = rmse(pred, val_latencies);
      report.validation_rmse.push_back(info.validation_rmse);
      if (!(info.validation_rmse >= report.best_validation_rmse)) {  // also true for the first (NaN) best
        report.best_validation_rmse = info.validation_rmse;
        report.best_epoch = epoch;
        since_best = 0;
        if (options.keep_best) best = net_.parameters();
      } else {
        ++since_best;
      }
    }
    if (options.on_epoch && options.on_epoch(info)) {
      report.stop_reason = StopReason::callback;
      break;
    }
    if (options.patience > 0 && since_best >= options.patience) {
      report.stop_reason = StopReason::converged;
      break;
    }
  }
  if (options.keep_best && !report.validation_rmse.empty() && report.stop_reason != StopReason::non_finite) {
    net_.parameters() = best;
    if (!(report.best_validation_rmse < (1 - options.mlp_min_gain) * report.linear_validation_rmse) &&
        std::isfinite(report.linear_validation_rmse)) {
      const std::size_t last = net_.num_layers() - 1;
      net_.parameters()
          .segment(static_cast<Eigen::Index>(net_.layer_begin(last)),
                   static_cast<Eigen::Index>(net_.layer_end(last) - net_.layer_begin(last)))
          .setZero();
      report.mlp_off = true;
      report.best_validation_rmse = report.linear_validation_rmse;
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

template <class Scalar>
template <class Visit>
double LatencyPredictor<Scalar>::visit_features(const Architecture& arch, std::span<const double> hardware,
                                                Visit&& visit) const {
  const bool linear = linear_.size() != 0;
  const std::size_t dim = encoder_.dim(), layers = encoder_.layer_dim();
  double lin = 0, lin_px = 0;  // the linear path: w.x and u.x_layers
  encoder_.for_each_feature(arch, hardware, [&](std::size_t i, double v) {
    visit(i, v);
    if (linear) {
      lin += v * static_cast<double>(linear_(static_cast<Eigen::Index>(i)));
      if (i < layers) lin_px += v * static_cast<double>(linear_(static_cast<Eigen::Index>(dim + i)));
    }
  });
  if (linear) lin += static_cast<double>(linear_(linear_.size() - 1)) + pixels(arch) * lin_px;
  return lin;
}

template <class Scalar>
bool LatencyPredictor<Scalar>::fits_stack() const {
  bool fits = true;  // the input's non-zeros and every layer
  for (const std::size_t width : net_.sizes()) fits = fits && width <= kMaxFastWidth;
  return fits;
}

template <class Scalar>
double LatencyPredictor<Scalar>::predict_on_stack(const Architecture& arch, std::span<const double> hardware) const {
  // Never zero-filled: the non-zero features, then each layer's positive
  // units.
  typename Net::template RowScratch<kMaxFastWidth> s;
  const double lin = visit_features(arch, hardware, [&s](std::size_t i, double v) {
    if (v == 0.0) return;
    s.index[s.nnz] = static_cast<std::uint32_t>(i);
    s.value[s.nnz++] = static_cast<Scalar>(v);
  });
  return unscale(static_cast<double>(net_.forward_one(s)[0]) + lin);
}

template <class Scalar>
double LatencyPredictor<Scalar>::predict(const Architecture& arch, std::span<const double> hardware) const {
  if (fits_stack()) return predict_on_stack(arch, hardware);
  std::vector<Architecture> one{arch};
  return predict(one, hardware).front();
}

template <class Scalar>
std::vector<double> LatencyPredictor<Scalar>::predict(std::span<const Architecture> archs,
                                                      std::span<const double> hardware) const {
  const std::size_t hw = encoder_.options().hardware_features;
  const bool per_row = hw > 0 && hardware.size() == archs.size() * hw && archs.size() > 1;
  auto row_hardware = [&](std::size_t i) { return per_row ? hardware.subspan(i * hw, hw) : hardware; };
  std::vector<double> out(archs.size());
  if (fits_stack()) {
    // One at a time, as fast as batched products here (each architecture
    // reads the weight rows of its own non-zeros, which stay in cache), and
    // every prediction is the single predict's, whatever else is in the
    // batch.
    for (std::size_t i = 0; i < archs.size(); ++i) out[i] = predict_on_stack(archs[i], row_hardware(i));
    return out;
  }
  std::vector<double> lin;
  SparseRows<Scalar> x;  // the one-hot features stay sparse: the first layer adds ~1/4 of its weight rows
  x.width = encoder_.dim();
  typename Net::Workspace ws;
  // Blocks small enough for Mlp's sparse hidden path (kSparseMaxRows).
  constexpr std::size_t kBlock = 256;
  for (std::size_t k = 0; k < archs.size(); k += kBlock) {
    const std::size_t m = std::min(kBlock, archs.size() - k);
    x.clear();
    lin.clear();
    for (std::size_t i = k; i < k + m; ++i) {
      lin.push_back(visit_features(archs[i], row_hardware(i), [&x](std::size_t j, double v) {
        if (v != 0.0) x.push(j, static_cast<Scalar>(v));
      }));
      x.end_row();
    }
    const auto y = net_.forward(x, ws);
    for (std::size_t i = 0; i < m; ++i) {
      out[k + i] = unscale(static_cast<double>(y(static_cast<Eigen::Index>(i), 0)) + lin[i]);
    }
  }
  return out;
}

template <class Scalar>
RegressionMetrics LatencyPredictor<Scalar>::evaluate(std::span<const Architecture> archs,
                                                     std::span<const double> latencies) const {
  detail::check_latencies(latencies, archs.size(), "evaluation");
  const auto pred = predict(archs);
  return hwnas::evaluate(pred, latencies);
}

}  // namespace hwnas
