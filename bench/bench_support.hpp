// What the benchmark programs share: where the real data is, and the context
// every program prints (compile flags, data column).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>

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

}  // namespace hwnas_bench
