// Shared helpers for the tests: where the real data of ../shared/data lives,
// and a way to skip a case with a clear message when it is absent.
#pragma once

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "hwnas/architecture.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas_test {

/// Every slot kernel `ks` and expand `e`, every stage depth `d` (ProxylessNAS's
/// last stage: its only depth, 1), resolution `r`.
inline hwnas::Architecture uniform_arch(const hwnas::MbConvSpace& space, int ks, int e, int d, int r) {
  hwnas::Architecture a;
  a.ks.assign(space.num_slots(), ks);
  a.e.assign(space.num_slots(), e);
  a.d.assign(space.num_stages(), d);
  if (space.options().family == hwnas::Family::proxyless) a.d.back() = 1;
  a.r = r;
  return a;
}

/// A latency that adds up over layers, ms-linear in the one-hot features
/// (what batch-1 GPU latencies look like).
inline double additive_latency(const hwnas::MbConvSpace& space, const hwnas::Architecture& a) {
  double ms = 2.0 + 0.01 * (a.r - 128);
  for (std::size_t i = 0; i < space.num_slots(); ++i) {
    if (space.is_active(a, i)) ms += 0.03 * a.ks[i] + 0.05 * a.e[i];
  }
  return ms;
}

/// A latency whose ranking differs from additive_latency's: log-linear, and
/// falling with kernel x expand (an odd device; a different ranking is the
/// point).
inline double multiplicative_latency(const hwnas::MbConvSpace& space, const hwnas::Architecture& a) {
  double log_ms = 0.02 * (a.r - 128);
  for (std::size_t i = 0; i < space.num_slots(); ++i) {
    if (space.is_active(a, i)) log_ms -= 0.004 * a.ks[i] * a.e[i];
  }
  return std::exp(log_ms);
}

/// The shared data folder: $HWNAS_DATA_DIR if set, else ../shared/data
/// relative to the repository (HWNAS_SOURCE_DIR is set by CMake).
inline std::filesystem::path data_dir() {
  if (const char* env = std::getenv("HWNAS_DATA_DIR"); env && *env) return env;
  return std::filesystem::path(HWNAS_SOURCE_DIR) / ".." / "shared" / "data";
}

/// Path of a file or folder under the data folder, or nullopt when absent.
inline std::optional<std::filesystem::path> data_path(const std::string& relative) {
  auto p = data_dir() / relative;
  if (std::filesystem::exists(p)) return p;
  return std::nullopt;
}

}  // namespace hwnas_test

/// Binds `var` to the data path `relative`, or reports the skip and returns
/// from the test case when the shared data is absent (a user's fresh clone).
#define HWNAS_REQUIRE_DATA(var, relative)                                          \
  const auto var##_opt = ::hwnas_test::data_path(relative);                        \
  if (!var##_opt) {                                                                \
    MESSAGE("skipped: shared data '" << (relative) << "' not found under "        \
                                     << ::hwnas_test::data_dir().string()          \
                                     << " (set HWNAS_DATA_DIR to point at it)");   \
    return;                                                                        \
  }                                                                                \
  const std::filesystem::path& var = *var##_opt
