// The hwnas command-line program: one subcommand per workflow (spaces and
// architectures; training, evaluating, fine-tuning, tuning and using latency
// predictors). With --json every subcommand prints exactly one JSON object on
// stdout; errors go to stderr with a non-zero exit code, progress of long
// runs goes to stderr.
#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif

#include "hwnas/io/arch.hpp"
#include "hwnas/io/device.hpp"
#include "hwnas/hwnas.hpp"
#include "hwnas/io/lut.hpp"
#include "hwnas/measure/builders.hpp"
#include "hwnas/measure/cpu_executor.hpp"
#ifdef HWNAS_CLI_WITH_TORCH
#include "hwnas/measure/torch_adapter.hpp"
#endif

namespace {

using hwnas::Architecture;
using hwnas::MbConvSpace;
using nlohmann::json;

/// Options shared by the subcommands that work on a space.
struct SpaceArgs {
  std::string space = "ofa-mbv3";
  double width = 1.0;
  std::vector<int> resolutions;

  void add_to(CLI::App& cmd, bool required = true) {
    auto* opt = cmd.add_option("--space", space, "search space: ofa-mbv3, compofa-fixed, compofa-elastic, ofa-proxyless");
    if (required) {
      opt->required();
    } else {
      opt->capture_default_str();
    }
    cmd.add_option("--width", width, "width multiplier of the supernet (OFA publishes 1.0 and 1.2 for MobileNetV3, 1.3 for ProxylessNAS)")
        ->capture_default_str();
    cmd.add_option("--resolutions", resolutions, "comma-separated resolution list (default: 128..224 step 4)")
        ->delimiter(',');
  }

  MbConvSpace make() const {
    auto s = MbConvSpace::preset(space, width);
    return resolutions.empty() ? s : s.with_resolutions(resolutions);
  }
};

/// `--arch JSON` or `--arch @FILE` (JSON, JSON array, JSON lines or dataset CSV).
std::vector<Architecture> load_archs(const std::string& arg) {
  if (!arg.empty() && arg[0] == '@') return hwnas::read_arch_file(arg.substr(1));
  return hwnas::parse_arch_list(arg, "--arch");
}

std::string mmacs(std::int64_t macs) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(3) << macs / 1e6;
  return s.str();
}

json space_json(const MbConvSpace& space) {
  const auto& o = space.options();
  return {{"name", space.name()},
          {"width", o.width},
          {"kernel_choices", o.kernel_choices},
          {"expand_choices", o.expand_choices},
          {"depth_choices", o.depth_choices},
          {"resolutions", o.resolutions},
          {"slots", space.num_slots()},
          {"stages", space.num_stages()}};
}

json layer_json(const hwnas::Layer& l) {
  return {{"kind", std::string(hwnas::to_string(l.kind))},
          {"in", {l.in_size, l.in_size, l.in_channels}},
          {"out", {l.out_size, l.out_size, l.out_channels}},
          {"kernel", l.kernel},
          {"stride", l.stride},
          {"expand", l.expand_ratio},
          {"mid", l.mid_channels},
          {"se", l.se_channels},
          {"act", std::string(hwnas::to_string(l.act))},
          {"shortcut", l.shortcut},
          {"macs", l.macs()},
          {"params", l.params()}};
}

// Invalid UTF-8 (from a file name, say) is replaced rather than thrown on.
void print(const json& j) { std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << '\n'; }

int cmd_info(bool as_json) {
  json spaces = json::array();
  for (const auto& name : MbConvSpace::preset_names()) {
    const auto s = MbConvSpace::preset(name);
    spaces.push_back({{"name", name}, {"slots", s.num_slots()}, {"stages", s.num_stages()},
                      {"per_resolution", s.count_per_resolution().to_string()}});
  }
  const std::string eigen = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) +
                            "." + std::to_string(EIGEN_MINOR_VERSION);
  if (as_json) {
    print({{"version", hwnas::version_string},
           {"eigen", eigen},
           {"spaces", spaces},
           {"resolution_encodings", {"bins8", "one-hot", "numeric", "none"}}});
    return 0;
  }
  std::cout << "hwnas " << hwnas::version_string << " (Eigen " << eigen << ")\n"
            << "Hardware-aware neural architecture search: search spaces, encodings, latency datasets.\n\n"
            << "spaces (distinct networks per resolution):\n";
  for (const auto& s : spaces) {
    std::cout << "  " << std::left << std::setw(16) << s["name"].get<std::string>() << s["slots"] << " layer slots, "
              << s["stages"] << " stages, " << s["per_resolution"].get<std::string>() << "\n";
  }
  return 0;
}

int cmd_count(const SpaceArgs& args, bool as_json) {
  const auto space = args.make();
  const auto per = space.count_per_resolution();
  const auto total = space.count();
  const auto n_res = space.options().resolutions.size();
  if (as_json) {
    // Counts are strings: they overflow 64-bit integers.
    print({{"space", space_json(space)},
           {"per_resolution", per.to_string()},
           {"resolutions", n_res},
           {"total", total.to_string()}});
    return 0;
  }
  std::cout << space.name() << " (width " << args.width << "): " << per.to_string()
            << " architectures per resolution x " << n_res << " resolutions = " << total.to_string() << "\n";
  return 0;
}

int cmd_sample(const SpaceArgs& args, std::size_t n, std::uint64_t seed, bool distinct, bool image_size,
               bool as_json) {
  const auto space = args.make();
  hwnas::Rng rng(seed);
  const auto form = image_size ? hwnas::SpecForm::image_size : hwnas::SpecForm::r_list;
  json archs = json::array();
  for (std::size_t i = 0; i < n; ++i) {
    const auto a = distinct ? space.sample_distinct(rng) : space.sample(rng);
    if (as_json) {
      archs.push_back(json::parse(hwnas::arch_to_json(a, form)));
    } else {
      std::cout << hwnas::arch_to_json(a, form) << '\n';
    }
  }
  if (as_json) print({{"space", space.name()}, {"seed", seed}, {"archs", archs}});
  return 0;
}

int cmd_macs(const SpaceArgs& args, const std::string& arch_arg, bool layers, bool as_json) {
  const auto space = args.make();
  json results = json::array();
  for (const auto& a : load_archs(arch_arg)) {
    const auto list = space.layers(a);
    const auto cost = hwnas::network_cost(list);
    json r = {{"arch", json::parse(hwnas::arch_to_json(a))}, {"macs", cost.macs}, {"params", cost.params}};
    if (layers) {
      r["layers"] = json::array();
      for (const auto& l : list) r["layers"].push_back(layer_json(l));
    }
    if (!as_json) {
      std::cout << mmacs(cost.macs) << " M MACs, " << mmacs(cost.params) << " M params  "
                << hwnas::arch_to_json(a) << '\n';
      if (layers) {
        for (const auto& l : list) {
          std::cout << "  " << std::left << std::setw(13) << hwnas::to_string(l.kind) << l.in_size << 'x'
                    << l.in_size << 'x' << l.in_channels << " -> " << l.out_size << 'x' << l.out_size << 'x'
                    << l.out_channels << "  k" << l.kernel << " s" << l.stride << " mid " << l.mid_channels
                    << " se " << l.se_channels << ' ' << hwnas::to_string(l.act) << (l.shortcut ? " +id" : "")
                    << "  " << l.macs() << " MACs\n";
        }
      }
    }
    results.push_back(std::move(r));
  }
  if (as_json) print({{"space", space.name()}, {"results", results}});
  return 0;
}

int cmd_encode(const SpaceArgs& args, const std::string& arch_arg, const std::string& encoding,
               const std::vector<double>& hardware, bool as_json) {
  const auto space = args.make();
  hwnas::Encoder::Options opts;
  opts.resolution = hwnas::resolution_encoding_from_string(encoding);
  opts.hardware_features = hardware.size();
  const hwnas::Encoder enc(space, opts);
  const auto archs = load_archs(arch_arg);
  for (const auto& a : archs) space.validate(a);
  const auto m = enc.encode_batch<double>(archs, hardware);
  json rows = json::array();
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    std::vector<double> row(m.row(i).data(), m.row(i).data() + m.cols());
    if (as_json) {
      rows.push_back(row);
    } else {
      for (std::size_t j = 0; j < row.size(); ++j) std::cout << (j ? "," : "") << hwnas::detail::format_double(row[j]);
      std::cout << '\n';
    }
  }
  if (as_json) print({{"space", space.name()}, {"encoding", encoding}, {"dim", enc.dim()}, {"encodings", rows}});
  return 0;
}

int cmd_validate(const SpaceArgs& args, const std::string& file, bool as_json) {
  const auto space = args.make();
  const auto archs = hwnas::read_arch_file(file);
  json errors = json::array();
  for (std::size_t i = 0; i < archs.size(); ++i) {
    try {
      space.validate(archs[i]);
    } catch (const hwnas::InvalidArgument& e) {
      errors.push_back({{"index", i}, {"message", e.what()}});
      if (!as_json) std::cerr << file << ": architecture " << i << ": " << e.what() << '\n';
    }
  }
  const std::size_t invalid = errors.size();
  if (as_json) {
    print({{"space", space.name()}, {"file", file}, {"valid", archs.size() - invalid}, {"invalid", invalid},
           {"errors", errors}});
  } else {
    std::cout << file << ": " << archs.size() - invalid << " valid, " << invalid << " invalid ("
              << space.name() << ")\n";
  }
  return invalid == 0 ? 0 : 1;
}

/// The main job on an embedded default: every preset space, a few sampled
/// architectures with their MACs and encodings.
// ------------------------------------------------- predictor subcommands ----

using Clock = std::chrono::steady_clock;
using Predictor = hwnas::LatencyPredictor<float>;

/// Progress lines on stderr (never stdout), when stderr is a terminal or
/// --progress asks for them.
class Progress {
 public:
  explicit Progress(bool forced) : on_(forced || stderr_is_terminal()) {}

  bool on() const noexcept { return on_; }

  /// A TrainOptions::on_epoch hook: one line at most every second, and the
  /// last epoch's line, so a short run still says how it ended.
  std::function<bool(const hwnas::EpochInfo&)> epoch_hook(std::size_t total) const {
    if (!on_) return {};
    return [total, last = Clock::now()](const hwnas::EpochInfo& e) mutable {
      const auto now = Clock::now();
      if (now - last < std::chrono::seconds(1) && e.epoch + 1 != total) return false;
      last = now;
      char line[160];
      if (std::isnan(e.validation_rmse)) {
        std::snprintf(line, sizeof line, "epoch %zu/%zu  train %.4f", e.epoch + 1, total, e.train_loss);
      } else {
        std::snprintf(line, sizeof line, "epoch %zu/%zu  train %.4f  val RMSE %.4g ms", e.epoch + 1, total,
                      e.train_loss, e.validation_rmse);
      }
      std::cerr << line << std::endl;
      return false;
    };
  }

  void line(const std::string& text) const {
    if (on_) std::cerr << text << std::endl;
  }

  /// A builder's on_progress: a bar with the ETA, redrawn in place on a
  /// terminal (at most 5 times a second), one line every 10 s otherwise.
  std::function<bool(const hwnas::measure::BuildProgress&)> build_hook(const std::string& what) const {
    if (!on_) return {};
    const bool tty = stderr_is_terminal();
    return [what, tty, last = Clock::time_point{}](const hwnas::measure::BuildProgress& p) mutable {
      const auto now = Clock::now();
      const bool end = p.done == p.total;
      if (!end && now - last < (tty ? std::chrono::milliseconds(200) : std::chrono::milliseconds(10000))) return false;
      last = now;
      const int width = 30;
      const int filled = p.total == 0 ? width : static_cast<int>(width * p.done / p.total);
      char eta[32] = "?";
      if (!std::isnan(p.eta_s)) std::snprintf(eta, sizeof eta, "%.0f s", p.eta_s);
      char text[200];
      std::snprintf(text, sizeof text, "%s [%s%s] %zu/%zu, %.0f s, ETA %s", what.c_str(),
                    std::string(static_cast<std::size_t>(filled), '#').c_str(),
                    std::string(static_cast<std::size_t>(width - filled), '.').c_str(), p.done, p.total, p.elapsed_s,
                    eta);
      std::cerr << (tty ? "\r" : "") << text << (tty && !end ? "" : "\n") << std::flush;
      return false;
    };
  }

 private:
  static bool stderr_is_terminal() {
#if defined(_WIN32)
    return _isatty(_fileno(stderr)) != 0;
#else
    return ::isatty(STDERR_FILENO) != 0;
#endif
  }

  bool on_;
};

/// --data, --target, --split.
struct DataArgs {
  std::string csv;
  std::string target;
  std::string split = "benchmark";

  void add_to(CLI::App& cmd, bool split_all, bool target_required = true) {
    cmd.add_option("--data", csv, "dataset CSV (docs/dataset.md)")->required();
    cmd.add_option("--target", target, "device column of the CSV to predict")->required(target_required);
    cmd.add_option("--split", split,
                   std::string("benchmark (id % 20), random:SEED (70/15/15), ids:A-B,[C-D,]E-F (id ranges of train, "
                               "validation, test)") +
                       (split_all ? " or all (every row)" : ""))
        ->capture_default_str();
  }
};

/// A dataset, one of its columns and a split of its rows.
struct Table {
  hwnas::Dataset data;
  std::vector<double> y;
  hwnas::SplitSpec choice;
  hwnas::Split split;

  /// The architectures and latencies of some rows, each architecture checked
  /// against `space` first (an architecture outside it has no encoding).
  std::pair<std::vector<Architecture>, std::vector<double>> rows(std::span<const std::size_t> which,
                                                                 const MbConvSpace& space,
                                                                 const std::string& csv) const {
    std::pair<std::vector<Architecture>, std::vector<double>> out;
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

/// Reads the CSV and picks the column and the split; `who` names the command
/// in the errors about the split.
Table load_table(const DataArgs& args, bool allow_all, const char* who) {
  Table t;
  try {
    t.choice = hwnas::SplitSpec::parse(args.split);  // before reading: a typo fails fast
  } catch (const hwnas::InvalidArgument& e) {
    throw hwnas::InvalidArgument(std::string("--") + e.what());
  }
  if (!allow_all && t.choice.kind == hwnas::SplitSpec::Kind::all) {
    throw hwnas::InvalidArgument(std::string("--split all: ") + who +
                                 " needs train, validation and test rows; use benchmark or random:SEED");
  }
  t.data = hwnas::Dataset::read_csv(args.csv);
  try {
    t.y = t.data.column(args.target);
  } catch (const hwnas::InvalidArgument& e) {
    throw hwnas::InvalidArgument(args.csv + ": " + e.what());
  }
  t.split = t.choice.apply(t.data);
  return t;
}

void require_rows(std::size_t n, const char* part, const Table& t, const DataArgs& args) {
  if (n == 0) {
    throw hwnas::InvalidArgument("--split " + t.choice.text + ": no " + part + " rows in '" + args.csv + "' (" +
                                 std::to_string(t.data.size()) + " rows)");
  }
}

/// The folder of -o must exist before minutes of training, not after.
void check_output_path(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw hwnas::IoError("-o: cannot write '" + path + "': folder '" + dir.string() + "' does not exist");
  }
  if (fs::is_directory(p, ec)) throw hwnas::IoError("-o: '" + path + "' is a folder");
}

/// The recipe by name, with --epochs applied (and to the cosine schedule's
/// length, which would otherwise anneal over the recipe's epochs).
hwnas::Recipe make_recipe(const std::string& name, std::size_t epochs, std::uint64_t seed) {
  auto recipe = hwnas::recipe_from_string(name);
  if (epochs > 0) {
    recipe.training.epochs = epochs;
    if (recipe.training.schedule.kind == hwnas::LearningRateSchedule::Kind::cosine) {
      recipe.training.schedule.total_epochs = epochs;
    }
  }
  recipe.training.seed = seed;
  return recipe;
}

/// The "test" object: within5 and within10 in percent, like the peers.
json metrics_json(const hwnas::RegressionMetrics& m) {
  return {{"rmse", m.rmse},         {"rmse_pct", m.rmse_pct},   {"mae", m.mae},
          {"mape", m.mape},         {"median_ape", m.median_ape}, {"max_error", m.max_error},
          {"within5", m.within5}, {"within10", m.within10}, {"kendall", m.kendall},
          {"spearman", m.spearman}, {"n", m.n}};
}

std::string metrics_text(const hwnas::RegressionMetrics& m) {
  char s[400];
  std::snprintf(s, sizeof s,
                "RMSE %.4g ms (%.2f %%), MAE %.4g ms, MAPE %.2f %%, median APE %.2f %%, within 5 %% %.1f %%, "
                "within 10 %% %.1f %%, Kendall %.4f, Spearman %.4f (%zu rows)",
                m.rmse, m.rmse_pct, m.mae, m.mape, m.median_ape, m.within5, m.within10, m.kendall,
                m.spearman, m.n);
  return s;
}

/// What train and finetune report about a fit.
json fit_json(const hwnas::FitReport& r) {
  json j = {{"train_s", r.seconds},
            {"epochs", r.epochs},
            {"stop_reason", std::string(hwnas::to_string(r.stop_reason))},
            {"best_epoch", nullptr},
            {"best_validation_rmse", nullptr}};
  if (!r.validation_rmse.empty()) {
    j["best_epoch"] = r.best_epoch + 1;  // 1-based, as the progress lines count
    j["best_validation_rmse"] = r.best_validation_rmse;
  }
  return j;
}

std::string fit_text(const hwnas::FitReport& r) {
  std::ostringstream s;
  s << r.epochs << " epoch" << (r.epochs == 1 ? "" : "s") << " in " << std::fixed << std::setprecision(2)
    << r.seconds << " s (" << hwnas::to_string(r.stop_reason) << ")" << std::defaultfloat;
  if (!r.validation_rmse.empty()) {
    s << ", best validation RMSE " << std::setprecision(4) << r.best_validation_rmse << " ms at epoch "
      << r.best_epoch + 1;
  }
  return s.str();
}

void warn_if_diverged(const hwnas::FitReport& r) {
  if (r.stop_reason == hwnas::StopReason::non_finite) {
    std::cerr << "hwnas: warning: training diverged (non-finite loss) after " << r.epochs
              << " epochs; the last finite weights are kept. Try a smaller learning rate.\n";
  }
}

struct TrainArgs {
  std::string recipe;  ///< empty: the command's default (finetune: "finetune", others: "default")
  std::size_t epochs = 0;  ///< 0: the recipe's
  std::uint64_t seed = 0;
  std::string output;
};

int cmd_train(const DataArgs& data_args, const SpaceArgs& space_args, TrainArgs args, const Progress& progress,
              bool as_json) {
  if (args.recipe.empty()) args.recipe = "default";
  const auto recipe = make_recipe(args.recipe, args.epochs, args.seed);
  const auto space = space_args.make();
  check_output_path(args.output);
  const auto table = load_table(data_args, false, "train");
  require_rows(table.split.train.size(), "train", table, data_args);
  require_rows(table.split.test.size(), "test", table, data_args);
  const auto [xt, yt] = table.rows(table.split.train, space, data_args.csv);
  const auto [xv, yv] = table.rows(table.split.validation, space, data_args.csv);
  const auto [xs, ys] = table.rows(table.split.test, space, data_args.csv);

  Predictor predictor(space, recipe.predictor);
  auto options = recipe.training;
  options.on_epoch = progress.epoch_hook(options.epochs);
  const auto report = predictor.fit(xt, yt, xv, yv, options);
  warn_if_diverged(report);
  hwnas::save_predictor(predictor, args.output);
  const auto m = predictor.evaluate(xs, ys);

  if (as_json) {
    json j = {{"test", metrics_json(m)}};
    j.update(fit_json(report));
    j.update({{"recipe", args.recipe},
              {"target", data_args.target},
              {"split", table.choice.text},
              {"space", space.name()},
              {"width", space.options().width},
              {"seed", args.seed},
              {"n_train", xt.size()},
              {"n_validation", xv.size()},
              {"n_test", xs.size()},
              {"model", args.output}});
    print(j);
    return 0;
  }
  std::cout << "trained " << data_args.target << " (" << args.recipe << " recipe, " << table.choice.text
            << " split: " << xt.size() << " train, " << xv.size() << " validation, " << xs.size()
            << " test rows): " << fit_text(report) << "\n"
            << "test: " << metrics_text(m) << "\n"
            << "saved " << args.output << "\n";
  return 0;
}

int cmd_eval(const DataArgs& data_args, const std::string& model, bool as_json) {
  const auto predictor = hwnas::load_ensemble<float>(model);
  const auto table = load_table(data_args, true, "eval");
  require_rows(table.split.test.size(), "test", table, data_args);
  const auto [xs, ys] = table.rows(table.split.test, predictor.space(), data_args.csv);
  const auto predicted = predictor.predict(xs);
  const auto m = hwnas::evaluate(predicted, ys);
  if (as_json) {
    print({{"test", metrics_json(m)},
           {"latency_margin", hwnas::latency_margin(predicted, ys)},
           {"model", model},
           {"target", data_args.target},
           {"split", table.choice.text},
           {"n_test", xs.size()}});
    return 0;
  }
  std::cout << model << " on " << data_args.target << ", "
            << (table.choice.kind == hwnas::SplitSpec::Kind::all ? "every row" : "test rows of the " + table.choice.text + " split")
            << ": " << metrics_text(m) << "\n";
  return 0;
}

struct FinetuneArgs {
  std::vector<std::string> bases;  ///< one: fine-tune it; several: fine_tune_from, an ensemble
  std::size_t samples = 0;
  hwnas::TransferOptions transfer;
  std::size_t frozen_layers = 0;
  bool frozen_given = false;  ///< otherwise: 2 for the paper recipe (the method's fine-tuning), else 0
};

json transfer_json(const hwnas::TransferReport& r, const std::vector<std::string>& paths) {
  json candidates = json::array();
  for (const auto& c : r.candidates) {
    candidates.push_back({{"base", paths[c.base]},
                          {"line_fit_rmse", c.line_fit_rmse},
                          {"validation_rmse", c.validation_rmse},
                          {"kept", c.kept}});
  }
  return candidates;
}

int cmd_finetune(const DataArgs& data_args, TrainArgs args, FinetuneArgs ft, const Progress& progress,
                 bool as_json) {
  if (args.recipe.empty()) args.recipe = "finetune";
  if (!ft.frozen_given) ft.frozen_layers = args.recipe == "paper" ? 2 : 0;
  auto recipe = make_recipe(args.recipe, args.epochs, args.seed);
  check_output_path(args.output);
  std::vector<Predictor> bases;
  for (const auto& path : ft.bases) {
    bases.push_back(hwnas::load_predictor<float>(path));
    const auto& p = bases.back();
    if (p.space().options() != bases.front().space().options()) {
      throw hwnas::InvalidArgument("--base " + path + " searches space '" + p.space().name() + "' but --base " +
                                   ft.bases.front() + " searches '" + bases.front().space().name() +
                                   "' (or the same name with other options)");
    }
    if (ft.frozen_layers >= p.network().num_layers()) {
      throw hwnas::InvalidArgument("--frozen-layers " + std::to_string(ft.frozen_layers) + ": the base model has " +
                                   std::to_string(p.network().num_layers()) +
                                   " layers and at least the last must train (--base " + path + ")");
    }
  }
  const auto table = load_table(data_args, false, "finetune");
  require_rows(table.split.test.size(), "test", table, data_args);
  if (ft.samples > table.split.train.size()) {
    throw hwnas::InvalidArgument("--samples " + std::to_string(ft.samples) + " is more than the " +
                                 std::to_string(table.split.train.size()) + " train rows of the " +
                                 table.choice.text + " split of '" + data_args.csv + "'");
  }
  const auto chosen = hwnas::random_subset(table.split.train, ft.samples, args.seed);
  const auto& space = bases.front().space();
  const auto [xt, yt] = table.rows(chosen, space, data_args.csv);
  const auto [xs, ys] = table.rows(table.split.test, space, data_args.csv);

  // Fine-tuning sees the N samples and nothing else: the recipe's hold-out
  // (finetune: 20 % of them) plays the validation rows.
  auto options = recipe.training;
  options.frozen_layers = ft.frozen_layers;
  options.on_epoch = progress.epoch_hook(options.epochs);
  json j = {{"recipe", args.recipe},
            {"target", data_args.target},
            {"split", table.choice.text},
            {"seed", args.seed},
            {"samples", ft.samples},
            {"frozen_layers", ft.frozen_layers},
            {"n_test", xs.size()},
            {"model", args.output}};
  std::ostringstream text;
  hwnas::RegressionMetrics m;
  if (bases.size() == 1) {
    auto& predictor = bases.front();
    const auto report = predictor.fine_tune(xt, yt, {}, {}, options);
    warn_if_diverged(report);
    hwnas::save_predictor(predictor, args.output);
    m = predictor.evaluate(xs, ys);
    j.update(fit_json(report));
    j.update({{"base", ft.bases.front()}, {"n_train", xt.size()}, {"n_holdout", report.validation_rows}});
    text << "fine-tuned " << ft.bases.front() << " to " << data_args.target << " with " << ft.samples << " samples ("
         << ft.frozen_layers << " frozen layers, " << args.recipe << " recipe, " << report.validation_rows
         << " of them held out): " << fit_text(report) << "\n";
  } else {
    // Several bases: the hold-out folds of fine_tune_from (the finetune
    // recipe's 20 % unless the recipe holds out more).
    if (options.holdout == 0) options.holdout = hwnas::finetune_recipe().training.holdout;
    ft.transfer.training = options;
    hwnas::TransferReport report;
    const auto ensemble = hwnas::fine_tune_from<float>(bases, xt, yt, ft.transfer, &report);
    for (const auto& c : report.candidates) {
      for (const auto& f : c.fits) warn_if_diverged(f);
    }
    hwnas::save_ensemble(ensemble, args.output);
    m = ensemble.evaluate(xs, ys);
    j.update({{"bases", ft.bases},
              {"candidates", transfer_json(report, ft.bases)},
              {"members", ensemble.size()},
              {"folds", ft.transfer.folds},
              {"n_train", xt.size()},
              {"n_holdout", report.validation_rows},
              {"train_s", report.seconds}});
    text << "fine-tuned " << report.candidates.size() << " of " << bases.size() << " bases to " << data_args.target
         << " with " << ft.samples << " samples (" << args.recipe << " recipe, " << ft.transfer.folds << " fold"
         << (ft.transfer.folds == 1 ? "" : "s") << " of " << report.validation_rows << " held out) in " << std::fixed
         << std::setprecision(2) << report.seconds << " s" << std::defaultfloat << std::setprecision(4) << ":\n";
    for (const auto& c : report.candidates) {
      text << "  " << ft.bases[c.base] << ": line fit RMSE " << c.line_fit_rmse << " ms, fine-tuned validation RMSE "
           << c.validation_rmse << " ms" << (c.kept ? ", kept" : "") << "\n";
    }
    text << "ensemble of " << ensemble.size() << " fine-tuned predictors\n";
  }
  if (as_json) {
    j["test"] = metrics_json(m);
    print(j);
    return 0;
  }
  std::cout << text.str() << "test: " << metrics_text(m) << "\n"
            << "saved " << args.output << "\n";
  return 0;
}

// ---------------------------------------------- several devices (issue 6) ----

struct DeviceArgs {
  std::vector<std::string> devices;  ///< train: the columns
  std::string descriptor = "fingerprint";
  std::string device_file;
  std::string reference;  ///< file of dataset ids, one per line
  std::vector<std::string> spec_features;  ///< empty: every spec feature of the first record
  std::size_t fine_tune_from = hwnas::AdaptOptions{}.fine_tune_samples;
};

/// The records of a device file by name (empty without one).
std::map<std::string, hwnas::DeviceDescriptor> device_records(const std::string& path) {
  std::map<std::string, hwnas::DeviceDescriptor> out;
  if (path.empty()) return out;
  for (auto& d : hwnas::read_device_file(path)) out.emplace(d.name, std::move(d));
  return out;
}

hwnas::DeviceDescriptor device_record(const std::map<std::string, hwnas::DeviceDescriptor>& records,
                                      const std::string& name) {
  if (const auto it = records.find(name); it != records.end()) return it->second;
  return {name, "", 1, {}, {}};
}

int cmd_train_devices(const DataArgs& data_args, const SpaceArgs& space_args, TrainArgs args, const DeviceArgs& da,
                      const Progress& progress, bool as_json) {
  if (args.recipe.empty()) args.recipe = "default";
  const auto recipe = make_recipe(args.recipe, args.epochs, args.seed);
  const auto mode = hwnas::descriptor_mode_from_string(da.descriptor);
  const auto space = space_args.make();
  check_output_path(args.output);
  if (mode != hwnas::DescriptorMode::spec && da.reference.empty()) {
    throw hwnas::InvalidArgument("--descriptor " + da.descriptor +
                                 " needs --reference: a file of the dataset ids whose latencies are the fingerprints");
  }
  if (mode != hwnas::DescriptorMode::fingerprint && da.device_file.empty()) {
    throw hwnas::InvalidArgument("--descriptor " + da.descriptor + " needs --device-file: the devices' spec features");
  }
  const auto ids = da.reference.empty() ? std::vector<std::int64_t>{} : hwnas::read_reference_ids(da.reference);
  const auto records = device_records(da.device_file);
  std::vector<hwnas::DeviceDescriptor> devices;
  for (const auto& name : da.devices) {
    if (!da.device_file.empty() && !records.contains(name)) {
      throw hwnas::InvalidArgument("--devices " + name + ": no such device in --device-file " + da.device_file);
    }
    devices.push_back(device_record(records, name));
  }
  std::vector<std::string> spec_names = da.spec_features;
  if (spec_names.empty() && mode != hwnas::DescriptorMode::fingerprint) {
    for (const auto& [k, v] : devices.front().spec) spec_names.push_back(k);
  }
  auto table_args = data_args;
  table_args.target = da.devices.front();
  const auto table = load_table(table_args, false, "train");
  require_rows(table.split.train.size(), "train", table, data_args);
  require_rows(table.split.test.size(), "test", table, data_args);
  for (const auto& d : devices) (void)table.data.column_index(d.name);
  for (const auto id : ids) (void)table.data.row_of_id(id);
  for (std::size_t r = 0; r < table.data.size(); ++r) {
    try {
      space.validate(table.data.archs()[r]);
    } catch (const hwnas::InvalidArgument& e) {
      throw hwnas::InvalidArgument(data_args.csv + ": row with id " + std::to_string(table.data.ids()[r]) + ": " +
                                   e.what());
    }
  }
  progress.line("training " + std::string(mode == hwnas::DescriptorMode::fingerprint
                                              ? std::to_string(devices.size()) + " bases"
                                              : "one model on " + std::to_string(devices.size()) + " devices"));
  std::vector<hwnas::FitReport> fits;
  const auto model = hwnas::train_device_predictor<float>(table.data, table.split, space, devices, ids, mode,
                                                          spec_names, recipe, &fits);
  for (const auto& f : fits) warn_if_diverged(f);
  hwnas::save_device_predictor(model, args.output);

  const auto test = table.data.subset(table.split.test);
  json per_device = json::object();
  std::ostringstream text;
  text << "trained a " << da.descriptor << " model of " << devices.size() << " devices (" << args.recipe
       << " recipe, " << table.choice.text << " split), test rows:\n";
  for (const auto& d : model.devices()) {
    const auto m = hwnas::evaluate(model.predict(d, test.archs()), test.column(d.name));
    per_device[d.name] = metrics_json(m);
    text << "  " << d.name << ": " << metrics_text(m) << "\n";
  }
  if (as_json) {
    double seconds = 0;
    for (const auto& f : fits) seconds += f.seconds;
    print({{"descriptor", da.descriptor},
           {"devices", da.devices},
           {"spec_features", spec_names},
           {"reference_ids", ids},
           {"recipe", args.recipe},
           {"split", table.choice.text},
           {"seed", args.seed},
           {"train_s", seconds},
           {"test", per_device},
           {"model", args.output}});
    return 0;
  }
  std::cout << text.str() << "saved " << args.output << "\n";
  return 0;
}

json nan_to_null(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

int cmd_adapt(const DataArgs& data_args, TrainArgs args, const std::string& base, std::size_t samples,
              const DeviceArgs& da, bool as_json) {
  check_output_path(args.output);
  const auto model = hwnas::load_device_predictor<float>(base);
  if (model.mode() != hwnas::DescriptorMode::fingerprint) {
    throw hwnas::InvalidArgument("--base " + base + ": a " + std::string(hwnas::to_string(model.mode())) +
                                 " model; adapt needs a fingerprint model (train --descriptor fingerprint)");
  }
  const auto table = load_table(data_args, false, "adapt");
  require_rows(table.split.test.size(), "test", table, data_args);
  auto device = device_record(device_records(da.device_file), data_args.target);
  // The fingerprint: the device file's, else the target's latencies of the
  // reference architectures, found in the data.
  const bool fingerprint_from_data = device.fingerprint.empty();
  std::set<std::size_t> reference_rows;
  for (std::size_t k = 0; k < model.reference().size(); ++k) {
    const auto& archs = table.data.archs();
    const auto it = std::find(archs.begin(), archs.end(), model.reference()[k]);
    if (it == archs.end()) {
      if (!fingerprint_from_data) continue;
      throw hwnas::InvalidArgument(data_args.csv + ": no row holds reference architecture " + std::to_string(k) +
                                   " of " + base + "; give the device's fingerprint in --device-file");
    }
    const auto row = static_cast<std::size_t>(it - archs.begin());
    reference_rows.insert(row);
    if (fingerprint_from_data) device.fingerprint.push_back(table.y[row]);
  }
  std::vector<std::size_t> pool;
  for (auto r : table.split.train) {
    if (!reference_rows.contains(r)) pool.push_back(r);
  }
  if (samples > pool.size()) {
    throw hwnas::InvalidArgument("--samples " + std::to_string(samples) + " is more than the " +
                                 std::to_string(pool.size()) + " train rows (without the reference rows) of '" +
                                 data_args.csv + "'");
  }
  const auto chosen = hwnas::random_subset(pool, samples, args.seed);
  const auto [xt, yt] = table.rows(chosen, model.space(), data_args.csv);
  std::vector<std::size_t> test_rows;
  for (auto r : table.split.test) {
    if (!reference_rows.contains(r)) test_rows.push_back(r);
  }
  const auto [xs, ys] = table.rows(test_rows, model.space(), data_args.csv);
  hwnas::AdaptOptions options;
  options.fine_tune_samples = da.fine_tune_from;
  options.transfer.training.seed = args.seed;
  hwnas::AdaptReport report;
  const auto adapted = hwnas::adapt_to_device(model, device, xt, yt, options, &report);
  hwnas::save_ensemble(adapted, args.output);
  const auto m = adapted.evaluate(xs, ys);
  const std::string base_name = model.devices()[report.mapping.base].name;
  if (as_json) {
    json j = {{"target", data_args.target},
              {"samples", samples},
              {"seed", args.seed},
              {"strategy", report.fine_tuned ? "finetune" : "fingerprint"},
              {"mapping", {{"base", base_name},
                           {"intercept", report.mapping.intercept},
                           {"slope", report.mapping.slope},
                           {"loo_rmse_log", report.mapping.loo_rmse},
                           {"calibration", report.mapping.samples}}},
              {"holdout_rmse", {{"fingerprint", nan_to_null(report.mapped_holdout_rmse)},
                                {"finetune", nan_to_null(report.fine_tuned_holdout_rmse)}}},
              {"members", adapted.size()},
              {"n_test", xs.size()},
              {"test", metrics_json(m)},
              {"model", args.output}};
    if (report.fine_tuned) j["candidates"] = transfer_json(report.transfer, [&] {
      std::vector<std::string> names;
      for (const auto& d : model.devices()) names.push_back(d.name);
      return names;
    }());
    print(j);
    return 0;
  }
  std::cout << "adapted " << base << " to " << data_args.target << " from its fingerprint and " << samples
            << " samples: " << (report.fine_tuned ? "fine-tuned the bases" : "the mapped base") << " (line from "
            << base_name << ": log y = " << report.mapping.intercept << " + " << report.mapping.slope
            << " log y_base, leave-one-out " << 100 * report.mapping.loo_rmse << " %)\n"
            << "test: " << metrics_text(m) << "\n"
            << "saved " << args.output << "\n";
  return 0;
}

struct TuneArgs {
  std::size_t threads = 2;
  std::size_t max_epochs = 0;  ///< 0: the recipe's epochs
  std::size_t grace_period = 5;
  std::size_t reduction_factor = 4;
  std::vector<double> learning_rates, momenta, weight_decays;  ///< empty: the library's grid
};

json trial_json(const hwnas::TrialResult& t) {
  return {{"index", t.index},
          {"learning_rate", t.learning_rate},
          {"momentum", t.momentum},
          {"weight_decay", t.weight_decay},
          {"epochs", t.epochs},
          {"stopped_early", t.stopped_early},
          {"stop_reason", std::string(hwnas::to_string(t.stop_reason))},
          {"best_validation_rmse", t.best_validation_rmse},
          {"final_validation_rmse", t.final_validation_rmse}};
}

std::string trial_text(const hwnas::TrialResult& t) {
  char s[240];
  std::snprintf(s, sizeof s,
                "trial %2zu  lr %-7g momentum %-4g weight decay %-7g %4zu epoch%s  val RMSE best %.4g, last %.4g ms%s",
                t.index, t.learning_rate, t.momentum, t.weight_decay, t.epochs, t.epochs == 1 ? " " : "s",
                t.best_validation_rmse, t.final_validation_rmse,
                t.stopped_early                                    ? "  (stopped by ASHA)"
                : t.stop_reason == hwnas::StopReason::non_finite ? "  (diverged)"
                                                                   : "");
  return s;
}

int cmd_tune(const DataArgs& data_args, const SpaceArgs& space_args, TrainArgs args, const TuneArgs& ta,
             const Progress& progress, bool as_json) {
  if (args.recipe.empty()) args.recipe = "default";
  const auto recipe = make_recipe(args.recipe, ta.max_epochs, args.seed);
  const auto space = space_args.make();
  const auto table = load_table(data_args, false, "tune");
  require_rows(table.split.train.size(), "train", table, data_args);
  require_rows(table.split.validation.size(), "validation", table, data_args);
  const auto [xt, yt] = table.rows(table.split.train, space, data_args.csv);
  const auto [xv, yv] = table.rows(table.split.validation, space, data_args.csv);

  hwnas::TuneOptions options;
  if (!ta.learning_rates.empty()) options.learning_rates = ta.learning_rates;
  if (!ta.momenta.empty()) options.momenta = ta.momenta;
  if (!ta.weight_decays.empty()) options.weight_decays = ta.weight_decays;
  options.max_epochs = recipe.training.epochs;
  options.grace_period = ta.grace_period;
  options.reduction_factor = ta.reduction_factor;
  options.threads = ta.threads;
  options.base = recipe.training;
  const std::size_t n_trials = options.learning_rates.size() * options.momenta.size() * options.weight_decays.size();
  std::size_t done = 0;
  if (progress.on()) {
    // Called under tune's lock, one trial at a time.
    options.on_trial_done = [&](const hwnas::TrialResult& t) {
      progress.line("[" + std::to_string(++done) + "/" + std::to_string(n_trials) + "] " + trial_text(t));
    };
  }
  const Predictor prototype(space, recipe.predictor);
  const auto report = hwnas::tune(prototype, xt, yt, xv, yv, options);
  const auto& best = report.trials[report.best];
  const auto rungs = hwnas::asha_rungs(options.grace_period, options.reduction_factor, options.max_epochs);

  if (as_json) {
    json trials = json::array();
    for (const auto& t : report.trials) trials.push_back(trial_json(t));
    print({{"trials", trials},
           {"best", trial_json(best)},
           {"tune_s", report.seconds},
           {"recipe", args.recipe},
           {"target", data_args.target},
           {"split", table.choice.text},
           {"seed", args.seed},
           {"n_train", xt.size()},
           {"n_validation", xv.size()},
           {"max_epochs", options.max_epochs},
           {"grace_period", options.grace_period},
           {"reduction_factor", options.reduction_factor},
           {"rungs", rungs},
           {"threads", options.threads}});
    return 0;
  }
  for (const auto& t : report.trials) std::cout << trial_text(t) << "\n";
  std::cout << "best: " << trial_text(best) << "\n"
            << n_trials << " trials in " << std::fixed << std::setprecision(2) << report.seconds << " s\n";
  return 0;
}

/// --device NAME (a device the model was trained on) or @FILE (a device
/// record with its fingerprint: docs/generalisation.md).
hwnas::DeviceDescriptor device_from_arg(const std::string& arg) {
  if (!arg.starts_with("@")) return {arg, "", 1, {}, {}};
  const auto devices = hwnas::read_device_file(arg.substr(1));
  if (devices.size() != 1) {
    throw hwnas::InvalidArgument("--device " + arg + ": the file holds " + std::to_string(devices.size()) +
                                 " devices; give one");
  }
  return devices.front();
}

std::vector<Architecture> checked_archs(const std::string& arch_arg, const MbConvSpace& space) {
  auto archs = load_archs(arch_arg);
  for (std::size_t i = 0; i < archs.size(); ++i) {
    try {
      space.validate(archs[i]);
    } catch (const hwnas::InvalidArgument& e) {
      throw hwnas::InvalidArgument("--arch: architecture " + std::to_string(i) + ": " + e.what());
    }
  }
  return archs;
}

void print_predictions(const std::vector<double>& values, json j, bool as_json) {
  if (as_json) {
    j["predictions"] = values;
    print(j);
    return;
  }
  std::cout << std::setprecision(6);
  for (double v : values) std::cout << v << '\n';
}

int cmd_predict(const std::string& model, const std::string& arch_arg, const std::vector<double>& hardware,
                const std::string& device_arg, bool as_json) {
  const bool devices_model = hwnas::read_model_kind(model) == "latency-devices";
  if (devices_model != !device_arg.empty()) {
    throw hwnas::InvalidArgument(devices_model ? "--model " + model + " holds several devices: choose one with --device"
                                               : "--device: --model " + model + " is a single-device model");
  }
  if (devices_model) {
    const auto m = hwnas::load_device_predictor<float>(model);
    const auto device = device_from_arg(device_arg);
    if (!m.find(device.name) && device.fingerprint.empty() && m.mode() != hwnas::DescriptorMode::spec) {
      std::string known;
      for (const auto& d : m.devices()) known += (known.empty() ? "" : ", ") + d.name;
      throw hwnas::InvalidArgument("--device " + device_arg + ": not a device of " + model + " (" + known +
                                   "); for a new device pass @FILE with its fingerprint");
    }
    print_predictions(m.predict(device, checked_archs(arch_arg, m.space())), {{"model", model}, {"device", device.name}},
                      as_json);
    return 0;
  }
  const auto predictor = hwnas::load_ensemble<float>(model);
  const std::size_t hw = predictor.hardware_features();
  if (hardware.size() != hw) {
    throw hwnas::InvalidArgument("--hardware: the model takes " + std::to_string(hw) + " hardware features, found " +
                                 std::to_string(hardware.size()));
  }
  print_predictions(predictor.predict(checked_archs(arch_arg, predictor.space()), hardware), {{"model", model}},
                    as_json);
  return 0;
}

/// `--lut DIR` (OFA's folder of <r>_lookup_table.yaml) or `--lut FILE.json`.
hwnas::LookupTables load_luts(const std::string& path) {
  if (std::filesystem::is_directory(path)) return hwnas::read_lut_folder(path);
  return hwnas::read_lut_json(path);
}

int cmd_lut_predict(const SpaceArgs& space_args, const std::string& lut_path, const std::string& arch_arg,
                    bool as_json) {
  const hwnas::LutEstimator lut(space_args.make(), load_luts(lut_path));
  const auto archs = load_archs(arch_arg);
  std::vector<double> values;
  values.reserve(archs.size());
  for (std::size_t i = 0; i < archs.size(); ++i) {
    try {
      values.push_back(lut.predict(archs[i]));
    } catch (const hwnas::InvalidArgument& e) {
      std::string what = "--arch: architecture " + std::to_string(i) + ": " + e.what();
      if (what.find("no entry") != std::string::npos) {
        what += "; the keys hold the layer widths: do --space and --width (" +
                hwnas::detail::format_double(space_args.width) + ") match the tables' supernet?";
      }
      throw hwnas::InvalidArgument(what);
    }
  }
  if (as_json) {
    print({{"predictions", values}, {"lut", lut_path}});
    return 0;
  }
  std::cout << std::setprecision(6);
  for (double v : values) std::cout << v << '\n';
  return 0;
}

/// What `measure` and `lut build` time with (--executor, --warmup, --repeats, --batch).
struct MeasureArgs {
  std::string executor = "cpu";
  std::size_t warmup = 5;
  std::size_t repeats = 20;
  int batch = 1;
  int threads = 1;
  bool resume = false;

  hwnas::measure::TimingOptions timing() const { return {.warmup = warmup, .repeats = repeats}; }
};

/// Runs `fn(adapter)` with the adapter --executor names.
template <class Fn>
auto with_executor(const MeasureArgs& m, Fn&& fn) {
  if (m.executor == "cpu") {
    hwnas::measure::CpuExecutor cpu;
    return fn(cpu);
  }
  if (m.executor == "torch-cpu" || m.executor == "torch-cuda") {
#ifdef HWNAS_CLI_WITH_TORCH
    hwnas::measure::TorchAdapter torch_adapter(
        {.device = m.executor == "torch-cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU),
         .threads = m.threads});
    return fn(torch_adapter);
#else
    throw hwnas::InvalidArgument("--executor " + m.executor +
                                 ": this hwnas was built without libtorch (configure with -DHWNAS_WITH_TORCH=ON)");
#endif
  }
  throw hwnas::InvalidArgument("--executor: expected cpu, torch-cpu or torch-cuda, found '" + m.executor + "'");
}

/// -o of a build: refuses to touch an existing output unless --resume.
void check_build_output(const std::string& path, bool resume, bool folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!resume && fs::exists(path, ec) && !(folder && fs::is_directory(path, ec) && fs::is_empty(path, ec))) {
    throw hwnas::IoError("-o: '" + path + "' exists; pass --resume to continue that build");
  }
  if (!folder) check_output_path(path);
}

json build_json(const hwnas::measure::BuildReport& r) {
  return {{"measured", r.measured}, {"resumed", r.resumed}, {"seconds", r.seconds}, {"stopped", r.stopped}};
}

int cmd_measure(const SpaceArgs& space_args, const MeasureArgs& m, std::size_t n, std::uint64_t seed,
                const std::string& column, const std::string& output, const Progress& progress, bool as_json) {
  const auto space = space_args.make();
  check_build_output(output, m.resume, false);
  const auto report = with_executor(m, [&](auto& adapter) {
    return hwnas::measure::build_dataset(adapter, space, output,
                                         {.n = n, .seed = seed, .batch = m.batch, .timing = m.timing(),
                                          .column = column, .on_progress = progress.build_hook("measure")});
  });
  if (as_json) {
    json j = build_json(report);
    j.update({{"output", output}, {"rows", n}, {"executor", m.executor}, {"space", space.name()}, {"column", column}});
    print(j);
    return 0;
  }
  std::cout << "measured " << report.measured << " sub-networks (" << report.resumed << " resumed) with "
            << m.executor << " in " << std::fixed << std::setprecision(1) << report.seconds << " s; " << output
            << " holds " << report.resumed + report.measured << " of " << n << " rows\n";
  return 0;
}

int cmd_lut_build(const SpaceArgs& space_args, const MeasureArgs& m, const std::string& output,
                  const Progress& progress, bool as_json) {
  const auto space = space_args.make();
  check_build_output(output, m.resume, true);
  const auto report = with_executor(m, [&](auto& adapter) {
    return hwnas::measure::build_lut(adapter, space, output,
                                     {.batch = m.batch, .timing = m.timing(), .on_progress = progress.build_hook("lut")});
  });
  if (as_json) {
    json j = build_json(report);
    j.update({{"output", output},
              {"resolutions", space.options().resolutions},
              {"executor", m.executor},
              {"space", space.name()}});
    print(j);
    return 0;
  }
  std::cout << "measured " << report.measured << " layer keys (" << report.resumed << " resumed) with " << m.executor
            << " in " << std::fixed << std::setprecision(1) << report.seconds << " s into " << output << "\n";
  return 0;
}

/// The main job on an embedded default: measure this machine with the
/// built-in executor (a dataset and a lookup table of OFA MobileNetV3 w1.0
/// at OFA's search resolutions), train a predictor on 80 % of the dataset,
/// and compare it with the lookup table on the other 20 %.
struct QuickstartArgs {
  std::uint64_t seed = 0;
  std::size_t n = 250;
  std::size_t repeats = 10;
  std::string output = "hwnas-quickstart";
};

int cmd_quickstart(const QuickstartArgs& q, const Progress& progress, bool as_json) {
  namespace fs = std::filesystem;
  const auto space = MbConvSpace::ofa_mobilenet_v3().with_resolutions(hwnas::ofa_search_resolutions());
  const fs::path dir = q.output;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw hwnas::IoError("-o: cannot create folder '" + q.output + "': " + ec.message());
  const hwnas::measure::TimingOptions timing{.warmup = 2, .repeats = q.repeats};
  hwnas::measure::CpuExecutor cpu(q.seed);
  if (!as_json) {
    std::cout << "hwnas " << hwnas::version_string << " quickstart: " << space.name()
              << " w1.0 at r = 160..224 step 16 on this machine's CPU (built-in executor, 1 thread), results in "
              << q.output << "/\n";
  }
  // The builders resume: a second run reuses what the first measured.
  const auto lut_report = hwnas::measure::build_lut(cpu, space, dir / "lut",
                                                    {.timing = timing, .on_progress = progress.build_hook("lut  ")});
  const auto data_report = hwnas::measure::build_dataset(
      cpu, space, dir / "cpu.csv",
      {.n = q.n, .seed = q.seed, .timing = timing, .column = "cpu", .on_progress = progress.build_hook("nets ")});
  const auto data = hwnas::Dataset::read_csv(dir / "cpu.csv");
  const auto split = hwnas::random_split(data.size(), q.seed, 0.8, 0.0);
  const auto y = data.column("cpu");
  std::vector<Architecture> train, test;
  std::vector<double> y_train, y_test;
  for (auto i : split.train) train.push_back(data.archs()[i]), y_train.push_back(y[i]);
  for (auto i : split.test) test.push_back(data.archs()[i]), y_test.push_back(y[i]);

  const hwnas::LutEstimator lut(space, hwnas::read_lut_folder(dir / "lut"));
  const auto lut_metrics = hwnas::evaluate(lut.predict(test), y_test);
  // Few samples: the finetune recipe (default, validation held out of them).
  const auto recipe = hwnas::finetune_recipe();
  Predictor predictor(space, recipe.predictor);
  auto options = recipe.training;
  options.seed = q.seed;
  const auto fit = predictor.fit(train, y_train, {}, {}, options);
  hwnas::save_predictor(predictor, dir / "cpu.hwnas");
  const auto mlp_test = predictor.predict(test);
  const auto mlp_metrics = hwnas::evaluate(mlp_test, y_test);

  // The search the predictor exists for: the network with the most MACs
  // (no accuracy model ships with hwnas) whose predicted latency, with the
  // predictor's worst held-out under-estimate as margin, fits a budget of
  // the held-out networks' median latency; then the winner is measured.
  std::vector<double> sorted_test = y_test;
  std::sort(sorted_test.begin(), sorted_test.end());
  const double budget = std::round(10 * sorted_test[(sorted_test.size() - 1) / 2]) / 10;
  const double margin = hwnas::latency_margin(mlp_test, y_test);
  const hwnas::FunctionScore macs([&space](std::span<const Architecture> archs) {
    std::vector<double> out;
    for (const auto& a : archs) out.push_back(static_cast<double>(space.cost(a).macs) / 1e6);
    return out;
  });
  const hwnas::EvolutionFinder finder(space, {.budgets = {budget}, .latency_margin = margin, .seed = q.seed});
  // With few samples the margin can rule out every network: say so, keep the rest.
  std::optional<hwnas::EvolutionResult> found;
  std::string search_skipped;
  try {
    found = finder.run(macs, predictor);
  } catch (const hwnas::InvalidArgument& e) {
    search_skipped = e.what();
  }
  json search = {{"budget", budget}, {"margin", margin}};
  std::ostringstream search_text;
  search_text << std::fixed << "\nsearch: the most MACs within " << std::setprecision(1) << budget
              << " ms (the held-out median), latency from the predictor with its worst held-out under-estimate, "
              << 100 * margin << " %, as margin";
  if (found) {
    const auto& winner = found->budgets.front().best;
    const double measured = hwnas::measure::measure_network(cpu, space, winner.arch, 1, timing).median;
    search.update({{"arch", json::parse(hwnas::arch_to_json(winner.arch))},
                   {"mmacs", winner.fitness},
                   {"predicted", winner.latency},
                   {"measured", measured},
                   {"evaluations", found->latency_evaluations},
                   {"search_s", found->seconds}});
    search_text << "; " << found->generations << " generations, " << found->latency_evaluations
                << " networks scored in " << std::setprecision(2) << found->seconds << " s:\n  "
                << hwnas::arch_to_json(winner.arch) << "\n  " << std::setprecision(1) << winner.fitness
                << " M MACs, predicted " << std::setprecision(2) << winner.latency << " ms, measured now "
                << measured << " ms\n";
  } else {
    search["skipped"] = search_skipped;
    search_text << ": skipped, " << search_skipped << " (measure more networks: --n)\n";
  }

  if (as_json) {
    print({{"version", hwnas::version_string},
           {"seed", q.seed},
           {"space", space.name()},
           {"resolutions", space.options().resolutions},
           {"output", q.output},
           {"lut", {{"keys", lut_report.measured + lut_report.resumed}, {"measured", lut_report.measured},
                    {"seconds", lut_report.seconds}}},
           {"dataset", {{"rows", data.size()}, {"measured", data_report.measured}, {"seconds", data_report.seconds}}},
           {"n_train", train.size()},
           {"n_test", test.size()},
           {"train_s", fit.seconds},
           {"lut_test", metrics_json(lut_metrics)},
           {"predictor_test", metrics_json(mlp_metrics)},
           {"search", search}});
    return 0;
  }
  char line[200];
  std::cout << "lookup table: " << lut_report.measured + lut_report.resumed << " layer keys ("
            << lut_report.measured << " measured now, " << std::fixed << std::setprecision(1) << lut_report.seconds
            << " s) in " << (dir / "lut").string() << "/\n"
            << "dataset: " << data.size() << " sub-networks (" << data_report.measured << " measured now, "
            << data_report.seconds << " s) in " << (dir / "cpu.csv").string() << "\n"
            << "predictor: trained on " << train.size() << " of them in " << fit.seconds << " s, saved to "
            << (dir / "cpu.hwnas").string() << "\n\n"
            << "on the " << test.size() << " held-out sub-networks (measured median latency):\n";
  std::snprintf(line, sizeof line, "  %-28s %8s %8s %9s %9s\n", "", "RMSE %", "MAPE %", "Kendall", "Spearman");
  std::cout << line;
  for (const auto& [name, m] : {std::pair{"lookup table (sum of layers)", lut_metrics},
                                std::pair{"learned predictor", mlp_metrics}}) {
    std::snprintf(line, sizeof line, "  %-28s %8.2f %8.2f %9.3f %9.3f\n", name, m.rmse_pct, m.mape, m.kendall,
                  m.spearman);
    std::cout << line;
  }
  std::cout << search_text.str()
            << "\nnext: hwnas measure / lut build / train / search on your own device (docs/cli.md)\n";
  return 0;
}

struct SearchArgs {
  std::string latency;   ///< lut:DIR, model:FILE or measure:cpu
  std::string accuracy;  ///< model:FILE
  std::vector<double> budgets;
  std::uint64_t seed = 0;
  std::size_t generations = 500;
  std::size_t population = 100;
  double margin = 0;
  bool memoize = false;
  std::string pareto;  ///< CSV of the Pareto front, or empty
};

/// "kind:VALUE" of --latency / --accuracy.
std::pair<std::string, std::string> source_spec(const std::string& option, const std::string& text,
                                                std::initializer_list<const char*> kinds) {
  const auto colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  for (const char* k : kinds) {
    if (colon != std::string::npos && kind == k && colon + 1 < text.size()) return {kind, text.substr(colon + 1)};
  }
  std::string expected;
  for (const char* k : kinds) expected += std::string(expected.empty() ? "" : ", ") + k + ":...";
  throw hwnas::InvalidArgument(option + ": expected " + expected + ", found '" + text + "'");
}

int cmd_search(const SpaceArgs& space_args, const SearchArgs& a, const Progress& progress, bool as_json) {
  const auto space = space_args.make();
  if (!a.pareto.empty()) check_output_path(a.pareto);
  const auto [acc_kind, acc_path] = source_spec("--accuracy", a.accuracy, {"model"});
  const auto accuracy = hwnas::load_predictor<float>(acc_path);
  const auto [lat_kind, lat_value] = source_spec("--latency", a.latency, {"lut", "model", "measure"});
  hwnas::EvolutionOptions options{.population = a.population,
                                  .generations = a.generations,
                                  .budgets = a.budgets,
                                  .latency_margin = a.margin,
                                  .seed = a.seed,
                                  .memoize = a.memoize};
  const hwnas::EvolutionFinder finder(space, options);
  auto on_generation = [&](const hwnas::GenerationInfo& g) {
    if (progress.on() && ((g.generation + 1) % 50 == 0 || g.generation + 1 == a.generations)) {
      progress.line("generation " + std::to_string(g.generation + 1) + "/" + std::to_string(a.generations));
    }
    return false;
  };
  hwnas::EvolutionResult result;
  if (lat_kind == "lut") {
    result = finder.run(accuracy, hwnas::LutEstimator(space, load_luts(lat_value)), on_generation);
  } else if (lat_kind == "model") {
    result = finder.run(accuracy, hwnas::load_ensemble<float>(lat_value), on_generation);
  } else {
    if (lat_value != "cpu") throw hwnas::InvalidArgument("--latency measure:" + lat_value + ": only measure:cpu");
    hwnas::measure::CpuExecutor cpu;
    const hwnas::measure::MeasuredLatency live(cpu, space, 1, {.warmup = 2, .repeats = 5});
    result = finder.run(accuracy, live, on_generation);
  }
  if (!a.pareto.empty()) {
    hwnas::Dataset front(std::vector<std::string>{"latency", "accuracy"});
    for (std::size_t i = 0; i < result.pareto.size(); ++i) {
      const auto& c = result.pareto[i];
      const double row[] = {c.latency, c.fitness};
      front.add_row(static_cast<std::int64_t>(i), c.arch, row);
    }
    front.write_csv(a.pareto);
  }
  if (as_json) {
    json results = json::array();
    for (const auto& b : result.budgets) {
      results.push_back({{"budget", b.budget},
                         {"arch", json::parse(hwnas::arch_to_json(b.best.arch))},
                         {"accuracy", b.best.fitness},
                         {"latency", b.best.latency},
                         {"macs", space.cost(b.best.arch).macs}});
    }
    print({{"results", results},
           {"evaluations", result.latency_evaluations},
           {"accuracy_evaluations", result.fitness_evaluations},
           {"cache_hits", result.latency_cache_hits},
           {"generations", result.generations},
           {"pareto_size", result.pareto.size()},
           {"search_s", result.seconds},
           {"latency", a.latency},
           {"space", space.name()}});
    return 0;
  }
  for (const auto& b : result.budgets) std::cout << hwnas::arch_to_json(b.best.arch) << "\n";
  for (const auto& b : result.budgets) {
    char line[160];
    std::snprintf(line, sizeof line, "budget %g ms: accuracy %.5f, latency %.4f ms", b.budget, b.best.fitness,
                  b.best.latency);
    progress.line(line);
  }
  return 0;
}

int cmd_import_torch(const SpaceArgs& space_args, const std::string& dir, const std::string& encoding,
                     const std::string& output, bool as_json) {
  check_output_path(output);
  hwnas::Encoder::Options eo;
  eo.resolution = hwnas::resolution_encoding_from_string(encoding);
  const auto predictor = hwnas::import_torch_npy<float>(dir, space_args.make(), eo);
  hwnas::save_predictor(predictor, output);
  const auto& sizes = predictor.network().sizes();
  if (as_json) {
    print({{"model", output},
           {"npy", dir},
           {"space", predictor.space().name()},
           {"width", predictor.space().options().width},
           {"encoding", encoding},
           {"layer_sizes", sizes},
           {"parameters", predictor.network().num_parameters()}});
    return 0;
  }
  std::cout << "imported a ";
  for (std::size_t i = 0; i < sizes.size(); ++i) std::cout << (i ? "-" : "") << sizes[i];
  std::cout << " MLP (" << predictor.network().num_parameters() << " parameters) from " << dir << " for "
            << predictor.space().name() << " with " << encoding << " encoding\nsaved " << output << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hwnas: hardware-aware neural architecture search"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(hwnas::version_string));

  bool as_json = false;
  auto json_flag = [&as_json](CLI::App* cmd) {
    cmd->add_flag("--json", as_json, "print one JSON object on stdout");
  };

  auto* info = app.add_subcommand("info", "version and the preset spaces");
  json_flag(info);

  SpaceArgs space_args;
  auto* count = app.add_subcommand("count", "exact number of architectures of a space");
  space_args.add_to(*count);
  json_flag(count);

  // CLI11 reads "-1" into an unsigned option as its wrapped value, so `--n -1`
  // would sample forever: negative counts and seeds are rejected before the
  // conversion (CLI::NonNegativeNumber would print DBL_MAX in full).
  const CLI::Validator non_negative(
      [](std::string& value) {
        const auto first = value.find_first_not_of(" \t");
        return first != std::string::npos && value[first] == '-' ? "must not be negative, found " + value
                                                                   : std::string();
      },
      "NON-NEGATIVE");

  std::size_t n = 10;
  std::uint64_t seed = 0;
  bool distinct = false, image_size = false;
  auto* sample = app.add_subcommand("sample", "random architectures, one OFA spec JSON per line");
  space_args.add_to(*sample);
  sample->add_option("--n", n, "number of architectures")->capture_default_str()->check(non_negative);
  sample->add_option("--seed", seed, "random seed")->capture_default_str()->check(non_negative);
  sample->add_flag("--distinct", distinct, "uniform over distinct networks instead of OFA's per-gene sampling");
  sample->add_flag("--image-size", image_size, "write \"image_size\": R instead of \"r\": [R]");
  json_flag(sample);

  std::string arch_arg;
  bool show_layers = false;
  auto* macs = app.add_subcommand("macs", "MACs and parameters of architectures");
  space_args.add_to(*macs);
  macs->add_option("--arch", arch_arg, "spec JSON, or @FILE (JSON, JSON array, JSON lines, dataset CSV)")->required();
  macs->add_flag("--layers", show_layers, "print the layer list with shapes");
  json_flag(macs);

  std::string encoding = "bins8";
  std::vector<double> hardware;
  auto* encode = app.add_subcommand("encode", "feature vectors of architectures (one CSV row each)");
  space_args.add_to(*encode);
  encode->add_option("--arch", arch_arg, "spec JSON, or @FILE")->required();
  encode->add_option("--encoding", encoding, "resolution encoding: bins8 (the method), one-hot, numeric, none")
      ->capture_default_str();
  encode->add_option("--hardware", hardware, "hardware features appended to every row, comma-separated")
      ->delimiter(',');
  json_flag(encode);

  std::string file;
  auto* validate = app.add_subcommand("validate", "check every architecture of a file against a space");
  space_args.add_to(*validate);
  validate->add_option("file", file, "JSON, JSON array, JSON lines or dataset CSV")->required();
  json_flag(validate);

  QuickstartArgs quick;
  auto* quickstart = app.add_subcommand(
      "quickstart", "the main job: measure this CPU, build a lookup table, train a predictor, compare them");
  quickstart->add_option("--seed", quick.seed, "which sub-networks, weights, split")->capture_default_str()->check(non_negative);
  quickstart->add_option("-o,--output", quick.output, "folder for the dataset, the lookup table and the model")
      ->capture_default_str();
  json_flag(quickstart);

  // Counts that must be at least 1 (0 would mean "nothing to do" or divide).
  const CLI::Validator positive(
      [](std::string& value) {
        const auto first = value.find_first_not_of(" \t");
        const bool negative = first != std::string::npos && value[first] == '-';
        const bool zero = first != std::string::npos && value.find_first_not_of("0 \t", first) == std::string::npos;
        return negative || zero ? "must be positive, found " + value : std::string();
      },
      "POSITIVE");

  bool show_progress = false;
  auto progress_flag = [&show_progress](CLI::App* cmd) {
    cmd->add_flag("--progress", show_progress,
                  "progress lines on stderr even when it is not a terminal (they are shown on a terminal anyway)");
  };
  quickstart->add_option("--n", quick.n, "sub-networks to measure (80 % train, 20 % test)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{10}, std::size_t{100000}));
  quickstart->add_option("--repeats", quick.repeats, "timed runs per network and per layer")
      ->capture_default_str()
      ->check(positive);
  progress_flag(quickstart);
  DataArgs data_args;
  TrainArgs train_args;
  auto train_options = [&](CLI::App* cmd, bool with_output) {
    cmd->add_option("--recipe", train_args.recipe,
                    "paper (the method exactly), default (hwnas's best; train's and tune's default) or finetune "
                    "(default, for N samples; finetune's default)");
    cmd->add_option("--seed", train_args.seed, "seed of the initialisation, the batches (and finetune's samples)")
        ->capture_default_str()
        ->check(non_negative);
    if (with_output) {
      cmd->add_option("--epochs", train_args.epochs, "epochs (default: the recipe's, 100)")->check(positive);
      cmd->add_option("-o,--output", train_args.output, "model file to write")->required();
    }
  };

  SpaceArgs train_space;
  DeviceArgs device_args;
  auto* train = app.add_subcommand(
      "train", "train a latency predictor on a dataset column (or one model of several columns), save it, test it");
  data_args.add_to(*train, false, false);
  train_space.add_to(*train, false);
  train_options(train, true);
  train->add_option("--devices", device_args.devices,
                    "several device columns, comma-separated: one model of them all (docs/generalisation.md)")
      ->delimiter(',');
  train->add_option("--descriptor", device_args.descriptor, "with --devices: spec, fingerprint or both")
      ->capture_default_str()
      ->check(CLI::IsMember({"spec", "fingerprint", "both"}));
  train->add_option("--device-file", device_args.device_file, "with --devices: device records (JSON)");
  train->add_option("--reference", device_args.reference,
                    "with --devices: file of the dataset ids whose latencies are the fingerprints");
  train->add_option("--spec-features", device_args.spec_features,
                    "with --descriptor spec or both: the spec features used, comma-separated (batch: the batch "
                    "size; default: every one of the first device record)")
      ->delimiter(',');
  progress_flag(train);
  json_flag(train);

  std::string model;
  auto* eval = app.add_subcommand("eval", "metrics of a saved predictor on a dataset column");
  eval->add_option("--model", model, "model file (train, finetune or import-torch; a predictor or an ensemble)")->required();
  data_args.add_to(*eval, true);
  json_flag(eval);

  FinetuneArgs ft_args;
  auto* finetune = app.add_subcommand(
      "finetune", "fine-tune saved predictors of other devices to a new device with N samples");
  finetune
      ->add_option("--base", ft_args.bases,
                   "model file to start from; repeat it for several devices' bases: the best are fine-tuned and "
                   "saved as an ensemble (docs/predictor.md)")
      ->required();
  finetune->add_option("--candidates", ft_args.transfer.candidates, "several bases: how many are fine-tuned")
      ->capture_default_str()
      ->check(positive);
  finetune->add_option("--keep", ft_args.transfer.keep, "several bases: how many fine-tuned ones are kept")
      ->capture_default_str()
      ->check(positive);
  finetune->add_option("--folds", ft_args.transfer.folds, "several bases: hold-out folds per kept base")
      ->capture_default_str()
      ->check(positive);
  data_args.add_to(*finetune, false);
  finetune->add_option("--samples", ft_args.samples, "train rows drawn (seeded) from the split's train rows")
      ->required()
      ->check(positive);
  auto* frozen_opt = finetune
                        ->add_option("--frozen-layers", ft_args.frozen_layers,
                                     "first layers kept as they are (default: 2 with --recipe paper, the method's; else 0)")
                        ->check(non_negative);
  train_options(finetune, true);
  progress_flag(finetune);
  json_flag(finetune);

  TuneArgs tune_args;
  auto* tune_cmd = app.add_subcommand("tune", "ASHA search over learning rate x momentum x weight decay");
  data_args.add_to(*tune_cmd, false);
  train_space.add_to(*tune_cmd, false);
  train_options(tune_cmd, false);
  tune_cmd->add_option("--threads", tune_args.threads, "worker threads (0: every core)")
      ->capture_default_str()
      ->check(non_negative);
  tune_cmd->add_option("--max-epochs", tune_args.max_epochs, "epochs of a trial never stopped (default: the recipe's, 100)")
      ->check(positive);
  tune_cmd->add_option("--grace-period", tune_args.grace_period, "first rung, in epochs")
      ->capture_default_str()
      ->check(positive);
  tune_cmd->add_option("--reduction-factor", tune_args.reduction_factor, "keep the best 1/F at each rung (F >= 2)")
      ->capture_default_str()
      ->check(positive);
  tune_cmd->add_option("--learning-rates", tune_args.learning_rates, "grid, comma-separated (default 0.1,0.03,0.01,0.003)")
      ->delimiter(',');
  tune_cmd->add_option("--momenta", tune_args.momenta, "grid, comma-separated (default 0,0.5,0.9)")->delimiter(',');
  tune_cmd->add_option("--weight-decays", tune_args.weight_decays, "grid, comma-separated (default 0,1e-5,1e-4)")
      ->delimiter(',');
  progress_flag(tune_cmd);
  json_flag(tune_cmd);

  std::string adapt_base;
  std::size_t adapt_samples = 0;
  auto* adapt = app.add_subcommand(
      "adapt", "a model of a new device from a multi-device model, its fingerprint and N measured samples");
  adapt->add_option("--base", adapt_base, "multi-device model (train --devices, descriptor fingerprint)")->required();
  data_args.add_to(*adapt, false);
  adapt->add_option("--samples", adapt_samples, "train rows drawn (seeded) from the split's train rows; 0: the fingerprint alone")
      ->required()
      ->check(non_negative);
  adapt->add_option("--device-file", device_args.device_file, "device records (JSON); a fingerprint there is used");
  adapt->add_option("--fine-tune-from", device_args.fine_tune_from,
                    "from this many samples on, try fine-tuning the bases too (kept if it does better on a "
                    "20 % hold-out); below, map the best base")
      ->capture_default_str();
  adapt->add_option("--seed", train_args.seed, "samples and fine-tuning")->capture_default_str();
  adapt->add_option("-o,--output", train_args.output, "model file to write")->required();
  json_flag(adapt);

  std::vector<double> predict_hardware;
  std::string predict_device;
  auto* predict = app.add_subcommand("predict", "latency (ms) of architectures from a saved predictor");
  predict->add_option("--model", model, "model file")->required();
  predict->add_option("--arch", arch_arg, "spec JSON, or @FILE (JSON, JSON array, JSON lines, dataset CSV)")
      ->required();
  predict->add_option("--hardware", predict_hardware, "hardware features, comma-separated (models trained with them)")
      ->delimiter(',');
  predict->add_option("--device", predict_device,
                      "multi-device models: a device's name, or @FILE with a new device's record and fingerprint");
  json_flag(predict);

  SpaceArgs import_space;
  std::string npy_dir, import_encoding = "bins8";
  auto* import_torch = app.add_subcommand("import-torch", "save a PyTorch MLP exported one .npy per tensor as a model");
  import_torch->add_option("--npy", npy_dir, "folder of <idx>.weight.npy and <idx>.bias.npy")->required();
  import_torch->add_option("-o,--output", train_args.output, "model file to write")->required();
  import_space.add_to(*import_torch, false);
  import_torch->add_option("--encoding", import_encoding, "resolution encoding the network was trained with")
      ->capture_default_str();
  json_flag(import_torch);

  MeasureArgs measure_args;
  auto measure_options = [&measure_args, &non_negative, &positive](CLI::App* cmd) {
    cmd->add_option("--executor", measure_args.executor, "cpu (built in), torch-cpu or torch-cuda (libtorch builds)")
        ->capture_default_str();
    cmd->add_option("--warmup", measure_args.warmup, "untimed runs first")->capture_default_str()->check(non_negative);
    cmd->add_option("--repeats", measure_args.repeats, "timed runs")->capture_default_str()->check(positive);
    cmd->add_option("--batch", measure_args.batch, "images per run")->capture_default_str()->check(positive);
    cmd->add_option("--threads", measure_args.threads, "libtorch threads (torch-cpu)")->capture_default_str()->check(positive);
    cmd->add_flag("--resume", measure_args.resume, "continue the build in -o (measures only what is missing)");
  };

  SpaceArgs measure_space;
  std::size_t measure_n = 100;
  std::string measure_column = "latency";
  std::string build_output;
  auto* measure_cmd = app.add_subcommand("measure", "time N random sub-networks on this machine into a dataset CSV");
  measure_space.add_to(*measure_cmd, true);
  measure_cmd->add_option("--n", measure_n, "distinct sub-networks")->capture_default_str()->check(positive);
  measure_cmd->add_option("--seed", seed, "which sub-networks")->capture_default_str()->check(non_negative);
  measure_cmd->add_option("--column", measure_column, "latency column (median); _mean, _p90, _std, _runs follow")
      ->capture_default_str();
  measure_cmd->add_option("-o,--output", build_output, "dataset CSV to write")->required();
  measure_options(measure_cmd);
  progress_flag(measure_cmd);
  json_flag(measure_cmd);

  SpaceArgs search_space;
  SearchArgs search_args;
  auto* search = app.add_subcommand("search", "OFA's evolutionary search under latency budgets; prints the winners");
  search_space.add_to(*search, true);
  search->add_option("--latency", search_args.latency, "lut:DIR|FILE.json, model:FILE (a latency predictor) or measure:cpu")
      ->required();
  search->add_option("--accuracy", search_args.accuracy, "model:FILE (an accuracy predictor, e.g. from import-torch)")
      ->required();
  search->add_option("--budget", search_args.budgets, "latency budget in ms (repeat for several; they share evaluations)")
      ->required()
      ->take_all();
  search->add_option("--seed", search_args.seed, "random seed")->capture_default_str()->check(non_negative);
  search->add_option("--generations", search_args.generations, "generations")->capture_default_str()->check(positive);
  search->add_option("--population", search_args.population, "population")->capture_default_str()->check(positive);
  search->add_option("--margin", search_args.margin, "safety margin: latency x (1 + margin) must meet the budget")
      ->capture_default_str()
      ->check(non_negative);
  search->add_flag("--memoize", search_args.memoize, "cache every score by network (same winners, fewer evaluations)");
  search->add_option("--pareto", search_args.pareto, "write the Pareto front (latency, accuracy) as a dataset CSV");
  progress_flag(search);
  json_flag(search);

  SpaceArgs lut_space;
  std::string lut_path;
  auto* lut_cmd = app.add_subcommand("lut", "OFA-compatible latency lookup tables");
  lut_cmd->require_subcommand(1);
  auto* lut_predict = lut_cmd->add_subcommand("predict", "latency (ms) of architectures: the sum of their layers' table entries");
  lut_predict->add_option("--lut", lut_path, "folder of <r>_lookup_table.yaml (OFA's layout) or a .json table file")
      ->required();
  lut_space.add_to(*lut_predict, true);
  lut_predict->add_option("--arch", arch_arg, "spec JSON, or @FILE (JSON, JSON array, JSON lines, dataset CSV)")
      ->required();
  json_flag(lut_predict);
  SpaceArgs lut_build_space;
  auto* lut_build = lut_cmd->add_subcommand("build", "measure every layer key of a space alone into OFA's YAML folder");
  lut_build_space.add_to(*lut_build, true);
  lut_build->add_option("-o,--output", build_output, "folder of <r>_lookup_table.yaml")->required();
  measure_options(lut_build);
  progress_flag(lut_build);
  json_flag(lut_build);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*info) return cmd_info(as_json);
    if (*count) return cmd_count(space_args, as_json);
    if (*sample) return cmd_sample(space_args, n, seed, distinct, image_size, as_json);
    if (*macs) return cmd_macs(space_args, arch_arg, show_layers, as_json);
    if (*encode) return cmd_encode(space_args, arch_arg, encoding, hardware, as_json);
    if (*validate) return cmd_validate(space_args, file, as_json);
    const Progress progress(show_progress);
    if (*quickstart) return cmd_quickstart(quick, progress, as_json);
    if (*train) {
      if (!device_args.devices.empty()) {
        if (!data_args.target.empty()) throw hwnas::InvalidArgument("train: give --target or --devices, not both");
        return cmd_train_devices(data_args, train_space, train_args, device_args, progress, as_json);
      }
      if (data_args.target.empty()) throw hwnas::InvalidArgument("train: --target (one device) or --devices (several) is required");
      return cmd_train(data_args, train_space, train_args, progress, as_json);
    }
    if (*adapt) return cmd_adapt(data_args, train_args, adapt_base, adapt_samples, device_args, as_json);
    if (*eval) return cmd_eval(data_args, model, as_json);
    ft_args.frozen_given = frozen_opt->count() > 0;
    if (*finetune) return cmd_finetune(data_args, train_args, ft_args, progress, as_json);
    if (*tune_cmd) return cmd_tune(data_args, train_space, train_args, tune_args, progress, as_json);
    if (*predict) return cmd_predict(model, arch_arg, predict_hardware, predict_device, as_json);
    if (*measure_cmd) {
      return cmd_measure(measure_space, measure_args, measure_n, seed, measure_column, build_output, progress, as_json);
    }
    if (*search) return cmd_search(search_space, search_args, progress, as_json);
    if (*lut_build) return cmd_lut_build(lut_build_space, measure_args, build_output, progress, as_json);
    if (*lut_predict) return cmd_lut_predict(lut_space, lut_path, arch_arg, as_json);
    if (*import_torch) return cmd_import_torch(import_space, npy_dir, import_encoding, train_args.output, as_json);
  } catch (const hwnas::Error& e) {
    std::cerr << "hwnas: error: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "hwnas: unexpected error: " << e.what() << '\n';
    return 3;
  }
  return 0;
}
