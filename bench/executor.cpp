// The built-in CPU executor against libtorch: the same 20
// random OFA MobileNetV3 w1.0 sub-networks at r = 224, batch 1, one thread.
// BM_Executor20 / BM_Torch20 run all 20 once per iteration; before them,
// each network is timed alone with hwnas's protocol on both (the median of
// 3 rounds over all 20), and the per-network ratio and the Spearman
// correlation of the two rankings go into the output's context
// (executor_vs_torch_*). Without libtorch (-DHWNAS_WITH_TORCH=OFF) only the
// executor runs.
#include <benchmark/benchmark.h>

#include "bench_support.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "hwnas/measure/adapter.hpp"
#include "hwnas/measure/cpu_executor.hpp"
#include "hwnas/metrics.hpp"
#ifdef HWNAS_BENCH_WITH_TORCH
#include "hwnas/measure/torch_adapter.hpp"
#endif

namespace {

constexpr int kNets = 20;

std::vector<std::vector<hwnas::Layer>> networks() {
  const auto space = hwnas::MbConvSpace::ofa_mobilenet_v3().with_resolutions({224});
  hwnas::Rng rng(2026);
  std::vector<std::vector<hwnas::Layer>> out;
  for (int i = 0; i < kNets; ++i) out.push_back(space.layers(space.sample(rng)));
  return out;
}

const std::vector<std::vector<hwnas::Layer>>& nets() {
  static const auto all = networks();
  return all;
}

template <class Adapter>
void run_all(benchmark::State& state, Adapter& adapter) {
  std::vector<typename Adapter::Prepared> prepared;
  for (const auto& layers : nets()) prepared.push_back(adapter.prepare(layers, 1));
  for (auto _ : state) {
    for (auto& p : prepared) adapter.run(p);
    adapter.synchronize();
  }
  state.SetItemsProcessed(state.iterations() * kNets);
}

void BM_Executor20(benchmark::State& state) {
  hwnas::measure::CpuExecutor cpu;
  run_all(state, cpu);
}
BENCHMARK(BM_Executor20)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef HWNAS_BENCH_WITH_TORCH
void BM_Torch20(benchmark::State& state) {
  hwnas::measure::TorchAdapter torch_cpu({.threads = 1});
  run_all(state, torch_cpu);
}
BENCHMARK(BM_Torch20)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Each network alone on both, with hwnas's timing protocol, in kRounds
/// rounds over all 20 (the median of the rounds): a slow spell of a shared
/// machine then hits different networks in different rounds instead of
/// shifting a run of consecutive ones.
constexpr int kRounds = 3;
void rank_study() {
  hwnas::measure::CpuExecutor cpu;
  hwnas::measure::TorchAdapter torch_cpu({.threads = 1});
  const hwnas::measure::TimingOptions timing{.warmup = 3, .repeats = 15};
  std::vector<std::vector<double>> ours_rounds(nets().size()), theirs_rounds(nets().size());
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t i = 0; i < nets().size(); ++i) {
      ours_rounds[i].push_back(hwnas::measure::measure_layers(cpu, nets()[i], 1, timing).median);
      theirs_rounds[i].push_back(hwnas::measure::measure_layers(torch_cpu, nets()[i], 1, timing).median);
    }
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<double> ours, theirs, ratios;
  for (std::size_t i = 0; i < nets().size(); ++i) {
    ours.push_back(median(ours_rounds[i]));
    theirs.push_back(median(theirs_rounds[i]));
    ratios.push_back(ours.back() / theirs.back());
  }
  std::vector<double> sorted = ratios;
  std::sort(sorted.begin(), sorted.end());
  char text[64];
  const auto put = [&](const char* key, double v) {
    std::snprintf(text, sizeof text, "%.4f", v);
    benchmark::AddCustomContext(key, text);
  };
  put("executor_vs_torch_median_ratio", sorted[sorted.size() / 2]);
  put("executor_vs_torch_max_ratio", sorted.back());
  put("executor_vs_torch_min_ratio", sorted.front());
  put("executor_vs_torch_spearman", hwnas::spearman_rho(ours, theirs));
  std::string per_net;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    std::snprintf(text, sizeof text, "%s%.3f/%.3f", i ? " " : "", ours[i], theirs[i]);
    per_net += text;
  }
  benchmark::AddCustomContext("executor_vs_torch_ms", per_net);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hwnas_bench::add_context();
#ifdef HWNAS_BENCH_WITH_TORCH
  rank_study();
#else
  benchmark::AddCustomContext("executor_vs_torch", "not built: configure with -DHWNAS_WITH_TORCH=ON");
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
