// Few-shot adaptation speed on real measurements: HELP's FBNet latencies
// (../shared/data/help-fbnet/fbnet_latency.csv), a fingerprint model of the
// 10 columns that are not the Titan X, adapted to titanx_32 from its
// fingerprint (HELP's 10 reference architectures) and N measured samples.
// adapt_to_device below 100 samples (the blend of the bases) against
// fine_tune_from on the same samples (what adapt did at N >= 100 and what
// the baseline timed), and one architecture's latency from the
// blend (every base predicts) against one base; the additive model
// (fit_additive_device) from N samples and its latency of one
// architecture. Single thread.
//
// The bases are trained before timing (~1 min: default recipe, 30 epochs).
//
// Environment: HWNAS_DATA_DIR, the folder holding help-fbnet/ (default: the
// checkout's ../shared/data).
#include <benchmark/benchmark.h>

#include "bench_support.hpp"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "hwnas/io/device.hpp"
#include "hwnas/predictor/additive_device.hpp"
#include "hwnas/predictor/device_predictor.hpp"
#include "hwnas/space/fbnet_space.hpp"

namespace {

using hwnas::CategoricalArch;
using hwnas::CategoricalSpace;
using Model = hwnas::DevicePredictor<float, CategoricalSpace>;

constexpr const char* kTarget = "titanx_32";

[[maybe_unused]] const int kContext = hwnas_bench::add_context(kTarget);

struct AdaptData {
  std::string error;
  std::unique_ptr<Model> model;
  hwnas::DeviceDescriptor target;
  std::vector<CategoricalArch> pool;  // train rows that are not references, in a seeded order
  std::vector<double> y_pool;
  std::vector<CategoricalArch> reference;
};

const AdaptData& adapt_data() {
  static const AdaptData d = [] {
    AdaptData a;
    const auto dir = hwnas_bench::data_dir() / "help-fbnet";
    if (!std::filesystem::exists(dir / "fbnet_latency.csv")) {
      a.error = "skipped: " + (dir / "fbnet_latency.csv").string() +
                " not found (the shared data is absent; set HWNAS_DATA_DIR)";
      return a;
    }
    try {
      const auto space = hwnas::fbnet_space();
      const auto data = hwnas::BasicDataset<CategoricalArch>::read_csv(dir / "fbnet_latency.csv", space.columns());
      const auto split = hwnas::benchmark_split(data);
      const auto ids = hwnas::read_reference_ids(dir / "reference_arch_ids.txt");
      std::vector<hwnas::DeviceDescriptor> bases;
      for (const auto& c : data.columns()) {
        if (c.rfind("titanx", 0) != 0) bases.push_back({c, "", 1, {}, {}});
      }
      hwnas::Recipe recipe = hwnas::default_recipe();
      recipe.training.epochs = 30;
      recipe.training.schedule.total_epochs = 30;
      a.model = std::make_unique<Model>(hwnas::train_device_predictor<float, CategoricalSpace>(
          data, split, space, bases, ids, hwnas::DescriptorMode::fingerprint, {}, recipe));
      a.target = {kTarget, "gpu", 32, {}, hwnas::fingerprint_from(data, kTarget, ids)};
      a.reference.assign(a.model->reference().begin(), a.model->reference().end());
      const auto y = data.column(kTarget);
      hwnas::Rng rng(1);
      auto rows = split.train;
      rng.shuffle(std::span<std::size_t>(rows));
      for (const auto r : rows) {
        if (std::find(a.reference.begin(), a.reference.end(), data.archs()[r]) != a.reference.end()) continue;
        a.pool.push_back(data.archs()[r]);
        a.y_pool.push_back(y[r]);
      }
    } catch (const std::exception& e) {
      a.error = std::string("cannot set up: ") + e.what();
    }
    return a;
  }();
  return d;
}

// The data, or nullptr with the benchmark marked skipped.
const AdaptData* ready(benchmark::State& state) {
  const auto& d = adapt_data();
  if (!d.error.empty()) {
    state.SkipWithError(d.error.c_str());
    return nullptr;
  }
  return &d;
}

// The first n samples of the pool.
std::pair<std::vector<CategoricalArch>, std::vector<double>> samples(const AdaptData& d, std::size_t n) {
  return {{d.pool.begin(), d.pool.begin() + static_cast<std::ptrdiff_t>(n)},
          {d.y_pool.begin(), d.y_pool.begin() + static_cast<std::ptrdiff_t>(n)}};
}

// adapt_to_device with N samples (below 100: the blend).
void BM_Adapt(benchmark::State& state) {
  const AdaptData* data = ready(state);
  if (data == nullptr) return;
  const AdaptData& d = *data;
  const auto [xs, ys] = samples(d, static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto adapted = hwnas::adapt_to_device(*d.model, d.target, std::span<const CategoricalArch>(xs),
                                          std::span<const double>(ys));
    benchmark::DoNotOptimize(adapted);
  }
  state.counters["bases"] = static_cast<double>(d.model->models().size());
}
BENCHMARK(BM_Adapt)->ArgName("samples")->Arg(10)->Arg(50)->Unit(benchmark::kMillisecond);

// fine_tune_from on the same N samples plus the fingerprint (default options).
void BM_FineTune(benchmark::State& state) {
  const AdaptData* data = ready(state);
  if (data == nullptr) return;
  const AdaptData& d = *data;
  auto [xs, ys] = samples(d, static_cast<std::size_t>(state.range(0)));
  xs.insert(xs.end(), d.reference.begin(), d.reference.end());
  ys.insert(ys.end(), d.target.fingerprint.begin(), d.target.fingerprint.end());
  for (auto _ : state) {
    auto tuned = hwnas::fine_tune_from<float, CategoricalSpace>(d.model->models(), xs, ys);
    benchmark::DoNotOptimize(tuned);
  }
}
BENCHMARK(BM_FineTune)->ArgName("samples")->Arg(10)->Unit(benchmark::kMillisecond)->Iterations(1);

// One architecture's latency: the blend of N = 50 (the line and the bases it
// weighs) against one base.
void BM_PredictOne(benchmark::State& state) {
  const AdaptData* data = ready(state);
  if (data == nullptr) return;
  const AdaptData& d = *data;
  const auto [xs, ys] = samples(d, 50);
  const auto blended = d.model->blended(d.model->blend(d.target, xs, ys));
  const auto& one = d.model->models().front();
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& arch = d.pool[i++ % d.pool.size()];
    benchmark::DoNotOptimize(state.range(0) != 0 ? blended.predict(arch) : one.predict(arch));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["members"] = static_cast<double>(state.range(0) != 0 ? blended.size() : 1);
}
BENCHMARK(BM_PredictOne)->ArgName("blend")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The additive model of the device from N samples (fit_additive_device:
// the nearest base's table over 2000 random architectures, then the fit),
// and one architecture's latency from it.
void BM_FitAdditive(benchmark::State& state) {
  const AdaptData* data = ready(state);
  if (data == nullptr) return;
  const AdaptData& d = *data;
  const auto [xs, ys] = samples(d, static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto fitted = hwnas::fit_additive_device(*d.model, d.target, std::span<const CategoricalArch>(xs),
                                             std::span<const double>(ys));
    benchmark::DoNotOptimize(fitted);
  }
}
BENCHMARK(BM_FitAdditive)->ArgName("samples")->Arg(10)->Unit(benchmark::kMillisecond);

void BM_PredictAdditive(benchmark::State& state) {
  const AdaptData* data = ready(state);
  if (data == nullptr) return;
  const AdaptData& d = *data;
  const auto [xs, ys] = samples(d, 10);
  const auto fitted = hwnas::fit_additive_device(*d.model, d.target, std::span<const CategoricalArch>(xs),
                                                 std::span<const double>(ys));
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(fitted.predict(d.pool[i++ % d.pool.size()]));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PredictAdditive)->Unit(benchmark::kMicrosecond);

}  // namespace
