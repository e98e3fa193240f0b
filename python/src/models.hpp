// The Python objects that hold data and latency sources: hwnas.Dataset,
// hwnas.Model (a latency predictor or an ensemble of them),
// hwnas.DeviceModel and hwnas.LookupTable, each for either kind of space.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "bindings.hpp"
#include "hwnas/dataset.hpp"
#include "hwnas/lut/lut_estimator.hpp"
#include "hwnas/predictor/device_predictor.hpp"
#include "hwnas/predictor/ensemble.hpp"
#include "hwnas/predictor/options.hpp"
#include "hwnas/split.hpp"

namespace hwnas_py {

template <class Space>
using Ensemble = hwnas::PredictorEnsemble<float, Space>;

struct Dataset {
  std::variant<hwnas::BasicDataset<Architecture>, hwnas::BasicDataset<CategoricalArch>> data;
  SpaceObject space;
  std::string source;  ///< the CSV it was read from
};

struct Model {
  std::variant<Ensemble<MbConvSpace>, Ensemble<CategoricalSpace>> ensemble;
};

/// hwnas.DeviceModel: one model of several devices (a base per device, with
/// the reference architectures whose latencies fingerprint a device).
struct DeviceModel {
  std::variant<hwnas::DevicePredictor<float, MbConvSpace>, hwnas::DevicePredictor<float, CategoricalSpace>> model;
};

struct LookupTable {
  std::variant<hwnas::BasicLutEstimator<MbConvSpace>, hwnas::BasicLutEstimator<CategoricalSpace>> estimator;
};

/// A dataset's architectures, each checked against `space` (naming the
/// row's id); `what` names the argument. Pure C++: callable without the GIL.
template <class Space>
const std::vector<typename Space::arch_type>& checked_rows(const Space& space, const Dataset& d, const char* what) {
  const auto* data = std::get_if<hwnas::BasicDataset<typename Space::arch_type>>(&d.data);
  if (data == nullptr) {
    throw hwnas::InvalidArgument(std::string(what) + ": a dataset of another kind of space than '" + space.name() + "'");
  }
  for (std::size_t r = 0; r < data->size(); ++r) {
    try {
      space.validate(data->archs()[r]);
    } catch (const hwnas::InvalidArgument& e) {
      throw hwnas::InvalidArgument(d.source + ": row with id " + std::to_string(data->ids()[r]) + ": " + e.what());
    }
  }
  return data->archs();
}

/// predict() of a model or a lookup table: one architecture gives a float,
/// several (or a dataset's rows) a NumPy array in their order.
template <class Space, class Predict>
py::object predict_py(const Space& space, py::handle archs, Predict&& predict) {
  std::vector<double> y;
  if (py::isinstance<Dataset>(archs)) {
    const auto& d = archs.cast<const Dataset&>();
    py::gil_scoped_release free;
    y = predict(std::span(checked_rows(space, d, "archs")));
  } else if (is_one_arch(space, archs)) {
    const auto one = archs_from_py(space, archs, "arch");
    return py::float_(predict(std::span(one)).front());
  } else {
    const auto list = archs_from_py(space, archs, "archs");
    py::gil_scoped_release free;
    y = predict(std::span(list));
  }
  return to_numpy(y);
}

// What train, evaluate, train_devices and adapt share: a dataset's column
// and split, its rows checked against the space, the recipe of the
// arguments.

template <class Space>
hwnas::ArchColumns<typename Space::arch_type> layout_of(const Space& space) {
  if constexpr (std::is_same_v<Space, MbConvSpace>) {
    return {};  // OFA's columns are read from the header
  } else {
    return space.columns();
  }
}

/// A column of a dataset and a split of its rows.
struct Rows {
  std::vector<double> y;
  hwnas::SplitSpec spec;
  hwnas::Split split;
};

template <class Arch>
Rows column_and_split(const hwnas::BasicDataset<Arch>& data, const std::string& source, const std::string& target,
                      const std::string& split, bool allow_all, const char* who) {
  Rows r;
  try {
    r.spec = hwnas::SplitSpec::parse(split);
  } catch (const hwnas::InvalidArgument& e) {
    throw hwnas::InvalidArgument(std::string(who) + ": " + e.what());
  }
  if (!allow_all && r.spec.kind == hwnas::SplitSpec::Kind::all) {
    throw hwnas::InvalidArgument(std::string(who) + ": split 'all': needs train, validation and test rows; use "
                                 "'benchmark' or 'random:SEED'");
  }
  try {
    r.y = data.column(target);
  } catch (const hwnas::InvalidArgument& e) {
    throw hwnas::InvalidArgument(source + ": " + e.what());
  }
  r.split = r.spec.apply(data);
  return r;
}

/// The architectures and latencies of some rows, each architecture checked
/// against `space` (naming the row's id).
template <class Space>
std::pair<std::vector<typename Space::arch_type>, std::vector<double>> take_rows(
    const hwnas::BasicDataset<typename Space::arch_type>& data, const std::vector<double>& y,
    std::span<const std::size_t> which, const Space& space, const std::string& source) {
  std::pair<std::vector<typename Space::arch_type>, std::vector<double>> out;
  for (const auto r : which) {
    try {
      space.validate(data.archs()[r]);
    } catch (const hwnas::InvalidArgument& e) {
      throw hwnas::InvalidArgument(source + ": row with id " + std::to_string(data.ids()[r]) + ": " + e.what());
    }
    out.first.push_back(data.archs()[r]);
    out.second.push_back(y[r]);
  }
  return out;
}

inline void require_rows(std::size_t n, const char* part, const Rows& r, const std::string& source, std::size_t total) {
  if (n == 0) {
    throw hwnas::InvalidArgument("split '" + r.spec.text + "': no " + part + " rows in '" + source + "' (" +
                                 std::to_string(total) + " rows)");
  }
}

struct TrainArgs {
  std::string target, split, recipe;
  std::uint64_t seed = 0;
  std::optional<std::size_t> epochs;
  std::optional<double> learning_rate, momentum, weight_decay;
};

inline hwnas::Recipe make_recipe(const TrainArgs& a) {
  auto recipe = hwnas::recipe_from_string(a.recipe);
  auto& t = recipe.training;
  if (a.epochs) {
    if (*a.epochs == 0) throw hwnas::InvalidArgument("train: epochs must be positive");
    t.epochs = *a.epochs;
    if (t.schedule.kind == hwnas::LearningRateSchedule::Kind::cosine) t.schedule.total_epochs = *a.epochs;
  }
  t.seed = a.seed;
  if (a.learning_rate) t.learning_rate = *a.learning_rate;
  if (a.momentum) t.momentum = *a.momentum;
  if (a.weight_decay) t.weight_decay = *a.weight_decay;
  return recipe;
}

}  // namespace hwnas_py
