// What a latency predictor is (PredictorOptions: encoding, network shape,
// the target transform to start from, a linear path) and how it is trained
// (TrainOptions, on top of the SGD loop's), with the named recipes: `paper`
// (the method exactly), `default` (hwnas's, chosen by measurement) and
// `finetune`.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "hwnas/error.hpp"
#include "hwnas/nn/trainer.hpp"
#include "hwnas/predictor/encoding.hpp"
#include "hwnas/predictor/target_scaling.hpp"

namespace hwnas {

/// How to train a predictor: the loop's options (nn/trainer.hpp) and the
/// predictor's own choices (hold-out, linear path, MLP switch-off).
struct TrainOptions : TrainLoopOptions {
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
  /// LatencyPredictor::target_transform() then says which), the penalty (among
  /// linear_ridge_choices), whether to use the pixel terms and whether the
  /// fit is robust (linear_huber) or least squares. Candidates are weighted
  /// least-squares fits with the Huber weights of the linear_ridge fit, so
  /// one robust fit per transform is needed. The MLP is trained
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
};

/// The result of fit() and fine_tune(): the loop's report and the rest.
struct FitReport : TrainLoopReport {
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

/// What a predictor is: its encoding, its network shape, its target
/// transform, a linear path.
struct PredictorOptions {
  Encoder::Options encoding{};
  std::vector<std::size_t> hidden{400, 400};
  /// The transform of the target scaling; TrainOptions::choose_linear may
  /// choose the other one (LatencyPredictor::target_transform()).
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

}  // namespace detail

}  // namespace hwnas
