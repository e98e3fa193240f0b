// The pieces the command groups share: option groups, validators, loading
// a dataset and its split, progress lines and output helpers.
#include "common.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif

#include <fmt/core.h>

#include "hwnas/io/arch.hpp"
#include "hwnas/io/lut.hpp"
#include "hwnas/io/space.hpp"
#include "hwnas/predictor/model_file.hpp"
#include "hwnas/search/evolution.hpp"
#include "hwnas/space/fbnet_space.hpp"

namespace hwnas_cli {

namespace {

using Clock = std::chrono::steady_clock;

bool stderr_is_terminal() {
#if defined(_WIN32)
  return _isatty(_fileno(stderr)) != 0;
#else
  return ::isatty(STDERR_FILENO) != 0;
#endif
}

}  // namespace

const CLI::Validator& non_negative() {
  // CLI::NonNegativeNumber would print DBL_MAX in full.
  static const CLI::Validator v(
      [](std::string& value) {
        const auto first = value.find_first_not_of(" \t");
        return first != std::string::npos && value[first] == '-' ? "must not be negative, found " + value
                                                                   : std::string();
      },
      "NON-NEGATIVE");
  return v;
}

const CLI::Validator& positive() {
  static const CLI::Validator v(
      [](std::string& value) {
        const auto first = value.find_first_not_of(" \t");
        const bool negative = first != std::string::npos && value[first] == '-';
        const bool zero = first != std::string::npos && value.find_first_not_of("0 \t", first) == std::string::npos;
        return negative || zero ? "must be positive, found " + value : std::string();
      },
      "POSITIVE");
  return v;
}

CLI::Validator real_in(double low, bool low_closed, double high, bool high_closed, const std::string& text) {
  return CLI::Validator(
      [=](std::string& value) {
        double v = 0;
        std::size_t used = 0;
        try {
          v = std::stod(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const bool ok = used == value.size() && std::isfinite(v) && (low_closed ? v >= low : v > low) &&
                        (high_closed ? v <= high : v < high);
        return ok ? std::string() : "must be a number " + text + ", found " + value;
      },
      "REAL");
}

void add_json_flag(CLI::App& cmd, bool& as_json) {
  cmd.add_flag("--json", as_json, "print one JSON object on stdout");
}

void add_progress_flag(CLI::App& cmd, bool& progress) {
  cmd.add_flag("--progress", progress,
               "progress lines on stderr even when it is not a terminal (they are shown on a terminal anyway)");
}

void SpaceArgs::add_to(CLI::App& cmd) {
  cmd.add_option("--space", space,
                 "search space: ofa-mbv3, compofa-fixed, compofa-elastic, ofa-proxyless, fbnet, fbnet-imagenet, or "
                 "@FILE.json (a categorical space's definition, docs/spaces.md)")
      ->capture_default_str();
  cmd.add_option("--width", width,
                 "width multiplier of the supernet (OFA publishes 1.0 and 1.2 for MobileNetV3, 1.3 for ProxylessNAS)")
      ->capture_default_str();
  add_list_option(cmd, "--resolutions", resolutions, "resolutions (default: 128..224 step 4)");
}

AnySpace SpaceArgs::make_any() const {
  const bool fbnet = space == "fbnet" || space == "fbnet-imagenet";
  if (!fbnet && (space.empty() || space[0] != '@')) {
    auto s = MbConvSpace::preset(space, width);
    return resolutions.empty() ? s : s.with_resolutions(resolutions);
  }
  if (width != 1.0 || !resolutions.empty()) {
    throw hwnas::InvalidArgument("--space " + space + ": a categorical space has no width or resolutions; leave "
                                 "--width and --resolutions out");
  }
  if (fbnet) return hwnas::fbnet_space(space == "fbnet" ? hwnas::FbnetInput::cifar100 : hwnas::FbnetInput::imagenet);
  return hwnas::read_space_file(space.substr(1));
}

MbConvSpace SpaceArgs::make(const char* who) const {
  auto any = make_any();
  if (auto* s = std::get_if<MbConvSpace>(&any)) return std::move(*s);
  throw hwnas::InvalidArgument("--space " + space + ": " + who +
                               " needs an MBConv space (ofa-mbv3, compofa-fixed, compofa-elastic, ofa-proxyless)");
}

AnySpace SpaceArgs::make_with_layers(const char* who) const {
  auto any = make_any();
  const auto* s = std::get_if<CategoricalSpace>(&any);
  if (s != nullptr && !s->has_layers()) {
    throw hwnas::InvalidArgument("--space " + space + ": " + who + " needs a layer list; space '" + s->name() +
                                 "' has none (give its definition 'stem', 'layers' per decision and 'head', "
                                 "docs/spaces.md)");
  }
  return any;
}

bool model_is_categorical(const std::string& path) {
  return hwnas::model_space_family(path) == hwnas::detail::kCategoricalFamily;
}

void ModelSpaceArgs::add_to(CLI::App& cmd) {
  cmd.add_option("--space", space, "check that the model is of this space (the model holds its space)");
  cmd.add_option("--width", width, "check that the model is of this width (the model holds its space)")
      ->check(real_in(0, false, HUGE_VAL, false, "> 0"));
}

void ModelSpaceArgs::check(const MbConvSpace& model, const std::string& option, const std::string& path) const {
  const bool space_ok = space.empty() || space == model.name();
  const bool width_ok = width == 0 || width == model.options().width;
  if (space_ok && width_ok) return;
  const std::string given = (space.empty() ? model.name() : space) + " w" +
                            hwnas::detail::width_text(width == 0 ? model.options().width : width);
  std::string options;
  if (!space.empty()) options = "--space " + space;
  if (width != 0) options += (options.empty() ? "" : " ") + std::string("--width ") + hwnas::detail::format_double(width);
  throw hwnas::InvalidArgument(options + ": " + option + " " + path + " is a model of " +
                               hwnas::detail::space_label(model) + ", not of " + given +
                               " (a model scores the space it was trained on)");
}

void ModelSpaceArgs::check(const CategoricalSpace& model, const std::string& option, const std::string& path) const {
  if (width != 0) {
    throw hwnas::InvalidArgument("--width: " + option + " " + path + " is a model of the categorical space '" +
                                 model.name() + "', which has no width");
  }
  if (!space.empty() && space != model.name()) {
    throw hwnas::InvalidArgument("--space " + space + ": " + option + " " + path + " is a model of space '" +
                                 model.name() + "' (a model scores the space it was trained on)");
  }
}

Json space_json(const MbConvSpace& space) { return {{"space", space.name()}, {"width", space.options().width}}; }
Json space_json(const CategoricalSpace& space) { return {{"space", space.name()}}; }

void ArchArgs::add_to(CLI::App& cmd) {
  cmd.add_option("--arch", arch,
                 "spec JSON, or @FILE: a spec, a JSON array or JSON lines of specs, a dataset CSV, or an OFA "
                 "net.config")
      ->required();
  cmd.add_option("--image-size", image_size,
                 "input resolution of a net.config given to --arch (default: image_size of the run.config next to "
                 "it)")
      ->check(positive());
}

namespace {

/// The resolution of the net.config `net`: --image-size, else the run.config
/// OFA writes next to it (net.config -> run.config, X.net.json -> X.run.json).
int net_config_resolution(const std::filesystem::path& net, int image_size, const std::string& arg) {
  if (image_size > 0) return image_size;
  std::vector<std::filesystem::path> candidates;
  const std::string name = net.filename().string();
  if (const auto at = name.rfind("net"); at != std::string::npos) {
    candidates.push_back(net.parent_path() / (name.substr(0, at) + "run" + name.substr(at + 3)));
  }
  if (name != "net.config") candidates.push_back(net.parent_path() / "run.config");
  std::error_code ec;
  std::string looked;
  for (const auto& c : candidates) {
    if (std::filesystem::is_regular_file(c, ec)) return hwnas::read_run_config_image_size(c);
    looked += (looked.empty() ? "" : ", ") + c.string();
  }
  throw hwnas::InvalidArgument("--arch " + arg +
                               ": a net.config, whose resolution comes from the run.config next to it (looked for " +
                               looked + ") or from --image-size R");
}

}  // namespace

ArchList ArchArgs::load(const MbConvSpace& space, bool validate) const {
  ArchList out;
  bool net_config = false;
  if (arch.empty() || arch[0] != '@') {
    out.archs = hwnas::parse_arch_list(arch, "--arch");
  } else if (const std::filesystem::path path = arch.substr(1); path.extension() == ".csv") {
    auto data = hwnas::Dataset::read_csv(path);
    out.archs = data.archs();
    out.ids = data.ids();
  } else if (const std::string text = hwnas::detail::read_file(path); hwnas::is_net_config(text)) {
    const auto config = hwnas::parse_net_config(text, net_config_resolution(path, image_size, arch), path.string());
    const auto matched = hwnas::match_net_config(config, space);
    if (!matched) {
      throw hwnas::InvalidArgument("--arch " + arch + ": the " + config.name + " net.config at r = " +
                                   std::to_string(config.resolution) + " is not a network of " +
                                   hwnas::detail::space_label(space) + " (--space, --width, --resolutions)");
    }
    out.archs.push_back(*matched);
    net_config = true;
  } else {
    out.archs = hwnas::parse_arch_list(text, path.string());
  }
  if (image_size > 0 && !net_config) {
    throw hwnas::InvalidArgument("--image-size: only for a net.config given to --arch, and --arch " +
                                 arch.substr(0, 40) + " is not one");
  }
  if (validate) {
    for (std::size_t i = 0; i < out.archs.size(); ++i) {
      try {
        space.validate(out.archs[i]);
      } catch (const hwnas::InvalidArgument& e) {
        throw hwnas::InvalidArgument("--arch: architecture " + std::to_string(i) + ": " + e.what());
      }
    }
  }
  return out;
}

hwnas::LookupTables load_luts(const std::string& path) {
  if (std::filesystem::is_directory(path)) return hwnas::read_lut_folder(path);
  return hwnas::read_lut_json(path);
}

void DataArgs::add_to(CLI::App& cmd, bool split_all, bool target_required) {
  cmd.add_option("--data", csv, "dataset CSV (docs/dataset.md)")->required();
  cmd.add_option("--target", target, "device column of the CSV to predict")->required(target_required);
  cmd.add_option("--split", split,
                 std::string("benchmark (id % 20), random:SEED (70/15/15), ids:A-B,[C-D,]E-F (id ranges of train, "
                             "validation, test)") +
                     (split_all ? " or all (every row)" : ""))
      ->capture_default_str();
}

BasicArchList<CategoricalArch> ArchArgs::load(const CategoricalSpace& space) const {
  if (image_size > 0) {
    throw hwnas::InvalidArgument("--image-size: only for an OFA net.config, not for space " + space.name());
  }
  BasicArchList<CategoricalArch> out;
  if (arch.empty() || arch[0] != '@') {
    out.archs = hwnas::parse_categorical_arch_list(arch, space, "--arch");
  } else if (const std::filesystem::path path = arch.substr(1); path.extension() == ".csv") {
    const auto data = hwnas::BasicDataset<CategoricalArch>::read_csv(path, space.columns());
    out.archs = data.archs();
    out.ids = data.ids();
  } else {
    out.archs = hwnas::read_categorical_arch_file(path, space);
  }
  return out;  // every form checks each choice against the space
}

std::vector<Architecture> read_archs(const MbConvSpace&, const std::string& path) {
  return hwnas::read_arch_file(path);
}

std::vector<CategoricalArch> read_archs(const CategoricalSpace& space, const std::string& path) {
  return hwnas::read_categorical_arch_file(path, space);
}

Json arch_json(const MbConvSpace&, const Architecture& arch) { return Json(arch); }

Json arch_json(const CategoricalSpace& space, const CategoricalArch& arch) {
  return Json::parse(hwnas::categorical_arch_to_json(arch, space).dump());
}

hwnas::SplitSpec parse_split(const DataArgs& args, bool allow_all, const char* who) {
  hwnas::SplitSpec choice;
  try {
    choice = hwnas::SplitSpec::parse(args.split);  // before reading: a typo fails fast
  } catch (const hwnas::InvalidArgument& e) {
    throw hwnas::InvalidArgument(std::string("--") + e.what());
  }
  if (!allow_all && choice.kind == hwnas::SplitSpec::Kind::all) {
    throw hwnas::InvalidArgument(std::string("--split all: ") + who +
                                 " needs train, validation and test rows; use benchmark or random:SEED");
  }
  return choice;
}

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

hwnas::Recipe make_recipe(const TrainArgs& args) {
  auto recipe = make_recipe(args.recipe, args.epochs, args.seed);
  auto& t = recipe.training;
  if (!std::isnan(args.learning_rate)) t.learning_rate = args.learning_rate;
  if (!std::isnan(args.momentum)) t.momentum = args.momentum;
  if (!std::isnan(args.weight_decay)) t.weight_decay = args.weight_decay;
  return recipe;
}

void print_json(const Json& j) { std::cout << hwnas::dump_json(j) << '\n'; }

void print_predictions(const std::vector<double>& values, const std::vector<std::int64_t>& ids, const Json& fields,
                       bool as_json) {
  if (as_json) {
    // A dataset's rows say which id each latency is; specs have no ids.
    Json rows = Json::array();
    for (std::size_t i = 0; i < ids.size(); ++i) rows.push_back({{"id", ids[i]}, {"latency", values[i]}});
    Json j = {{"predictions", ids.empty() ? Json(values) : rows}};
    j.update(fields);
    print_json(j);
    return;
  }
  std::cout << std::setprecision(6);
  if (ids.empty()) {
    for (double v : values) std::cout << v << '\n';
    return;
  }
  std::cout << "id,latency\n";
  for (std::size_t i = 0; i < values.size(); ++i) std::cout << ids[i] << ',' << values[i] << '\n';
}

std::string metrics_text(const hwnas::RegressionMetrics& m) {
  return fmt::format(
      "RMSE {:.4g} ms ({:.2f} %), MAE {:.4g} ms, MAPE {:.2f} %, median APE {:.2f} %, within 5 % {:.1f} %, "
      "within 10 % {:.1f} %, Kendall {:.4f}, Spearman {:.4f} ({} rows)",
      m.rmse, m.rmse_pct, m.mae, m.mape, m.median_ape, m.within5, m.within10, m.kendall, m.spearman, m.n);
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

Progress::Progress(bool forced) : on_(forced || stderr_is_terminal()) {}

std::function<bool(const hwnas::EpochInfo&)> Progress::epoch_hook(std::size_t total) const {
  if (!on_) return {};
  return [total, last = Clock::now()](const hwnas::EpochInfo& e) mutable {
    const auto now = Clock::now();
    if (now - last < std::chrono::seconds(1) && e.epoch + 1 != total) return false;
    last = now;
    std::string line = fmt::format("epoch {}/{}  train {:.4f}", e.epoch + 1, total, e.train_loss);
    if (!std::isnan(e.validation_rmse)) line += fmt::format("  val RMSE {:.4g} ms", e.validation_rmse);
    std::cerr << line << std::endl;
    return false;
  };
}

void Progress::line(const std::string& text) const {
  if (on_) std::cerr << text << std::endl;
}

std::function<bool(const hwnas::measure::BuildProgress&)> Progress::build_hook(const std::string& what) const {
  if (!on_) return {};
  const bool tty = stderr_is_terminal();
  return [what, tty, last = Clock::time_point{}](const hwnas::measure::BuildProgress& p) mutable {
    const auto now = Clock::now();
    const bool end = p.done == p.total;
    if (!end && now - last < (tty ? std::chrono::milliseconds(200) : std::chrono::milliseconds(10000))) return false;
    last = now;
    const int width = 30;
    const int filled = p.total == 0 ? width : static_cast<int>(width * p.done / p.total);
    const std::string eta = std::isnan(p.eta_s) ? "?" : fmt::format("{:.0f} s", p.eta_s);
    const std::string text =
        fmt::format("{} [{}{}] {}/{}, {:.0f} s, ETA {}", what, std::string(static_cast<std::size_t>(filled), '#'),
                    std::string(static_cast<std::size_t>(width - filled), '.'), p.done, p.total, p.elapsed_s, eta);
    std::cerr << (tty ? "\r" : "") << text << (tty && !end ? "" : "\n") << std::flush;
    return false;
  };
}

}  // namespace hwnas_cli
