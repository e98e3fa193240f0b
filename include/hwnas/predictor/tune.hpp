// Hyperparameter tuning of a LatencyPredictor: a grid over learning rate x
// momentum x weight decay, pruned by asynchronous successive halving (ASHA,
// Ray Tune's ASHAScheduler rule) and run on a pool of threads. The rung
// decisions are made deterministic, so the result does not depend on the
// number of threads or on their timing (docs/tune.md).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/error.hpp"
#include "hwnas/predictor/latency_predictor.hpp"

namespace hwnas {

/// One configuration of the grid and what training it gave.
struct TrialResult {
  std::size_t index = 0;  ///< position in the grid: learning rate outermost, weight decay innermost
  double learning_rate = 0;
  double momentum = 0;
  double weight_decay = 0;
  std::vector<double> validation_curve;  ///< validation RMSE (ms) after each epoch run
  std::size_t epochs = 0;                ///< epochs run
  bool stopped_early = false;            ///< ASHA stopped it at a rung (then stop_reason is `callback`)
  double best_validation_rmse = std::numeric_limits<double>::quiet_NaN();   ///< lowest of the curve
  double final_validation_rmse = std::numeric_limits<double>::quiet_NaN();  ///< last of the curve
  StopReason stop_reason = StopReason::max_epochs;
  double seconds = 0;  ///< wall time, including waits for earlier trials' rung decisions
};

/// The grid, the ASHA schedule and the pool. Validated once by tune().
struct TuneOptions {
  /// The default grid is 4 x 3 x 3 = 36 configurations around the method's
  /// recipe (lr 0.03, momentum 0.9, weight decay 1e-5, which it contains).
  std::vector<double> learning_rates{0.1, 0.03, 0.01, 0.003};
  std::vector<double> momenta{0.0, 0.5, 0.9};
  std::vector<double> weight_decays{0.0, 1e-5, 1e-4};
  /// Epochs of a trial that is never stopped (the method trains 100).
  std::size_t max_epochs = 100;
  /// First rung. Rungs are at grace_period * reduction_factor^k epochs, k =
  /// 0, 1, ..., up to max_epochs: 5, 20, 80 with the defaults.
  std::size_t grace_period = 5;
  /// A trial continues past a rung only within the best 1/reduction_factor.
  std::size_t reduction_factor = 4;
  /// Worker threads; 0 = std::thread::hardware_concurrency().
  std::size_t threads = 2;
  /// Everything else about training (loss, batch size, schedule, seed,
  /// keep_best, patience...). Its learning_rate, momentum and weight_decay
  /// are replaced by the grid's, its epochs by max_epochs; its on_epoch must
  /// be empty (tune installs its own). Every trial uses base.seed: all start
  /// from the same weights and see the same batches, so the grid compares
  /// the hyperparameters and not the luck of the draw.
  TrainOptions base = paper_recipe().training;
  /// Optional progress hook: called once per finished trial, from the worker
  /// threads, one call at a time (under tune's lock). An exception it throws
  /// ends the tuning and reaches the caller.
  std::function<void(const TrialResult&)> on_trial_done;
};

/// Every trial and the winner.
struct TuneReport {
  std::vector<TrialResult> trials;  ///< in grid order (trials[i].index == i)
  /// Index of the best trial: among the trials that were neither stopped by
  /// ASHA nor diverged, the lowest final_validation_rmse (best_validation_rmse
  /// when base.keep_best, since those are the weights fit() then keeps); the
  /// lower index on a tie.
  std::size_t best = 0;
  TrainOptions best_options;  ///< base with the best trial's values and epochs = max_epochs
  double seconds = 0;         ///< wall time of tune()
};

/// The ASHA rungs in epochs: grace_period * reduction_factor^k for k = 0, 1,
/// ... while <= max_epochs (grace 1, factor 3, max 9: {1, 3, 9}).
/// InvalidArgument unless 0 < grace_period <= max_epochs and
/// reduction_factor >= 2.
std::vector<std::size_t> asha_rungs(std::size_t grace_period, std::size_t reduction_factor,
                                    std::size_t max_epochs);

/// Trains a copy of `prototype` (its space, encoding, network shape and
/// target transform; its weights are not used: every fit starts from
/// base.seed) for each configuration of the grid, stops the weak ones at the
/// ASHA rungs by their validation RMSE of that epoch, and returns every trial
/// and the best. The result does not depend on options.threads.
/// InvalidArgument for bad options or an empty validation set; whatever a
/// fit throws (bad data: a non-positive latency, mismatched sizes) or the
/// hook throws is rethrown here after the other workers have stopped.
template <class Scalar = float, class Space = MbConvSpace>
TuneReport tune(const LatencyPredictor<Scalar, Space>& prototype, std::span<const typename Space::arch_type> train,
                std::span<const double> y_train, std::span<const typename Space::arch_type> val,
                std::span<const double> y_val, const TuneOptions& options = TuneOptions());

// The parts of tune(), for running its trials elsewhere (the Python
// module's hwnas.farm.tune runs each trial as a task on a Dask worker, and
// the rung decisions on the client, with AshaRungs below).

/// Configurations in the grid.
std::size_t grid_size(const TuneOptions& options);
/// Rungs at which a trial is asked whether to go on: those below
/// max_epochs (whoever reaches max_epochs has finished).
std::size_t deciding_rungs(const TuneOptions& options);

/// What a trial asks while it trains: keep(rung, validation RMSE) at each
/// deciding rung (false stops it there), and, when set, stop() after every
/// epoch (true ends it at once: tune() stops the others when one fails).
struct TrialGate {
  std::function<bool(std::size_t rung, double validation_rmse)> keep;
  std::function<bool()> stop;
};

/// Trains configuration `index` of the grid as tune() does (a copy of
/// `prototype`, options.base with the configuration's values), `gate`
/// deciding at the rungs. The options must have passed tune()'s checks
/// (check_tune_options).
template <class Scalar, class Space>
TrialResult run_tune_trial(const LatencyPredictor<Scalar, Space>& prototype,
                           std::span<const typename Space::arch_type> train, std::span<const double> y_train,
                           std::span<const typename Space::arch_type> val, std::span<const double> y_val,
                           const TuneOptions& options, std::size_t index, const TrialGate& gate);

/// The report of every trial of the grid (trials[i].index == i): the best
/// as tune() picks it; Error when every trial diverged or was stopped.
TuneReport tune_report(std::vector<TrialResult> trials, const TuneOptions& options, double seconds);

/// InvalidArgument for options tune() refuses; `validation_rows` is the
/// size of the validation set.
void check_tune_options(const TuneOptions& options, std::size_t validation_rows);

/// The bookkeeping of the deterministic ASHA, without threads: metrics per
/// rung and trial, and the rule. Trial i decides at rung k from the metrics
/// that trials j < i recorded at rung k, and only once every such trial has
/// recorded rung k or finished without reaching it (ready()); so a decision
/// never depends on the order in which trials arrive.
class AshaRungs {
 public:
  AshaRungs(std::size_t trials, std::size_t rungs, std::size_t reduction_factor)
      : reduction_factor_(reduction_factor),
        metrics_(rungs, std::vector<double>(trials, std::numeric_limits<double>::quiet_NaN())),
        reached_(trials, 0),
        finished_(trials, false) {
    if (reduction_factor < 2) {
      throw InvalidArgument("asha: reduction_factor must be >= 2, found " + std::to_string(reduction_factor));
    }
  }

  std::size_t trials() const noexcept { return reached_.size(); }
  std::size_t rungs() const noexcept { return metrics_.size(); }
  /// Rungs `trial` has recorded so far.
  std::size_t reached(std::size_t trial) const { return reached_.at(trial); }

  /// True when every trial before `trial` has recorded `rung` or finished.
  bool ready(std::size_t trial, std::size_t rung) const {
    for (std::size_t j = 0; j < trial; ++j) {
      if (!finished_[j] && reached_[j] <= rung) return false;
    }
    return true;
  }

  /// The largest metric that continues at `rung` for `trial`: Ray's cutoff,
  /// numpy.nanpercentile (linear) of the rewards at 1 - 1/reduction_factor,
  /// which for a metric to minimise is its quantile at 1/reduction_factor.
  /// Only trials before `trial` count; NaN when none recorded a finite one.
  double cutoff(std::size_t trial, std::size_t rung) const {
    std::vector<double> seen;
    for (std::size_t j = 0; j < trial && j < trials(); ++j) {
      const double m = metrics_.at(rung)[j];
      if (reached_[j] > rung && std::isfinite(m)) seen.push_back(m);
    }
    if (seen.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(seen.begin(), seen.end());
    const double pos = static_cast<double>(seen.size() - 1) / static_cast<double>(reduction_factor_);
    const auto lo = static_cast<std::size_t>(pos);
    const double frac = pos - static_cast<double>(lo);
    return lo + 1 < seen.size() ? seen[lo] + frac * (seen[lo + 1] - seen[lo]) : seen[lo];
  }

  /// Records `trial`'s metric at `rung` and decides: true = continue. The
  /// first trial at a rung always continues; a non-finite metric never does
  /// (Ray would let a NaN through) and is not counted for later trials.
  /// InvalidArgument when the rungs are reported out of order, after
  /// finish(), or before ready().
  bool report(std::size_t trial, std::size_t rung, double metric) {
    if (trial >= trials() || rung >= rungs()) {
      throw InvalidArgument("asha: trial " + std::to_string(trial) + " rung " + std::to_string(rung) +
                            " outside " + std::to_string(trials()) + " trials and " + std::to_string(rungs()) +
                            " rungs");
    }
    if (finished_[trial] || reached_[trial] != rung) {
      throw InvalidArgument("asha: trial " + std::to_string(trial) + " reported rung " + std::to_string(rung) +
                            " but its next rung is " +
                            (finished_[trial] ? std::string("none (finished)") : std::to_string(reached_[trial])));
    }
    if (!ready(trial, rung)) {
      throw InvalidArgument("asha: trial " + std::to_string(trial) + " reported rung " + std::to_string(rung) +
                            " before every earlier trial recorded it or finished");
    }
    const double cut = cutoff(trial, rung);
    metrics_[rung][trial] = metric;
    ++reached_[trial];
    if (!std::isfinite(metric)) return false;
    return std::isnan(cut) || metric <= cut;
  }

  /// `trial` reports no more rungs (it ended, was stopped or failed).
  void finish(std::size_t trial) noexcept {
    if (trial < trials()) finished_[trial] = true;
  }

 private:
  std::size_t reduction_factor_;
  std::vector<std::vector<double>> metrics_;  // [rung][trial]
  std::vector<std::size_t> reached_;
  std::vector<bool> finished_;
};

// ---------------------------------------------------------------------------

inline void check_tune_options(const TuneOptions& o, std::size_t validation_rows) {
  auto check_grid = [](const std::vector<double>& values, const char* name, bool allow_zero) {
    if (values.empty()) throw InvalidArgument(std::string("tune: ") + name + " is empty; the grid needs a value");
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double v = values[i];
      if (!std::isfinite(v) || v < 0 || (!allow_zero && v == 0)) {
        throw InvalidArgument(std::string("tune: ") + name + "[" + std::to_string(i) + "] must be " +
                              (allow_zero ? "finite and >= 0" : "finite and > 0") + ", found " +
                              std::to_string(v));
      }
    }
  };
  check_grid(o.learning_rates, "learning_rates", false);
  check_grid(o.momenta, "momenta", true);
  check_grid(o.weight_decays, "weight_decays", true);
  if (o.base.nesterov && std::find(o.momenta.begin(), o.momenta.end(), 0.0) != o.momenta.end()) {
    throw InvalidArgument("tune: momenta holds 0 but base.nesterov needs momentum > 0");
  }
  if (o.max_epochs == 0) throw InvalidArgument("tune: max_epochs must be positive, found 0");
  if (o.grace_period == 0) throw InvalidArgument("tune: grace_period must be positive, found 0");
  if (o.grace_period > o.max_epochs) {
    throw InvalidArgument("tune: grace_period (" + std::to_string(o.grace_period) + ") must be <= max_epochs (" +
                          std::to_string(o.max_epochs) + ")");
  }
  if (o.reduction_factor < 2) {
    throw InvalidArgument("tune: reduction_factor must be >= 2, found " + std::to_string(o.reduction_factor));
  }
  if (o.base.on_epoch) {
    throw InvalidArgument("tune: base.on_epoch must be empty (tune uses it for the rung decisions); "
                          "use on_trial_done for progress");
  }
  if (validation_rows == 0) {
    throw InvalidArgument("tune: no validation architectures; the rung decisions need a validation RMSE");
  }
}


inline std::vector<std::size_t> asha_rungs(std::size_t grace_period, std::size_t reduction_factor,
                                           std::size_t max_epochs) {
  if (grace_period == 0 || grace_period > max_epochs) {
    throw InvalidArgument("asha: grace_period must lie in [1, max_epochs = " + std::to_string(max_epochs) +
                          "], found " + std::to_string(grace_period));
  }
  if (reduction_factor < 2) {
    throw InvalidArgument("asha: reduction_factor must be >= 2, found " + std::to_string(reduction_factor));
  }
  std::vector<std::size_t> rungs{grace_period};
  // Integer arithmetic: Ray's int(log(max/min) / log(rf) + 1) can lose a rung to rounding.
  while (rungs.back() <= max_epochs / reduction_factor) rungs.push_back(rungs.back() * reduction_factor);
  return rungs;
}

inline std::size_t grid_size(const TuneOptions& o) {
  return o.learning_rates.size() * o.momenta.size() * o.weight_decays.size();
}

inline std::size_t deciding_rungs(const TuneOptions& o) {
  const auto milestones = asha_rungs(o.grace_period, o.reduction_factor, o.max_epochs);
  return static_cast<std::size_t>(
      std::count_if(milestones.begin(), milestones.end(), [&](std::size_t m) { return m < o.max_epochs; }));
}

template <class Scalar, class Space>
TrialResult run_tune_trial(const LatencyPredictor<Scalar, Space>& prototype,
                           std::span<const typename Space::arch_type> train, std::span<const double> y_train,
                           std::span<const typename Space::arch_type> val, std::span<const double> y_val,
                           const TuneOptions& options, std::size_t i, const TrialGate& gate) {
  const auto start = std::chrono::steady_clock::now();
  const std::size_t n_m = options.momenta.size(), n_wd = options.weight_decays.size();
  if (i >= grid_size(options)) {
    throw InvalidArgument("tune: trial " + std::to_string(i) + " is outside the grid of " +
                          std::to_string(grid_size(options)));
  }
  const auto milestones = asha_rungs(options.grace_period, options.reduction_factor, options.max_epochs);
  const std::size_t decisions = deciding_rungs(options);
  TrialResult r;
  r.index = i;
  r.learning_rate = options.learning_rates[i / (n_m * n_wd)];
  r.momentum = options.momenta[(i / n_wd) % n_m];
  r.weight_decay = options.weight_decays[i % n_wd];
  TrainOptions o = options.base;
  o.learning_rate = r.learning_rate;
  o.momentum = r.momentum;
  o.weight_decay = r.weight_decay;
  o.epochs = options.max_epochs;
  std::size_t rung = 0;
  o.on_epoch = [&](const EpochInfo& info) {
    if (gate.stop && gate.stop()) return true;
    if (rung == decisions || info.epoch + 1 != milestones[rung]) return false;
    r.stopped_early = !gate.keep(rung++, info.validation_rmse);
    return r.stopped_early;
  };
  LatencyPredictor<Scalar, Space> predictor = prototype;
  FitReport fit = predictor.fit(train, y_train, val, y_val, o);
  r.validation_curve = std::move(fit.validation_rmse);
  r.epochs = fit.epochs;
  r.best_validation_rmse = fit.best_validation_rmse;
  if (!r.validation_curve.empty()) r.final_validation_rmse = r.validation_curve.back();
  r.stop_reason = fit.stop_reason;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

inline TuneReport tune_report(std::vector<TrialResult> trials, const TuneOptions& options, double seconds) {
  TuneReport report;
  report.trials = std::move(trials);
  const bool by_best = options.base.keep_best;
  bool found = false;
  double best_score = 0;
  for (const auto& t : report.trials) {
    const double score = by_best ? t.best_validation_rmse : t.final_validation_rmse;
    if (t.stopped_early || t.stop_reason == StopReason::non_finite || !std::isfinite(score)) continue;
    if (!found || score < best_score) {
      found = true;
      best_score = score;
      report.best = t.index;
    }
  }
  if (!found) {
    throw Error("tune: every one of the " + std::to_string(report.trials.size()) +
                " trials diverged or was stopped; try smaller learning rates");
  }
  const auto& best = report.trials[report.best];
  report.best_options = options.base;
  report.best_options.learning_rate = best.learning_rate;
  report.best_options.momentum = best.momentum;
  report.best_options.weight_decay = best.weight_decay;
  report.best_options.epochs = options.max_epochs;
  report.seconds = seconds;
  return report;
}

template <class Scalar, class Space>
TuneReport tune(const LatencyPredictor<Scalar, Space>& prototype, std::span<const typename Space::arch_type> train,
                std::span<const double> y_train, std::span<const typename Space::arch_type> val,
                std::span<const double> y_val, const TuneOptions& options) {
  using Clock = std::chrono::steady_clock;
  check_tune_options(options, val.size());
  const auto start = Clock::now();
  const std::size_t n = grid_size(options);

  AshaRungs rungs(n, deciding_rungs(options), options.reduction_factor);
  std::vector<TrialResult> results(n);
  std::mutex mutex;  // guards rungs, results, error and the hook
  std::condition_variable changed;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> abort{false};
  std::exception_ptr error;

  auto run_trial = [&](std::size_t i) {
    const TrialGate gate{.keep =
                             [&](std::size_t rung, double rmse) {
                               std::unique_lock lock(mutex);
                               // Trials start in index order, so the lowest unfinished one never
                               // waits and every wait ends.
                               changed.wait(lock, [&] { return abort.load() || rungs.ready(i, rung); });
                               if (abort.load()) return false;
                               const bool keep = rungs.report(i, rung, rmse);
                               changed.notify_all();
                               return keep;
                             },
                         .stop = [&] { return abort.load(); }};
    try {
      TrialResult r = run_tune_trial(prototype, train, y_train, val, y_val, options, i, gate);
      std::lock_guard lock(mutex);
      rungs.finish(i);
      changed.notify_all();
      if (abort.load()) return;  // stopped by another trial's failure: not a result
      results[i] = std::move(r);
      if (options.on_trial_done) options.on_trial_done(results[i]);
    } catch (...) {  // the try block's lock is released before we get here
      std::lock_guard lock(mutex);
      if (!error) error = std::current_exception();
      abort.store(true);
      rungs.finish(i);
      changed.notify_all();
    }
  };
  auto worker = [&] {
    while (!abort.load()) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) return;
      run_trial(i);
    }
  };

  std::size_t threads = options.threads != 0 ? options.threads : std::thread::hardware_concurrency();
  threads = std::clamp<std::size_t>(threads, 1, n);
  std::vector<std::thread> pool;
  try {
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  } catch (...) {  // could not start a thread: stop the others, then report it
    {
      std::lock_guard lock(mutex);
      abort.store(true);
      changed.notify_all();
    }
    for (auto& th : pool) th.join();
    throw;
  }
  worker();  // the calling thread is a worker too
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
  return tune_report(std::move(results), options, std::chrono::duration<double>(Clock::now() - start).count());
}

}  // namespace hwnas
