// The SGD loop that trains an Mlp on sparse input rows: shuffled mini-batches,
// a weighted loss, momentum SGD with a learning-rate schedule, frozen first
// layers, a validation score per epoch (keep the best epoch, early
// stopping), and divergence caught rather than silently kept.
#pragma once

#include <algorithm>
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

#include "hwnas/error.hpp"
#include "hwnas/nn/loss.hpp"
#include "hwnas/nn/mlp.hpp"
#include "hwnas/nn/sgd.hpp"
#include "hwnas/nn/sparse_rows.hpp"
#include "hwnas/random.hpp"

namespace hwnas {

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

/// How the loop trains: the optimiser, the schedule, the stopping rules.
struct TrainLoopOptions {
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
  std::uint64_t seed = 0;      ///< initialisation, shuffling (and, for a predictor, its hold-out rows)
  /// Called after every epoch; returning true stops training.
  std::function<bool(const EpochInfo&)> on_epoch;
};

/// What the loop did.
struct TrainLoopReport {
  StopReason stop_reason = StopReason::max_epochs;
  std::size_t epochs = 0;      ///< epochs run
  std::size_t best_epoch = 0;  ///< epoch with the lowest validation RMSE (0-based)
  double best_validation_rmse = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> train_loss;       ///< per epoch
  std::vector<double> validation_rmse;  ///< per epoch, ms (empty without validation data)
};

/// Trains `net` on rows `x` towards targets `t`, each row's loss weighted by
/// `w` (loss_and_gradient's relative weights). `validation_rmse`, when set,
/// scores the network after each epoch (lower is better); it drives
/// keep_best, patience and the report's curve. The shuffling comes from
/// options.seed; the weights are not initialised here (fine-tuning keeps
/// them). InvalidArgument when every layer would be frozen.
template <class Scalar>
TrainLoopReport train_mlp(Mlp<Scalar>& net, const SparseRows<Scalar>& x,
                          const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& t,
                          const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& w,
                          const std::function<double()>& validation_rmse, const TrainLoopOptions& options);

// ---------------------------------------------------------------------------

template <class Scalar>
TrainLoopReport train_mlp(Mlp<Scalar>& net, const SparseRows<Scalar>& x,
                          const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& t,
                          const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& w,
                          const std::function<double()>& validation_rmse, const TrainLoopOptions& options) {
  using Net = Mlp<Scalar>;
  using Matrix = typename Net::Matrix;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  if (options.frozen_layers >= net.num_layers()) {
    throw InvalidArgument("train: cannot freeze " + std::to_string(options.frozen_layers) + " of " +
                          std::to_string(net.num_layers()) + " layers");
  }
  if (options.batch_size == 0) throw InvalidArgument("train: batch_size must be positive");
  const auto rows = static_cast<std::size_t>(t.size());
  if (static_cast<std::size_t>(x.rows()) != rows || static_cast<std::size_t>(w.size()) != rows) {
    throw ShapeMismatch("train: " + std::to_string(x.rows()) + " input rows, " + std::to_string(rows) +
                        " targets and " + std::to_string(w.size()) + " weights");
  }

  SgdMomentum<Scalar> sgd({.learning_rate = options.learning_rate,
                           .momentum = options.momentum,
                           .weight_decay = options.weight_decay,
                           .nesterov = options.nesterov});
  const std::vector<ParameterRange> trainable{{net.layer_begin(options.frozen_layers), net.num_parameters()}};

  SparseRows<Scalar> xb;
  xb.width = x.width;
  Vector tb, wb, grad(static_cast<Eigen::Index>(net.num_parameters()));
  Matrix dy;
  typename Net::Workspace ws;
  std::vector<std::size_t> order(rows);
  std::iota(order.begin(), order.end(), std::size_t{0});
  Rng shuffle_rng(options.seed ^ 0x5eed5eed5eed5eedULL);

  TrainLoopReport report;
  Vector best = net.parameters(), last_good = net.parameters();
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
      const Matrix y = net.forward(xb, ws);
      auto dcol = dy.col(0);
      const Scalar loss = loss_and_gradient<Scalar>(options.loss, y.col(0), tb, wb, dcol);
      if (!std::isfinite(static_cast<double>(loss))) {
        finite = false;
        break;
      }
      net.backward(xb, dy, ws, grad);
      sgd.step(net.parameters(), grad, trainable);
      loss_sum += static_cast<double>(loss);
      ++batches;
    }
    if (finite && !net.parameters().allFinite()) finite = false;
    if (!finite) {
      net.parameters() = options.keep_best && !report.validation_rmse.empty() ? best : last_good;
      report.stop_reason = StopReason::non_finite;
      return report;
    }
    last_good = net.parameters();
    EpochInfo info{.epoch = epoch, .train_loss = loss_sum / static_cast<double>(batches), .learning_rate = lr};
    report.train_loss.push_back(info.train_loss);
    report.epochs = epoch + 1;
    if (validation_rmse) {
      info.validation_rmse = validation_rmse();
      report.validation_rmse.push_back(info.validation_rmse);
      if (!(info.validation_rmse >= report.best_validation_rmse)) {  // also true for the first (NaN) best
        report.best_validation_rmse = info.validation_rmse;
        report.best_epoch = epoch;
        since_best = 0;
        if (options.keep_best) best = net.parameters();
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
  if (options.keep_best && !report.validation_rmse.empty()) net.parameters() = best;
  return report;
}

}  // namespace hwnas
