// What the benchmark programs share: where the real data is, the context
// every program prints (compile flags, data column), and HELP's measured
// OFA latencies split for training (the rows bench/predictor and bench/tune
// train on).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/dataset.hpp"
#include "hwnas/split.hpp"

namespace hwnas_bench {

/// $HWNAS_DATA_DIR, else the checkout's ../shared/data.
inline std::filesystem::path data_dir() {
  if (const char* env = std::getenv("HWNAS_DATA_DIR"); env != nullptr && *env != '\0') return env;
  return std::filesystem::path(HWNAS_SOURCE_DIR) / ".." / "shared" / "data";
}

/// The flags the program was built with and, if any, its data column.
inline int add_context(const char* column = nullptr) {
#ifdef HWNAS_PROGRAM_FLAGS
  benchmark::AddCustomContext("hwnas_bench_flags", HWNAS_PROGRAM_FLAGS);
#endif
  if (column != nullptr) benchmark::AddCustomContext("hwnas_column", column);
  return 0;
}

/// HELP's OFA GPU latencies (help-ofa/ofa_gpu_latency.csv) and one column's
/// rows of the benchmark split, the split the peers use.
struct HelpColumn {
  /// Empty once loaded; else why not, for State::SkipWithError ("skipped:
  /// ..." when the shared data is absent).
  std::string error;
  hwnas::Dataset data;
  std::vector<hwnas::Architecture> train, val, test;
  std::vector<double> y_train, y_val, y_test;

  bool ok() const { return error.empty(); }
};

/// Reads the CSV and takes `column`'s rows; never throws, so a benchmark
/// without data is skipped with the reason rather than aborting the program.
inline HelpColumn load_help_column(const std::string& column) {
  HelpColumn h;
  const auto csv = data_dir() / "help-ofa" / "ofa_gpu_latency.csv";
  if (!std::filesystem::exists(csv)) {
    h.error = "skipped: " + csv.string() + " not found (the shared data is absent; set HWNAS_DATA_DIR)";
    return h;
  }
  try {
    h.data = hwnas::Dataset::read_csv(csv);
    const auto y = h.data.column(column);
    const auto split = hwnas::benchmark_split(h.data);
    const auto take = [&](const std::vector<std::size_t>& rows, std::vector<hwnas::Architecture>& archs,
                          std::vector<double>& targets) {
      for (const auto r : rows) {
        archs.push_back(h.data.archs()[r]);
        targets.push_back(y[r]);
      }
    };
    take(split.train, h.train, h.y_train);
    take(split.validation, h.val, h.y_val);
    take(split.test, h.test, h.y_test);
  } catch (const std::exception& e) {
    h.error = "cannot load " + csv.string() + ": " + e.what();
  }
  return h;
}

}  // namespace hwnas_bench
