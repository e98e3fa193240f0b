// hwnas.search: OFA's evolutionary search with a model, a lookup table or a
// Python callable as latency source and fitness. The search runs without
// the GIL; a callable takes it back for its batch, once per generation.
#include <cmath>

#include "hwnas/search/evolution.hpp"
#include "models.hpp"

namespace hwnas_py {

namespace {

template <class Space>
using Score = hwnas::BasicFunctionScore<typename Space::arch_type>;

/// A Python callable of a list of architectures as a batch score: one
/// finite number per architecture.
template <class Space>
Score<Space> callable_score(const Space& space, py::function f, const std::string& what) {
  // The search may copy its scores without the GIL: a shared_ptr's copies
  // leave the function's reference count alone.
  auto held = std::make_shared<py::function>(std::move(f));
  return Score<Space>([&space, held, what](std::span<const typename Space::arch_type> archs) {
    py::gil_scoped_acquire gil;
    const py::object result = (*held)(archs_to_py(space, {archs.begin(), archs.end()}));
    std::vector<double> out;
    try {
      out = py::cast<std::vector<double>>(result);
    } catch (const py::cast_error&) {
      throw hwnas::InvalidArgument("search: the " + what + " callable returned " +
                                   std::string(py::str(result.get_type().attr("__name__"))) +
                                   ", expected a sequence of numbers (one per architecture)");
    }
    if (out.size() != archs.size()) {
      throw hwnas::InvalidArgument("search: the " + what + " callable returned " + std::to_string(out.size()) +
                                   " values for " + std::to_string(archs.size()) + " architectures");
    }
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (!std::isfinite(out[i])) {
        throw hwnas::InvalidArgument("search: the " + what + " callable returned " +
                                     hwnas::detail::format_double(out[i]) + " for architecture " + std::to_string(i) +
                                     " of its batch");
      }
    }
    return out;
  });
}

/// A model, a lookup table or a callable as a batch score of `space`,
/// checked to hold every network of it; `what` names it in errors.
template <class Space>
Score<Space> score_of(const Space& space, py::handle source, const std::string& what) {
  using Arch = typename Space::arch_type;
  const auto wrap = [&](const auto& s) {
    hwnas::detail::check_score_space(s, space, what.c_str());
    return Score<Space>([&s](std::span<const Arch> archs) { return s.predict(archs); });
  };
  if (py::isinstance<Model>(source)) {
    const auto* e = std::get_if<Ensemble<Space>>(&source.cast<const Model&>().ensemble);
    if (e == nullptr) throw hwnas::InvalidArgument("search: the " + what + " model is of another kind of space");
    if (e->hardware_features() != 0) {
      throw hwnas::InvalidArgument("search: the " + what + " model takes hardware features; search with a model of "
                                   "one device");
    }
    return wrap(*e);
  }
  if (py::isinstance<LookupTable>(source)) {
    const auto* t = std::get_if<hwnas::BasicLutEstimator<Space>>(&source.cast<const LookupTable&>().estimator);
    if (t == nullptr) throw hwnas::InvalidArgument("search: the " + what + " lookup table is of another kind of space");
    return wrap(*t);
  }
  if (py::isinstance<py::function>(source)) return callable_score(space, py::reinterpret_borrow<py::function>(source), what);
  throw hwnas::InvalidArgument("search: " + what + ": expected a hwnas.Model, a hwnas.LookupTable or a callable of a "
                               "list of architectures, found " +
                               std::string(py::str(source.get_type().attr("__name__"))));
}

template <class Space>
py::dict candidate_py(const Space& space, const hwnas::BasicCandidate<typename Space::arch_type>& c) {
  py::dict d;
  d["arch"] = arch_to_py(space, c.arch);
  d["accuracy"] = c.fitness;
  d["latency"] = c.latency;
  return d;
}

template <class Space>
py::dict search_in(const Space& space, py::handle latency, py::handle accuracy, const hwnas::EvolutionOptions& o) {
  const hwnas::BasicEvolutionFinder<Space> finder(space, o);
  const auto lat = score_of(space, latency, "latency");
  const auto fit = score_of(space, accuracy, "accuracy");
  hwnas::BasicEvolutionResult<typename Space::arch_type> r;
  {
    py::gil_scoped_release free;
    r = finder.run(fit, lat);
  }
  bool with_macs = true;
  if constexpr (std::is_same_v<Space, CategoricalSpace>) with_macs = space.has_layers();
  py::list results;
  for (const auto& b : r.budgets) {
    py::dict d = candidate_py(space, b.best);
    d["budget"] = b.budget;
    if (with_macs) d["macs"] = space.cost(b.best.arch).macs;
    d["history"] = to_numpy(b.history);
    results.append(std::move(d));
  }
  py::list pareto;
  for (const auto& c : r.pareto) pareto.append(candidate_py(space, c));
  py::dict out;
  out["results"] = std::move(results);
  out["pareto"] = std::move(pareto);
  out["evaluations"] = r.latency_evaluations;
  out["accuracy_evaluations"] = r.fitness_evaluations;
  out["cache_hits"] = r.latency_cache_hits;
  out["generations"] = r.generations;
  out["stopped"] = r.stopped;
  out["search_s"] = r.seconds;
  out["space"] = space.name();
  return out;
}

}  // namespace

void add_search(py::module_& m) {
  m.def(
      "search",
      [](const SpaceObject& space, py::handle latency, py::handle accuracy, std::vector<double> budgets,
         std::uint64_t seed, std::size_t population, std::size_t generations, double margin, bool memoize,
         std::int64_t max_macs, double time_budget_s) {
        const hwnas::EvolutionOptions o{.population = population,
                                        .generations = generations,
                                        .budgets = std::move(budgets),
                                        .latency_margin = margin,
                                        .max_macs = max_macs,
                                        .seed = seed,
                                        .memoize = memoize,
                                        .time_budget_s = time_budget_s};
        return std::visit([&](const auto& s) { return search_in(s, latency, accuracy, o); }, space.value);
      },
      py::arg("space"), py::kw_only(), py::arg("latency"), py::arg("accuracy"), py::arg("budgets"),
      py::arg("seed") = 0, py::arg("population") = 100, py::arg("generations") = 500, py::arg("margin") = 0.0,
      py::arg("memoize") = true, py::arg("max_macs") = 0, py::arg("time_budget_s") = 0.0,
      "OFA's evolutionary search under latency budgets (as `hwnas search`). latency and accuracy: a hwnas.Model, a "
      "hwnas.LookupTable (latency) or a callable that takes a list of architectures and returns one number each "
      "(called once per generation). Returns a dict: results (per budget: arch, accuracy, latency, macs, history), "
      "pareto, evaluation counts, seconds.");
}

}  // namespace hwnas_py
