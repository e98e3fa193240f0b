// Evolutionary-search speed: one full search (population 100,
// 500 generations, budget 25 ms) of the width-1.2 CompOFA elastic-kernel space
// at r = 160..224 step 16, with OFA's trained accuracy predictor as fitness
// and as latency source OFA's Note10 lookup tables (`lut`) or a 400-400 MLP
// trained with the paper recipe on 1000 LUT-labelled random architectures
// (`mlp`, the peer's own set-up), with and without memoisation. The peer is
// ../shared/peers/py_evolution.py (its `search_s`); tools/results/run.sh runs
// both side by side and writes the ratios to docs/results.md. One thread.
//
// Environment: HWNAS_DATA_DIR, the folder holding note10-lut/ and
// ofa-acc-predictor/ (default: the checkout's ../shared/data).
#include <benchmark/benchmark.h>

#include "bench_support.hpp"

#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "hwnas/lut/lookup_table.hpp"
#include "hwnas/lut/lut_estimator.hpp"
#include "hwnas/io/lut.hpp"
#include "hwnas/predictor/model_file.hpp"
#include "hwnas/predictor/torch_import.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/search/evolution.hpp"

namespace {

using hwnas::Architecture;

[[maybe_unused]] const int kContext = hwnas_bench::add_context();
constexpr double kBudget = 25.0;

struct SearchData {
  std::string error;
  hwnas::MbConvSpace space =
      hwnas::MbConvSpace::compofa(hwnas::CompofaKernel::elastic, 1.2).with_resolutions(hwnas::ofa_search_resolutions());
  std::optional<hwnas::LatencyPredictor<float>> accuracy, mlp;
  std::optional<hwnas::LutEstimator> lut;
};

const SearchData& search_data() {
  static const SearchData d = [] {
    SearchData s;
    const auto data = hwnas_bench::data_dir();
    if (!std::filesystem::exists(data / "note10-lut") || !std::filesystem::exists(data / "ofa-acc-predictor")) {
      s.error = "skipped: " + (data / "note10-lut").string() +
                " or ofa-acc-predictor not found (the shared data is absent; set HWNAS_DATA_DIR)";
      return s;
    }
    try {
      // OFA's accuracy predictor reads OFA MobileNetV3's 128-d encoding.
      s.accuracy.emplace(
          hwnas::import_torch_npy<float>(data / "ofa-acc-predictor", hwnas::MbConvSpace::ofa_mobilenet_v3(1.2)));
      s.lut.emplace(s.space, hwnas::read_lut_folder(data / "note10-lut"));
      hwnas::Rng rng(0);
      std::vector<Architecture> train;
      for (int i = 0; i < 1000; ++i) train.push_back(s.space.sample(rng));
      s.mlp.emplace(s.space, hwnas::paper_recipe().predictor);
      s.mlp->fit(train, s.lut->predict(train), {}, {}, hwnas::paper_recipe().training);
    } catch (const std::exception& e) {
      s.error = std::string("cannot set up the search: ") + e.what();
    }
    return s;
  }();
  return d;
}

template <class Latency>
void run_search(benchmark::State& state, const Latency& latency, bool memoize) {
  const auto& d = search_data();
  const hwnas::EvolutionFinder finder(d.space, {.budgets = {kBudget}, .seed = 0, .memoize = memoize});
  hwnas::EvolutionResult r;
  for (auto _ : state) {
    r = finder.run(*d.accuracy, latency);
    benchmark::DoNotOptimize(r);
  }
  const auto& best = r.budgets.front().best;
  state.counters["latency_evaluations"] = static_cast<double>(r.latency_evaluations);
  state.counters["fitness_evaluations"] = static_cast<double>(r.fitness_evaluations);
  state.counters["accuracy"] = best.fitness;
  state.counters["true_latency_ms"] = d.lut->predict(best.arch);
}

void BM_Search(benchmark::State& state, const std::string& source, bool memoize) {
  const auto& d = search_data();
  if (!d.error.empty()) {
    state.SkipWithError(d.error.c_str());
    for (auto _ : state) {
    }
    return;
  }
  if (source == "lut") {
    run_search(state, *d.lut, memoize);
  } else {
    run_search(state, *d.mlp, memoize);
  }
}

BENCHMARK_CAPTURE(BM_Search, lut, std::string("lut"), false)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_Search, mlp, std::string("mlp"), false)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_Search, mlp_memo, std::string("mlp"), true)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
