// Wall time of hwnas's hyperparameter tuning on real measurements: the
// method's 36-configuration grid (learning rate x momentum x weight decay,
// tune.hpp's defaults) pruned by ASHA (grace 5, factor 4, 100 epochs), on
// HELP's v100_64 column (benchmark split), with 2 worker threads: the
// 2-core target of docs/results.md (<= 60 s). One run is the measurement.
//
// Environment: HWNAS_DATA_DIR, the folder holding help-ofa/ (default: the
// checkout's ../shared/data).
#include <benchmark/benchmark.h>

#include "bench_support.hpp"

#include <cstddef>

#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/predictor/tune.hpp"

namespace {

constexpr const char* kColumn = "v100_64";

[[maybe_unused]] const int kContext = hwnas_bench::add_context(kColumn);

const hwnas_bench::HelpColumn& tune_data() {
  static const auto d = hwnas_bench::load_help_column(kColumn);
  return d;
}

/// tune() with TuneOptions' defaults (36 configurations, the paper recipe's
/// network and training) and range(0) threads. Items: epochs trained over
/// all trials.
void BM_Tune36(benchmark::State& state) {
  const auto& d = tune_data();
  if (!d.ok()) {
    state.SkipWithError(d.error.c_str());
    return;
  }
  hwnas::TuneOptions options;
  options.threads = static_cast<std::size_t>(state.range(0));
  const auto recipe = hwnas::paper_recipe();
  options.base = recipe.training;
  const hwnas::LatencyPredictor<float> prototype(hwnas::MbConvSpace::ofa_mobilenet_v3(), recipe.predictor);
  std::size_t epochs = 0, trials = 0, stopped = 0, best = 0;
  double best_rmse = 0;
  for (auto _ : state) {
    const auto report = hwnas::tune(prototype, d.train, d.y_train, d.val, d.y_val, options);
    trials = report.trials.size();
    stopped = 0;
    for (const auto& t : report.trials) {
      epochs += t.epochs;
      stopped += t.stopped_early ? 1 : 0;
    }
    best = report.best;
    best_rmse = report.trials[best].final_validation_rmse;
    benchmark::DoNotOptimize(best);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(epochs));
  state.counters["trials"] = static_cast<double>(trials);
  state.counters["stopped_early"] = static_cast<double>(stopped);
  state.counters["epochs_per_run"] = static_cast<double>(epochs) / static_cast<double>(state.iterations());
  state.counters["best_trial"] = static_cast<double>(best);
  state.counters["best_val_rmse_ms"] = best_rmse;
}
BENCHMARK(BM_Tune36)
    ->ArgName("threads")
    ->Arg(2)
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->MeasureProcessCPUTime()  // cpu_time: both workers
    ->UseRealTime();

}  // namespace
