// Shared helpers for the tests: synthetic latencies with known structure,
// where the real data of ../shared/data lives, and a way to skip a case with
// a clear message when it is absent.
#pragma once

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "hwnas/architecture.hpp"
#include "hwnas/dataset.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/random.hpp"
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

/// n architectures drawn from `space` with the seed.
template <class Space>
std::vector<typename Space::arch_type> sample_archs(const Space& space, std::size_t n, std::uint64_t seed) {
  hwnas::Rng rng(seed);
  std::vector<typename Space::arch_type> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(space.sample(rng));
  return out;
}

/// latency(a) for every architecture.
template <class Arch, class Latency>
std::vector<double> latencies(const std::vector<Arch>& archs, Latency latency) {
  std::vector<double> y;
  for (const auto& a : archs) y.push_back(latency(a));
  return y;
}

/// A small base in log space: the default recipe with two hidden layers of
/// `hidden` units, `epochs` epochs and a 20 % hold-out, trained on `n`
/// sampled architectures of one synthetic device.
template <class Space, class Latency>
hwnas::LatencyPredictor<float, Space> small_base(const Space& space, Latency latency, std::size_t hidden,
                                                 std::size_t epochs, std::size_t n) {
  hwnas::Recipe r = hwnas::default_recipe();
  r.predictor.hidden = {hidden, hidden};
  r.training.epochs = epochs;
  r.training.schedule.total_epochs = epochs;
  r.training.holdout = 0.2;
  r.training.choose_target = false;
  const auto archs = sample_archs(space, n, 11);
  hwnas::LatencyPredictor<float, Space> p(space, r.predictor);
  p.fit(archs, latencies(archs, latency), {}, {}, r.training);
  return p;
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

/// A latency with the structure of a real one: a cost per active layer that
/// grows with kernel and expand ratio, scaled by the resolution's pixels.
inline double synthetic_latency(const hwnas::MbConvSpace& space, const hwnas::Architecture& a) {
  double ms = 1.0;
  for (std::size_t i = 0; i < space.num_slots(); ++i) {
    if (space.is_active(a, i)) ms += 0.02 * a.ks[i] + 0.05 * a.e[i] + 0.01 * static_cast<double>(space.stage_of(i));
  }
  return ms * (a.r / 224.0) * (a.r / 224.0);
}

/// Sampled architectures with their synthetic_latency, in three parts.
struct Synthetic {
  std::vector<hwnas::Architecture> train, val, test;
  std::vector<double> y_train, y_val, y_test;
};

/// n_train, n_val and n_test architectures drawn in that order from
/// Rng(seed).
inline Synthetic make_synthetic(const hwnas::MbConvSpace& space, std::size_t n_train, std::size_t n_val,
                                std::size_t n_test, std::uint64_t seed) {
  Synthetic s;
  hwnas::Rng rng(seed);
  auto fill = [&](std::vector<hwnas::Architecture>& a, std::vector<double>& y, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      a.push_back(space.sample(rng));
      y.push_back(synthetic_latency(space, a.back()));
    }
  };
  fill(s.train, s.y_train, n_train);
  fill(s.val, s.y_val, n_val);
  fill(s.test, s.y_test, n_test);
  return s;
}

/// A fresh folder under the system's temporary folder, removed with
/// everything in it at the end of the scope.
class TempDir {
 public:
  TempDir() {
    // The time and an address tell concurrent test processes apart.
    static int counter = 0;
    const auto stamp = static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count());
    path_ = std::filesystem::temp_directory_path() /
            ("hwnas-test-" + std::to_string(stamp) + "-" + std::to_string(reinterpret_cast<std::uintptr_t>(&counter)) +
             "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  /// The names in the folder, sorted (hidden temp files included).
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::filesystem::path path_;
};

/// Two datasets hold the same columns, ids, architectures and bit-identical
/// latencies (-0 included).
inline void check_same_dataset(const hwnas::Dataset& a, const hwnas::Dataset& b) {
  REQUIRE(a.size() == b.size());
  CHECK(a.columns() == b.columns());
  CHECK(a.ids() == b.ids());
  CHECK(a.archs() == b.archs());
  CHECK(a.num_slots() == b.num_slots());
  CHECK(a.num_stages() == b.num_stages());
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t c = 0; c < a.columns().size(); ++c) {
      CHECK(std::bit_cast<std::uint64_t>(a.latency(i, c)) == std::bit_cast<std::uint64_t>(b.latency(i, c)));
    }
  }
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
