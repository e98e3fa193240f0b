// Latency-predictor speed on real measurements (HELP's v100_64 column of
// ../shared/data/help-ofa/ofa_gpu_latency.csv, benchmark split): training the
// method's recipe, encode + predict one architecture, batched prediction and
// encoding. The peer is ../shared/peers/torch_mlp.py --threads 1
// --time-inference; tools/results/run.sh runs both side by side and writes the
// ratios to docs/results.md. Single thread throughout.
//
// Environment (all optional):
//   HWNAS_DATA_DIR               folder holding help-ofa/ (default: the
//                                checkout's ../shared/data)
//   HWNAS_BENCH_MODEL_PAPER      model file (hwnas train --recipe paper) for
//   HWNAS_BENCH_MODEL_DEFAULT    the prediction benchmarks; without it the
//                                model is trained here first (not timed)
#include <benchmark/benchmark.h>

#include "bench_support.hpp"

#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "hwnas/predictor/model_file.hpp"
#include "hwnas/predictor/latency_predictor.hpp"

namespace {

using hwnas::Architecture;
using Predictor = hwnas::LatencyPredictor<float>;

constexpr const char* kColumn = "v100_64";
constexpr std::size_t kBatch = 10000;  // the peer's batch: 10 000 rows cycling over the 5000 archs

[[maybe_unused]] const int kContext = hwnas_bench::add_context(kColumn);

/// v100_64's rows of the benchmark split, and the peer's batch, loaded once.
struct BenchData : hwnas_bench::HelpColumn {
  hwnas::MbConvSpace space = hwnas::MbConvSpace::ofa_mobilenet_v3();
  std::vector<Architecture> batch;  // kBatch rows, archs[i % size]
};

const BenchData& bench_data() {
  static const BenchData d = [] {
    BenchData b{hwnas_bench::load_help_column(kColumn)};
    if (b.ok()) {
      for (std::size_t i = 0; i < kBatch; ++i) b.batch.push_back(b.data.archs()[i % b.data.size()]);
    }
    return b;
  }();
  return d;
}

/// A trained predictor for the prediction benchmarks (ReLU sparsity, which
/// the one-architecture path exploits, depends on trained weights).
struct BenchModel {
  std::unique_ptr<Predictor> predictor;
  std::string error;
};

BenchModel make_model(const std::string& recipe_name) {
  BenchModel m;
  const auto& d = bench_data();
  if (!d.ok()) {
    m.error = d.error;
    return m;
  }
  try {
    const std::string env_name = recipe_name == "paper" ? "HWNAS_BENCH_MODEL_PAPER" : "HWNAS_BENCH_MODEL_DEFAULT";
    if (const char* path = std::getenv(env_name.c_str()); path != nullptr && *path != '\0') {
      m.predictor = std::make_unique<Predictor>(hwnas::load_predictor<float>(path));
      return m;
    }
    std::cerr << "hwnas bench: training the " << recipe_name << " recipe on " << kColumn
              << " for the prediction benchmarks (not timed; set " << env_name << " to load a model)\n";
    const auto recipe = hwnas::recipe_from_string(recipe_name);
    m.predictor = std::make_unique<Predictor>(d.space, recipe.predictor);
    m.predictor->fit(d.train, d.y_train, d.val, d.y_val, recipe.training);
  } catch (const std::exception& e) {
    m.predictor.reset();
    m.error = "cannot make the " + recipe_name + " model: " + e.what();
  }
  return m;
}

const BenchModel& bench_model(const std::string& recipe_name) {
  if (recipe_name == "paper") {
    static const BenchModel paper = make_model("paper");
    return paper;
  }
  static const BenchModel def = make_model("default");
  return def;
}

// ------------------------------------------------------------- training ----

/// One training of the paper recipe (128-d one-hot, 400-400, RMSE, SGD lr
/// 0.03 momentum 0.9 wd 1e-5, batch 32) on the 3500 train rows. validation=0
/// is the peer's work (torch_mlp.py validates nothing); validation=1 adds
/// the per-epoch validation pass that `hwnas train` does. Items: training
/// samples seen (rows x epochs).
void BM_TrainPaper(benchmark::State& state) {
  const auto& d = bench_data();
  if (!d.ok()) {
    state.SkipWithError(d.error.c_str());
    return;
  }
  auto recipe = hwnas::paper_recipe();
  recipe.training.epochs = static_cast<std::size_t>(state.range(0));
  const bool validate = state.range(1) != 0;
  const std::vector<Architecture> no_archs;
  const std::vector<double> no_y;
  std::size_t epochs = 0;
  for (auto _ : state) {
    Predictor p(d.space, recipe.predictor);
    const auto report = validate ? p.fit(d.train, d.y_train, d.val, d.y_val, recipe.training)
                                 : p.fit(d.train, d.y_train, no_archs, no_y, recipe.training);
    epochs += report.epochs;
    benchmark::DoNotOptimize(p.network().parameters().data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(epochs * d.train.size()));
  state.counters["epochs"] = static_cast<double>(recipe.training.epochs);
  state.counters["train_rows"] = static_cast<double>(d.train.size());
}
// The full recipe: one run is several seconds, one iteration is enough.
BENCHMARK(BM_TrainPaper)
    ->ArgNames({"epochs", "validation"})
    ->Args({100, 0})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();
// Quick variants (10 epochs) for iterating on the training loop.
BENCHMARK(BM_TrainPaper)
    ->ArgNames({"epochs", "validation"})
    ->Args({10, 0})
    ->Args({10, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ----------------------------------------------------------- prediction ----

/// LatencyPredictor::predict(arch): encode + forward of one architecture,
/// cycling over the 5000 real architectures. Time per iteration = time per
/// architecture. The peer (torch_mlp.py --time-inference) measures
/// encode() + model(x) per architecture the same way.
void BM_EncodePredictOne(benchmark::State& state, const std::string& recipe) {
  const auto& m = bench_model(recipe);
  if (!m.predictor) {
    state.SkipWithError(m.error.c_str());
    return;
  }
  const auto& p = *m.predictor;
  const auto& archs = bench_data().data.archs();
  std::size_t i = 0;
  for (auto _ : state) {
    double y = p.predict(archs[i]);
    benchmark::DoNotOptimize(y);
    if (++i == archs.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_EncodePredictOne, paper, std::string("paper"))->Unit(benchmark::kNanosecond);
BENCHMARK_CAPTURE(BM_EncodePredictOne, default, std::string("default"))->Unit(benchmark::kNanosecond);

/// LatencyPredictor::predict(span): 10 000 architectures per call, from
/// Architecture to milliseconds (encoding, batched forward, unscaling).
/// Items: predictions.
void BM_PredictBatch(benchmark::State& state, const std::string& recipe) {
  const auto& m = bench_model(recipe);
  if (!m.predictor) {
    state.SkipWithError(m.error.c_str());
    return;
  }
  const auto& p = *m.predictor;
  const std::span<const Architecture> batch(bench_data().batch);
  for (auto _ : state) {
    auto y = p.predict(batch);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
}
BENCHMARK_CAPTURE(BM_PredictBatch, paper, std::string("paper"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_PredictBatch, default, std::string("default"))->Unit(benchmark::kMillisecond)->UseRealTime();

/// The network's forward pass alone on 10 000 pre-encoded rows: what the
/// peer's batch_predictions_per_s times (model(xb) on an encoded tensor).
/// The rows go through Mlp::forward_one as predict(span) feeds them: one at
/// a time, as lists of their non-zero features.
void BM_ForwardBatch(benchmark::State& state) {
  const auto& m = bench_model("paper");
  if (!m.predictor) {
    state.SkipWithError(m.error.c_str());
    return;
  }
  const auto& p = *m.predictor;
  const auto& batch = bench_data().batch;
  hwnas::SparseRows<float> x;
  x.width = p.encoder().dim();
  for (const auto& arch : batch) {
    p.encoder().for_each_feature(arch, {}, [&x](std::size_t j, double v) {
      if (v != 0.0) x.push(j, static_cast<float>(v));
    });
    x.end_row();
  }
  Predictor::Net::RowScratch<Predictor::kMaxFastWidth> s;
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      for (std::size_t k = x.offsets[i]; k < x.offsets[i + 1]; ++k) {
        s.index[s.nnz] = x.index[k];
        s.value[s.nnz++] = x.value[k];
      }
      benchmark::DoNotOptimize(p.network().forward_one(s)[0]);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
}
BENCHMARK(BM_ForwardBatch)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Encoder::encode_batch of 10 000 architectures (the method's 128-d
/// one-hot) into a dense row-major matrix. Items: architectures.
void BM_EncodeBatch(benchmark::State& state) {
  const auto& d = bench_data();
  if (!d.ok()) {
    state.SkipWithError(d.error.c_str());
    return;
  }
  const hwnas::Encoder encoder(d.space, hwnas::paper_recipe().predictor.encoding);
  const std::span<const Architecture> batch(d.batch);
  for (auto _ : state) {
    auto x = encoder.encode_batch<float>(batch);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
  state.counters["dim"] = static_cast<double>(encoder.dim());
}
BENCHMARK(BM_EncodeBatch)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
