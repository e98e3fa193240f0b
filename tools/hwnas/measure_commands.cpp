// Measuring this machine and OFA's lookup tables: measure, lut build,
// lut predict.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <type_traits>
#include <variant>

#include "common.hpp"
#include "hwnas/io/lut.hpp"
#include "hwnas/lut/lut_estimator.hpp"
#include "hwnas/measure/builders.hpp"
#include "hwnas/measure/executors.hpp"

namespace hwnas_cli {

namespace {

/// What `measure` and `lut build` time with (--executor, --warmup, --repeats, --batch).
struct MeasureArgs {
  std::string executor = "cpu";
  std::size_t warmup = 5;
  std::size_t repeats = 20;
  int batch = 1;
  int threads = 1;
  bool resume = false;

  void add_to(CLI::App& cmd) {
    cmd.add_option("--executor", executor, "cpu (built in), torch-cpu or torch-cuda (libtorch builds)")
        ->capture_default_str();
    cmd.add_option("--warmup", warmup, "untimed runs first")->capture_default_str()->check(non_negative());
    cmd.add_option("--repeats", repeats, "timed runs")->capture_default_str()->check(positive());
    cmd.add_option("--batch", batch, "images per run")->capture_default_str()->check(positive());
    cmd.add_option("--threads", threads, "libtorch threads (torch-cpu)")->capture_default_str()->check(positive());
    cmd.add_flag("--resume", resume, "continue the build in -o (measures only what is missing)");
  }

  hwnas::measure::TimingOptions timing() const { return {.warmup = warmup, .repeats = repeats}; }
  hwnas::measure::ExecutorChoice choice() const { return {executor, threads}; }
};

/// -o of a build: refuses to touch an existing output unless --resume.
void check_build_output(const std::string& path, bool resume, bool folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!resume && fs::exists(path, ec) && !(folder && fs::is_directory(path, ec) && fs::is_empty(path, ec))) {
    throw hwnas::IoError("-o: '" + path + "' exists; pass --resume to continue that build");
  }
  if (!folder) check_output_path(path);
}

Json build_json(const hwnas::measure::BuildReport& r) {
  return {{"measured", r.measured}, {"resumed", r.resumed}, {"seconds", r.seconds}, {"stopped", r.stopped}};
}

// -------------------------------------------------------------- measure ----

struct MeasureOptions {
  SpaceArgs space;
  MeasureArgs measure;
  std::size_t n = 100;
  std::uint64_t seed = 0;
  std::string column = "latency";
  std::string output;
  bool progress = false;
  bool json = false;
};

int run_measure(const MeasureOptions& o) {
  const Progress progress(o.progress);
  return std::visit(
      [&](const auto& space) {
        check_build_output(o.output, o.measure.resume, false);
        const auto report = hwnas::measure::with_executor(o.measure.choice(), [&](auto& adapter) {
          return hwnas::measure::build_dataset(adapter, space, o.output,
                                               {.n = o.n,
                                                .seed = o.seed,
                                                .batch = o.measure.batch,
                                                .timing = o.measure.timing(),
                                                .column = o.column,
                                                .on_progress = progress.build_hook("measure")});
        });
        if (o.json) {
          Json j = build_json(report);
          j.update({{"output", o.output},
                    {"rows", o.n},
                    {"executor", o.measure.executor},
                    {"space", space.name()},
                    {"column", o.column}});
          print_json(j);
          return 0;
        }
        std::cout << "measured " << report.measured << " sub-networks (" << report.resumed << " resumed) with "
                  << o.measure.executor << " in " << std::fixed << std::setprecision(1) << report.seconds << " s; "
                  << o.output << " holds " << report.resumed + report.measured << " of " << o.n << " rows\n";
        return 0;
      },
      o.space.make_with_layers("measure"));
}

// ------------------------------------------------------------ lut build ----

struct LutBuildOptions {
  SpaceArgs space;
  MeasureArgs measure;
  std::string output;
  bool progress = false;
  bool json = false;
};

int run_lut_build(const LutBuildOptions& o) {
  const Progress progress(o.progress);
  return std::visit(
      [&](const auto& space) {
        check_build_output(o.output, o.measure.resume, true);
        const auto report = hwnas::measure::with_executor(o.measure.choice(), [&](auto& adapter) {
          return hwnas::measure::build_lut(
              adapter, space, o.output,
              {.batch = o.measure.batch, .timing = o.measure.timing(), .on_progress = progress.build_hook("lut")});
        });
        if (o.json) {
          Json j = build_json(report);
          j.update({{"output", o.output},
                    {"resolutions", hwnas::lut_resolutions(space)},
                    {"executor", o.measure.executor},
                    {"space", space.name()}});
          print_json(j);
          return 0;
        }
        std::cout << "measured " << report.measured << " layer keys (" << report.resumed << " resumed) with "
                  << o.measure.executor << " in " << std::fixed << std::setprecision(1) << report.seconds
                  << " s into " << o.output << "\n";
        return 0;
      },
      o.space.make_with_layers("lut build"));
}

// ---------------------------------------------------------- lut predict ----

struct LutPredictOptions {
  std::string lut;
  SpaceArgs space;
  ArchArgs arch;
  bool json = false;
};

int run_lut_predict(const LutPredictOptions& o) {
  return std::visit(
      [&](const auto& space) {
        using Space = std::decay_t<decltype(space)>;
        const hwnas::BasicLutEstimator<Space> lut(space, load_luts(o.lut));
        const auto list = load_for_layers(o.arch, space);
        std::vector<double> values;
        values.reserve(list.archs.size());
        for (std::size_t i = 0; i < list.archs.size(); ++i) {
          try {
            values.push_back(lut.predict(list.archs[i]));
          } catch (const hwnas::InvalidArgument& e) {
            std::string what = "--arch: architecture " + std::to_string(i) + ": " + e.what();
            if (what.find("no entry") != std::string::npos) {
              what += std::is_same_v<Space, CategoricalSpace>
                          ? "; the keys hold the layers' shapes: was the table built for this space?"
                          : "; the keys hold the layer widths: do --space and --width (" +
                                hwnas::detail::format_double(o.space.width) + ") match the tables' supernet?";
            }
            throw hwnas::InvalidArgument(what);
          }
        }
        print_predictions(values, list.ids, {{"lut", o.lut}}, o.json);
        return 0;
      },
      o.space.make_with_layers("lut predict"));
}

}  // namespace

void add_measure_commands(CLI::App& app, int& status) {
  {
    auto o = std::make_shared<MeasureOptions>();
    auto* cmd = app.add_subcommand("measure", "time N random sub-networks on this machine into a dataset CSV");
    o->space.add_to(*cmd);
    cmd->add_option("--n", o->n, "distinct sub-networks")->capture_default_str()->check(positive());
    cmd->add_option("--seed", o->seed, "which sub-networks")->capture_default_str()->check(non_negative());
    cmd->add_option("--column", o->column, "latency column (median); _mean, _p90, _std, _runs follow")
        ->capture_default_str();
    cmd->add_option("-o,--output", o->output, "dataset CSV to write")->required();
    o->measure.add_to(*cmd);
    add_progress_flag(*cmd, o->progress);
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_measure(*o); });
  }
  auto* lut = app.add_subcommand("lut", "OFA-compatible latency lookup tables");
  lut->require_subcommand(1);
  {
    auto o = std::make_shared<LutPredictOptions>();
    auto* cmd =
        lut->add_subcommand("predict", "latency (ms) of architectures: the sum of their layers' table entries");
    cmd->add_option("--lut", o->lut, "folder of <r>_lookup_table.yaml (OFA's layout) or a .json table file")
        ->required();
    o->space.add_to(*cmd);
    o->arch.add_to(*cmd);
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_lut_predict(*o); });
  }
  {
    auto o = std::make_shared<LutBuildOptions>();
    auto* cmd = lut->add_subcommand("build", "measure every layer key of a space alone into OFA's YAML folder");
    o->space.add_to(*cmd);
    cmd->add_option("-o,--output", o->output, "folder of <r>_lookup_table.yaml")->required();
    o->measure.add_to(*cmd);
    add_progress_flag(*cmd, o->progress);
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_lut_build(*o); });
  }
}

}  // namespace hwnas_cli
