// Several devices (docs/generalisation.md): train --devices (one model of
// several device columns) and adapt (a model of a new device from a
// fingerprint model).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <variant>

#include <fmt/core.h>

#include "common.hpp"
#include "hwnas/io/device.hpp"
#include "hwnas/predictor/device_predictor.hpp"
#include "hwnas/predictor/model_file.hpp"

namespace hwnas_cli {

namespace {

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

Json nan_to_null(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }  // NaN: not tried; inf: none

// ---------------------------------------------------------------- adapt ----

struct AdaptOptions {
  std::string base;
  ModelSpaceArgs model_space;
  DataArgs data;
  std::optional<std::size_t> samples;
  std::string sample_ids;  ///< file of dataset ids: the samples, instead of drawn ones
  std::string device_file;
  std::size_t fine_tune_from = hwnas::AdaptOptions{}.fine_tune_samples;
  std::uint64_t seed = 0;
  std::string output;
  bool progress = false;
  bool json = false;
};

/// --samples N: N rows drawn (seeded) from the pool.
std::vector<std::size_t> drawn_samples(const std::vector<std::size_t>& pool, std::size_t n, std::uint64_t seed,
                                       const std::string& csv) {
  if (n > pool.size()) {
    throw hwnas::InvalidArgument("--samples " + std::to_string(n) + " is more than the " +
                                 std::to_string(pool.size()) + " train rows (without the reference rows) of '" + csv +
                                 "'");
  }
  return hwnas::random_subset(pool, n, seed);
}

/// --sample-ids FILE: the rows of those ids, in the file's order; each once,
/// none a test row of the split.
template <class Arch>
std::vector<std::size_t> given_samples(const std::string& file, const BasicTable<Arch>& table, const std::string& csv) {
  std::map<std::int64_t, std::size_t> row_of;
  for (std::size_t r = 0; r < table.data.ids().size(); ++r) row_of.emplace(table.data.ids()[r], r);
  const std::set<std::size_t> test(table.split.test.begin(), table.split.test.end());
  std::vector<std::size_t> rows;
  std::set<std::int64_t> seen;
  for (const auto id : hwnas::read_reference_ids(file)) {
    const auto it = row_of.find(id);
    const std::string what = "--sample-ids " + file + ": id " + std::to_string(id);
    if (it == row_of.end()) throw hwnas::InvalidArgument(what + " is not in '" + csv + "'");
    if (!seen.insert(id).second) throw hwnas::InvalidArgument(what + " appears twice");
    if (test.contains(it->second)) {
      throw hwnas::InvalidArgument(what + " is a test row of the split " + table.choice.text);
    }
    rows.push_back(it->second);
  }
  return rows;
}

template <class Space>
int adapt_with(const hwnas::DevicePredictor<float, Space>& model, const AdaptOptions& o, const Progress& progress) {
  o.model_space.check(model.space(), "--base", o.base);
  if (model.mode() != hwnas::DescriptorMode::fingerprint) {
    throw hwnas::InvalidArgument("--base " + o.base + ": a " + std::string(hwnas::to_string(model.mode())) +
                                 " model; adapt needs a fingerprint model (train --descriptor fingerprint)");
  }
  const auto table = load_table(o.data, table_layout(model.space()), false, "adapt");
  require_rows(table.split.test.size(), "test", table, o.data);
  auto device = device_record(device_records(o.device_file), o.data.target);
  // The fingerprint: the device file's, else the target's latencies of the
  // reference architectures, found in the data.
  const bool fingerprint_from_data = device.fingerprint.empty();
  const auto rows = hwnas::adapt_rows(model, table.data, o.data.target, table.split);
  if (fingerprint_from_data) {
    if (rows.missing_reference) {
      throw hwnas::InvalidArgument(o.data.csv + ": no row holds reference architecture " +
                                   std::to_string(*rows.missing_reference) + " of " + o.base +
                                   "; give the device's fingerprint in --device-file");
    }
    device.fingerprint = rows.fingerprint;
  }
  const auto chosen = o.sample_ids.empty() ? drawn_samples(rows.train, *o.samples, o.seed, o.data.csv)
                                           : given_samples(o.sample_ids, table, o.data.csv);
  const std::size_t n_samples = chosen.size();
  std::vector<std::int64_t> sample_ids;
  for (auto r : chosen) sample_ids.push_back(table.data.ids()[r]);
  const auto [xt, yt] = table.rows(chosen, model.space(), o.data.csv);
  const auto [xs, ys] = table.rows(rows.test, model.space(), o.data.csv);
  hwnas::AdaptOptions options;
  options.fine_tune_samples = o.fine_tune_from;
  options.transfer.training.seed = o.seed;
  options.transfer.training.on_epoch = progress.epoch_hook(options.transfer.training.epochs);
  progress.line("adapt: " + o.data.target + " from the fingerprint of " +
                std::to_string(device.fingerprint.size()) + " reference architectures (" +
                (fingerprint_from_data ? o.data.csv : o.device_file) + ") and " + std::to_string(n_samples) +
                " samples" +
                (n_samples >= o.fine_tune_from ? "; fine-tuning the bases competes on a hold-out" : ""));
  hwnas::AdaptReport report;
  const auto adapted = hwnas::adapt_to_device(model, device, xt, yt, options, &report);
  hwnas::save_ensemble(adapted, o.output);
  const auto m = adapted.evaluate(xs, ys);
  const std::string base_name = model.devices()[report.blend.mapping.base].name;
  progress.line("adapt: " + std::string(report.fine_tuned ? "the fine-tuned bases" : "the blend of the bases") + " kept");
  if (o.json) {
    Json blend_weights = Json::object();
    for (std::size_t b = 0; b < report.blend.weights.size(); ++b) {
      blend_weights[model.devices()[b].name] = report.blend.weights[b];
    }
    Json j = {{"target", o.data.target},
              {"samples", n_samples},
              {"sample_ids", sample_ids},
              {"seed", o.seed},
              {"strategy", report.fine_tuned ? "finetune" : "blend"},
              {"blend",
               {{"weights", blend_weights},
                {"offset", report.blend.offset},
                {"ridge", nan_to_null(report.blend.ridge)},
                {"loo_rmse", report.blend.loo_rmse},
                {"calibration", report.blend.samples}}},
              {"mapping",
               {{"base", base_name},
                {"intercept", report.blend.mapping.intercept},
                {"slope", report.blend.mapping.slope},
                {"loo_rmse_log", report.blend.mapping.loo_rmse},
                {"calibration", report.blend.mapping.samples}}},
              {"holdout_rmse",
               {{"blend", nan_to_null(report.blend_holdout_rmse)},
                {"finetune", nan_to_null(report.fine_tuned_holdout_rmse)}}},
              {"members", adapted.size()},
              {"n_test", xs.size()},
              {"test", m},
              {"model", o.output}};
    if (report.fine_tuned) {
      Json candidates = Json::array();
      for (const auto& c : report.transfer.candidates) {
        Json cj = c;
        cj["base"] = model.devices()[c.base].name;
        candidates.push_back(std::move(cj));
      }
      j["candidates"] = candidates;
    }
    print_json(j);
    return 0;
  }
  std::cout << "adapted " << o.base << " to " << o.data.target << " from its fingerprint and " << n_samples
            << " samples: "
            << (report.fine_tuned ? "fine-tuned the bases"
                                  : "the blend of " + std::to_string(model.devices().size()) + " bases (leave-one-out " +
                                        fmt::format("{:.2f}", 100 * report.blend.loo_rmse) + " %)")
            << "; nearest base " << base_name << "\n"
            << "test: " << metrics_text(m) << "\n"
            << "saved " << o.output << "\n";
  return 0;
}

int run_adapt(const AdaptOptions& o) {
  if (o.samples.has_value() == !o.sample_ids.empty()) {
    throw hwnas::InvalidArgument("adapt: give the samples as --samples N (drawn) or --sample-ids FILE (dataset ids)");
  }
  const Progress progress(o.progress);
  check_output_path(o.output);
  if (model_is_categorical(o.base)) {
    return adapt_with(hwnas::load_device_predictor<float, CategoricalSpace>(o.base), o, progress);
  }
  return adapt_with(hwnas::load_device_predictor<float>(o.base), o, progress);
}

}  // namespace

void DeviceTrainArgs::add_to(CLI::App& train) {
  add_list_option(train, "--devices", devices, "several device columns: one model of them all (docs/generalisation.md)");
  train.add_option("--descriptor", descriptor, "with --devices: spec, fingerprint or both")
      ->capture_default_str()
      ->check(CLI::IsMember({"spec", "fingerprint", "both"}));
  train.add_option("--device-file", device_file, "with --devices: device records (JSON)");
  train.add_option("--reference", reference,
                   "with --devices: file of the dataset ids whose latencies are the fingerprints");
  add_list_option(train, "--spec-features", spec_features,
                  "with --descriptor spec or both: the spec features used (batch: the batch size; default: every "
                  "one of the first device record)");
}

namespace {

template <class Space>
int train_devices_in(const Space& space, const DataArgs& data_args, const TrainArgs& args, const hwnas::Recipe& recipe,
                     const DeviceTrainArgs& da, const Progress& progress, bool as_json) {
  const auto mode = hwnas::descriptor_mode_from_string(da.descriptor);
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
  const auto table = load_table(table_args, table_layout(space), false, "train");
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
  const auto model = hwnas::train_device_predictor<float, Space>(table.data, table.split, space, devices, ids, mode,
                                                                 spec_names, recipe, &fits);
  for (const auto& f : fits) warn_if_diverged(f);
  hwnas::save_device_predictor(model, args.output);

  const auto test = table.data.subset(table.split.test);
  Json per_device = Json::object();
  std::ostringstream text;
  text << "trained a " << da.descriptor << " model of " << devices.size() << " devices (" << args.recipe
       << " recipe, " << table.choice.text << " split), test rows:\n";
  for (const auto& d : model.devices()) {
    const auto m = hwnas::evaluate(model.predict(d, test.archs()), test.column(d.name));
    per_device[d.name] = m;
    text << "  " << d.name << ": " << metrics_text(m) << "\n";
  }
  if (as_json) {
    double seconds = 0;
    for (const auto& f : fits) seconds += f.seconds;
    print_json({{"descriptor", da.descriptor},
                {"devices", da.devices},
                {"spec_features", spec_names},
                {"reference_ids", ids},
                {"recipe", args.recipe},
                {"split", table.choice.text},
                {"seed", args.seed},
                {"learning_rate", recipe.training.learning_rate},
                {"momentum", recipe.training.momentum},
                {"weight_decay", recipe.training.weight_decay},
                {"train_s", seconds},
                {"test", per_device},
                {"model", args.output}});
    return 0;
  }
  std::cout << text.str() << "saved " << args.output << "\n";
  return 0;
}

}  // namespace

int run_train_devices(const DataArgs& data_args, const SpaceArgs& space_args, TrainArgs args,
                      const DeviceTrainArgs& da, const Progress& progress, bool as_json) {
  if (args.recipe.empty()) args.recipe = "default";
  const auto recipe = make_recipe(args);
  (void)hwnas::descriptor_mode_from_string(da.descriptor);  // before the space: a typo fails first
  return std::visit(
      [&](const auto& space) { return train_devices_in(space, data_args, args, recipe, da, progress, as_json); },
      space_args.make_any());
}

void add_device_commands(CLI::App& app, int& status) {
  auto o = std::make_shared<AdaptOptions>();
  auto* cmd = app.add_subcommand(
      "adapt", "a model of a new device from a multi-device model, its fingerprint and N measured samples");
  cmd->add_option("--base", o->base, "multi-device model (train --devices, descriptor fingerprint)")->required();
  o->model_space.add_to(*cmd);
  o->data.add_to(*cmd, false);
  auto* samples = cmd->add_option("--samples", o->samples,
                                  "train rows drawn (seeded) from the split's train rows; 0: the fingerprint alone")
                      ->check(non_negative());
  cmd->add_option("--sample-ids", o->sample_ids,
                  "file of dataset ids, one per line: the samples (not test rows of the split), instead of --samples")
      ->excludes(samples);
  cmd->add_option("--device-file", o->device_file, "device records (JSON); a fingerprint there is used");
  cmd->add_option("--fine-tune-from", o->fine_tune_from,
                  "from this many samples on, try fine-tuning the bases too (kept if it does better on a "
                  "20 % hold-out); below, map the best base")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "samples and fine-tuning")->capture_default_str();
  cmd->add_option("-o,--output", o->output, "model file to write")->required();
  add_progress_flag(*cmd, o->progress);
  add_json_flag(*cmd, o->json);
  cmd->callback([o, &status] { status = run_adapt(*o); });
}

}  // namespace hwnas_cli
