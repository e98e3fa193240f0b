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

#include <Eigen/Core>

#include "hwnas/architecture.hpp"
#include "hwnas/dataset.hpp"
#include "hwnas/encoding.hpp"
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
  std::uint64_t seed = 0;      ///< initialisation and shuffling
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
  double seconds = 0;
};

/// What a predictor is: its encoding, its network shape, its target scaling.
struct PredictorOptions {
  Encoder::Options encoding{};
  std::vector<std::size_t> hidden{400, 400};
  TargetTransform target = TargetTransform::standardize;
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
/// (docs/results.md): one bit per resolution (the 8 bins merge resolutions
/// 4 px apart whose latencies differ), log-standardised targets (relative
/// errors), cosine-annealed learning rate, and the best validation epoch.
inline Recipe default_recipe() {
  Recipe r;
  r.predictor.encoding.resolution = ResolutionEncoding::one_hot;
  r.predictor.target = TargetTransform::log_standardize;
  r.training.learning_rate = 0.01;
  r.training.weight_decay = 1e-4;
  r.training.schedule = {.kind = LearningRateSchedule::Kind::cosine, .total_epochs = r.training.epochs};
  r.training.keep_best = true;
  return r;
}

/// "paper" or "default"; InvalidArgument otherwise.
inline Recipe recipe_from_string(std::string_view name) {
  if (name == "paper") return paper_recipe();
  if (name == "default") return default_recipe();
  throw InvalidArgument("predictor: unknown recipe '" + std::string(name) + "'; expected paper or default");
}

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

  /// Trains from scratch (weights initialised from options.seed). Targets in
  /// ms, finite and positive. Validation data (optional) drives keep_best,
  /// early stopping and the report's curve.
  FitReport fit(std::span<const Architecture> archs, std::span<const double> latencies,
                std::span<const Architecture> val_archs = {}, std::span<const double> val_latencies = {},
                const TrainOptions& options = {});
  /// fit() on the train and validation rows of a split of one device column.
  FitReport fit(const Dataset& data, std::string_view column, const Split& split,
                const TrainOptions& options = {});

  /// Keeps the weights, re-fits the target scaling on the new device's
  /// latencies and trains the layers after options.frozen_layers (the method
  /// freezes 2).
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
  FitReport train(std::span<const Architecture> archs, std::span<const double> latencies,
                  std::span<const Architecture> val_archs, std::span<const double> val_latencies,
                  const TrainOptions& options);
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

}  // namespace detail

template <class Scalar>
LatencyPredictor<Scalar>::LatencyPredictor(MbConvSpace space, PredictorOptions options)
    : space_(std::move(space)), options_(std::move(options)), encoder_(space_, options_.encoding) {
  std::vector<std::size_t> sizes{encoder_.dim()};
  sizes.insert(sizes.end(), options_.hidden.begin(), options_.hidden.end());
  sizes.push_back(1);
  net_ = Net(std::move(sizes));
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
  detail::check_latencies(latencies, archs.size(), "training");
  if (archs.empty()) throw InvalidArgument("predictor: no training architectures");
  Rng init_rng(options.seed);
  net_.init(init_rng);
  fit_scaling(latencies);
  return train(archs, latencies, val_archs, val_latencies, options);
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
  detail::check_latencies(latencies, archs.size(), "training");
  if (archs.empty()) throw InvalidArgument("predictor: no fine-tuning architectures");
  fit_scaling(latencies);
  return train(archs, latencies, val_archs, val_latencies, options);
}

template <class Scalar>
FitReport LatencyPredictor<Scalar>::train(std::span<const Architecture> archs, std::span<const double> latencies,
                                          std::span<const Architecture> val_archs,
                                          std::span<const double> val_latencies, const TrainOptions& options) {
  using Vector = typename Net::Vector;
  using Matrix = typename Net::Matrix;
  if (options.batch_size == 0) throw InvalidArgument("predictor: batch_size must be positive");
  if (options.epochs == 0) throw InvalidArgument("predictor: epochs must be positive");
  if (options.frozen_layers >= net_.num_layers()) {
    throw InvalidArgument("predictor: cannot freeze " + std::to_string(options.frozen_layers) + " of " +
                          std::to_string(net_.num_layers()) + " layers");
  }
  detail::check_latencies(val_latencies, val_archs.size(), "validation");
  const auto start = std::chrono::steady_clock::now();

  SgdMomentum<Scalar> sgd({.learning_rate = options.learning_rate,
                           .momentum = options.momentum,
                           .weight_decay = options.weight_decay,
                           .nesterov = options.nesterov});
  const std::vector<ParameterRange> trainable{{net_.layer_begin(options.frozen_layers), net_.num_parameters()}};

  // The one-hot features, kept sparse: the first layer then adds a few weight
  // rows per architecture instead of multiplying a dense matrix.
  SparseRows<Scalar> x;
  x.width = encoder_.dim();
  for (const auto& arch : archs) {
    encoder_.for_each_feature(arch, {}, [&x](std::size_t i, double v) {
      if (v != 0.0) x.push(i, static_cast<Scalar>(v));
    });
    x.end_row();
  }
  const auto n = static_cast<Eigen::Index>(archs.size());
  Vector t(n), w(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double y = latencies[static_cast<std::size_t>(i)];
    t(i) = static_cast<Scalar>(scale_target(y));
    // The relative loss weighs the scaled error back to a fraction of y.
    w(i) = static_cast<Scalar>(options_.target == TargetTransform::log_standardize ? scale_ : scale_ / y);
  }

  SparseRows<Scalar> xb;
  xb.width = x.width;
  Vector tb, wb, grad(static_cast<Eigen::Index>(net_.num_parameters()));
  Matrix dy;
  typename Net::Workspace ws;
  std::vector<std::size_t> order(archs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  Rng shuffle_rng(options.seed ^ 0x5eed5eed5eed5eedULL);

  FitReport report;
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
      const auto pred = predict(val_archs);
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
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

template <class Scalar>
double LatencyPredictor<Scalar>::predict(const Architecture& arch, std::span<const double> hardware) const {
  const std::size_t n_layers = net_.num_layers();
  bool fast = true;
  for (std::size_t l = 1; l < n_layers; ++l) fast = fast && net_.sizes()[l] <= kMaxFastWidth;
  if (!fast) {
    std::vector<Architecture> one{arch};
    return predict(one, hardware).front();
  }
  // Two stack buffers; the first layer sums the weight rows of the non-zero
  // features, later layers skip the rows of units ReLU switched off.
  std::array<Scalar, kMaxFastWidth> a{}, b{};
  Scalar* in = a.data();
  Scalar* out = b.data();
  const auto width0 = static_cast<Eigen::Index>(net_.sizes()[1]);
  Eigen::Map<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>> h(in, width0);
  h = net_.bias(0);
  const auto w0 = net_.weight(0);
  encoder_.for_each_feature(arch, hardware, [&](std::size_t i, double v) {
    h += static_cast<Scalar>(v) * w0.row(static_cast<Eigen::Index>(i));
  });
  for (std::size_t l = 1; l < n_layers; ++l) {
    const auto in_width = static_cast<Eigen::Index>(net_.sizes()[l]);
    const auto out_width = static_cast<Eigen::Index>(net_.sizes()[l + 1]);
    const auto w = net_.weight(l);
    Eigen::Map<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>> o(out, out_width);
    o = net_.bias(l);
    for (Eigen::Index i = 0; i < in_width; ++i) {
      if (in[i] > Scalar(0)) o += in[i] * w.row(i);  // ReLU of the previous layer
    }
    std::swap(in, out);
  }
  return unscale(static_cast<double>(in[0]));
}

template <class Scalar>
std::vector<double> LatencyPredictor<Scalar>::predict(std::span<const Architecture> archs,
                                                      std::span<const double> hardware) const {
  std::vector<double> out;
  out.reserve(archs.size());
  typename Net::Workspace ws;
  constexpr std::size_t kChunk = 4096;  // bounds the activations' memory
  for (std::size_t k = 0; k < archs.size(); k += kChunk) {
    const std::size_t m = std::min(kChunk, archs.size() - k);
    const std::size_t hw = encoder_.options().hardware_features;
    const bool per_row = hw > 0 && hardware.size() == archs.size() * hw && archs.size() > 1;
    const auto hw_part = per_row ? hardware.subspan(k * hw, m * hw) : hardware;
    const auto x = encoder_.template encode_batch<Scalar>(archs.subspan(k, m), hw_part);
    const auto y = net_.forward(x, ws);
    for (Eigen::Index i = 0; i < y.rows(); ++i) out.push_back(unscale(static_cast<double>(y(i, 0))));
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
