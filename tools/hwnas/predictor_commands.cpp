// Latency predictors: train, eval, finetune, predict, import-torch (tune has
// its own file; train --devices and adapt are in device_commands.cpp).
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <type_traits>
#include <variant>

#include <fmt/core.h>

#include "common.hpp"
#include "hwnas/detail/file_io.hpp"
#include "hwnas/io/device.hpp"
#include "hwnas/predictor/device_predictor.hpp"
#include "hwnas/predictor/model_file.hpp"
#include "hwnas/predictor/torch_import.hpp"
#include "hwnas/predictor/transfer.hpp"
#include "hwnas/search/score.hpp"

namespace hwnas_cli {

namespace {

template <class Space>
using Predictor = hwnas::LatencyPredictor<float, Space>;

/// Runs f(ensemble) with the model at `path` loaded for the kind of space
/// it holds.
template <class F>
int with_ensemble(const std::string& path, F&& f) {
  if (model_is_categorical(path)) return f(hwnas::load_ensemble<float, CategoricalSpace>(path));
  return f(hwnas::load_ensemble<float>(path));
}

/// --recipe, --seed (and --epochs, -o) of train and finetune.
void add_train_args(CLI::App& cmd, TrainArgs& args) {
  cmd.add_option("--recipe", args.recipe,
                 "paper (the method exactly), default (hwnas's best; train's and tune's default) or finetune "
                 "(default, for N samples; finetune's default)");
  cmd.add_option("--seed", args.seed, "seed of the initialisation, the batches (and finetune's samples)")
      ->capture_default_str()
      ->check(non_negative());
  cmd.add_option("--epochs", args.epochs, "epochs (default: the recipe's, 100)")->check(positive());
  cmd.add_option("-o,--output", args.output, "model file to write")->required();
}

// ---------------------------------------------------------------- train ----

struct TrainOptions {
  DataArgs data;
  SpaceArgs space;
  TrainArgs train;
  std::string from_tune;  ///< tune --json's output: its best trial's hyper-parameters
  DeviceTrainArgs devices;
  bool progress = false;
  bool json = false;
};

/// --from-tune FILE: the hyper-parameters of the best trial of `tune --json`
/// (those --learning-rate, --momentum, --weight-decay do not give), its
/// recipe (train's must be the same) and its epochs (unless --epochs).
void take_tuned(TrainArgs& args, const std::string& path) {
  const std::string text = hwnas::detail::read_file(path);
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    throw hwnas::FormatError(path, 0, 0, std::string("malformed JSON: ") + e.what());
  }
  const auto number = [&](const char* object, const char* field) {
    const Json* v = &j;
    if (object) v = v->is_object() && v->contains(object) ? &(*v)[object] : nullptr;
    if (!v || !v->is_object() || !v->contains(field) || !(*v)[field].is_number()) {
      throw hwnas::FormatError(path, 0, 0, std::string("expected the output of tune --json: no number '") +
                                               (object ? std::string(object) + "." : "") + field + "'");
    }
    return (*v)[field].get<double>();
  };
  if (std::isnan(args.learning_rate)) args.learning_rate = number("best", "learning_rate");
  if (std::isnan(args.momentum)) args.momentum = number("best", "momentum");
  if (std::isnan(args.weight_decay)) args.weight_decay = number("best", "weight_decay");
  const std::string tuned = j.contains("recipe") && j["recipe"].is_string() ? j["recipe"].get<std::string>() : "";
  if (tuned.empty()) throw hwnas::FormatError(path, 0, 0, "expected the output of tune --json: no string 'recipe'");
  if (args.recipe.empty()) {
    args.recipe = tuned;
  } else if (args.recipe != tuned) {
    throw hwnas::InvalidArgument("--from-tune " + path + ": tuned with the " + tuned + " recipe, but --recipe " +
                                 args.recipe + "; train with the recipe it was tuned with");
  }
  if (args.epochs == 0) args.epochs = static_cast<std::size_t>(number(nullptr, "max_epochs"));
}

template <class Space>
int train_one(const Space& space, const TrainOptions& o, const TrainArgs& args, const hwnas::Recipe& recipe,
              const Progress& progress) {
  check_output_path(args.output);
  const auto table = load_table(o.data, table_layout(space), false, "train");
  require_rows(table.split.train.size(), "train", table, o.data);
  require_rows(table.split.test.size(), "test", table, o.data);
  const auto [xt, yt] = table.rows(table.split.train, space, o.data.csv);
  const auto [xv, yv] = table.rows(table.split.validation, space, o.data.csv);
  const auto [xs, ys] = table.rows(table.split.test, space, o.data.csv);

  Predictor<Space> predictor(space, recipe.predictor);
  auto options = recipe.training;
  options.on_epoch = progress.epoch_hook(options.epochs);
  const auto report = predictor.fit(xt, yt, xv, yv, options);
  warn_if_diverged(report);
  hwnas::save_predictor(predictor, args.output);
  const auto m = predictor.evaluate(xs, ys);

  if (o.json) {
    Json j = {{"test", m}};
    j.update(Json(report));
    j.update({{"recipe", args.recipe}, {"target", o.data.target}, {"split", table.choice.text}});
    j.update(space_json(space));
    j.update({{"seed", args.seed},
              {"learning_rate", recipe.training.learning_rate},
              {"momentum", recipe.training.momentum},
              {"weight_decay", recipe.training.weight_decay},
              {"n_train", xt.size()},
              {"n_validation", xv.size()},
              {"n_test", xs.size()},
              {"model", args.output}});
    print_json(j);
    return 0;
  }
  const bool tuned = !std::isnan(args.learning_rate) || !std::isnan(args.momentum) || !std::isnan(args.weight_decay);
  std::cout << "trained " << o.data.target << " (" << args.recipe << " recipe"
            << (tuned ? fmt::format(" with lr {:g}, momentum {:g}, weight decay {:g}", recipe.training.learning_rate,
                                    recipe.training.momentum, recipe.training.weight_decay)
                      : "")
            << ", " << table.choice.text
            << " split: " << xt.size() << " train, " << xv.size() << " validation, " << xs.size()
            << " test rows): " << fit_text(report) << "\n"
            << "test: " << metrics_text(m) << "\n"
            << "saved " << args.output << "\n";
  return 0;
}

int run_train(const TrainOptions& o) {
  const Progress progress(o.progress);
  auto args = o.train;
  if (!o.from_tune.empty()) take_tuned(args, o.from_tune);
  if (!o.devices.devices.empty()) {
    if (!o.data.target.empty()) throw hwnas::InvalidArgument("train: give --target or --devices, not both");
    return run_train_devices(o.data, o.space, args, o.devices, progress, o.json);
  }
  if (o.data.target.empty()) {
    throw hwnas::InvalidArgument("train: --target (one device) or --devices (several) is required");
  }
  if (args.recipe.empty()) args.recipe = "default";
  const auto recipe = make_recipe(args);
  return std::visit([&](const auto& space) { return train_one(space, o, args, recipe, progress); },
                    o.space.make_any());
}

// ----------------------------------------------------------------- eval ----

struct EvalOptions {
  std::string model;
  ModelSpaceArgs model_space;
  DataArgs data;
  bool json = false;
};

int run_eval(const EvalOptions& o) {
  return with_ensemble(o.model, [&](const auto& predictor) {
    o.model_space.check(predictor.space(), "--model", o.model);
    const auto table = load_table(o.data, table_layout(predictor.space()), true, "eval");
    require_rows(table.split.test.size(), "test", table, o.data);
    const auto [xs, ys] = table.rows(table.split.test, predictor.space(), o.data.csv);
    const auto predicted = predictor.predict(xs);
    const auto m = hwnas::evaluate(predicted, ys);
    if (o.json) {
      print_json({{"test", m},
                  {"latency_margin", hwnas::latency_margin(predicted, ys)},
                  {"model", o.model},
                  {"target", o.data.target},
                  {"split", table.choice.text},
                  {"n_test", xs.size()}});
      return 0;
    }
    std::cout << o.model << " on " << o.data.target << ", "
              << (table.choice.kind == hwnas::SplitSpec::Kind::all ? "every row"
                                                                    : "test rows of the " + table.choice.text + " split")
              << ": " << metrics_text(m) << "\n";
    return 0;
  });
}

// ------------------------------------------------------------- finetune ----

struct FinetuneOptions {
  DataArgs data;
  TrainArgs train;
  std::vector<std::string> bases;  ///< one: fine-tune it; several: fine_tune_from, an ensemble
  ModelSpaceArgs model_space;
  std::size_t samples = 0;
  hwnas::TransferOptions transfer;
  std::size_t frozen_layers = 0;
  CLI::Option* frozen_option = nullptr;  ///< given: otherwise 2 for the paper recipe (the method's), else 0
  bool progress = false;
  bool json = false;
};

template <class Space>
int finetune_from(const FinetuneOptions& o) {
  const Progress progress(o.progress);
  auto args = o.train;
  if (args.recipe.empty()) args.recipe = "finetune";
  const std::size_t frozen_layers = o.frozen_option->count() > 0 ? o.frozen_layers : args.recipe == "paper" ? 2 : 0;
  auto recipe = make_recipe(args.recipe, args.epochs, args.seed);
  check_output_path(args.output);
  std::vector<Predictor<Space>> bases;
  for (const auto& path : o.bases) {
    if (model_is_categorical(path) != std::is_same_v<Space, CategoricalSpace>) {
      throw hwnas::InvalidArgument("--base " + path + " is a model of " +
                                   (model_is_categorical(path) ? "a categorical" : "an MBConv") +
                                   " space but --base " + o.bases.front() + " is not");
    }
    bases.push_back(hwnas::load_predictor<float, Space>(path));
    const auto& p = bases.back();
    o.model_space.check(p.space(), "--base", path);
    if (!(p.space() == bases.front().space())) {
      throw hwnas::InvalidArgument("--base " + path + " searches space '" + p.space().name() + "' but --base " +
                                   o.bases.front() + " searches '" + bases.front().space().name() +
                                   "' (or the same name with other options)");
    }
    if (frozen_layers >= p.network().num_layers()) {
      throw hwnas::InvalidArgument("--frozen-layers " + std::to_string(frozen_layers) + ": the base model has " +
                                   std::to_string(p.network().num_layers()) +
                                   " layers and at least the last must train (--base " + path + ")");
    }
  }
  const auto table = load_table(o.data, table_layout(bases.front().space()), false, "finetune");
  require_rows(table.split.test.size(), "test", table, o.data);
  if (o.samples > table.split.train.size()) {
    throw hwnas::InvalidArgument("--samples " + std::to_string(o.samples) + " is more than the " +
                                 std::to_string(table.split.train.size()) + " train rows of the " +
                                 table.choice.text + " split of '" + o.data.csv + "'");
  }
  const auto chosen = hwnas::random_subset(table.split.train, o.samples, args.seed);
  const auto& space = bases.front().space();
  const auto [xt, yt] = table.rows(chosen, space, o.data.csv);
  const auto [xs, ys] = table.rows(table.split.test, space, o.data.csv);

  // Fine-tuning sees the N samples and nothing else: the recipe's hold-out
  // (finetune: 20 % of them) plays the validation rows.
  auto options = recipe.training;
  options.frozen_layers = frozen_layers;
  options.on_epoch = progress.epoch_hook(options.epochs);
  Json fit;  // what the fine-tuning reports: train's fit fields, or fine_tune_from's
  std::size_t holdout = 0;
  std::ostringstream text;
  hwnas::RegressionMetrics m;
  if (bases.size() == 1) {
    auto& predictor = bases.front();
    const auto report = predictor.fine_tune(xt, yt, {}, {}, options);
    warn_if_diverged(report);
    hwnas::save_predictor(predictor, args.output);
    m = predictor.evaluate(xs, ys);
    fit = report;
    fit["base"] = o.bases.front();
    holdout = report.validation_rows;
    text << "fine-tuned " << o.bases.front() << " to " << o.data.target << " with " << o.samples << " samples ("
         << frozen_layers << " frozen layers, " << args.recipe << " recipe, " << report.validation_rows
         << " of them held out): " << fit_text(report) << "\n";
  } else {
    // Several bases: the hold-out folds of fine_tune_from (the finetune
    // recipe's 20 % unless the recipe holds out more).
    if (options.holdout == 0) options.holdout = hwnas::finetune_recipe().training.holdout;
    auto transfer = o.transfer;
    transfer.training = options;
    hwnas::TransferReport report;
    const auto ensemble = hwnas::fine_tune_from<float, Space>(bases, xt, yt, transfer, &report);
    for (const auto& c : report.candidates) {
      for (const auto& f : c.fits) warn_if_diverged(f);
    }
    hwnas::save_ensemble(ensemble, args.output);
    m = ensemble.evaluate(xs, ys);
    Json candidates = Json::array();
    for (const auto& c : report.candidates) {
      Json cj = c;
      cj["base"] = o.bases[c.base];
      candidates.push_back(std::move(cj));
    }
    fit = {{"train_s", report.seconds},
           {"bases", o.bases},
           {"candidates", candidates},
           {"members", ensemble.size()},
           {"folds", transfer.folds}};
    holdout = report.validation_rows;
    text << "fine-tuned " << report.candidates.size() << " of " << bases.size() << " bases to " << o.data.target
         << " with " << o.samples << " samples (" << args.recipe << " recipe, " << transfer.folds << " fold"
         << (transfer.folds == 1 ? "" : "s") << " of " << report.validation_rows << " held out) in " << std::fixed
         << std::setprecision(2) << report.seconds << " s" << std::defaultfloat << std::setprecision(4) << ":\n";
    for (const auto& c : report.candidates) {
      text << "  " << o.bases[c.base] << ": line fit RMSE " << c.line_fit_rmse << " ms, fine-tuned validation RMSE "
           << c.validation_rmse << " ms" << (c.kept ? ", kept" : "") << "\n";
    }
    text << "ensemble of " << ensemble.size() << " fine-tuned predictors\n";
  }
  if (o.json) {
    Json j = {{"test", m}};
    j.update(fit);
    j.update({{"recipe", args.recipe},
              {"target", o.data.target},
              {"split", table.choice.text},
              {"seed", args.seed},
              {"samples", o.samples},
              {"frozen_layers", frozen_layers},
              {"n_train", xt.size()},
              {"n_holdout", holdout},
              {"n_test", xs.size()},
              {"model", args.output}});
    print_json(j);
    return 0;
  }
  std::cout << text.str() << "test: " << metrics_text(m) << "\n"
            << "saved " << args.output << "\n";
  return 0;
}

int run_finetune(const FinetuneOptions& o) {
  return model_is_categorical(o.bases.front()) ? finetune_from<CategoricalSpace>(o) : finetune_from<MbConvSpace>(o);
}

// -------------------------------------------------------------- predict ----

struct PredictOptions {
  std::string model;
  ModelSpaceArgs model_space;
  ArchArgs arch;
  std::vector<double> hardware;
  std::string device;
  bool json = false;
};

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

int run_predict(const PredictOptions& o) {
  const bool devices_model = hwnas::read_model_kind(o.model) == "latency-devices";
  if (devices_model != !o.device.empty()) {
    throw hwnas::InvalidArgument(devices_model
                                     ? "--model " + o.model + " holds several devices: choose one with --device"
                                     : "--device: --model " + o.model + " is a single-device model");
  }
  if (devices_model) {
    const auto with_model = [&](const auto& m) {
      o.model_space.check(m.space(), "--model", o.model);
      const auto device = device_from_arg(o.device);
      if (!m.find(device.name) && device.fingerprint.empty() && m.mode() != hwnas::DescriptorMode::spec) {
        std::string known;
        for (const auto& d : m.devices()) known += (known.empty() ? "" : ", ") + d.name;
        throw hwnas::InvalidArgument("--device " + o.device + ": not a device of " + o.model + " (" + known +
                                     "); for a new device pass @FILE with its fingerprint");
      }
      const auto list = load_archs(o.arch, m.space());
      print_predictions(m.predict(device, list.archs), list.ids, {{"model", o.model}, {"device", device.name}}, o.json);
      return 0;
    };
    if (model_is_categorical(o.model)) {
      return with_model(hwnas::load_device_predictor<float, CategoricalSpace>(o.model));
    }
    return with_model(hwnas::load_device_predictor<float>(o.model));
  }
  return with_ensemble(o.model, [&](const auto& predictor) {
    o.model_space.check(predictor.space(), "--model", o.model);
    const std::size_t hw = predictor.hardware_features();
    if (o.hardware.size() != hw) {
      throw hwnas::InvalidArgument("--hardware: the model takes " + std::to_string(hw) + " hardware features, found " +
                                   std::to_string(o.hardware.size()));
    }
    const auto list = load_archs(o.arch, predictor.space());
    print_predictions(predictor.predict(list.archs, o.hardware), list.ids, {{"model", o.model}}, o.json);
    return 0;
  });
}

// --------------------------------------------------------- import-torch ----

struct ImportOptions {
  std::string npy;
  std::string output;
  SpaceArgs space;
  std::string encoding = "bins8";
  bool json = false;
};

int run_import_torch(const ImportOptions& o) {
  check_output_path(o.output);
  hwnas::Encoder::Options eo;
  eo.resolution = hwnas::resolution_encoding_from_string(o.encoding);
  const auto predictor = hwnas::import_torch_npy<float>(o.npy, o.space.make("import-torch"), eo);
  hwnas::save_predictor(predictor, o.output);
  const auto& sizes = predictor.network().sizes();
  if (o.json) {
    print_json({{"model", o.output},
                {"npy", o.npy},
                {"space", predictor.space().name()},
                {"width", predictor.space().options().width},
                {"encoding", o.encoding},
                {"layer_sizes", sizes},
                {"parameters", predictor.network().num_parameters()}});
    return 0;
  }
  std::cout << "imported a ";
  for (std::size_t i = 0; i < sizes.size(); ++i) std::cout << (i ? "-" : "") << sizes[i];
  std::cout << " MLP (" << predictor.network().num_parameters() << " parameters) from " << o.npy << " for "
            << predictor.space().name() << " with " << o.encoding << " encoding\nsaved " << o.output << "\n";
  return 0;
}

}  // namespace

void add_predictor_commands(CLI::App& app, int& status) {
  {
    auto o = std::make_shared<TrainOptions>();
    auto* cmd = app.add_subcommand(
        "train", "train a latency predictor on a dataset column (or one model of several columns), save it, test it");
    o->data.add_to(*cmd, false, false);
    o->space.add_to(*cmd);
    add_train_args(*cmd, o->train);
    cmd->add_option("--learning-rate", o->train.learning_rate, "SGD learning rate instead of the recipe's")
        ->check(real_in(0, false, HUGE_VAL, false, "> 0"));
    cmd->add_option("--momentum", o->train.momentum, "SGD momentum instead of the recipe's")
        ->check(real_in(0, true, 1, false, "in [0, 1)"));
    cmd->add_option("--weight-decay", o->train.weight_decay, "weight decay instead of the recipe's")
        ->check(real_in(0, true, HUGE_VAL, false, ">= 0"));
    cmd->add_option("--from-tune", o->from_tune,
                    "the JSON tune --json printed: its best trial's learning rate, momentum and weight decay (the "
                    "options above win), its recipe and max_epochs (unless --recipe, --epochs)");
    o->devices.add_to(*cmd);
    add_progress_flag(*cmd, o->progress);
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_train(*o); });
  }
  {
    auto o = std::make_shared<EvalOptions>();
    auto* cmd = app.add_subcommand("eval", "metrics of a saved predictor on a dataset column");
    cmd->add_option("--model", o->model, "model file (train, finetune or import-torch; a predictor or an ensemble)")
        ->required();
    o->model_space.add_to(*cmd);
    o->data.add_to(*cmd, true);
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_eval(*o); });
  }
  {
    auto o = std::make_shared<FinetuneOptions>();
    auto* cmd = app.add_subcommand("finetune",
                                   "fine-tune saved predictors of other devices to a new device with N samples");
    add_list_option(*cmd, "--base", o->bases,
                    "model file to start from; several devices' bases: the best are fine-tuned and saved as an "
                    "ensemble (docs/predictor.md)")
        ->required();
    o->model_space.add_to(*cmd);
    cmd->add_option("--candidates", o->transfer.candidates, "several bases: how many are fine-tuned")
        ->capture_default_str()
        ->check(positive());
    cmd->add_option("--keep", o->transfer.keep, "several bases: how many fine-tuned ones are kept")
        ->capture_default_str()
        ->check(positive());
    cmd->add_option("--folds", o->transfer.folds, "several bases: hold-out folds per kept base")
        ->capture_default_str()
        ->check(positive());
    o->data.add_to(*cmd, false);
    cmd->add_option("--samples", o->samples, "train rows drawn (seeded) from the split's train rows")
        ->required()
        ->check(positive());
    o->frozen_option =
        cmd->add_option("--frozen-layers", o->frozen_layers,
                        "first layers kept as they are (default: 2 with --recipe paper, the method's; else 0)")
            ->check(non_negative());
    add_train_args(*cmd, o->train);
    add_progress_flag(*cmd, o->progress);
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_finetune(*o); });
  }
  {
    auto o = std::make_shared<PredictOptions>();
    auto* cmd = app.add_subcommand("predict", "latency (ms) of architectures from a saved predictor");
    cmd->add_option("--model", o->model, "model file")->required();
    o->model_space.add_to(*cmd);
    o->arch.add_to(*cmd);
    add_list_option(*cmd, "--hardware", o->hardware, "hardware features (models trained with them)");
    cmd->add_option("--device", o->device,
                    "multi-device models: a device's name, or @FILE with a new device's record and fingerprint");
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_predict(*o); });
  }
  {
    auto o = std::make_shared<ImportOptions>();
    auto* cmd =
        app.add_subcommand("import-torch", "save a PyTorch MLP exported one .npy per tensor as a model");
    cmd->add_option("--npy", o->npy, "folder of <idx>.weight.npy and <idx>.bias.npy")->required();
    cmd->add_option("-o,--output", o->output, "model file to write")->required();
    // The .npy files hold no space, and a model of another supernet or width
    // would score networks it never saw: both are required.
    cmd->add_option("--space", o->space.space,
                    "the space the network was trained on (required: the .npy files do not say): ofa-mbv3, "
                    "compofa-fixed, compofa-elastic, ofa-proxyless")
        ->required();
    cmd->add_option("--width", o->space.width,
                    "width multiplier of its supernet (required: the .npy files do not say; OFA's accuracy "
                    "predictor is for ofa-mbv3 1.2)")
        ->required();
    add_list_option(*cmd, "--resolutions", o->space.resolutions, "resolutions (default: 128..224 step 4)");
    cmd->add_option("--encoding", o->encoding, "resolution encoding the network was trained with")
        ->capture_default_str();
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_import_torch(*o); });
  }
}

}  // namespace hwnas_cli
