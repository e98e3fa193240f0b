// Dataset and lookup-table builders: complete, resumable after an
// interruption with nothing lost or measured twice, and consistent with the
// LUT estimator. A fake adapter whose "latency" is the layers' MACs makes
// the expected values exact; one small build runs the real CPU executor.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "hwnas/detail/file_io.hpp"
#include "hwnas/io/lut.hpp"
#include "hwnas/lut/lut_estimator.hpp"
#include "hwnas/measure/builders.hpp"
#include "hwnas/measure/cpu_executor.hpp"
#include "hwnas/space/fbnet_space.hpp"

using namespace hwnas;
using namespace hwnas::measure;

namespace {

/// Every run of a layer list "takes" its MACs / 1e6 ms, exactly.
struct MacsDevice {
  struct Prepared {
    double ms = 0;
  };
  std::size_t prepared = 0;
  std::string label = "macs";
  Prepared prepare(std::span<const Layer> layers, int batch) {
    ++prepared;
    return {static_cast<double>(network_cost({layers.begin(), layers.end()}).macs) * batch / 1e6};
  }
  void run(Prepared&) {}
  void synchronize() {}
  double timed_run(Prepared& p) { return p.ms; }
  std::string name() const { return label; }
};

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("hwnas_test_builders_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::size_t files_in(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& f : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

const TimingOptions kQuick{.warmup = 0, .repeats = 3};

}  // namespace

TEST_CASE("builders: a dataset build, interrupted and resumed, equals an uninterrupted one") {
  const auto space = MbConvSpace::ofa_mobilenet_v3().with_resolutions({160, 192, 224});
  const auto dir = fresh_dir("dataset");
  MacsDevice dev;
  DatasetBuildOptions o{.n = 20, .seed = 5, .timing = kQuick, .column = "macs_ms"};
  const auto whole = build_dataset(dev, space, dir / "whole.csv", o);
  CHECK(whole.measured == 20);
  CHECK(whole.resumed == 0);
  CHECK_FALSE(whole.stopped);
  const auto data = Dataset::read_csv(dir / "whole.csv");
  REQUIRE(data.size() == 20);
  CHECK(data.columns() == std::vector<std::string>{"macs_ms", "macs_ms_mean", "macs_ms_p90", "macs_ms_std", "macs_ms_runs"});
  const auto archs = dataset_architectures(space, 20, 5);
  for (std::size_t i = 0; i < 20; ++i) {
    CHECK(data.ids()[i] == static_cast<std::int64_t>(i));
    CHECK(data.latency(i, 0) == static_cast<double>(space.cost(archs[i]).macs) / 1e6);
    CHECK(data.latency(i, 3) < 1e-9);  // std of three equal runs
    CHECK(data.latency(i, 4) == 3.0);
  }

  // Stop after 7 rows: 7 rows on disk; the rerun measures the other 13.
  auto stop_at_7 = o;
  stop_at_7.on_progress = [](const BuildProgress& p) { return p.done == 7; };
  const auto first = build_dataset(dev, space, dir / "resumed.csv", stop_at_7);
  CHECK(first.measured == 7);
  CHECK(first.stopped);
  CHECK(Dataset::read_csv(dir / "resumed.csv").size() == 7);
  std::vector<BuildProgress> seen;
  auto watch = o;
  watch.on_progress = [&](const BuildProgress& p) {
    seen.push_back(p);
    return false;
  };
  const auto second = build_dataset(dev, space, dir / "resumed.csv", watch);
  CHECK(second.resumed == 7);
  CHECK(second.measured == 13);
  REQUIRE(seen.size() == 13);
  CHECK(seen.front().done == 8);
  CHECK(seen.back().done == 20);
  CHECK(seen.back().total == 20);
  CHECK(seen.back().eta_s == 0.0);
  CHECK(hwnas::detail::read_file(dir / "resumed.csv") == hwnas::detail::read_file(dir / "whole.csv"));
  // A finished build measures nothing.
  const std::size_t before = dev.prepared;
  CHECK(build_dataset(dev, space, dir / "resumed.csv", o).measured == 0);
  CHECK(dev.prepared == before);
  CHECK(files_in(dir) == 4);  // the CSVs and their build records, no temp files left behind

  // Resuming with other settings is refused.
  auto other_seed = o;
  other_seed.seed = 6;
  CHECK_THROWS_WITH_AS(build_dataset(dev, space, dir / "whole.csv", other_seed),
                       doctest::Contains("row id 0 is not this build's"), InvalidArgument);
  auto other_column = o;
  other_column.column = "cpu";
  CHECK_THROWS_WITH_AS(build_dataset(dev, space, dir / "whole.csv", other_column),
                       doctest::Contains("was measured with column macs_ms, this build has column cpu"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(build_dataset(dev, MbConvSpace::compofa(CompofaKernel::fixed), dir / "x.csv",
                                     DatasetBuildOptions{.n = 7000}),
                       "measure: 7000 distinct sub-networks requested, compofa-fixed has 6075", InvalidArgument);
  std::filesystem::remove_all(dir);
}

TEST_CASE("builders: a LUT build is resumable and its sums are the whole networks'") {
  const auto space = MbConvSpace::compofa(CompofaKernel::fixed).with_resolutions({160, 224});
  const auto dir = fresh_dir("lut");
  MacsDevice dev;
  const LutBuildOptions o{.timing = kQuick};
  const auto whole = build_lut(dev, space, dir / "whole", o);
  CHECK(whole.measured == 2 * 36);
  const auto tables = read_lut_folder(dir / "whole");
  REQUIRE(tables.size() == 2);
  CHECK(tables.at(160).size() == 36);
  CHECK(tables.at(224).at("Logits-input:1x1x1280-output:1000").count == 3);

  auto stop_at_50 = o;
  stop_at_50.on_progress = [](const BuildProgress& p) { return p.done == 50; };
  CHECK(build_lut(dev, space, dir / "resumed", stop_at_50).measured == 50);
  const auto rest = build_lut(dev, space, dir / "resumed", o);
  CHECK(rest.resumed == 50);
  CHECK(rest.measured == 22);
  for (int r : {160, 224}) {
    const std::string name = std::to_string(r) + "_lookup_table.yaml";
    CHECK(hwnas::detail::read_file(dir / "resumed" / name) == hwnas::detail::read_file(dir / "whole" / name));
  }
  CHECK(files_in(dir / "resumed") == 3);  // the tables and the build record

  // With MACs as latency, the sum over a network's keys is the network's.
  const LutEstimator lut(space, tables);
  Rng rng(2);
  for (int i = 0; i < 20; ++i) {
    const Architecture a = space.sample(rng);
    CHECK(lut.predict(a) == doctest::Approx(static_cast<double>(space.cost(a).macs) / 1e6));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("builders: the CPU executor measures a small dataset and LUT of this machine") {
  const auto space = MbConvSpace::compofa(CompofaKernel::fixed).with_resolutions({128});
  const auto dir = fresh_dir("cpu");
  CpuExecutor cpu;
  const auto report = build_dataset(cpu, space, dir / "cpu.csv", {.n = 3, .timing = kQuick, .column = "cpu"});
  CHECK(report.measured == 3);
  const auto data = Dataset::read_csv(dir / "cpu.csv");
  for (std::size_t i = 0; i < 3; ++i) CHECK(data.latency(i, 0) > 0);
  CHECK(build_lut(cpu, space, dir / "lut", {.timing = kQuick}).measured == 36);
  const LutEstimator lut(space, read_lut_folder(dir / "lut"));
  CHECK(lut.predict(data.archs()[0]) > 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("builders: FBNet's network: a dataset and a LUT whose sums are the whole networks'") {
  const CategoricalSpace space = fbnet_space();
  const auto dir = fresh_dir("fbnet");
  MacsDevice dev;
  // Resumed after 2 of 5 rows: the same file as in one go.
  DatasetBuildOptions o{.n = 5, .seed = 2, .timing = kQuick, .column = "macs_ms"};
  const auto whole = build_dataset(dev, space, dir / "whole.csv", o);
  CHECK(whole.measured == 5);
  auto stop_at_2 = o;
  stop_at_2.on_progress = [](const BuildProgress& p) { return p.done == 2; };
  CHECK(build_dataset(dev, space, dir / "resumed.csv", stop_at_2).measured == 2);
  const auto rest = build_dataset(dev, space, dir / "resumed.csv", o);
  CHECK(rest.resumed == 2);
  CHECK(rest.measured == 3);
  CHECK(hwnas::detail::read_file(dir / "resumed.csv") == hwnas::detail::read_file(dir / "whole.csv"));
  const auto data = BasicDataset<CategoricalArch>::read_csv(dir / "whole.csv", space.columns());
  CHECK(data.archs() == dataset_architectures(space, 5, 2));

  // The table: the stem, 8 blocks for the first and the later layers of each
  // stage (stages 0 and 6 have one layer), 6 projecting skips, the head's 3.
  CHECK(lut_resolution(space) == 32);
  CHECK(lut_layers(space, 32).size() == 1 + 8 * (2 + 5 * 2) + 6 + 3);
  CHECK_THROWS_WITH_AS(lut_layers(space, 224), doctest::Contains("not the network's input size 32"),
                       InvalidArgument);
  CHECK(layer_key(space.layers(CategoricalArch(22, 1))[1]) ==
        "mbconv-input:32x32x16-output:32x32x16-kernel:3-stride:1-mid:16-se:0-groups:2-expand:1-idskip:1-"
        "act:relu");
  const auto report = build_lut(dev, space, dir / "lut", {.timing = kQuick});
  CHECK(report.measured == 106);
  const BasicLutEstimator<CategoricalSpace> lut(space, read_lut_folder(dir / "lut"));
  for (std::size_t i = 0; i < data.size(); ++i) {
    CHECK(lut.predict(data.archs()[i]) == doctest::Approx(data.latency(i, 0)));
    CHECK(data.latency(i, 0) == doctest::Approx(static_cast<double>(space.cost(data.archs()[i]).macs) / 1e6));
  }
  // Live measurement, the search's third latency source, agrees.
  const MeasuredLatency live(dev, space, 1, kQuick);
  CHECK(live.predict(data.archs())[0] == doctest::Approx(data.latency(0, 0)));
  const CategoricalSpace no_layers(space.decisions());
  CHECK_THROWS_WITH_AS(BasicLutEstimator<CategoricalSpace>(no_layers, read_lut_folder(dir / "lut")),
                       doctest::Contains("has no layer list"), InvalidArgument);
  std::filesystem::remove_all(dir);
}

TEST_CASE("builders: resuming with other measurement settings is refused, naming the setting, the file, both values") {
  const auto space = MbConvSpace::compofa(CompofaKernel::fixed).with_resolutions({160});
  const auto dir = fresh_dir("settings");
  MacsDevice dev;
  const DatasetBuildOptions o{.n = 4, .batch = 1, .timing = kQuick, .column = "ms"};
  const auto csv = dir / "data.csv";
  const std::string record = csv.string() + ".build.json";
  auto stop_at_2 = o;
  stop_at_2.on_progress = [](const BuildProgress& p) { return p.done == 2; };
  build_dataset(dev, space, csv, stop_at_2);
  REQUIRE(std::filesystem::exists(record));

  auto batch4 = o;
  batch4.batch = 4;
  CHECK_THROWS_WITH_AS(build_dataset(dev, space, csv, batch4),
                       ("measure: " + csv.string() + " was measured with batch 1, this build has batch 4 (settings in " +
                        record + "); resume with the same settings or measure into another file")
                           .c_str(),
                       InvalidArgument);
  auto repeats = o;
  repeats.timing.repeats = 5;
  CHECK_THROWS_WITH_AS(build_dataset(dev, space, csv, repeats), doctest::Contains("with repeats 3, this build has repeats 5"),
                       InvalidArgument);
  auto warmup = o;
  warmup.timing.warmup = 2;
  CHECK_THROWS_WITH_AS(build_dataset(dev, space, csv, warmup), doctest::Contains("with warmup 0, this build has warmup 2"),
                       InvalidArgument);
  auto keep = o;
  keep.timing.outliers = Outliers::keep;
  CHECK_THROWS_WITH_AS(build_dataset(dev, space, csv, keep),
                       doctest::Contains("with outliers tukey, this build has outliers keep"), InvalidArgument);
  MacsDevice other;
  other.label = "torch-cpu";
  CHECK_THROWS_WITH_AS(build_dataset(other, space, csv, o),
                       doctest::Contains("with executor macs, this build has executor torch-cpu"), InvalidArgument);
  // Nothing was measured by the refused runs; the same settings resume.
  CHECK(Dataset::read_csv(csv).size() == 2);
  CHECK(build_dataset(dev, space, csv, o).measured == 2);

  // A dataset without its record: its settings are unknown.
  std::filesystem::copy_file(csv, dir / "copy.csv");
  CHECK_THROWS_WITH_AS(build_dataset(dev, space, dir / "copy.csv", o),
                       doctest::Contains("copy.csv has no build record"), InvalidArgument);
  // A damaged record is a format error naming it.
  hwnas::detail::write_file_atomic(record, "{\"batch\": ");
  CHECK_THROWS_WITH_AS(build_dataset(dev, space, csv, o), doctest::Contains("data.csv.build.json"), FormatError);

  // The same for a lookup table folder (its record: build.json in it).
  auto stop_at_10 = LutBuildOptions{.timing = kQuick};
  stop_at_10.on_progress = [](const BuildProgress& p) { return p.done == 10; };
  CHECK(build_lut(dev, space, dir / "lut", stop_at_10).measured == 10);
  CHECK(std::filesystem::exists(dir / "lut" / "build.json"));
  CHECK_THROWS_WITH_AS(build_lut(dev, space, dir / "lut", {.batch = 2, .timing = kQuick}),
                       ("lut: " + (dir / "lut").string() + " was measured with batch 1, this build has batch 2 (settings in " +
                        (dir / "lut" / "build.json").string() + "); resume with the same settings or measure into another folder")
                           .c_str(),
                       InvalidArgument);
  CHECK(build_lut(dev, space, dir / "lut", {.timing = kQuick}).measured == 26);
  std::filesystem::remove(dir / "lut" / "build.json");
  CHECK_THROWS_WITH_AS(build_lut(dev, space, dir / "lut", {.timing = kQuick}), doctest::Contains("has no build record"),
                       InvalidArgument);
  std::filesystem::remove_all(dir);
}

TEST_CASE("builders: rows and keys timed elsewhere, added in any order, give the builds' files") {
  const auto space = MbConvSpace::ofa_mobilenet_v3().with_resolutions({160, 224});
  const auto dir = fresh_dir("elsewhere");
  MacsDevice dev;
  const DatasetBuildOptions o{.n = 6, .seed = 2, .timing = kQuick, .column = "macs_ms"};
  build_dataset(dev, space, dir / "whole.csv", o);

  // A farm's client: opens the output, gets each row timed "elsewhere" (here
  // the same fake device) and adds the rows as they come back, out of order.
  DatasetBuild<MbConvSpace> build(space, dir / "farm.csv", o, dev.name());
  REQUIRE(build.missing() == std::vector<std::size_t>{0, 1, 2, 3, 4, 5});
  for (std::size_t id : {4, 0, 5, 2, 1, 3}) {
    build.add(id, measure_network(dev, space, build.archs()[id], o.batch, o.timing));
  }
  CHECK(build.missing().empty());
  CHECK_THROWS_WITH_AS(build.add(3, {}), doctest::Contains("row id 3 is in"), InvalidArgument);
  CHECK_THROWS_WITH_AS(build.add(6, {}), doctest::Contains("outside this build of 6 rows"), InvalidArgument);
  const auto whole = Dataset::read_csv(dir / "whole.csv");
  const auto farm = Dataset::read_csv(dir / "farm.csv");
  REQUIRE(farm.size() == whole.size());
  for (std::size_t row = 0; row < farm.size(); ++row) {
    const std::size_t w = whole.row_of_id(farm.ids()[row]);
    CHECK(space.same_network(farm.archs()[row], whole.archs()[w]));
    CHECK(farm.latency(row, 0) == whole.latency(w, 0));
  }
  // Reopened, it resumes with every row and refuses other settings.
  CHECK(DatasetBuild<MbConvSpace>(space, dir / "farm.csv", o, dev.name()).resumed() == 6);
  CHECK_THROWS_AS(DatasetBuild<MbConvSpace>(space, dir / "farm.csv", o, "cpu"), InvalidArgument);

  build_lut(dev, space, dir / "whole-lut", {.timing = kQuick});
  LutBuild lut(space, dir / "farm-lut", {.timing = kQuick}, dev.name());
  auto keys = lut.missing();
  CHECK(keys.size() == lut.total());
  std::reverse(keys.begin(), keys.end());
  for (const auto& k : keys) lut.add(k.resolution, k.key, measure_layers(dev, k.layers, 1, kQuick));
  CHECK(lut.missing().empty());
  CHECK_THROWS_WITH_AS(lut.add(keys[0].resolution, keys[0].key, {}), doctest::Contains("already"), InvalidArgument);
  CHECK_THROWS_WITH_AS(lut.add(192, keys[0].key, {}), doctest::Contains("resolution 192 is not in this build"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(lut.add(160, "conv-nothing", {}), doctest::Contains("is not a layer key"), InvalidArgument);
  for (int r : {160, 224}) {
    const auto name = std::to_string(r) + "_lookup_table.yaml";
    CHECK(read_lut_yaml(dir / "farm-lut" / name) == read_lut_yaml(dir / "whole-lut" / name));
  }
}
