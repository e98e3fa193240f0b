// Measurement from Python: hwnas.measure (a latency dataset of this
// machine) and hwnas.build_lut (OFA's lookup-table folder), resumable like
// `hwnas measure` and `hwnas lut build`; and their parts for measuring
// elsewhere (hwnas.farm): hwnas.time_networks and hwnas.time_lut_keys time
// on the machine that calls them, hwnas.DatasetBuild and hwnas.LutBuild take
// the results into the output files. Timing runs without the GIL.
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "hwnas/io/lut.hpp"
#include "hwnas/measure/builders.hpp"
#include "hwnas/measure/executors.hpp"
#include "models.hpp"

namespace hwnas_py {

namespace {

namespace fs = std::filesystem;
using hwnas::measure::TimingStats;

/// What every measuring function takes: the executor and the protocol.
struct Protocol {
  hwnas::measure::ExecutorChoice executor;
  int batch;
  hwnas::measure::TimingOptions timing;
};

Protocol protocol(const std::string& executor, int batch, std::size_t warmup, std::size_t repeats, int threads) {
  hwnas::measure::check_executor_name(executor);
  if (batch < 1) throw hwnas::InvalidArgument("batch: must be at least 1, found " + std::to_string(batch));
  if (threads < 1) throw hwnas::InvalidArgument("threads: must be at least 1, found " + std::to_string(threads));
  if (repeats < 1) throw hwnas::InvalidArgument("repeats: must be at least 1");
  return {{executor, threads}, batch, {.warmup = warmup, .repeats = repeats}};
}

py::dict stats_to_py(const TimingStats& s) {
  py::dict d;
  d["median"] = s.median;
  d["mean"] = s.mean;
  d["p90"] = s.p90;
  d["std"] = s.std;
  d["min"] = s.min;
  d["max"] = s.max;
  d["count"] = s.count;
  d["discarded"] = s.discarded;
  return d;
}

/// Times each layer list on this machine (without the GIL): the statistics
/// as dicts, in order.
py::list time_layer_lists(const Protocol& p, const std::vector<std::vector<hwnas::Layer>>& lists) {
  std::vector<TimingStats> stats;
  {
    py::gil_scoped_release free;
    stats = hwnas::measure::with_executor(p.executor, [&](auto& adapter) {
      std::vector<TimingStats> out;
      for (const auto& layers : lists) out.push_back(hwnas::measure::measure_layers(adapter, layers, p.batch, p.timing));
      return out;
    });
  }
  py::list out;
  for (const auto& s : stats) out.append(stats_to_py(s));
  return out;
}

/// The statistics a build writes, from a dict of time_networks or
/// time_lut_keys (or a user's own timing); `what` names it in errors.
TimingStats stats_from_py(py::handle value, const std::string& what) {
  if (!py::isinstance<py::dict>(value)) {
    throw hwnas::InvalidArgument(what + ": expected a dict of timing statistics, found " +
                                 std::string(py::str(value.get_type().attr("__name__"))));
  }
  const auto d = py::reinterpret_borrow<py::dict>(value);
  const auto number = [&](const char* key) {
    if (!d.contains(key)) throw hwnas::InvalidArgument(what + ": field '" + key + "' is missing");
    const double v = py::cast<double>(d[key]);
    if (!std::isfinite(v) || v < 0) {
      throw hwnas::InvalidArgument(what + ": field '" + key + "' must be a finite non-negative number, found " +
                                   std::string(py::repr(d[key])));
    }
    return v;
  };
  TimingStats s;
  s.median = number("median");
  s.mean = number("mean");
  s.p90 = number("p90");
  s.std = number("std");
  const double count = number("count");
  if (count < 1 || count != std::floor(count)) {
    throw hwnas::InvalidArgument(what + ": field 'count' must be a whole number of runs, at least 1");
  }
  s.count = static_cast<std::size_t>(count);
  return s;
}

/// on_progress of a build: gives `progress` (when not None) a dict, stops
/// when it returns true, and lets Ctrl-C stop the build after the current
/// item (what is finished stays written).
std::function<bool(const hwnas::measure::BuildProgress&)> progress_hook(py::object progress) {
  auto held = std::make_shared<py::object>(std::move(progress));
  return [held](const hwnas::measure::BuildProgress& p) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (held->is_none()) return false;
    py::dict d;
    d["done"] = p.done;
    d["total"] = p.total;
    d["resumed"] = p.resumed;
    d["elapsed_s"] = p.elapsed_s;
    d["eta_s"] = p.eta_s;
    return py::bool_((*held)(d)).cast<bool>();
  };
}

/// An output a build may start: refuses an existing one unless resume
/// (an empty folder counts as new).
void check_output(const std::string& path, bool resume, bool folder) {
  std::error_code ec;
  if (!resume && fs::exists(path, ec) && !(folder && fs::is_directory(path, ec) && fs::is_empty(path, ec))) {
    throw hwnas::IoError("output: '" + path + "' exists; pass resume=True to continue that build");
  }
}

template <class F>
auto with_measurable(const SpaceObject& s, const char* who, F&& f) {
  require_layers(s, who);
  return std::visit(std::forward<F>(f), s.value);
}

hwnas::measure::DatasetBuildOptions dataset_options(std::size_t n, std::uint64_t seed, const Protocol& p,
                                                     const std::string& column) {
  return {.n = n, .seed = seed, .batch = p.batch, .timing = p.timing, .column = column};
}

/// hwnas.DatasetBuild: the output of a dataset build, open for rows.
struct DatasetBuildObject {
  SpaceObject space;
  std::variant<hwnas::measure::DatasetBuild<MbConvSpace>, hwnas::measure::DatasetBuild<CategoricalSpace>> build;
};

/// hwnas.LutBuild: the folder of a lookup-table build, open for keys.
struct LutBuildObject {
  std::unique_ptr<hwnas::measure::LutBuild> build;
};

}  // namespace

void add_measure(py::module_& m) {
#ifdef HWNAS_WITH_TORCH_ADAPTER
  m.attr("executors") = py::make_tuple("cpu", "torch-cpu", "torch-cuda");
#else
  m.attr("executors") = py::make_tuple("cpu");
#endif
  m.def(
      "measure",
      [](const SpaceObject& space, std::size_t n, const std::string& output, const std::string& executor,
         std::uint64_t seed, int batch, std::size_t warmup, std::size_t repeats, int threads, const std::string& column,
         bool resume, py::object progress) {
        const auto p = protocol(executor, batch, warmup, repeats, threads);
        check_output(output, resume, false);
        auto options = dataset_options(n, seed, p, column);
        options.on_progress = progress_hook(std::move(progress));
        with_measurable(space, "measure", [&](const auto& s) {
          py::gil_scoped_release free;
          hwnas::measure::with_executor(p.executor, [&](auto& adapter) {
            return hwnas::measure::build_dataset(adapter, s, output, options);
          });
        });
        return std::visit(
            [&](const auto& s) {
              using Arch = typename std::decay_t<decltype(s)>::arch_type;
              return Dataset{hwnas::BasicDataset<Arch>::read_csv(output, layout_of(s)), space, output};
            },
            space.value);
      },
      py::arg("space"), py::arg("n") = 100, py::kw_only(), py::arg("output"), py::arg("executor") = "cpu",
      py::arg("seed") = 0, py::arg("batch") = 1, py::arg("warmup") = 5, py::arg("repeats") = 20,
      py::arg("threads") = 1, py::arg("column") = "latency", py::arg("resume") = false,
      py::arg("progress") = py::none(),
      "Times n distinct random sub-networks of the space on this machine into the dataset CSV `output` (the "
      "median in `column`, then _mean, _p90, _std, _runs), as `hwnas measure`; each row is written when measured. "
      "resume=True continues a build in `output` (same settings) and measures only the missing rows. progress: a "
      "callable given {done, total, resumed, elapsed_s, eta_s} after each row; returning True stops. Returns the "
      "hwnas.Dataset read back.");

  m.def(
      "build_lut",
      [](const SpaceObject& space, const std::string& output, const std::string& executor,
         std::vector<int> resolutions, int batch, std::size_t warmup, std::size_t repeats, int threads, bool resume,
         py::object progress) {
        const auto p = protocol(executor, batch, warmup, repeats, threads);
        check_output(output, resume, true);
        const hwnas::measure::LutBuildOptions options{.resolutions = std::move(resolutions),
                                                      .batch = p.batch,
                                                      .timing = p.timing,
                                                      .on_progress = progress_hook(std::move(progress))};
        return with_measurable(space, "build_lut", [&](const auto& s) {
          {
            py::gil_scoped_release free;
            hwnas::measure::with_executor(p.executor, [&](auto& adapter) {
              return hwnas::measure::build_lut(adapter, s, output, options);
            });
          }
          return LookupTable{hwnas::BasicLutEstimator<std::decay_t<decltype(s)>>(s, hwnas::read_lut_folder(output))};
        });
      },
      py::arg("space"), py::arg("output"), py::kw_only(), py::arg("executor") = "cpu",
      py::arg("resolutions") = std::vector<int>{}, py::arg("batch") = 1, py::arg("warmup") = 5,
      py::arg("repeats") = 20, py::arg("threads") = 1, py::arg("resume") = false, py::arg("progress") = py::none(),
      "Times every layer key of the space alone into OFA's folder `output` (<r>_lookup_table.yaml per resolution; "
      "default: the space's resolutions), as `hwnas lut build`; resume and progress as in measure(). Returns the "
      "hwnas.LookupTable read back.");

  m.def(
      "time_networks",
      [](const SpaceObject& space, py::handle archs, const std::string& executor, int batch, std::size_t warmup,
         std::size_t repeats, int threads) {
        const auto p = protocol(executor, batch, warmup, repeats, threads);
        const auto lists = with_measurable(space, "time_networks", [&](const auto& s) {
          std::vector<std::vector<hwnas::Layer>> out;
          for (const auto& a : archs_from_py(s, archs, "archs")) out.push_back(s.layers(a));
          return out;
        });
        return time_layer_lists(p, lists);
      },
      py::arg("space"), py::arg("archs"), py::kw_only(), py::arg("executor") = "cpu", py::arg("batch") = 1,
      py::arg("warmup") = 5, py::arg("repeats") = 20, py::arg("threads") = 1,
      "Times each architecture on this machine: a list of dicts {median, mean, p90, std, min, max, count, "
      "discarded} in ms, in the order given. What a farm worker runs for a shard of a dataset build.");

  m.def(
      "time_lut_keys",
      [](const SpaceObject& space, const std::vector<std::pair<int, std::string>>& keys, const std::string& executor,
         int batch, std::size_t warmup, std::size_t repeats, int threads) {
        const auto p = protocol(executor, batch, warmup, repeats, threads);
        const auto lists = with_measurable(space, "time_lut_keys", [&](const auto& s) {
          std::map<int, std::map<std::string, std::vector<hwnas::Layer>>> by_resolution;
          std::vector<std::vector<hwnas::Layer>> out;
          for (const auto& [r, key] : keys) {
            auto it = by_resolution.find(r);
            if (it == by_resolution.end()) it = by_resolution.emplace(r, hwnas::lut_layers(s, r)).first;
            const auto k = it->second.find(key);
            if (k == it->second.end()) {
              throw hwnas::InvalidArgument("time_lut_keys: '" + key + "' is not a layer key of space '" + s.name() +
                                           "' at resolution " + std::to_string(r));
            }
            out.push_back(k->second);
          }
          return out;
        });
        return time_layer_lists(p, lists);
      },
      py::arg("space"), py::arg("keys"), py::kw_only(), py::arg("executor") = "cpu", py::arg("batch") = 1,
      py::arg("warmup") = 5, py::arg("repeats") = 20, py::arg("threads") = 1,
      "Times the layers of each (resolution, key) of a lookup-table build on this machine: dicts as "
      "time_networks. What a farm worker runs for a shard of a lookup-table build.");

  py::class_<DatasetBuildObject>(m, "DatasetBuild",
                                 "The dataset CSV of a measurement build, open for rows timed anywhere (hwnas.farm): "
                                 "checks the build record and the rows already there as measure(resume=True) does.")
      .def(py::init([](const SpaceObject& space, const std::string& output, std::size_t n, std::uint64_t seed,
                       const std::string& executor, int batch, std::size_t warmup, std::size_t repeats,
                       const std::string& column) {
             const auto p = protocol(executor, batch, warmup, repeats, 1);
             const auto options = dataset_options(n, seed, p, column);
             return with_measurable(space, "DatasetBuild", [&](const auto& s) {
               return DatasetBuildObject{
                   space, hwnas::measure::DatasetBuild<std::decay_t<decltype(s)>>(s, output, options, executor)};
             });
           }),
           py::arg("space"), py::arg("output"), py::kw_only(), py::arg("n"), py::arg("seed") = 0,
           py::arg("executor") = "cpu", py::arg("batch") = 1, py::arg("warmup") = 5, py::arg("repeats") = 20,
           py::arg("column") = "latency")
      .def_property_readonly("missing",
                             [](const DatasetBuildObject& b) {
                               return std::visit([](const auto& x) { return x.missing(); }, b.build);
                             },
                             "row ids not in the file yet, ascending")
      .def_property_readonly("resumed",
                             [](const DatasetBuildObject& b) {
                               return std::visit([](const auto& x) { return x.resumed(); }, b.build);
                             },
                             "rows the file held when it was opened")
      .def(
          "archs",
          [](const DatasetBuildObject& b, const std::vector<std::size_t>& ids) {
            return std::visit(
                [&](const auto& x) {
                  using Space = std::conditional_t<
                      std::is_same_v<std::decay_t<decltype(x)>, hwnas::measure::DatasetBuild<MbConvSpace>>, MbConvSpace,
                      CategoricalSpace>;
                  const auto& space = std::get<Space>(b.space.value);
                  py::list out;
                  for (std::size_t id : ids) {
                    if (id >= x.archs().size()) {
                      throw hwnas::InvalidArgument("archs: row id " + std::to_string(id) + " is outside this build of " +
                                                   std::to_string(x.archs().size()) + " rows");
                    }
                    out.append(arch_to_py(space, x.archs()[id]));
                  }
                  return out;
                },
                b.build);
          },
          py::arg("ids"), "the architectures of these row ids")
      .def(
          "add",
          [](DatasetBuildObject& b, std::size_t id, py::handle stats) {
            const auto s = stats_from_py(stats, "add: stats of row " + std::to_string(id));
            std::visit([&](auto& x) { x.add(id, s); }, b.build);
          },
          py::arg("id"), py::arg("stats"), "writes row `id` (stats: a dict of time_networks) into the file at once");

  py::class_<LutBuildObject>(m, "LutBuild",
                             "The folder of a lookup-table build, open for keys timed anywhere (hwnas.farm), "
                             "checked as build_lut(resume=True) does.")
      .def(py::init([](const SpaceObject& space, const std::string& output, const std::string& executor,
                       std::vector<int> resolutions, int batch, std::size_t warmup, std::size_t repeats) {
             const auto p = protocol(executor, batch, warmup, repeats, 1);
             const hwnas::measure::LutBuildOptions options{
                 .resolutions = std::move(resolutions), .batch = p.batch, .timing = p.timing};
             return with_measurable(space, "LutBuild", [&](const auto& s) {
               return LutBuildObject{std::make_unique<hwnas::measure::LutBuild>(s, output, options, executor)};
             });
           }),
           py::arg("space"), py::arg("output"), py::kw_only(), py::arg("executor") = "cpu",
           py::arg("resolutions") = std::vector<int>{}, py::arg("batch") = 1, py::arg("warmup") = 5,
           py::arg("repeats") = 20)
      .def_property_readonly("missing",
                             [](const LutBuildObject& b) {
                               py::list out;
                               for (const auto& k : b.build->missing()) out.append(py::make_tuple(k.resolution, k.key));
                               return out;
                             },
                             "(resolution, key) pairs not in their table yet")
      .def_property_readonly("total", [](const LutBuildObject& b) { return b.build->total(); })
      .def_property_readonly("resumed", [](const LutBuildObject& b) { return b.build->resumed(); })
      .def(
          "add",
          [](LutBuildObject& b, int resolution, const std::string& key, py::handle stats) {
            b.build->add(resolution, key, stats_from_py(stats, "add: stats of key '" + key + "'"));
          },
          py::arg("resolution"), py::arg("key"), py::arg("stats"),
          "writes one key's entry (stats: a dict of time_lut_keys) into its table at once");
}

}  // namespace hwnas_py
