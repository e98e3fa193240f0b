// What the command groups of the hwnas program share: option groups (the
// space, a dataset and its split, architectures), the list convention,
// validators, progress lines on stderr and output helpers. Each command
// owns its options; these are the pieces it builds them from.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "hwnas/dataset.hpp"
#include "hwnas/io/json.hpp"
#include "hwnas/lut/lookup_table.hpp"
#include "hwnas/measure/builders.hpp"
#include "hwnas/metrics.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/space/categorical_space.hpp"
#include "hwnas/space/mbconv_space.hpp"
#include "hwnas/split.hpp"

namespace hwnas_cli {

using hwnas::Architecture;
using hwnas::CategoricalArch;
using hwnas::CategoricalSpace;
using hwnas::Json;
using hwnas::MbConvSpace;

/// The spaces the program runs on: OFA's MBConv presets, and categorical
/// spaces (the `fbnet` preset, or a definition file given as @FILE.json).
using AnySpace = std::variant<MbConvSpace, CategoricalSpace>;

/// Registration of the command groups (one file each). `status` receives
/// the exit status of the command that ran (validate's 1 for invalid input).
void add_space_commands(CLI::App& app, int& status);
void add_predictor_commands(CLI::App& app, int& status);
void add_tune_command(CLI::App& app, int& status);
void add_device_commands(CLI::App& app, int& status);
void add_measure_commands(CLI::App& app, int& status);
void add_search_command(CLI::App& app, int& status);
void add_quickstart_command(CLI::App& app, int& status);

// ------------------------------------------------------------- options ----

/// Counts and seeds: CLI11 would read "-1" into an unsigned option as its
/// wrapped value (`--n -1` would sample forever), so a sign is refused
/// before the conversion.
const CLI::Validator& non_negative();
/// Counts that must be at least 1 (0 would mean "nothing to do" or divide).
const CLI::Validator& positive();

/// The one list convention of every list option: comma-separated values,
/// and repeating the option appends (`--budget 15,25` is `--budget 15
/// --budget 25`). One value token per occurrence, so a positional argument
/// after a list option stays positional.
template <class T>
CLI::Option* add_list_option(CLI::App& cmd, const std::string& name, std::vector<T>& values, const std::string& help) {
  return cmd.add_option(name, values, help + " (comma-separated; repeat the option to append)")
      ->delimiter(',')
      ->allow_extra_args(false);
}

/// A real number in an interval, `text` naming it ("in [0, 1)"): CLI11's
/// own range validators print infinite bounds as DBL_MAX in full.
CLI::Validator real_in(double low, bool low_closed, double high, bool high_closed, const std::string& text);

/// --json and --progress.
void add_json_flag(CLI::App& cmd, bool& as_json);
void add_progress_flag(CLI::App& cmd, bool& progress);

/// --space, --width, --resolutions of a command that makes architectures
/// (count, sample, macs, encode, validate, measure, lut, train, tune,
/// search): every one defaults to ofa-mbv3 at width 1.0, the library's
/// default space.
struct SpaceArgs {
  std::string space = "ofa-mbv3";
  double width = 1.0;
  std::vector<int> resolutions;

  void add_to(CLI::App& cmd);
  /// The space of a command that takes any space. --width and
  /// --resolutions belong to MBConv spaces: InvalidArgument when given with
  /// a categorical one.
  AnySpace make_any() const;
  /// An MBConv space; InvalidArgument for a categorical space, naming `who`
  /// (import-torch: OFA's encoding).
  MbConvSpace make(const char* who = "this command") const;
  /// make_any() for a command that needs a layer list (macs, lut, measure):
  /// InvalidArgument naming `who` when the space is categorical and has none.
  AnySpace make_with_layers(const char* who) const;
};

/// Whether the model file holds a categorical space (model_space_family),
/// so that a command loads it with the right type.
bool model_is_categorical(const std::string& path);

/// --space and --width of a command that loads a model (eval, predict,
/// finetune, adapt): the model holds its space; given, they must name it.
struct ModelSpaceArgs {
  std::string space;  ///< empty: not given
  double width = 0;   ///< 0: not given

  void add_to(CLI::App& cmd);
  /// InvalidArgument naming both spaces when --space or --width disagree
  /// with the space of the model `path` (given as `option`).
  void check(const MbConvSpace& model, const std::string& option, const std::string& path) const;
  /// The same for a model of a categorical space (which has no width).
  void check(const CategoricalSpace& model, const std::string& option, const std::string& path) const;
};

/// The space's part of a command's JSON: its name (and an MBConv space's
/// width).
Json space_json(const MbConvSpace& space);
Json space_json(const CategoricalSpace& space);
/// The dataset columns a command reads for `space`: OFA's are read from the
/// header (each row is then checked against the space), a categorical
/// space's are its own.
inline hwnas::ArchColumns<Architecture> table_layout(const MbConvSpace&) { return {}; }
inline hwnas::ArchColumns<CategoricalArch> table_layout(const CategoricalSpace& space) { return space.columns(); }

/// Architectures and, when they come from a dataset CSV, its ids.
template <class Arch>
struct BasicArchList {
  std::vector<Arch> archs;
  std::vector<std::int64_t> ids;  ///< empty unless read from a dataset CSV
};
using ArchList = BasicArchList<Architecture>;

/// --arch JSON or @FILE (one spec, a JSON array, JSON lines, a dataset CSV
/// or an OFA net.config, told apart by content), and --image-size for a
/// net.config.
struct ArchArgs {
  std::string arch;
  int image_size = 0;  ///< 0: from the run.config next to the net.config

  void add_to(CLI::App& cmd);
  /// The architectures (a net.config becomes the network of `space` with
  /// its layers); with `validate`, each checked against `space`.
  ArchList load(const MbConvSpace& space, bool validate) const;
  /// A categorical space's: a JSON list of choices (labels or values), a
  /// list of such lists, JSON lines of them, or a dataset CSV with the
  /// space's columns; always validated.
  BasicArchList<CategoricalArch> load(const CategoricalSpace& space) const;
};

/// --arch for either kind of space, validated.
inline ArchList load_archs(const ArchArgs& args, const MbConvSpace& space) { return args.load(space, true); }
inline BasicArchList<CategoricalArch> load_archs(const ArchArgs& args, const CategoricalSpace& space) {
  return args.load(space);
}

/// --arch for a command that builds the layer list (macs, lut predict),
/// which validates each architecture itself: an MBConv space's
/// architectures unchecked here (a net.config's too), a categorical space's
/// checked as they are read.
inline ArchList load_for_layers(const ArchArgs& args, const MbConvSpace& space) { return args.load(space, false); }
inline BasicArchList<CategoricalArch> load_for_layers(const ArchArgs& args, const CategoricalSpace& space) {
  return args.load(space);
}

/// Architectures of `space` from a file, as validate reads them (every
/// form of --arch @FILE but a net.config), unchecked against the space.
std::vector<Architecture> read_archs(const MbConvSpace& space, const std::string& path);
std::vector<CategoricalArch> read_archs(const CategoricalSpace& space, const std::string& path);
/// An architecture as JSON: OFA's spec, or a categorical space's list of
/// choices.
Json arch_json(const MbConvSpace& space, const Architecture& arch);
Json arch_json(const CategoricalSpace& space, const CategoricalArch& arch);

/// `--lut DIR` (OFA's folder of <r>_lookup_table.yaml) or `--lut FILE.json`.
hwnas::LookupTables load_luts(const std::string& path);

/// --data, --target, --split.
struct DataArgs {
  std::string csv;
  std::string target;
  std::string split = "benchmark";

  void add_to(CLI::App& cmd, bool split_all, bool target_required = true);
};

/// A dataset, one of its columns and a split of its rows.
template <class Arch>
struct BasicTable {
  hwnas::BasicDataset<Arch> data;
  std::vector<double> y;
  hwnas::SplitSpec choice;
  hwnas::Split split;

  /// The architectures and latencies of some rows, each architecture checked
  /// against `space` first (an architecture outside it has no encoding).
  template <class Space>
  std::pair<std::vector<Arch>, std::vector<double>> rows(std::span<const std::size_t> which, const Space& space,
                                                         const std::string& csv) const {
    std::pair<std::vector<Arch>, std::vector<double>> out;
    out.first.reserve(which.size());
    out.second.reserve(which.size());
    for (auto r : which) {
      const auto& a = data.archs()[r];
      try {
        space.validate(a);
      } catch (const hwnas::InvalidArgument& e) {
        throw hwnas::InvalidArgument(csv + ": row with id " + std::to_string(data.ids()[r]) + ": " + e.what());
      }
      out.first.push_back(a);
      out.second.push_back(y[r]);
    }
    return out;
  }
};
using Table = BasicTable<Architecture>;

/// The split of --split, checked before any file is read.
hwnas::SplitSpec parse_split(const DataArgs& args, bool allow_all, const char* who);

/// Reads the CSV (its architecture columns are `layout`'s: OFA's are read
/// from the header) and picks the column and the split; `who` names the
/// command in the errors about the split.
template <class Arch>
BasicTable<Arch> load_table(const DataArgs& args, hwnas::ArchColumns<Arch> layout, bool allow_all, const char* who) {
  BasicTable<Arch> t;
  t.choice = parse_split(args, allow_all, who);
  t.data = hwnas::BasicDataset<Arch>::read_csv(args.csv, std::move(layout));
  try {
    t.y = t.data.column(args.target);
  } catch (const hwnas::InvalidArgument& e) {
    throw hwnas::InvalidArgument(args.csv + ": " + e.what());
  }
  t.split = t.choice.apply(t.data);
  return t;
}
inline Table load_table(const DataArgs& args, bool allow_all, const char* who) {
  return load_table<Architecture>(args, {}, allow_all, who);
}

template <class Arch>
void require_rows(std::size_t n, const char* part, const BasicTable<Arch>& t, const DataArgs& args) {
  if (n == 0) {
    throw hwnas::InvalidArgument("--split " + t.choice.text + ": no " + part + " rows in '" + args.csv + "' (" +
                                 std::to_string(t.data.size()) + " rows)");
  }
}

/// --recipe, --seed, --epochs and -o of the commands that train.
struct TrainArgs {
  std::string recipe;      ///< empty: the command's default
  std::size_t epochs = 0;  ///< 0: the recipe's
  std::uint64_t seed = 0;
  std::string output;
  /// train's --learning-rate, --momentum, --weight-decay (or --from-tune's
  /// best trial), replacing the recipe's; NaN: the recipe's.
  double learning_rate = std::numeric_limits<double>::quiet_NaN();
  double momentum = std::numeric_limits<double>::quiet_NaN();
  double weight_decay = std::numeric_limits<double>::quiet_NaN();
};

class Progress;

/// train --devices (device_commands.cpp): the options it adds to train.
struct DeviceTrainArgs {
  std::vector<std::string> devices;  ///< the columns; empty: train one --target
  std::string descriptor = "fingerprint";
  std::string device_file;
  std::string reference;                   ///< file of dataset ids, one per line
  std::vector<std::string> spec_features;  ///< empty: every spec feature of the first record

  void add_to(CLI::App& train);
};
int run_train_devices(const DataArgs& data_args, const SpaceArgs& space_args, TrainArgs args,
                      const DeviceTrainArgs& da, const Progress& progress, bool as_json);

/// The folder of -o must exist before minutes of training, not after.
void check_output_path(const std::string& path);

/// The recipe by name, with --epochs applied (and to the cosine schedule's
/// length, which would otherwise anneal over the recipe's epochs).
hwnas::Recipe make_recipe(const std::string& name, std::size_t epochs, std::uint64_t seed);
/// The same from a command's TrainArgs (the recipe's name already chosen),
/// with the hyper-parameters it gives.
hwnas::Recipe make_recipe(const TrainArgs& args);

// -------------------------------------------------------------- output ----

/// One JSON object on stdout, arrays of scalars on one line.
void print_json(const Json& j);

/// Predictions, one per line (6 significant digits), or a CSV of `id,latency`
/// rows when the architectures came from a dataset CSV; --json:
/// "predictions" (and "ids") first, then `fields`.
void print_predictions(const std::vector<double>& values, const std::vector<std::int64_t>& ids, const Json& fields,
                       bool as_json);

std::string metrics_text(const hwnas::RegressionMetrics& m);
std::string fit_text(const hwnas::FitReport& r);
void warn_if_diverged(const hwnas::FitReport& r);

/// Progress lines on stderr (never stdout), when stderr is a terminal or
/// --progress asks for them.
class Progress {
 public:
  explicit Progress(bool forced);

  bool on() const noexcept { return on_; }

  /// A TrainOptions::on_epoch hook: one line at most every second, and the
  /// last epoch's line, so a short run still says how it ended.
  std::function<bool(const hwnas::EpochInfo&)> epoch_hook(std::size_t total) const;

  void line(const std::string& text) const;

  /// A builder's on_progress: a bar with the ETA, redrawn in place on a
  /// terminal (at most 5 times a second), one line every 10 s otherwise.
  std::function<bool(const hwnas::measure::BuildProgress&)> build_hook(const std::string& what) const;

 private:
  bool on_;
};

}  // namespace hwnas_cli
