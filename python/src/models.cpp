// hwnas.Dataset, hwnas.train, hwnas.Model (predict, evaluate, save),
// hwnas.load_model and hwnas.LookupTable. Training and batch prediction
// run without the GIL.
#include <filesystem>
#include <optional>

#include "hwnas/io/lut.hpp"
#include "hwnas/metrics.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/predictor/model_file.hpp"
#include "hwnas/predictor/torch_import.hpp"
#include "hwnas/search/score.hpp"
#include "hwnas/split.hpp"
#include "models.hpp"

namespace hwnas_py {

namespace {

template <class Space>
py::tuple train_in(const Space& space, const hwnas::BasicDataset<typename Space::arch_type>& data,
                   const std::string& source, const TrainArgs& a) {
  const auto recipe = make_recipe(a);
  const auto rows = column_and_split(data, source, a.target, a.split, false, "train");
  require_rows(rows.split.train.size(), "train", rows, source, data.size());
  require_rows(rows.split.test.size(), "test", rows, source, data.size());
  const auto [xt, yt] = take_rows(data, rows.y, rows.split.train, space, source);
  const auto [xv, yv] = take_rows(data, rows.y, rows.split.validation, space, source);
  const auto [xs, ys] = take_rows(data, rows.y, rows.split.test, space, source);
  hwnas::LatencyPredictor<float, Space> predictor(space, recipe.predictor);
  hwnas::FitReport report;
  hwnas::RegressionMetrics test;
  {
    py::gil_scoped_release free;
    report = predictor.fit(xt, yt, xv, yv, recipe.training);
    test = predictor.evaluate(xs, ys);
  }
  hwnas::Json j = {{"test", test}};
  j.update(hwnas::Json(report));
  j.update({{"recipe", a.recipe},
            {"target", a.target},
            {"split", rows.spec.text},
            {"space", space.name()},
            {"seed", a.seed},
            {"learning_rate", recipe.training.learning_rate},
            {"momentum", recipe.training.momentum},
            {"weight_decay", recipe.training.weight_decay},
            {"n_train", xt.size()},
            {"n_validation", xv.size()},
            {"n_test", xs.size()}});
  std::vector<hwnas::LatencyPredictor<float, Space>> members;
  members.push_back(std::move(predictor));
  Model model{Ensemble<Space>(std::move(members))};
  return py::make_tuple(std::move(model), json_to_py(j));
}

hwnas::LookupTables read_luts(const std::string& path) {
  if (std::filesystem::is_directory(path)) return hwnas::read_lut_folder(path);
  return hwnas::read_lut_json(path);
}

}  // namespace

void add_models(py::module_& m) {
  py::class_<Dataset>(m, "Dataset", "Architectures and their measured latencies, one column per device (docs/dataset.md).")
      .def_static(
          "read_csv",
          [](const std::string& path, const SpaceObject& space) {
            return std::visit(
                [&](const auto& s) {
                  using Arch = typename std::decay_t<decltype(s)>::arch_type;
                  return Dataset{hwnas::BasicDataset<Arch>::read_csv(path, layout_of(s)), space, path};
                },
                space.value);
          },
          py::arg("path"), py::arg("space"),
          "reads a dataset CSV whose architecture columns are the space's (OFA's ks0.., e0.., d0.., r; a categorical "
          "space's one per decision); hwnas.FormatError with the file, line and column otherwise")
      .def("__len__", [](const Dataset& d) { return std::visit([](const auto& x) { return x.size(); }, d.data); })
      .def_property_readonly("space", [](const Dataset& d) { return d.space; })
      .def_property_readonly("columns", [](const Dataset& d) {
        return std::visit([](const auto& x) { return x.columns(); }, d.data);
      })
      .def_property_readonly("ids", [](const Dataset& d) {
        return std::visit(
            [](const auto& x) {
              py::array_t<std::int64_t> out(static_cast<py::ssize_t>(x.size()));
              std::copy(x.ids().begin(), x.ids().end(), out.mutable_data());
              return out;
            },
            d.data);
      })
      .def_property_readonly("archs",
                             [](const Dataset& d) {
                               return std::visit(
                                   [&](const auto& x) {
                                     using Arch = typename std::decay_t<decltype(x)>::arch_type;
                                     using Of = std::conditional_t<std::is_same_v<Arch, Architecture>, MbConvSpace,
                                                                      CategoricalSpace>;
                                     return archs_to_py(std::get<Of>(d.space.value), x.archs());
                                   },
                                   d.data);
                             })
      .def(
          "column",
          [](const Dataset& d, const std::string& name) {
            return std::visit([&](const auto& x) { return to_numpy(x.column(name)); }, d.data);
          },
          py::arg("name"), "a device's latencies (ms) in row order")
      .def("__repr__", [](const Dataset& d) {
        return std::visit(
            [&](const auto& x) {
              return "hwnas.Dataset('" + d.source + "', " + std::to_string(x.size()) + " rows, " +
                     std::to_string(x.columns().size()) + " columns)";
            },
            d.data);
      });

  m.def(
      "train",
      [](const Dataset& data, const std::string& target, const std::string& split, const std::string& recipe,
         std::uint64_t seed, std::optional<std::size_t> epochs, std::optional<double> learning_rate,
         std::optional<double> momentum, std::optional<double> weight_decay) {
        const TrainArgs a{target, split, recipe, seed, epochs, learning_rate, momentum, weight_decay};
        return std::visit(
            [&](const auto& space) {
              using Arch = typename std::decay_t<decltype(space)>::arch_type;
              return train_in(space, std::get<hwnas::BasicDataset<Arch>>(data.data), data.source, a);
            },
            data.space.value);
      },
      py::arg("data"), py::kw_only(), py::arg("target"), py::arg("split") = "benchmark",
      py::arg("recipe") = "default", py::arg("seed") = 0, py::arg("epochs") = py::none(),
      py::arg("learning_rate") = py::none(), py::arg("momentum") = py::none(), py::arg("weight_decay") = py::none(),
      "Trains a latency predictor of one device column (as `hwnas train`); returns (model, report), the report "
      "holding the test metrics and what `hwnas train --json` prints.");

  py::class_<Model>(m, "Model", "A latency predictor (or an ensemble of them) of one space.")
      .def_property_readonly("space",
                             [](const Model& x) {
                               return std::visit([](const auto& e) { return SpaceObject{e.space()}; }, x.ensemble);
                             })
      .def_property_readonly("members", [](const Model& x) {
        return std::visit([](const auto& e) { return e.size(); }, x.ensemble);
      })
      .def_property_readonly("hardware_features", [](const Model& x) {
        return std::visit([](const auto& e) { return e.hardware_features(); }, x.ensemble);
      })
      .def(
          "predict",
          [](const Model& x, py::handle archs, std::vector<double> hardware) {
            return std::visit(
                [&](const auto& e) {
                  if (hardware.size() != e.hardware_features()) {
                    throw hwnas::InvalidArgument("predict: the model takes " + std::to_string(e.hardware_features()) +
                                                 " hardware features, given " + std::to_string(hardware.size()));
                  }
                  return predict_py(e.space(), archs, [&](auto list) { return e.predict(list, hardware); });
                },
                x.ensemble);
          },
          py::arg("archs"), py::arg("hardware") = std::vector<double>{},
          "latency (ms) of one architecture (a float) or of several, or of a dataset's rows (a NumPy array)")
      .def(
          "evaluate",
          [](const Model& x, const Dataset& data, const std::string& target, const std::string& split) {
            return std::visit(
                [&](const auto& e) {
                  using Arch = typename std::decay_t<decltype(e)>::Arch;
                  const auto* d = std::get_if<hwnas::BasicDataset<Arch>>(&data.data);
                  if (d == nullptr) throw hwnas::InvalidArgument("evaluate: the dataset is of another kind of space");
                  const auto rows = column_and_split(*d, data.source, target, split, true, "evaluate");
                  const auto [xs, ys] = take_rows(*d, rows.y, rows.split.test, e.space(), data.source);
                  if (xs.empty()) throw hwnas::InvalidArgument("evaluate: no test rows in '" + data.source + "'");
                  std::vector<double> predicted;
                  {
                    py::gil_scoped_release free;
                    predicted = e.predict(std::span(xs));
                  }
                  hwnas::Json j = {{"test", hwnas::evaluate(predicted, ys)},
                                   {"latency_margin", hwnas::latency_margin(predicted, ys)},
                                   {"target", target},
                                   {"split", rows.spec.text},
                                   {"n_test", xs.size()}};
                  return json_to_py(j);
                },
                x.ensemble);
          },
          py::arg("data"), py::kw_only(), py::arg("target"), py::arg("split") = "benchmark",
          "metrics on the test rows of the split ('all': every row), as `hwnas eval --json`")
      .def(
          "save",
          [](const Model& x, const std::string& path) {
            std::visit(
                [&](const auto& e) {
                  // One predictor is saved as `hwnas train` writes it.
                  if (e.size() == 1 && e.is_mean()) {
                    hwnas::save_predictor(e.members().front(), path);
                  } else {
                    hwnas::save_ensemble(e, path);
                  }
                },
                x.ensemble);
          },
          py::arg("path"), "writes the model file atomically")
      .def("__repr__", [](const Model& x) {
        return std::visit(
            [](const auto& e) {
              return "hwnas.Model(space='" + e.space().name() + "', members=" + std::to_string(e.size()) + ")";
            },
            x.ensemble);
      });

  m.def(
      "load_model",
      [](const std::string& path) -> py::object {
        const bool categorical = hwnas::model_space_family(path) == hwnas::detail::kCategoricalFamily;
        if (hwnas::read_model_kind(path) == hwnas::detail::kDevicesKind) {
          if (categorical) return py::cast(DeviceModel{hwnas::load_device_predictor<float, CategoricalSpace>(path)});
          return py::cast(DeviceModel{hwnas::load_device_predictor<float>(path)});
        }
        if (categorical) return py::cast(Model{hwnas::load_ensemble<float, CategoricalSpace>(path)});
        return py::cast(Model{hwnas::load_ensemble<float>(path)});
      },
      py::arg("path"),
      "a model file: a hwnas.Model (`hwnas train`, `finetune`, `adapt`, `import-torch`, Model.save) or a "
      "hwnas.DeviceModel (`hwnas train --devices`, DeviceModel.save)");

  m.def(
      "import_torch",
      [](const std::string& npy, const SpaceObject& space, const std::string& encoding) {
        const auto* s = std::get_if<MbConvSpace>(&space.value);
        if (s == nullptr) throw hwnas::InvalidArgument("import_torch: needs an MBConv space (OFA's encoding)");
        hwnas::Encoder::Options eo;
        eo.resolution = hwnas::resolution_encoding_from_string(encoding);
        std::vector<hwnas::LatencyPredictor<float, MbConvSpace>> members;
        members.push_back(hwnas::import_torch_npy<float>(npy, *s, eo));
        return Model{Ensemble<MbConvSpace>(std::move(members))};
      },
      py::arg("npy"), py::arg("space"), py::arg("encoding") = "bins8",
      "A PyTorch MLP exported as one .npy per tensor (OFA's accuracy predictor: 0, 2, 4, 6 .weight/.bias), as "
      "`hwnas import-torch`");

  py::class_<LookupTable>(m, "LookupTable", "A per-layer latency lookup table (OFA's LUT: the sum of its layers).")
      .def_static(
          "read",
          [](const std::string& path, const SpaceObject& space) {
            auto tables = read_luts(path);
            return std::visit(
                [&](const auto& s) {
                  if constexpr (std::is_same_v<std::decay_t<decltype(s)>, CategoricalSpace>) {
                    if (!s.has_layers()) {
                      throw hwnas::InvalidArgument("LookupTable: space '" + s.name() + "' has no layer list");
                    }
                  }
                  return LookupTable{hwnas::BasicLutEstimator<std::decay_t<decltype(s)>>(s, std::move(tables))};
                },
                space.value);
          },
          py::arg("path"), py::arg("space"),
          "OFA's folder of <r>_lookup_table.yaml, or a JSON table of `hwnas lut build`, for the space's networks")
      .def_property_readonly("resolutions",
                             [](const LookupTable& t) {
                               return std::visit(
                                   [](const auto& e) {
                                     std::vector<int> r;
                                     for (const auto& [res, table] : e.tables()) r.push_back(res);
                                     return r;
                                   },
                                   t.estimator);
                             })
      .def(
          "predict",
          [](const LookupTable& t, py::handle archs) {
            return std::visit(
                [&](const auto& e) { return predict_py(e.space(), archs, [&](auto list) { return e.predict(list); }); },
                t.estimator);
          },
          py::arg("archs"), "the sum of the layers' latencies (ms): a float for one architecture, else a NumPy array");
}

}  // namespace hwnas_py
