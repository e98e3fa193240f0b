// Resumable measurement campaigns through any adapter: a latency dataset of
// N random sub-networks (the dataset CSV of dataset.hpp, with per-row
// statistics) and OFA's lookup-table folder (every layer key of a space,
// each measured alone). Every finished row or key is written at once,
// atomically, so an interrupted run loses nothing it finished, and a rerun
// measures only what is missing. Each build records its measurement
// settings next to its output, and a resume with other settings is refused:
// rows timed with another batch or protocol would mix silently.
#pragma once

#include <algorithm>
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

/// A dataset build's output, open for rows: what build_dataset measures
/// into, and where a device farm adds rows measured elsewhere. Opening checks
/// the build record and the rows already in `csv` as build_dataset says
/// (`executor` is the adapter's name); each add() writes the file at once.
template <class Space>
class DatasetBuild {
 public:
  using Data = BasicDataset<typename Space::arch_type>;
  DatasetBuild(const Space& space, std::filesystem::path csv, const DatasetBuildOptions& options,
               const std::string& executor);
  /// The build's n architectures, by row id.
  const std::vector<typename Space::arch_type>& archs() const noexcept { return archs_; }
  /// Row ids not in the file yet, ascending.
  std::vector<std::size_t> missing() const;
  /// Rows found in the file when it was opened.
  std::size_t resumed() const noexcept { return resumed_; }
  /// Writes row `id` with these statistics; InvalidArgument for an id
  /// outside the build or one the file holds already.
  void add(std::size_t id, const TimingStats& stats);

 private:
  static typename Data::Layout layout(const Space& space);
  std::filesystem::path csv_;
  std::vector<typename Space::arch_type> archs_;
  Data data_;
  std::vector<bool> done_;
  std::size_t resumed_ = 0;
};

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

/// A lookup-table build's folder, open for keys: what build_lut measures
/// into, and where a device farm adds keys measured elsewhere (as
/// DatasetBuild; each add() rewrites that resolution's file atomically).
class LutBuild {
 public:
  struct Key {
    int resolution;
    std::string key;
    std::vector<Layer> layers;  ///< what to time for it
  };
  template <class Space>
  LutBuild(const Space& space, std::filesystem::path dir, const LutBuildOptions& options, const std::string& executor);
  /// Keys not in their table yet, by resolution (in the build's order), then key.
  std::vector<Key> missing() const;
  std::size_t total() const noexcept { return total_; }
  /// Keys found in the folder when it was opened.
  std::size_t resumed() const noexcept { return resumed_; }
  /// Writes one key's entry {count, mean, std}; InvalidArgument for a key or
  /// resolution outside the build, or a key the table holds already.
  void add(int resolution, const std::string& key, const TimingStats& stats);

 private:
  struct Resolution {
    int r;
    LookupTable table;
    std::map<std::string, std::vector<Layer>> layers;
  };
  std::filesystem::path table_path(int r) const { return dir_ / (std::to_string(r) + "_lookup_table.yaml"); }
  std::filesystem::path dir_;
  std::vector<Resolution> resolutions_;
  std::size_t total_ = 0, resumed_ = 0;
};

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

template <class Space>
DatasetBuild<Space>::DatasetBuild(const Space& space, std::filesystem::path csv, const DatasetBuildOptions& options,
                                  const std::string& executor)
    : csv_(std::move(csv)), data_(detail::dataset_columns(options.column), layout(space)) {
  check(options.timing);
  if (options.n == 0) throw InvalidArgument("measure: n must be at least 1");
  archs_ = dataset_architectures(space, options.n, options.seed);
  const auto columns = data_.columns();
  std::error_code ec;
  const bool resumed = std::filesystem::exists(csv_, ec);
  detail::check_build_record(csv_, dataset_record_path(csv_),
                             {"dataset", executor, options.batch, options.timing, options.column}, resumed, "measure",
                             "file");
  done_.assign(options.n, false);
  if (!resumed) return;
  data_ = Data::read_csv(csv_, layout(space));
  if (data_.columns() != columns) {
    throw InvalidArgument("measure: " + csv_.string() + " has other columns than a build of column '" +
                          options.column + "' (" + options.column + ", " + options.column + "_mean, _p90, _std, _runs)");
  }
  for (std::size_t row = 0; row < data_.size(); ++row) {
    const std::int64_t id = data_.ids()[row];
    bool same = id >= 0 && static_cast<std::size_t>(id) < options.n && !done_[static_cast<std::size_t>(id)];
    if (same) {
      const auto& want = archs_[static_cast<std::size_t>(id)];
      if constexpr (std::is_same_v<Space, CategoricalSpace>) {
        same = data_.archs()[row] == want;
      } else {
        same = space.same_network(data_.archs()[row], want);
      }
    }
    if (!same) {
      throw InvalidArgument("measure: " + csv_.string() + ": row id " + std::to_string(id) +
                            " is not this build's (other --n, --seed or space?); resume with the same settings");
    }
    done_[static_cast<std::size_t>(id)] = true;
  }
  resumed_ = data_.size();
}

template <class Space>
typename DatasetBuild<Space>::Data::Layout DatasetBuild<Space>::layout(const Space& space) {
  // OFA's columns are read from the header; a categorical space's are its own.
  if constexpr (std::is_same_v<Space, CategoricalSpace>) {
    return space.columns();
  } else {
    return typename Data::Layout();
  }
}

template <class Space>
std::vector<std::size_t> DatasetBuild<Space>::missing() const {
  std::vector<std::size_t> out;
  for (std::size_t id = 0; id < done_.size(); ++id) {
    if (!done_[id]) out.push_back(id);
  }
  return out;
}

template <class Space>
void DatasetBuild<Space>::add(std::size_t id, const TimingStats& s) {
  if (id >= done_.size()) {
    throw InvalidArgument("measure: row id " + std::to_string(id) + " is outside this build of " +
                          std::to_string(done_.size()) + " rows");
  }
  if (done_[id]) throw InvalidArgument("measure: row id " + std::to_string(id) + " is in " + csv_.string() + " already");
  const double row[] = {s.median, s.mean, s.p90, s.std, static_cast<double>(s.count)};
  data_.add_row(static_cast<std::int64_t>(id), archs_[id], row);
  data_.write_csv(csv_);
  done_[id] = true;
}

template <Adapter A, class Space>
BuildReport build_dataset(A& adapter, const Space& space, const std::filesystem::path& csv,
                          const DatasetBuildOptions& options) {
  DatasetBuild<Space> build(space, csv, options, std::string(adapter.name()));
  BuildReport report;
  report.resumed = build.resumed();
  const detail::BuildClock clock(options.n, report.resumed);
  for (std::size_t id : build.missing()) {
    build.add(id, measure_network(adapter, space, build.archs()[id], options.batch, options.timing));
    ++report.measured;
    if (options.on_progress && options.on_progress(clock.tick(report.measured))) {
      report.stopped = report.resumed + report.measured < options.n;
      break;
    }
  }
  report.seconds = clock.seconds();
  return report;
}

template <class Space>
LutBuild::LutBuild(const Space& space, std::filesystem::path dir, const LutBuildOptions& options,
                   const std::string& executor)
    : dir_(std::move(dir)) {
  check(options.timing);
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw IoError("lut: cannot create folder '" + dir_.string() + "': " + ec.message());
  bool resumed = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    resumed = resumed || entry.path().filename().string().ends_with("_lookup_table.yaml");
  }
  for (int r : options.resolutions.empty() ? lut_resolutions(space) : options.resolutions) {
    const auto file = table_path(r);
    Resolution res{r, std::filesystem::exists(file, ec) ? read_lut_yaml(file) : LookupTable(file.string()),
                   lut_layers(space, r)};
    total_ += res.layers.size();
    for (const auto& entry : res.layers) resumed_ += res.table.find(entry.first) != nullptr;
    resolutions_.push_back(std::move(res));
  }
  detail::check_build_record(dir_, lut_record_path(dir_), {"lut", executor, options.batch, options.timing, ""}, resumed,
                             "lut", "folder");
}

inline std::vector<LutBuild::Key> LutBuild::missing() const {
  std::vector<Key> out;
  for (const auto& res : resolutions_) {
    for (const auto& [key, layers] : res.layers) {
      if (res.table.find(key) == nullptr) out.push_back({res.r, key, layers});
    }
  }
  return out;
}

inline void LutBuild::add(int resolution, const std::string& key, const TimingStats& s) {
  const auto res = std::find_if(resolutions_.begin(), resolutions_.end(),
                                [&](const Resolution& x) { return x.r == resolution; });
  if (res == resolutions_.end()) {
    throw InvalidArgument("lut: resolution " + std::to_string(resolution) + " is not in this build");
  }
  if (!res->layers.contains(key)) {
    throw InvalidArgument("lut: '" + key + "' is not a layer key of this space at resolution " +
                          std::to_string(resolution));
  }
  if (res->table.find(key) != nullptr) {
    throw InvalidArgument("lut: key '" + key + "' is in " + table_path(resolution).string() + " already");
  }
  res->table.set(key, {static_cast<std::int64_t>(s.count), s.mean, s.std});
  write_lut_yaml(table_path(resolution), res->table);
}

template <Adapter A, class Space>
BuildReport build_lut(A& adapter, const Space& space, const std::filesystem::path& dir,
                      const LutBuildOptions& options) {
  LutBuild build(space, dir, options, std::string(adapter.name()));
  BuildReport report;
  report.resumed = build.resumed();
  const detail::BuildClock clock(build.total(), report.resumed);
  for (const auto& k : build.missing()) {
    build.add(k.resolution, k.key, measure_layers(adapter, k.layers, options.batch, options.timing));
    ++report.measured;
    if (options.on_progress && options.on_progress(clock.tick(report.measured))) {
      report.stopped = report.resumed + report.measured < build.total();
      break;
    }
  }
  report.seconds = clock.seconds();
  return report;
}

}  // namespace hwnas::measure
