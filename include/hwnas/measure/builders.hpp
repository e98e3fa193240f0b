// Resumable measurement campaigns through any adapter: a latency dataset of
// N random sub-networks (the dataset CSV of dataset.hpp, with per-row
// statistics) and OFA's lookup-table folder (every layer key of a space,
// each measured alone). Every finished row or key is written at once,
// atomically, so an interrupted run loses nothing it finished, and a rerun
// measures only what is missing. Each build records its measurement
// settings next to its output, and a resume with other settings is refused:
// rows timed with another batch or protocol would mix silently.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "hwnas/dataset.hpp"
#include "hwnas/detail/file_io.hpp"
#include "hwnas/lut/lookup_table.hpp"
#include "hwnas/io/lut.hpp"
#include "hwnas/measure/adapter.hpp"
#include "hwnas/random.hpp"
#include "hwnas/space/categorical_space.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas::measure {

/// Where a build is; on_progress gets it after every measured item.
struct BuildProgress {
  std::size_t done = 0;     ///< items finished, resumed ones included
  std::size_t total = 0;
  std::size_t resumed = 0;  ///< items found finished in the output
  double elapsed_s = 0;     ///< this run
  /// Remaining time at this run's pace; NaN before the first measurement.
  double eta_s = std::numeric_limits<double>::quiet_NaN();
};

struct BuildReport {
  std::size_t measured = 0;  ///< items this run measured
  std::size_t resumed = 0;   ///< items already in the output
  double seconds = 0;
  bool stopped = false;      ///< on_progress asked to stop
};

struct DatasetBuildOptions {
  std::size_t n = 100;       ///< distinct sub-networks
  std::uint64_t seed = 0;    ///< which ones (row id i is the i-th distinct draw)
  int batch = 1;
  TimingOptions timing{};
  /// Column of the median (ms); <column>_mean, _p90, _std and _runs follow.
  std::string column = "latency";
  /// Called after every row; returning true stops (what is done is saved).
  std::function<bool(const BuildProgress&)> on_progress;
};

/// The n architectures a dataset build measures, in row-id order: distinct
/// networks (canonical forms) drawn with space.sample_distinct from `seed`;
/// for a categorical space, distinct architectures drawn with space.sample.
std::vector<Architecture> dataset_architectures(const MbConvSpace& space, std::size_t n, std::uint64_t seed);
std::vector<CategoricalArch> dataset_architectures(const CategoricalSpace& space, std::size_t n,
                                                   std::uint64_t seed);

/// The build record of a dataset CSV: `<csv>.build.json`, the settings its
/// rows were measured with ({"format": "hwnas-build", "version": 1, "kind":
/// "dataset", "executor", "batch", "warmup", "repeats", "outliers",
/// "column"}).
std::filesystem::path dataset_record_path(const std::filesystem::path& csv);
/// The build record of a lookup-table folder: `<dir>/build.json` (kind
/// "lut", no column).
std::filesystem::path lut_record_path(const std::filesystem::path& dir);

/// Measures options.n sub-networks into `csv`. An existing file is resumed:
/// its build record must hold this build's settings (the adapter's name,
/// batch, warm-up, repeats, outlier rule, column) and its rows must be rows
/// of this build (same columns, each id's architecture the one this seed and
/// space give it), else InvalidArgument naming the setting, the file and
/// both values; the rows are kept and not measured again. A new build
/// writes its record (atomically) before its first row. `Space`:
/// MbConvSpace, or a CategoricalSpace with layers (the CSV has its columns).
template <Adapter A, class Space>
BuildReport build_dataset(A& adapter, const Space& space, const std::filesystem::path& csv,
                          const DatasetBuildOptions& options);

struct LutBuildOptions {
  std::vector<int> resolutions;  ///< empty: every resolution of the space
  int batch = 1;
  TimingOptions timing{};
  std::function<bool(const BuildProgress&)> on_progress;
};

/// Measures every key of lut_layers(space, r) for each resolution alone and
/// writes OFA's folder: `<dir>/<r>_lookup_table.yaml`, entries {count = kept
/// runs, mean, std} in ms. Keys already in an existing file are kept, when
/// the folder's build record holds this build's settings (as build_dataset).
/// `Space`: MbConvSpace, or a CategoricalSpace with layers (options.resolutions
/// empty: lut_resolutions(space)).
template <Adapter A, class Space>
BuildReport build_lut(A& adapter, const Space& space, const std::filesystem::path& dir,
                      const LutBuildOptions& options);

// ---------------------------------------------------------------------------

namespace detail {

class BuildClock {
 public:
  BuildClock(std::size_t total, std::size_t resumed) : total_(total), resumed_(resumed) {}
  BuildProgress tick(std::size_t measured) const {
    BuildProgress p;
    p.total = total_;
    p.resumed = resumed_;
    p.done = resumed_ + measured;
    p.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (measured > 0) p.eta_s = p.elapsed_s / static_cast<double>(measured) * static_cast<double>(total_ - p.done);
    return p;
  }
  double seconds() const { return tick(0).elapsed_s; }

 private:
  std::size_t total_, resumed_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

inline std::vector<std::string> dataset_columns(const std::string& c) {
  return {c, c + "_mean", c + "_p90", c + "_std", c + "_runs"};
}

/// What a build's output cannot tell about how it was measured.
struct BuildSettings {
  std::string kind;  ///< "dataset" or "lut"
  std::string executor;
  int batch = 1;
  TimingOptions timing;
  std::string column;  ///< dataset only

  nlohmann::ordered_json to_json() const {
    nlohmann::ordered_json j = {{"format", "hwnas-build"}, {"version", 1},     {"kind", kind},
                                {"executor", executor},    {"batch", batch},   {"warmup", timing.warmup},
                                {"repeats", timing.repeats},
                                {"outliers", timing.outliers == Outliers::tukey ? "tukey" : "keep"}};
    if (kind == "dataset") j["column"] = column;
    return j;
  }
};

/// Resuming `output` (which holds measured items when `resumed`): its record
/// must hold `settings`; a fresh build (re)writes the record. `what` starts
/// the messages ("measure", "lut"), `unit` names the output ("file",
/// "folder").
inline void check_build_record(const std::filesystem::path& output, const std::filesystem::path& record,
                               const BuildSettings& settings, bool resumed, const char* what, const char* unit) {
  const auto wanted = settings.to_json();
  std::error_code ec;
  if (!resumed) {
    hwnas::detail::write_file_atomic(record, wanted.dump(2) + "\n");
    return;
  }
  const std::string prefix = std::string(what) + ": " + output.string();
  if (!std::filesystem::exists(record, ec)) {
    throw InvalidArgument(prefix + " has no build record " + record.string() +
                          ", so the settings its measurements were taken with are unknown; measure into another " +
                          unit);
  }
  const std::string text = hwnas::detail::read_file(record);
  nlohmann::json found;
  try {
    found = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(record.string(), 0, 0, std::string("malformed build record: ") + e.what());
  }
  if (!found.is_object() || found.value("format", "") != "hwnas-build") {
    throw FormatError(record.string(), 0, 0, "not an hwnas build record (expected \"format\": \"hwnas-build\")");
  }
  for (auto it = wanted.begin(); it != wanted.end(); ++it) {
    const auto f = found.find(it.key());
    const std::string had = f == found.end() ? "none" : f->is_string() ? f->get<std::string>() : f->dump();
    const std::string has = it->is_string() ? it->get<std::string>() : it->dump();
    if (had != has) {
      throw InvalidArgument(prefix + " was measured with " + it.key() + " " + had + ", this build has " + it.key() +
                            " " + has + " (settings in " + record.string() +
                            "); resume with the same settings or measure into another " + unit);
    }
  }
}

}  // namespace detail

inline std::filesystem::path dataset_record_path(const std::filesystem::path& csv) {
  auto p = csv;
  p += ".build.json";
  return p;
}

inline std::filesystem::path lut_record_path(const std::filesystem::path& dir) { return dir / "build.json"; }

namespace detail {

// n distinct draws of `draw(rng)` (by the space's hash), in draw order.
template <class Space, class Draw>
std::vector<typename Space::arch_type> distinct_draws(const Space& space, std::size_t n, std::uint64_t seed,
                                                      Draw&& draw) {
  const auto count = space.count().to_uint64();
  if (count && n > *count) {
    throw InvalidArgument("measure: " + std::to_string(n) + " distinct sub-networks requested, " + space.name() +
                          " has " + std::to_string(*count));
  }
  Rng rng(seed);
  std::vector<typename Space::arch_type> out;
  std::unordered_set<std::uint64_t> seen;
  while (out.size() < n) {
    auto a = draw(rng);
    if (seen.insert(space.hash(a)).second) out.push_back(std::move(a));
  }
  return out;
}

}  // namespace detail

inline std::vector<Architecture> dataset_architectures(const MbConvSpace& space, std::size_t n, std::uint64_t seed) {
  return detail::distinct_draws(space, n, seed, [&](Rng& rng) { return space.canonical(space.sample_distinct(rng)); });
}

inline std::vector<CategoricalArch> dataset_architectures(const CategoricalSpace& space, std::size_t n,
                                                          std::uint64_t seed) {
  return detail::distinct_draws(space, n, seed, [&](Rng& rng) { return space.sample(rng); });
}

template <Adapter A, class Space>
BuildReport build_dataset(A& adapter, const Space& space, const std::filesystem::path& csv,
                          const DatasetBuildOptions& options) {
  using Data = BasicDataset<typename Space::arch_type>;
  constexpr bool categorical = std::is_same_v<Space, CategoricalSpace>;
  check(options.timing);
  if (options.n == 0) throw InvalidArgument("measure: n must be at least 1");
  const auto archs = dataset_architectures(space, options.n, options.seed);
  const auto columns = detail::dataset_columns(options.column);
  // OFA's columns are read from the header; a categorical space's are its own.
  auto layout = [&space] {
    if constexpr (categorical) {
      return space.columns();
    } else {
      return typename Data::Layout();
    }
  };
  Data data(columns, layout());
  std::error_code ec;
  const bool resumed = std::filesystem::exists(csv, ec);
  detail::check_build_record(csv, dataset_record_path(csv),
                             {"dataset", std::string(adapter.name()), options.batch, options.timing, options.column},
                             resumed, "measure", "file");
  if (resumed) {
    data = Data::read_csv(csv, layout());
    if (data.columns() != columns) {
      throw InvalidArgument("measure: " + csv.string() + " has other columns than a build of column '" +
                            options.column + "' (" + options.column + ", " + options.column + "_mean, _p90, _std, _runs)");
    }
    for (std::size_t row = 0; row < data.size(); ++row) {
      const std::int64_t id = data.ids()[row];
      bool same = id >= 0 && static_cast<std::size_t>(id) < options.n;
      if (same) {
        const auto& want = archs[static_cast<std::size_t>(id)];
        if constexpr (categorical) {
          same = data.archs()[row] == want;
        } else {
          same = space.same_network(data.archs()[row], want);
        }
      }
      if (!same) {
        throw InvalidArgument("measure: " + csv.string() + ": row id " + std::to_string(id) +
                              " is not this build's (other --n, --seed or space?); resume with the same settings");
      }
    }
  }
  std::vector<bool> done(options.n, false);
  for (std::int64_t id : data.ids()) done[static_cast<std::size_t>(id)] = true;
  BuildReport report;
  report.resumed = data.size();
  const detail::BuildClock clock(options.n, report.resumed);
  for (std::size_t id = 0; id < options.n; ++id) {
    if (done[id]) continue;
    const auto s = measure_network(adapter, space, archs[id], options.batch, options.timing);
    const double row[] = {s.median, s.mean, s.p90, s.std, static_cast<double>(s.count)};
    data.add_row(static_cast<std::int64_t>(id), archs[id], row);
    data.write_csv(csv);
    ++report.measured;
    if (options.on_progress && options.on_progress(clock.tick(report.measured))) {
      report.stopped = report.resumed + report.measured < options.n;
      break;
    }
  }
  report.seconds = clock.seconds();
  return report;
}

template <Adapter A, class Space>
BuildReport build_lut(A& adapter, const Space& space, const std::filesystem::path& dir,
                      const LutBuildOptions& options) {
  check(options.timing);
  const auto resolutions = options.resolutions.empty() ? lut_resolutions(space) : options.resolutions;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError("lut: cannot create folder '" + dir.string() + "': " + ec.message());
  // The work list first, so the progress has its total.
  struct Work {
    int r;
    std::filesystem::path file;
    LookupTable table;
    std::map<std::string, std::vector<Layer>> todo;
  };
  std::vector<Work> work;
  BuildReport report;
  std::size_t total = 0;
  for (int r : resolutions) {
    Work w{r, dir / (std::to_string(r) + "_lookup_table.yaml"), LookupTable(), lut_layers(space, r)};
    w.table = std::filesystem::exists(w.file, ec) ? read_lut_yaml(w.file) : LookupTable(w.file.string());
    total += w.todo.size();
    for (auto it = w.todo.begin(); it != w.todo.end();) {
      if (w.table.find(it->first) != nullptr) {
        ++report.resumed;
        it = w.todo.erase(it);
      } else {
        ++it;
      }
    }
    work.push_back(std::move(w));
  }
  bool resumed = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    resumed = resumed || entry.path().filename().string().ends_with("_lookup_table.yaml");
  }
  detail::check_build_record(dir, lut_record_path(dir),
                             {"lut", std::string(adapter.name()), options.batch, options.timing, ""}, resumed, "lut",
                             "folder");
  const detail::BuildClock clock(total, report.resumed);
  for (auto& w : work) {
    for (const auto& [key, layers] : w.todo) {
      const auto s = measure_layers(adapter, layers, options.batch, options.timing);
      w.table.set(key, {static_cast<std::int64_t>(s.count), s.mean, s.std});
      write_lut_yaml(w.file, w.table);
      ++report.measured;
      if (options.on_progress && options.on_progress(clock.tick(report.measured))) {
        report.stopped = report.resumed + report.measured < total;
        report.seconds = clock.seconds();
        return report;
      }
    }
  }
  report.seconds = clock.seconds();
  return report;
}

}  // namespace hwnas::measure
