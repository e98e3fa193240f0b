// LatencyPredictor: encoder + target scaling + linear path + MLP, trained
// from measured (architecture, latency) pairs. Its parts live apart: the
// options and recipes (options.hpp), the scaling (target_scaling.hpp), the
// linear path and its choice (linear_path.hpp), the SGD loop
// (nn/trainer.hpp); this class ties them together and predicts.
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

#include "hwnas/architecture.hpp"
#include "hwnas/dataset.hpp"
#include "hwnas/error.hpp"
#include "hwnas/metrics.hpp"
#include "hwnas/nn/mlp.hpp"
#include "hwnas/nn/sparse_rows.hpp"
#include "hwnas/nn/trainer.hpp"
#include "hwnas/predictor/encoding.hpp"
#include "hwnas/predictor/linear_path.hpp"
#include "hwnas/predictor/options.hpp"
#include "hwnas/predictor/target_scaling.hpp"
#include "hwnas/random.hpp"
#include "hwnas/space/mbconv_space.hpp"
#include "hwnas/split.hpp"

namespace hwnas {

/// Predicts the latency (ms) of architectures of one space on one device.
/// `Space` is any SearchSpace with an encoder (encoder_for<Space>): an
/// MbConvSpace, a CategoricalSpace, a user's space. Const members (predict,
/// evaluate) are thread-safe; fit and fine_tune are not.
template <class Scalar = float, class Space = MbConvSpace>
class LatencyPredictor {
 public:
  using Net = Mlp<Scalar>;
  using space_type = Space;
  using Arch = typename Space::arch_type;
  using Encoder = encoder_for<Space>;

  LatencyPredictor(Space space, PredictorOptions options = {});

  const Space& space() const noexcept { return space_; }
  const Encoder& encoder() const noexcept { return encoder_; }
  /// What the predictor was built with; fitting never changes it.
  const PredictorOptions& options() const noexcept { return options_; }
  Net& network() noexcept { return net_; }
  const Net& network() const noexcept { return net_; }
  /// The fitted target scaling: scaled = (f(y) - mean) / scale with f =
  /// identity or log. Its transform starts as options().target;
  /// TrainOptions::choose_linear may choose the other one.
  const TargetScaling& target_scaling() const noexcept { return scaling_; }
  TargetTransform target_transform() const noexcept { return scaling_.transform; }
  double target_mean() const noexcept { return scaling_.mean; }
  double target_scale() const noexcept { return scaling_.scale; }
  /// InvalidArgument unless mean is finite and scale finite and positive.
  void set_target_scaling(double mean, double scale) { scaling_.set(mean, scale); }
  /// The linear path on the scaled target: w (encoder().dim() values), u
  /// (encoder().layer_dim() values), then the intercept b (all zero until
  /// fitted); empty without options().linear.
  const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& linear_weights() const noexcept { return linear_.weights(); }
  /// linear_weights().size() with a linear path: dim() + layer_dim() + 1.
  std::size_t linear_size() const noexcept { return linear_.size(); }
  /// ShapeMismatch unless `w` has linear_size() values (0 without a linear
  /// path).
  void set_linear_weights(std::span<const Scalar> w);

  /// Trains from scratch (weights initialised from options.seed). Targets in
  /// ms, finite and positive. Validation data (optional) drives keep_best,
  /// early stopping and the report's curve. (Defaults are TrainOptions(), not
  /// {}: GCC 12 warns, -Wmaybe-uninitialized, about a braced temporary of an
  /// aggregate with a base in a consumer's -O3 -Wall build.)
  FitReport fit(std::span<const Arch> archs, std::span<const double> latencies,
                std::span<const Arch> val_archs = {}, std::span<const double> val_latencies = {},
                const TrainOptions& options = TrainOptions());
  /// fit() on the train and validation rows of a split of one device column.
  FitReport fit(const BasicDataset<Arch>& data, std::string_view column, const Split& split,
                const TrainOptions& options = TrainOptions());
  /// fit() on rows of several devices: `hardware` holds a row of
  /// encoder().options().hardware_features values per architecture
  /// (row-major), `val_hardware` the same for the validation rows. This is
  /// how a model conditioned on device features is trained.
  FitReport fit_with_hardware(std::span<const Arch> archs, std::span<const double> hardware,
                              std::span<const double> latencies, std::span<const Arch> val_archs,
                              std::span<const double> val_hardware, std::span<const double> val_latencies,
                              const TrainOptions& options = TrainOptions());

  /// Keeps the weights, re-fits the target scaling on the new device's
  /// latencies (choosing again with options.choose_linear), re-fits the
  /// linear path pulled towards the current one, and trains the layers after
  /// options.frozen_layers (the method freezes 2).
  FitReport fine_tune(std::span<const Arch> archs, std::span<const double> latencies,
                      std::span<const Arch> val_archs = {}, std::span<const double> val_latencies = {},
                      const TrainOptions& options = TrainOptions());

  /// Latency of one architecture in ms; no heap allocation for hidden layers
  /// up to kMaxFastWidth units.
  double predict(const Arch& arch, std::span<const double> hardware = {}) const;
  /// Latencies of many architectures (batched matrix products).
  std::vector<double> predict(std::span<const Arch> archs, std::span<const double> hardware = {}) const;
  /// Metrics of the predictions against measured latencies.
  RegressionMetrics evaluate(std::span<const Arch> archs, std::span<const double> latencies) const;

  static constexpr std::size_t kMaxFastWidth = 2048;

 private:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  // Rows to train or validate on: architectures, their hardware features
  // (a row of hardware_features values each; empty without) and latencies.
  struct Rows {
    std::span<const Arch> archs;
    std::span<const double> hardware;
    std::span<const double> latencies;
  };
  // The same, owned (the rows a hold-out takes apart).
  struct OwnedRows {
    std::vector<Arch> archs;
    std::vector<double> hardware, latencies;
    Rows view() const { return {archs, hardware, latencies}; }
  };
  // Rows encoded once for the per-epoch validation: the network's inputs
  // and the linear path's outputs (fixed while the MLP trains).
  struct EncodedRows {
    SparseRows<Scalar> x;
    std::vector<double> linear;
  };

  FitReport run(Rows train, Rows validation, const TrainOptions& options, bool from_scratch);
  void check(Rows rows, const char* what) const;
  SparseRows<Scalar> features(Rows rows) const;
  EncodedRows encode(Rows rows) const;
  std::vector<double> predict_encoded(const EncodedRows& rows) const;
  // Target scaling and linear path for new training data.
  void prepare(const SparseRows<Scalar>& z, Rows train, Rows validation, const TrainOptions& options,
               const LinearPath<Scalar>& prior);
  // Both predicts, one architecture at a time with buffers on the stack
  // (Mlp::forward_one), when every layer fits them; false otherwise.
  bool fits_stack() const;
  double predict_on_stack(const Arch& arch, std::span<const double> hardware) const;

  Space space_;
  PredictorOptions options_;
  Encoder encoder_;
  Net net_;
  LinearPath<Scalar> linear_;
  TargetScaling scaling_;
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

template <class Scalar, class Space>
LatencyPredictor<Scalar, Space>::LatencyPredictor(Space space, PredictorOptions options)
    : space_(std::move(space)),
      options_(std::move(options)),
      encoder_(space_, options_.encoding),
      linear_(encoder_, options_.linear),
      scaling_{options_.target} {
  std::vector<std::size_t> sizes{encoder_.dim()};
  sizes.insert(sizes.end(), options_.hidden.begin(), options_.hidden.end());
  sizes.push_back(1);
  net_ = Net(std::move(sizes));
}

template <class Scalar, class Space>
void LatencyPredictor<Scalar, Space>::set_linear_weights(std::span<const Scalar> w) {
  const std::size_t want = options_.linear ? linear_size() : 0;
  if (w.size() != want) {
    throw ShapeMismatch("predictor: " + std::to_string(w.size()) + " linear weights, expected " + std::to_string(want) +
                        (options_.linear ? " (the features, the layer features times pixels, the intercept)"
                                         : " (no linear path)"));
  }
  linear_.set_weights(w);
}

template <class Scalar, class Space>
FitReport LatencyPredictor<Scalar, Space>::fit(std::span<const Arch> archs, std::span<const double> latencies,
                                        std::span<const Arch> val_archs,
                                        std::span<const double> val_latencies, const TrainOptions& options) {
  return run({archs, {}, latencies}, {val_archs, {}, val_latencies}, options, true);
}

template <class Scalar, class Space>
FitReport LatencyPredictor<Scalar, Space>::fit_with_hardware(std::span<const Arch> archs,
                                                      std::span<const double> hardware,
                                                      std::span<const double> latencies,
                                                      std::span<const Arch> val_archs,
                                                      std::span<const double> val_hardware,
                                                      std::span<const double> val_latencies,
                                                      const TrainOptions& options) {
  return run({archs, hardware, latencies}, {val_archs, val_hardware, val_latencies}, options, true);
}

template <class Scalar, class Space>
FitReport LatencyPredictor<Scalar, Space>::fit(const BasicDataset<Arch>& data, std::string_view column, const Split& split,
                                        const TrainOptions& options) {
  const auto train = data.subset(split.train), validation = data.subset(split.validation);
  return fit(train.archs(), train.column(column), validation.archs(), validation.column(column), options);
}

template <class Scalar, class Space>
FitReport LatencyPredictor<Scalar, Space>::fine_tune(std::span<const Arch> archs, std::span<const double> latencies,
                                              std::span<const Arch> val_archs,
                                              std::span<const double> val_latencies, const TrainOptions& options) {
  return run({archs, {}, latencies}, {val_archs, {}, val_latencies}, options, false);
}

template <class Scalar, class Space>
void LatencyPredictor<Scalar, Space>::check(Rows rows, const char* what) const {
  detail::check_latencies(rows.latencies, rows.archs.size(), what);
  const std::size_t hw = encoder_.options().hardware_features;
  if (rows.hardware.size() != rows.archs.size() * hw) {
    throw ShapeMismatch(std::string("predictor: ") + std::to_string(rows.hardware.size()) + " " + what +
                        " hardware values for " + std::to_string(rows.archs.size()) + " rows of " +
                        std::to_string(hw) + " hardware features" +
                        (hw > 0 && rows.hardware.empty() ? " (fit_with_hardware takes them)" : ""));
  }
}

template <class Scalar, class Space>
FitReport LatencyPredictor<Scalar, Space>::run(Rows train, Rows validation, const TrainOptions& options, bool from_scratch) {
  check(train, "training");
  check(validation, "validation");
  if (train.archs.empty()) {
    throw InvalidArgument(from_scratch ? "predictor: no training architectures" : "predictor: no fine-tuning architectures");
  }
  detail::check_train_options(options);
  const auto start = std::chrono::steady_clock::now();

  // Without validation rows, TrainOptions::holdout takes them from the
  // training rows (seeded), so that fine-tuning sees its N samples only.
  const std::size_t n = train.archs.size(), hw = encoder_.options().hardware_features;
  const auto n_holdout = std::min(n - 1, static_cast<std::size_t>(std::llround(options.holdout * static_cast<double>(n))));
  OwnedRows kept, held;
  if (validation.archs.empty() && n_holdout > 0) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    Rng rng(options.seed ^ 0x401d0075ULL);
    rng.shuffle(std::span<std::size_t>(order));
    std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_holdout));
    std::sort(order.begin() + static_cast<std::ptrdiff_t>(n_holdout), order.end());
    for (std::size_t k = 0; k < n; ++k) {
      OwnedRows& to = k < n_holdout ? held : kept;
      to.archs.push_back(train.archs[order[k]]);
      to.latencies.push_back(train.latencies[order[k]]);
      const auto row = train.hardware.subspan(order[k] * hw, hw);
      to.hardware.insert(to.hardware.end(), row.begin(), row.end());
    }
    train = kept.view();
    validation = held.view();
  }

  const auto x = features(train);
  const auto z = linear_.inputs(x, encoder_, train.archs);
  LinearPath<Scalar> prior(encoder_, false);
  if (from_scratch) {
    Rng init_rng(options.seed);
    net_.init(init_rng);
  } else {
    prior = linear_;
  }
  prepare(z, train, validation, options, prior);

  // The MLP learns what the linear path leaves; the relative loss weighs the
  // scaled error back to a fraction of y.
  Vector t(static_cast<Eigen::Index>(train.latencies.size())), w(t.size());
  for (Eigen::Index i = 0; i < t.size(); ++i) {
    const double y = train.latencies[static_cast<std::size_t>(i)];
    t(i) = static_cast<Scalar>(scaling_.apply(y) - linear_.output(z, static_cast<std::size_t>(i)));
    w(i) = static_cast<Scalar>(scaling_.transform == TargetTransform::log_standardize ? scaling_.scale
                                                                                        : scaling_.scale / y);
  }

  FitReport report;
  const bool validated = !validation.archs.empty();
  std::function<double()> validation_rmse;
  EncodedRows encoded;
  if (validated) {
    encoded = encode(validation);
    validation_rmse = [&] { return rmse(predict_encoded(encoded), validation.latencies); };
    if (linear_.enabled()) {
      std::vector<double> linear_only(encoded.linear.size());
      for (std::size_t i = 0; i < linear_only.size(); ++i) linear_only[i] = scaling_.invert(encoded.linear[i]);
      report.linear_validation_rmse = rmse(linear_only, validation.latencies);
    }
  }
  static_cast<TrainLoopReport&>(report) = train_mlp(net_, x, t, w, validation_rmse, options);
  report.train_rows = train.archs.size();
  report.validation_rows = validation.archs.size();
  if (options.keep_best && validated && report.stop_reason != StopReason::non_finite &&
      std::isfinite(report.linear_validation_rmse) &&
      !(report.best_validation_rmse < (1 - options.mlp_min_gain) * report.linear_validation_rmse)) {
    // The MLP gained too little over the linear path alone: it fit noise.
    const std::size_t last = net_.num_layers() - 1;
    net_.parameters()
        .segment(static_cast<Eigen::Index>(net_.layer_begin(last)),
                 static_cast<Eigen::Index>(net_.layer_end(last) - net_.layer_begin(last)))
        .setZero();
    report.mlp_off = true;
    report.best_validation_rmse = report.linear_validation_rmse;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

template <class Scalar, class Space>
SparseRows<Scalar> LatencyPredictor<Scalar, Space>::features(Rows rows) const {
  // The one-hot features, kept sparse: the first layer then adds a few weight
  // rows per architecture instead of multiplying a dense matrix.
  SparseRows<Scalar> x;
  x.width = encoder_.dim();
  const std::size_t hw = encoder_.options().hardware_features;
  for (std::size_t r = 0; r < rows.archs.size(); ++r) {
    encoder_.for_each_feature(rows.archs[r], rows.hardware.subspan(r * hw, hw), [&x](std::size_t i, double v) {
      if (v != 0.0) x.push(i, static_cast<Scalar>(v));
    });
    x.end_row();
  }
  return x;
}

template <class Scalar, class Space>
auto LatencyPredictor<Scalar, Space>::encode(Rows rows) const -> EncodedRows {
  EncodedRows out;
  out.x.width = encoder_.dim();
  const std::size_t hw = encoder_.options().hardware_features;
  for (std::size_t r = 0; r < rows.archs.size(); ++r) {
    out.linear.push_back(linear_.visit_output(encoder_, rows.archs[r], rows.hardware.subspan(r * hw, hw),
                                              [&out](std::size_t i, double v) {
                                                if (v != 0.0) out.x.push(i, static_cast<Scalar>(v));
                                              }));
    out.x.end_row();
  }
  return out;
}

template <class Scalar, class Space>
std::vector<double> LatencyPredictor<Scalar, Space>::predict_encoded(const EncodedRows& rows) const {
  // What predict() computes for these rows, bit for bit, without encoding
  // them again.
  std::vector<double> out(rows.linear.size());
  if (fits_stack()) {
    typename Net::template RowScratch<kMaxFastWidth> s;
    for (std::size_t i = 0; i < out.size(); ++i) {
      for (std::size_t k = rows.x.offsets[i]; k < rows.x.offsets[i + 1]; ++k) {
        s.index[s.nnz] = rows.x.index[k];
        s.value[s.nnz++] = rows.x.value[k];
      }
      out[i] = scaling_.invert(static_cast<double>(net_.forward_one(s)[0]) + rows.linear[i]);
    }
    return out;
  }
  const auto y = net_.forward(rows.x);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = scaling_.invert(static_cast<double>(y(static_cast<Eigen::Index>(i), 0)) + rows.linear[i]);
  }
  return out;
}

template <class Scalar, class Space>
void LatencyPredictor<Scalar, Space>::prepare(const SparseRows<Scalar>& z, Rows train, Rows validation,
                                       const TrainOptions& options, const LinearPath<Scalar>& prior) {
  LinearChoice choice{{options_.target}, {options.linear_ridge, options.linear_pixel_terms}, options.linear_huber};
  if (options.choose_linear && !validation.archs.empty()) {
    // The linear path's fit decides on the validation rows; the MLP then
    // corrects the chosen fit.
    const auto zv = linear_.inputs(features(validation), encoder_, validation.archs);
    std::vector<double> ridges = options.linear_ridge_choices;
    if (ridges.empty()) ridges = {options.linear_ridge};
    std::vector<TargetTransform> transforms{options_.target};
    if (options.choose_target) transforms = {TargetTransform::standardize, TargetTransform::log_standardize};
    choice = choose_linear_path(prior, z, train.latencies, zv, validation.latencies, transforms, ridges,
                                choice.settings, options.linear_huber);
  }
  scaling_ = TargetScaling{choice.scaling.transform};
  scaling_.fit(train.latencies);
  linear_.disable();
  if (!options_.linear) return;
  std::vector<double> s(train.latencies.size());
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = scaling_.apply(train.latencies[i]);
  linear_.fit(z, s, choice.settings, choice.huber, linear_.pull_towards(z, s, prior));
  // The MLP learns what the linear path leaves, rescaled to unit variance,
  // so that its learning rate and initialisation mean the same whether the
  // linear fit leaves 3 % or 30 %.
  double sq = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const double r = s[i] - linear_.output(z, i);  // mean 0: see LinearPath::fit
    sq += r * r;
  }
  const double sd = std::sqrt(sq / static_cast<double>(s.size()));
  if (sd > 1e-6) {
    scaling_.set(scaling_.mean, scaling_.scale * sd);
    linear_.divide(sd);
  }
}

template <class Scalar, class Space>
bool LatencyPredictor<Scalar, Space>::fits_stack() const {
  bool fits = true;  // the input's non-zeros and every layer
  for (const std::size_t width : net_.sizes()) fits = fits && width <= kMaxFastWidth;
  return fits;
}

template <class Scalar, class Space>
double LatencyPredictor<Scalar, Space>::predict_on_stack(const Arch& arch, std::span<const double> hardware) const {
  // Never zero-filled: the non-zero features, then each layer's positive
  // units.
  typename Net::template RowScratch<kMaxFastWidth> s;
  const double lin = linear_.visit_output(encoder_, arch, hardware, [&s](std::size_t i, double v) {
    if (v == 0.0) return;
    s.index[s.nnz] = static_cast<std::uint32_t>(i);
    s.value[s.nnz++] = static_cast<Scalar>(v);
  });
  return scaling_.invert(static_cast<double>(net_.forward_one(s)[0]) + lin);
}

template <class Scalar, class Space>
double LatencyPredictor<Scalar, Space>::predict(const Arch& arch, std::span<const double> hardware) const {
  if (fits_stack()) return predict_on_stack(arch, hardware);
  std::vector<Arch> one{arch};
  return predict(one, hardware).front();
}

template <class Scalar, class Space>
std::vector<double> LatencyPredictor<Scalar, Space>::predict(std::span<const Arch> archs,
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
      lin.push_back(linear_.visit_output(encoder_, archs[i], row_hardware(i), [&x](std::size_t j, double v) {
        if (v != 0.0) x.push(j, static_cast<Scalar>(v));
      }));
      x.end_row();
    }
    const auto y = net_.forward(x, ws);
    for (std::size_t i = 0; i < m; ++i) {
      out[k + i] = scaling_.invert(static_cast<double>(y(static_cast<Eigen::Index>(i), 0)) + lin[i]);
    }
  }
  return out;
}

template <class Scalar, class Space>
RegressionMetrics LatencyPredictor<Scalar, Space>::evaluate(std::span<const Arch> archs,
                                                     std::span<const double> latencies) const {
  detail::check_latencies(latencies, archs.size(), "evaluation");
  const auto pred = predict(archs);
  return hwnas::evaluate(pred, latencies);
}

}  // namespace hwnas
