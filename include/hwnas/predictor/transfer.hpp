// Fine-tuning to a new device from several base predictors
// (docs/predictor.md "Fine-tuning"): a device's N measured samples pick the
// bases whose predictions they fit best, each candidate is fine-tuned, the
// best are kept, refitted with a second hold-out fold, and averaged. Measured
// on HELP's 9 GPU columns, this beats training from scratch on the same
// samples at every N from 50 to 700 (docs/results.md).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/predictor/ensemble.hpp"
#include "hwnas/error.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/random.hpp"

namespace hwnas {

struct TransferOptions {
  /// Bases fine-tuned: those whose predictions a least-squares line maps
  /// best onto the training samples (the cheap test of "a device like this").
  std::size_t candidates = 3;
  /// Fine-tuned candidates kept, by validation RMSE.
  std::size_t keep = 2;
  /// Hold-out folds per kept base: fold f validates on the f-th block of
  /// training.holdout x N shuffled samples and trains on the rest; each fold
  /// is one member of the ensemble. 1 .. floor(1 / holdout).
  std::size_t folds = 2;
  /// How each candidate is fine-tuned (holdout > 0: the fraction of the
  /// samples that validates; seed: the fold shuffle and the training).
  TrainOptions training = finetune_recipe().training;
};

/// One base that was fine-tuned.
struct TransferCandidate {
  std::size_t base = 0;           ///< index into the bases
  double line_fit_rmse = 0;       ///< ms: the base's predictions mapped by a line onto the fold-0 training samples
  double validation_rmse = 0;     ///< ms: after fine-tuning, on fold 0's hold-out
  bool kept = false;
  std::vector<FitReport> fits;    ///< fold 0 first; the other folds only when kept
};

struct TransferReport {
  std::vector<TransferCandidate> candidates;  ///< in order of line_fit_rmse
  std::size_t train_rows = 0;                 ///< per fold
  std::size_t validation_rows = 0;            ///< per fold
  double seconds = 0;
};

namespace detail {

// The least-squares line y ~ a + c p, its residual RMSE, and its
// leave-one-out RMSE (from the hat values of a line: h_i = 1/n + (p_i -
// mean)^2 / Sxx). Without spread in p: c = 0 and an infinite loo_rmse.
struct LineFit {
  double a = 0, c = 0, rmse = 0, loo_rmse = std::numeric_limits<double>::infinity();
};

inline LineFit fit_line(std::span<const double> p, std::span<const double> y) {
  const auto n = static_cast<double>(y.size());
  double mp = 0, my = 0;
  for (std::size_t i = 0; i < y.size(); ++i) mp += p[i], my += y[i];
  mp /= n;
  my /= n;
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < y.size(); ++i) sxx += (p[i] - mp) * (p[i] - mp), sxy += (p[i] - mp) * (y[i] - my);
  LineFit f;
  f.c = sxx > 0 ? sxy / sxx : 0.0;
  f.a = my - f.c * mp;
  double sq = 0, sq_loo = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double e = y[i] - f.a - f.c * p[i];
    sq += e * e;
    if (sxx > 0) {
      const double h = 1 / n + (p[i] - mp) * (p[i] - mp) / sxx;
      sq_loo += e * e / (std::max(1 - h, 1e-9) * std::max(1 - h, 1e-9));
    }
  }
  f.rmse = std::sqrt(sq / n);
  if (sxx > 0) f.loo_rmse = std::sqrt(sq_loo / n);
  return f;
}

}  // namespace detail

/// Fine-tunes the best of `bases` (predictors trained on other devices) to
/// the device measured by (archs, latencies) and returns the kept fine-tunes
/// as one ensemble. Only these samples are used: the hold-out folds come out
/// of them. Deterministic for options.training.seed. InvalidArgument for no
/// bases, bad options, or too few samples for the folds (each fold needs at
/// least 2 training and 1 validation sample).
/// `Space` is not deduced (a vector of bases converts to the span): write
/// fine_tune_from<float, CategoricalSpace>(...) for another space.
template <class Scalar = float, class Space = MbConvSpace>
PredictorEnsemble<Scalar, Space> fine_tune_from(std::span<const std::type_identity_t<LatencyPredictor<Scalar, Space>>> bases,
                                                std::span<const typename Space::arch_type> archs,
                                                std::span<const double> latencies,
                                         const TransferOptions& options = TransferOptions(), TransferReport* report = nullptr) {
  const auto start = std::chrono::steady_clock::now();
  if (bases.empty()) throw InvalidArgument("fine_tune_from: no base predictors");
  if (options.candidates == 0 || options.keep == 0 || options.keep > options.candidates) {
    throw InvalidArgument("fine_tune_from: need 1 <= keep <= candidates, found keep " + std::to_string(options.keep) +
                          " and candidates " + std::to_string(options.candidates));
  }
  detail::check_train_options(options.training);
  detail::check_latencies(latencies, archs.size(), "fine-tuning");
  const double holdout = options.training.holdout;
  if (holdout <= 0 || options.folds == 0 || static_cast<double>(options.folds) * holdout > 1.0) {
    throw InvalidArgument("fine_tune_from: need training.holdout > 0 and 1 <= folds <= 1 / holdout, found holdout " +
                          std::to_string(holdout) + " and folds " + std::to_string(options.folds));
  }
  const std::size_t n = archs.size();
  const auto n_val = static_cast<std::size_t>(std::llround(holdout * static_cast<double>(n)));
  if (n_val < 1 || n - n_val < 2) {
    throw InvalidArgument("fine_tune_from: " + std::to_string(n) + " samples are too few for a " +
                          std::to_string(holdout) + " hold-out (at least 1 validation and 2 training samples)");
  }

  // Fold f validates on block f of the shuffled samples and trains on the rest.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  Rng rng(options.training.seed ^ 0x7a5f3e2dULL);
  rng.shuffle(std::span<std::size_t>(order));
  struct Fold {
    std::vector<typename Space::arch_type> xt, xv;
    std::vector<double> yt, yv;
  };
  std::vector<Fold> folds(options.folds);
  for (std::size_t f = 0; f < options.folds; ++f) {
    for (std::size_t k = 0; k < n; ++k) {
      const bool val = k >= f * n_val && k < (f + 1) * n_val;
      (val ? folds[f].xv : folds[f].xt).push_back(archs[order[k]]);
      (val ? folds[f].yv : folds[f].yt).push_back(latencies[order[k]]);
    }
  }
  TrainOptions training = options.training;
  training.holdout = 0;  // the folds hold out
  auto fine_tune_on = [&](std::size_t base, const Fold& fold, FitReport& fit) {
    LatencyPredictor<Scalar, Space> p = bases[base];
    fit = p.fine_tune(fold.xt, fold.yt, fold.xv, fold.yv, training);
    return p;
  };

  TransferReport rep;
  for (std::size_t b = 0; b < bases.size(); ++b) {
    TransferCandidate c;
    c.base = b;
    c.line_fit_rmse = detail::fit_line(bases[b].predict(folds[0].xt), folds[0].yt).rmse;
    rep.candidates.push_back(std::move(c));
  }
  std::stable_sort(rep.candidates.begin(), rep.candidates.end(),
                   [](const TransferCandidate& a, const TransferCandidate& b) { return a.line_fit_rmse < b.line_fit_rmse; });
  rep.candidates.resize(std::min(options.candidates, rep.candidates.size()));

  std::vector<LatencyPredictor<Scalar, Space>> tuned;
  for (auto& c : rep.candidates) {
    c.fits.resize(1);
    tuned.push_back(fine_tune_on(c.base, folds[0], c.fits[0]));
    c.validation_rmse = c.fits[0].best_validation_rmse;
  }
  std::vector<std::size_t> rank(tuned.size());
  std::iota(rank.begin(), rank.end(), std::size_t{0});
  std::stable_sort(rank.begin(), rank.end(), [&](std::size_t a, std::size_t b) {
    return rep.candidates[a].validation_rmse < rep.candidates[b].validation_rmse;
  });
  rank.resize(std::min(options.keep, rank.size()));

  std::vector<LatencyPredictor<Scalar, Space>> members;
  for (std::size_t i : rank) {
    auto& c = rep.candidates[i];
    c.kept = true;
    members.push_back(std::move(tuned[i]));
    for (std::size_t f = 1; f < options.folds; ++f) {
      c.fits.emplace_back();
      members.push_back(fine_tune_on(c.base, folds[f], c.fits.back()));
    }
  }
  rep.train_rows = folds[0].xt.size();
  rep.validation_rows = folds[0].xv.size();
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (report) *report = std::move(rep);
  return PredictorEnsemble<Scalar, Space>(std::move(members));
}

}  // namespace hwnas
