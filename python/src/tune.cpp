// hwnas.tune (ASHA over learning rate x momentum x weight decay, as `hwnas
// tune`) and its parts for running trials elsewhere (hwnas.farm.tune):
// hwnas.TuneJob (the data and the grid, picklable: a Dask task carries it),
// hwnas.TrialResult and hwnas.AshaRungs (the deterministic rung decisions).
// Training runs without the GIL; a trial's rung callback takes it back.
#include <memory>
#include <optional>

#include "hwnas/io/json.hpp"
#include "hwnas/predictor/tune.hpp"
#include "models.hpp"

namespace hwnas_py {

namespace {

template <class Space>
struct TuneRows {
  std::vector<typename Space::arch_type> train, validation;
  std::vector<double> y_train, y_validation;
};

/// What a tuning needs, built once from a dataset.
struct TuneJob {
  Dataset data;  ///< all of it, for pickling (the rows below follow from it)
  TrainArgs args;
  hwnas::TuneOptions options;
  std::string split_text;
  std::variant<TuneRows<MbConvSpace>, TuneRows<CategoricalSpace>> rows;
};

struct GridArgs {
  std::optional<std::vector<double>> learning_rates, momenta, weight_decays;
  std::size_t grace_period, reduction_factor, threads;
};

TuneJob make_job(Dataset data, TrainArgs args, const GridArgs& g) {
  const auto recipe = make_recipe(args);
  hwnas::TuneOptions o;
  if (g.learning_rates) o.learning_rates = *g.learning_rates;
  if (g.momenta) o.momenta = *g.momenta;
  if (g.weight_decays) o.weight_decays = *g.weight_decays;
  o.max_epochs = recipe.training.epochs;
  o.grace_period = g.grace_period;
  o.reduction_factor = g.reduction_factor;
  o.threads = g.threads;
  o.base = recipe.training;
  TuneJob job{std::move(data), std::move(args), std::move(o), "", TuneRows<MbConvSpace>{}};
  std::visit(
      [&](const auto& space) {
        using Space = std::decay_t<decltype(space)>;
        const auto& d = std::get<hwnas::BasicDataset<typename Space::arch_type>>(job.data.data);
        const auto split = column_and_split(d, job.data.source, job.args.target, job.args.split, false, "tune");
        require_rows(split.split.train.size(), "train", split, job.data.source, d.size());
        require_rows(split.split.validation.size(), "validation", split, job.data.source, d.size());
        TuneRows<Space> rows;
        std::tie(rows.train, rows.y_train) = take_rows(d, split.y, split.split.train, space, job.data.source);
        std::tie(rows.validation, rows.y_validation) =
            take_rows(d, split.y, split.split.validation, space, job.data.source);
        job.split_text = split.spec.text;
        job.rows = std::move(rows);
      },
      job.data.space.value);
  hwnas::check_tune_options(job.options,
                            std::visit([](const auto& r) { return r.validation.size(); }, job.rows));
  return job;
}

/// `hwnas tune --json`'s report.
py::object report_py(const TuneJob& job, const hwnas::TuneReport& report) {
  const auto rows = [&](auto part) { return std::visit(part, job.rows); };
  return json_to_py(hwnas::tune_report_json(
      report, job.options,
      hwnas::Json{{"recipe", job.args.recipe},
                  {"target", job.args.target},
                  {"split", job.split_text},
                  {"seed", job.args.seed},
                  {"n_train", rows([](const auto& r) { return r.train.size(); })},
                  {"n_validation", rows([](const auto& r) { return r.validation.size(); })}}));
}

template <class F>
auto with_rows(const TuneJob& job, F&& f) {
  return std::visit(
      [&](const auto& rows) {
        using Rows = std::decay_t<decltype(rows)>;
        using Space = std::conditional_t<std::is_same_v<Rows, TuneRows<MbConvSpace>>, MbConvSpace, CategoricalSpace>;
        const auto& space = std::get<Space>(job.data.space.value);
        const hwnas::LatencyPredictor<float, Space> prototype(space, make_recipe(job.args).predictor);
        return f(prototype, rows);
      },
      job.rows);
}

py::tuple trial_state(const hwnas::TrialResult& t) {
  return py::make_tuple(t.index, t.learning_rate, t.momentum, t.weight_decay, t.validation_curve, t.epochs,
                        t.stopped_early, t.best_validation_rmse, t.final_validation_rmse,
                        static_cast<int>(t.stop_reason), t.seconds);
}

hwnas::TrialResult trial_from_state(const py::tuple& s) {
  if (s.size() != 11) throw hwnas::InvalidArgument("hwnas.TrialResult: not a pickled trial");
  hwnas::TrialResult t;
  t.index = s[0].cast<std::size_t>();
  t.learning_rate = s[1].cast<double>();
  t.momentum = s[2].cast<double>();
  t.weight_decay = s[3].cast<double>();
  t.validation_curve = s[4].cast<std::vector<double>>();
  t.epochs = s[5].cast<std::size_t>();
  t.stopped_early = s[6].cast<bool>();
  t.best_validation_rmse = s[7].cast<double>();
  t.final_validation_rmse = s[8].cast<double>();
  t.stop_reason = static_cast<hwnas::StopReason>(s[9].cast<int>());
  t.seconds = s[10].cast<double>();
  return t;
}

}  // namespace

void add_tune(py::module_& m) {
  py::class_<hwnas::TrialResult>(m, "TrialResult", "One configuration of a tuning grid and what training it gave.")
      .def_readonly("index", &hwnas::TrialResult::index)
      .def_readonly("learning_rate", &hwnas::TrialResult::learning_rate)
      .def_readonly("momentum", &hwnas::TrialResult::momentum)
      .def_readonly("weight_decay", &hwnas::TrialResult::weight_decay)
      .def_readonly("validation_curve", &hwnas::TrialResult::validation_curve)
      .def_readonly("epochs", &hwnas::TrialResult::epochs)
      .def_readonly("stopped_early", &hwnas::TrialResult::stopped_early)
      .def_readonly("best_validation_rmse", &hwnas::TrialResult::best_validation_rmse)
      .def_readonly("final_validation_rmse", &hwnas::TrialResult::final_validation_rmse)
      .def_readonly("seconds", &hwnas::TrialResult::seconds)
      .def_property_readonly("stop_reason",
                             [](const hwnas::TrialResult& t) { return std::string(hwnas::to_string(t.stop_reason)); })
      .def("__repr__",
           [](const hwnas::TrialResult& t) {
             return "hwnas.TrialResult(index=" + std::to_string(t.index) + ", epochs=" + std::to_string(t.epochs) +
                    (t.stopped_early ? ", stopped by ASHA)" : ")");
           })
      .def(py::pickle(&trial_state, &trial_from_state));

  py::class_<hwnas::AshaRungs>(m, "AshaRungs",
                               "The deterministic ASHA rule (docs/tune.md): trial i decides at rung k from the "
                               "metrics of trials j < i at rung k, once each has recorded it or finished.")
      .def(py::init<std::size_t, std::size_t, std::size_t>(), py::arg("trials"), py::arg("rungs"),
           py::arg("reduction_factor"))
      .def("ready", &hwnas::AshaRungs::ready, py::arg("trial"), py::arg("rung"))
      .def("report", &hwnas::AshaRungs::report, py::arg("trial"), py::arg("rung"), py::arg("metric"),
           "records the metric; True: the trial goes on")
      .def("finish", &hwnas::AshaRungs::finish, py::arg("trial"))
      .def("reached", &hwnas::AshaRungs::reached, py::arg("trial"));

  py::class_<TuneJob>(m, "TuneJob",
                      "A tuning's data (the split's train and validation rows) and grid; trials run anywhere "
                      "(hwnas.farm.tune) and report() assembles hwnas.tune's report.")
      .def(py::init([](const Dataset& data, const std::string& target, const std::string& split,
                       const std::string& recipe, std::uint64_t seed, std::optional<std::size_t> max_epochs,
                       std::size_t grace_period, std::size_t reduction_factor,
                       std::optional<std::vector<double>> learning_rates, std::optional<std::vector<double>> momenta,
                       std::optional<std::vector<double>> weight_decays, std::size_t threads) {
             return make_job(data, {target, split, recipe, seed, max_epochs, {}, {}, {}},
                             {learning_rates, momenta, weight_decays, grace_period, reduction_factor, threads});
           }),
           py::arg("data"), py::kw_only(), py::arg("target"), py::arg("split") = "benchmark",
           py::arg("recipe") = "default", py::arg("seed") = 0, py::arg("max_epochs") = py::none(),
           py::arg("grace_period") = 5, py::arg("reduction_factor") = 4, py::arg("learning_rates") = py::none(),
           py::arg("momenta") = py::none(), py::arg("weight_decays") = py::none(), py::arg("threads") = 2)
      .def_property_readonly("trials", [](const TuneJob& j) { return hwnas::grid_size(j.options); },
                             "configurations in the grid")
      .def_property_readonly("deciding_rungs", [](const TuneJob& j) { return hwnas::deciding_rungs(j.options); })
      .def_property_readonly("reduction_factor", [](const TuneJob& j) { return j.options.reduction_factor; })
      .def(
          "run_trial",
          [](const TuneJob& job, std::size_t index, py::function keep) {
            auto held = std::make_shared<py::function>(std::move(keep));
            const hwnas::TrialGate gate{.keep = [held](std::size_t rung, double rmse) {
              py::gil_scoped_acquire gil;
              return py::bool_((*held)(rung, rmse)).cast<bool>();
            }};
            return with_rows(job, [&](const auto& prototype, const auto& rows) {
              py::gil_scoped_release free;
              return hwnas::run_tune_trial(prototype, std::span(rows.train), std::span(rows.y_train),
                                           std::span(rows.validation), std::span(rows.y_validation), job.options,
                                           index, gate);
            });
          },
          py::arg("index"), py::arg("keep"),
          "trains configuration `index`; keep(rung, validation_rmse) decides at each deciding rung (True: go on)")
      .def(
          "report",
          [](const TuneJob& job, std::vector<hwnas::TrialResult> trials, double seconds) {
            const std::size_t n = hwnas::grid_size(job.options);
            if (trials.size() != n) {
              throw hwnas::InvalidArgument("report: " + std::to_string(trials.size()) + " trials for a grid of " +
                                           std::to_string(n));
            }
            std::sort(trials.begin(), trials.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
            for (std::size_t i = 0; i < n; ++i) {
              if (trials[i].index != i) throw hwnas::InvalidArgument("report: trial " + std::to_string(i) + " is missing");
            }
            return report_py(job, hwnas::tune_report(std::move(trials), job.options, seconds));
          },
          py::arg("trials"), py::arg("seconds"), "hwnas.tune's report of every trial of the grid")
      .def("run",
           [](const TuneJob& job) {
             const auto report = with_rows(job, [&](const auto& prototype, const auto& rows) {
               py::gil_scoped_release free;
               return hwnas::tune(prototype, std::span(rows.train), std::span(rows.y_train),
                                  std::span(rows.validation), std::span(rows.y_validation), job.options);
             });
             return report_py(job, report);
           })
      .def(py::pickle(
          [](const TuneJob& j) {
            const auto csv = std::visit([](const auto& d) { return d.to_csv(); }, j.data.data);
            const auto grid = py::make_tuple(j.options.learning_rates, j.options.momenta, j.options.weight_decays,
                                             j.options.grace_period, j.options.reduction_factor, j.options.threads);
            return py::make_tuple(py::cast(j.data.space), csv, j.data.source, j.args.target, j.args.split,
                                  j.args.recipe, j.args.seed, j.args.epochs, grid);
          },
          [](const py::tuple& s) {
            if (s.size() != 9) throw hwnas::InvalidArgument("hwnas.TuneJob: not a pickled job");
            const auto space = s[0].cast<SpaceObject>();
            const auto csv = s[1].cast<std::string>();
            const auto source = s[2].cast<std::string>();
            Dataset data = std::visit(
                [&](const auto& sp) {
                  using Arch = typename std::decay_t<decltype(sp)>::arch_type;
                  return Dataset{hwnas::BasicDataset<Arch>::parse_csv(csv, source, layout_of(sp)), space, source};
                },
                space.value);
            const auto g = s[8].cast<py::tuple>();
            return make_job(std::move(data),
                            {s[3].cast<std::string>(), s[4].cast<std::string>(), s[5].cast<std::string>(),
                             s[6].cast<std::uint64_t>(), s[7].cast<std::optional<std::size_t>>(), {}, {}, {}},
                            {g[0].cast<std::vector<double>>(), g[1].cast<std::vector<double>>(),
                             g[2].cast<std::vector<double>>(), g[3].cast<std::size_t>(), g[4].cast<std::size_t>(),
                             g[5].cast<std::size_t>()});
          }));
}

}  // namespace hwnas_py
