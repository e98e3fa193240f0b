// The method's NAS comparison on OFA's own artefacts: OFA's evolutionary
// search on CompOFA fixed-kernel and elastic-kernel (w1.2, r in 160..224 step
// 16), OFA's trained accuracy predictor as fitness, and as latency (a) OFA's
// Note10 lookup tables, the ground truth here, (b) a 400-400 MLP trained on
// 1000 LUT-labelled random architectures, (c) that MLP with memoisation, (d)
// that MLP with memoisation and a safety margin. Every winner is scored with
// the LUT. Prints one JSON object.
//
//   search_comparison [DATA_DIR] [--full] [--out FILE]
//
// Without --full: 2 seeds, 100 generations, the fixed-kernel space (a quick
// check, run by CTest). With --full: 10 seeds, 500 generations, both spaces
// (the numbers of docs/results.md; about 6 minutes on one core). DATA_DIR
// defaults to $HWNAS_DATA_DIR or the checkout's ../shared/data; without its
// note10-lut/ and ofa-acc-predictor/ the program says "skipped: ..." and
// exits 77 (CTest: skipped).
#include <hwnas/hwnas.hpp>
#include <hwnas/io/json.hpp>
#include <hwnas/io/lut.hpp>
#include <hwnas/measure/adapter.hpp>
#include <hwnas/measure/cpu_executor.hpp>

#include "experiment_args.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <span>
#include <string>
#include <vector>

namespace {

using hwnas::Architecture;
using hwnas::Json;

/// Mean wall time of one call of fn, in microseconds, over at least 0.2 s.
template <class Fn>
double microseconds_per_call(Fn&& fn) {
  std::size_t calls = 0;
  const hwnas_experiment::Stopwatch clock;
  while (calls < 10 || clock.seconds() < 0.2) {
    fn(calls);
    ++calls;
  }
  return clock.seconds() * 1e6 / static_cast<double>(calls);
}

int run(int argc, char** argv) {
  std::filesystem::path data = hwnas_experiment::data_dir();
  bool full = false;
  hwnas_experiment::Args args("search_comparison", "OFA's search with the LUT, an MLP, memoisation and a margin.");
  args.positional("DATA_DIR", data, "the shared data folder (note10-lut/, ofa-acc-predictor/)")
      .flag("--full", full, "10 seeds, 500 generations, both spaces (else 2, 100, fixed-kernel)");
  if (!args.parse(argc, argv)) return 0;
  if (!hwnas_experiment::data_present({data / "note10-lut", data / "ofa-acc-predictor"},
                                      "pass the shared data folder as the first argument or set HWNAS_DATA_DIR")) {
    return hwnas_experiment::kSkipped;
  }
  const std::vector<double> budgets{15, 20, 25, 30, 35};
  const std::size_t seeds = full ? 10 : 2;
  const std::size_t generations = full ? 500 : 100;
  const std::vector<std::string> spaces = full ? std::vector<std::string>{"compofa-fixed", "compofa-elastic"}
                                               : std::vector<std::string>{"compofa-fixed"};
  const auto tables = hwnas::read_lut_folder(data / "note10-lut");
  // OFA's accuracy predictor reads OFA MobileNetV3's 128-d encoding; CompOFA's
  // networks are OFA networks.
  const auto accuracy = hwnas::import_torch_npy<float>(data / "ofa-acc-predictor", hwnas::MbConvSpace::ofa_mobilenet_v3(1.2));

  Json out = {{"seeds", seeds}, {"generations", generations}, {"budgets", budgets}, {"spaces", Json::array()}};
  for (const auto& name : spaces) {
    const auto space = hwnas::MbConvSpace::preset(name, 1.2).with_resolutions(hwnas::ofa_search_resolutions());
    const hwnas::LutEstimator lut(space, tables);

    // (b) The MLP: 1000 LUT-labelled random architectures (850 train, 150
    // validation), scored on 1000 others.
    hwnas::Rng rng(2026);
    std::vector<Architecture> train, val, test;
    for (int i = 0; i < 850; ++i) train.push_back(space.sample(rng));
    for (int i = 0; i < 150; ++i) val.push_back(space.sample(rng));
    for (int i = 0; i < 1000; ++i) test.push_back(space.sample(rng));
    hwnas::LatencyPredictor<float> mlp(space, hwnas::default_recipe().predictor);
    const auto fit = mlp.fit(train, lut.predict(train), val, lut.predict(val), hwnas::default_recipe().training);
    const auto mlp_test = mlp.evaluate(test, lut.predict(test));
    // The safety margin: the MLP's worst relative under-estimate on its
    // validation rows (a 95th percentile left winners 2.0 % over budget).
    const double margin = hwnas::latency_margin(mlp.predict(val), lut.predict(val));

    // The exact optimum per budget and the exact Pareto front (the
    // fixed-kernel space is enumerable).
    std::vector<double> optimum(budgets.size(), std::nan(""));
    Json exact_front = Json::array();
    if (name == "compofa-fixed") {
      const auto all = space.enumerate();
      const auto acc = accuracy.predict(all);
      const auto lat = lut.predict(all);
      for (std::size_t b = 0; b < budgets.size(); ++b) {
        double best = -1;
        for (std::size_t i = 0; i < all.size(); ++i) {
          if (lat[i] <= budgets[b]) best = std::max(best, acc[i]);
        }
        optimum[b] = best;
      }
      std::vector<std::size_t> by_latency(all.size());
      std::iota(by_latency.begin(), by_latency.end(), std::size_t{0});
      std::sort(by_latency.begin(), by_latency.end(), [&](std::size_t a, std::size_t b) { return lat[a] < lat[b]; });
      double best = -1;
      for (std::size_t i : by_latency) {
        if (acc[i] > best) exact_front.push_back({lat[i], acc[i]}), best = acc[i];
      }
    }

    struct Mode {
      const char* name;
      bool mlp;
      bool memoize;
      double margin;
    };
    const std::vector<Mode> modes{{"lut", false, false, 0.0},
                                  {"mlp", true, false, 0.0},
                                  {"mlp+memo", true, true, 0.0},
                                  {"mlp+memo+margin", true, true, margin}};
    Json space_out = {{"space", name},
                      {"mlp_test_rmse_pct", mlp_test.rmse_pct},
                      {"mlp_test_spearman", mlp_test.spearman},
                      {"mlp_train_s", fit.seconds},
                      {"margin", margin},
                      {"optimum", Json::array()},
                      {"exact_front", exact_front},
                      {"modes", Json::array()}};
    for (double o : optimum) space_out["optimum"].push_back(std::isnan(o) ? Json(nullptr) : Json(o));
    for (const auto& mode : modes) {
      Json runs = Json::array();
      for (std::size_t seed = 0; seed < seeds; ++seed) {
        const hwnas::EvolutionFinder finder(space, {.generations = generations,
                                                    .budgets = budgets,
                                                    .latency_margin = mode.margin,
                                                    .seed = seed,
                                                    .memoize = mode.memoize});
        const hwnas_experiment::Stopwatch search_clock;
        const auto r = mode.mlp ? finder.run(accuracy, mlp) : finder.run(accuracy, lut);
        const double wall = search_clock.seconds();
        Json per_budget = Json::array();
        for (const auto& b : r.budgets) {
          const double truth = lut.predict(b.best.arch);
          per_budget.push_back({{"budget", b.budget},
                                {"accuracy", b.best.fitness},
                                {"latency", b.best.latency},
                                {"true_latency", truth},
                                {"arch", b.best.arch}});
        }
        Json front = Json::array();  // seed 0's Pareto front, at the LUT's (true) latency
        if (seed == 0) {
          for (const auto& c : r.pareto) front.push_back({lut.predict(c.arch), c.fitness});
        }
        runs.push_back({{"seed", seed},
                        {"pareto", front},
                        {"search_s", wall},
                        {"latency_evaluations", r.latency_evaluations},
                        {"fitness_evaluations", r.fitness_evaluations},
                        {"latency_cache_hits", r.latency_cache_hits},
                        {"budgets", per_budget}});
      }
      space_out["modes"].push_back({{"mode", mode.name}, {"runs", runs}});
    }
    out["spaces"].push_back(space_out);

    if (name == "compofa-fixed") {
      // The cost of one latency estimate (the method's Table 5): the LUT,
      // the MLP (one architecture at a time), and live measurement on this
      // CPU with the built-in executor (2 warm-up and 5 timed runs).
      const double lut_us = microseconds_per_call([&](std::size_t i) { (void)lut.predict(test[i % test.size()]); });
      const double mlp_us = microseconds_per_call([&](std::size_t i) { (void)mlp.predict(test[i % test.size()]); });
      hwnas::measure::CpuExecutor cpu;
      const hwnas::measure::MeasuredLatency live(cpu, space, 1, {.warmup = 2, .repeats = 5});
      const double live_us = microseconds_per_call([&](std::size_t i) {
        (void)live.predict(std::span<const Architecture>(&test[i % test.size()], 1));
      });
      out["estimate_cost_us"] = {{"lut", lut_us}, {"mlp", mlp_us}, {"measure_cpu", live_us}};
    }
  }
  args.emit(out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return hwnas_experiment::guarded("search_comparison", [&] { return run(argc, argv); });
}
