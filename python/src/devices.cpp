// Several devices (docs/generalisation.md) from Python: hwnas.train_devices
// (a fingerprint model: one base per device column), hwnas.DeviceModel and
// hwnas.adapt (a model of a new device from its fingerprint and N samples).
#include "hwnas/io/json.hpp"
#include "hwnas/predictor/model_file.hpp"
#include "models.hpp"

namespace hwnas_py {

namespace {

template <class Space>
const hwnas::BasicDataset<typename Space::arch_type>& rows_for(const Space& space, const Dataset& d) {
  const auto* data = std::get_if<hwnas::BasicDataset<typename Space::arch_type>>(&d.data);
  if (data == nullptr) throw hwnas::InvalidArgument("the dataset is of another kind of space than '" + space.name() + "'");
  return *data;
}

template <class Space>
py::tuple train_devices_in(const Space& space, const Dataset& d, const std::vector<std::string>& names,
                           const std::vector<std::int64_t>& reference_ids, const TrainArgs& a) {
  const auto& data = rows_for(space, d);
  const auto& source = d.source;
  if (names.empty()) throw hwnas::InvalidArgument("train_devices: no devices");
  if (reference_ids.empty()) {
    throw hwnas::InvalidArgument("train_devices: no reference_ids (the dataset ids whose latencies fingerprint a device)");
  }
  const auto recipe = make_recipe(a);
  const auto rows = column_and_split(data, source, names.front(), a.split, false, "train_devices");
  require_rows(rows.split.train.size(), "train", rows, source, data.size());
  require_rows(rows.split.test.size(), "test", rows, source, data.size());
  std::vector<hwnas::DeviceDescriptor> devices;
  for (const auto& n : names) {
    (void)data.column_index(n);
    devices.push_back({n, "", 1, {}, {}});
  }
  for (const auto id : reference_ids) (void)data.row_of_id(id);
  (void)checked_rows(space, d, "data");
  std::vector<hwnas::FitReport> fits;
  std::optional<hwnas::DevicePredictor<float, Space>> model;
  hwnas::Json per_device = hwnas::Json::object();
  {
    py::gil_scoped_release free;
    model.emplace(hwnas::train_device_predictor<float, Space>(data, rows.split, space, devices, reference_ids,
                                                                hwnas::DescriptorMode::fingerprint, {}, recipe, &fits));
    const auto test = data.subset(rows.split.test);
    for (const auto& d : model->devices()) {
      per_device[d.name] = hwnas::evaluate(model->predict(d, test.archs()), test.column(d.name));
    }
  }
  double seconds = 0;
  for (const auto& f : fits) seconds += f.seconds;
  const hwnas::Json report = {{"devices", names},   {"reference_ids", reference_ids}, {"recipe", a.recipe},
                              {"split", rows.spec.text}, {"seed", a.seed},           {"train_s", seconds},
                              {"test", per_device}};
  return py::make_tuple(DeviceModel{std::move(*model)}, json_to_py(report));
}

struct AdaptArgs {
  std::string target, split;
  std::optional<std::size_t> samples;
  std::optional<std::vector<std::int64_t>> sample_ids;
  std::uint64_t seed = 0;
  std::size_t fine_tune_from = 0;
};

/// The rows of `ids`, each once and none a test row.
template <class Arch>
std::vector<std::size_t> rows_of(const std::vector<std::int64_t>& ids, const hwnas::BasicDataset<Arch>& data,
                                  const std::vector<std::size_t>& test, const std::string& source) {
  std::vector<bool> is_test(data.size(), false), taken(data.size(), false);
  for (const auto r : test) is_test[r] = true;
  std::vector<std::size_t> out;
  for (const auto id : ids) {
    const std::string what = "adapt: sample id " + std::to_string(id);
    std::size_t r = 0;
    try {
      r = data.row_of_id(id);
    } catch (const hwnas::InvalidArgument&) {
      throw hwnas::InvalidArgument(what + " is not in '" + source + "'");
    }
    if (taken[r]) throw hwnas::InvalidArgument(what + " appears twice");
    if (is_test[r]) throw hwnas::InvalidArgument(what + " is a test row of the split");
    taken[r] = true;
    out.push_back(r);
  }
  return out;
}

template <class Space>
py::tuple adapt_in(const hwnas::DevicePredictor<float, Space>& model,
                   const hwnas::BasicDataset<typename Space::arch_type>& data, const std::string& source,
                   const AdaptArgs& a) {
  if (model.mode() != hwnas::DescriptorMode::fingerprint) {
    throw hwnas::InvalidArgument("adapt: a " + std::string(hwnas::to_string(model.mode())) +
                                 " model; adapt needs a fingerprint model (train_devices)");
  }
  if (a.samples.has_value() == a.sample_ids.has_value()) {
    throw hwnas::InvalidArgument("adapt: give samples=N (drawn from the train rows) or sample_ids=[...], not both");
  }
  const auto rows = column_and_split(data, source, a.target, a.split, false, "adapt");
  const auto parts = hwnas::adapt_rows(model, data, a.target, rows.split);
  if (parts.missing_reference) {
    throw hwnas::InvalidArgument(source + ": no row holds reference architecture " +
                                 std::to_string(*parts.missing_reference) + " of the model");
  }
  std::vector<std::size_t> chosen;
  if (a.samples) {
    if (*a.samples > parts.train.size()) {
      throw hwnas::InvalidArgument("adapt: samples=" + std::to_string(*a.samples) + " is more than the " +
                                   std::to_string(parts.train.size()) + " train rows (without the reference rows)");
    }
    chosen = hwnas::random_subset(parts.train, *a.samples, a.seed);
  } else {
    chosen = rows_of(*a.sample_ids, data, rows.split.test, source);
  }
  const auto [xt, yt] = take_rows(data, rows.y, chosen, model.space(), source);
  const auto [xs, ys] = take_rows(data, rows.y, parts.test, model.space(), source);
  const hwnas::DeviceDescriptor device{a.target, "", 1, {}, parts.fingerprint};
  hwnas::AdaptOptions options;
  options.fine_tune_samples = a.fine_tune_from;
  options.transfer.training.seed = a.seed;
  hwnas::AdaptReport report;
  std::optional<Ensemble<Space>> adapted;
  hwnas::RegressionMetrics test;
  {
    py::gil_scoped_release free;
    adapted.emplace(hwnas::adapt_to_device(model, device, xt, yt, options, &report));
    if (!xs.empty()) test = adapted->evaluate(xs, ys);
  }
  std::vector<std::int64_t> ids;
  for (const auto r : chosen) ids.push_back(data.ids()[r]);
  hwnas::Json weights = hwnas::Json::object();
  for (std::size_t b = 0; b < report.blend.weights.size(); ++b) weights[model.devices()[b].name] = report.blend.weights[b];
  const auto finite = [](double v) { return std::isfinite(v) ? hwnas::Json(v) : hwnas::Json(nullptr); };
  hwnas::Json j = {{"target", a.target},
                   {"samples", chosen.size()},
                   {"sample_ids", ids},
                   {"seed", a.seed},
                   {"strategy", report.fine_tuned ? "finetune" : "blend"},
                   {"blend", {{"weights", weights}, {"offset", report.blend.offset}, {"ridge", finite(report.blend.ridge)},
                              {"loo_rmse", report.blend.loo_rmse}}},
                   {"nearest_base", model.devices()[report.blend.mapping.base].name},
                   {"holdout_rmse", {{"blend", finite(report.blend_holdout_rmse)},
                                     {"finetune", finite(report.fine_tuned_holdout_rmse)}}},
                   {"n_test", xs.size()}};
  if (!xs.empty()) j["test"] = test;
  return py::make_tuple(Model{std::move(*adapted)}, json_to_py(j));
}

}  // namespace

void add_devices(py::module_& m) {
  py::class_<DeviceModel>(m, "DeviceModel",
                          "One model of several devices: a base per device and the reference architectures whose "
                          "latencies fingerprint a device (docs/generalisation.md).")
      .def_property_readonly("space",
                             [](const DeviceModel& x) {
                               return std::visit([](const auto& d) { return SpaceObject{d.space()}; }, x.model);
                             })
      .def_property_readonly("devices",
                             [](const DeviceModel& x) {
                               return std::visit(
                                   [](const auto& d) {
                                     std::vector<std::string> names;
                                     for (const auto& dev : d.devices()) names.push_back(dev.name);
                                     return names;
                                   },
                                   x.model);
                             })
      .def_property_readonly("reference",
                             [](const DeviceModel& x) {
                               return std::visit(
                                   [](const auto& d) {
                                     return archs_to_py(d.space(), {d.reference().begin(), d.reference().end()});
                                   },
                                   x.model);
                             })
      .def(
          "predict",
          [](const DeviceModel& x, py::handle archs, const std::string& device) {
            return std::visit(
                [&](const auto& d) {
                  if (!d.find(device)) {
                    std::string known;
                    for (const auto& dev : d.devices()) known += (known.empty() ? "" : ", ") + dev.name;
                    throw hwnas::InvalidArgument("predict: '" + device + "' is not a device of the model (" + known +
                                                 "); adapt the model to a new device");
                  }
                  const hwnas::DeviceDescriptor name_only{device, "", 1, {}, {}};
                  return predict_py(d.space(), archs, [&](auto list) { return d.predict(name_only, list); });
                },
                x.model);
          },
          py::arg("archs"), py::kw_only(), py::arg("device"), "latency (ms) on one of the model's devices")
      .def(
          "save",
          [](const DeviceModel& x, const std::string& path) {
            std::visit([&](const auto& d) { hwnas::save_device_predictor(d, path); }, x.model);
          },
          py::arg("path"), "writes the model file atomically (as `hwnas train --devices`)")
      .def("__repr__", [](const DeviceModel& x) {
        return std::visit(
            [](const auto& d) {
              return "hwnas.DeviceModel(space='" + d.space().name() + "', " + std::to_string(d.devices().size()) +
                     " devices)";
            },
            x.model);
      });

  m.def(
      "train_devices",
      [](const Dataset& data, const std::vector<std::string>& devices, const std::vector<std::int64_t>& reference_ids,
         const std::string& split, const std::string& recipe, std::uint64_t seed, std::optional<std::size_t> epochs) {
        const TrainArgs a{devices.empty() ? "" : devices.front(), split, recipe, seed, epochs, {}, {}, {}};
        return std::visit(
            [&](const auto& s) { return train_devices_in(s, data, devices, reference_ids, a); },
            data.space.value);
      },
      py::arg("data"), py::kw_only(), py::arg("devices"), py::arg("reference_ids"), py::arg("split") = "benchmark",
      py::arg("recipe") = "default", py::arg("seed") = 0, py::arg("epochs") = py::none(),
      "A fingerprint model of several device columns (as `hwnas train --devices --descriptor fingerprint`): one "
      "base per device; reference_ids are the dataset ids whose latencies fingerprint a device. Returns (model, "
      "report), the report holding each device's test metrics.");

  m.def(
      "adapt",
      [](const DeviceModel& model, const Dataset& data, const std::string& target, std::optional<std::size_t> samples,
         std::optional<std::vector<std::int64_t>> sample_ids, std::uint64_t seed, const std::string& split,
         std::size_t fine_tune_from) {
        const AdaptArgs a{target, split, samples, std::move(sample_ids), seed, fine_tune_from};
        return std::visit(
            [&](const auto& d) { return adapt_in(d, rows_for(d.space(), data), data.source, a); }, model.model);
      },
      py::arg("model"), py::arg("data"), py::kw_only(), py::arg("target"), py::arg("samples") = py::none(),
      py::arg("sample_ids") = py::none(), py::arg("seed") = 0, py::arg("split") = "benchmark",
      py::arg("fine_tune_from") = hwnas::AdaptOptions{}.fine_tune_samples,
      "A model of a new device (a column of data) from its fingerprint (its latencies of the model's reference "
      "architectures, found in data) and N measured samples: samples=N drawn from the split's train rows, or "
      "sample_ids (as `hwnas adapt`). Returns (model, report), the report holding the test metrics on the split's "
      "test rows.");
}

}  // namespace hwnas_py
