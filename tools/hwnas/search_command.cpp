// search: OFA's evolutionary search with an accuracy model as fitness and a
// lookup table, a latency model or live measurement as latency source.
#include <initializer_list>
#include <iostream>
#include <memory>
#include <type_traits>
#include <variant>

#include <fmt/core.h>

#include "common.hpp"
#include "hwnas/io/arch.hpp"
#include "hwnas/lut/lut_estimator.hpp"
#include "hwnas/measure/adapter.hpp"
#include "hwnas/measure/cpu_executor.hpp"
#include "hwnas/predictor/model_file.hpp"
#include "hwnas/search/evolution.hpp"

namespace hwnas_cli {

namespace {

struct SearchOptions {
  SpaceArgs space;
  std::string latency;   ///< lut:DIR, model:FILE or measure:cpu
  std::string accuracy;  ///< model:FILE
  std::vector<double> budgets;
  std::uint64_t seed = 0;
  std::size_t generations = 500;
  std::size_t population = 100;
  double margin = 0;
  bool memoize = true;  ///< the library's default: the same winners, far fewer evaluations
  std::string pareto;  ///< CSV of the Pareto front, or empty
  bool progress = false;
  bool json = false;
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

/// The winners and the Pareto front of a finished search.
template <class Space>
int report_search(const Space& space, const SearchOptions& o, const std::string& lat_kind,
                  const hwnas::BasicEvolutionResult<typename Space::arch_type>& result) {
  constexpr bool mbconv = std::is_same_v<Space, MbConvSpace>;
  bool with_macs = true;  // a space with a layer list
  if constexpr (!mbconv) with_macs = space.has_layers();
  if (!o.pareto.empty()) {
    hwnas::BasicDataset<typename Space::arch_type> front(std::vector<std::string>{"latency", "accuracy"},
                                                         space.columns());
    for (std::size_t i = 0; i < result.pareto.size(); ++i) {
      const auto& c = result.pareto[i];
      const double row[] = {c.latency, c.fitness};
      front.add_row(static_cast<std::int64_t>(i), c.arch, row);
    }
    front.write_csv(o.pareto);
  }
  if (o.json) {
    Json results = Json::array();
    for (const auto& b : result.budgets) {
      Json r = {{"budget", b.budget},
                {"arch", arch_json(space, b.best.arch)},
                {"accuracy", b.best.fitness},
                {"latency", b.best.latency}};
      if (with_macs) r["macs"] = space.cost(b.best.arch).macs;
      results.push_back(std::move(r));
    }
    print_json({{"results", results},
                {"evaluations", result.latency_evaluations},
                {"accuracy_evaluations", result.fitness_evaluations},
                {"cache_hits", result.latency_cache_hits},
                {"generations", result.generations},
                {"pareto_size", result.pareto.size()},
                {"search_s", result.seconds},
                {"latency", o.latency},
                {"space", space.name()}});
    return 0;
  }
  const char* latency_kind = lat_kind == "measure" ? "measured" : "predicted";
  for (const auto& b : result.budgets) {
    std::cout << fmt::format("budget {:g} ms: accuracy {:.5f}, {} latency {:.4f} ms", b.budget, b.best.fitness,
                             latency_kind, b.best.latency);
    if (with_macs) std::cout << fmt::format(", {:.3f} M MACs", static_cast<double>(space.cost(b.best.arch).macs) / 1e6);
    if constexpr (mbconv) {
      std::cout << "\n" << hwnas::arch_to_json(b.best.arch) << "\n";
    } else {
      std::cout << "\n" << arch_json(space, b.best.arch).dump() << "\n";
    }
  }
  return 0;
}

template <class Space>
int search_in(const Space& space, const SearchOptions& o) {
  const Progress progress(o.progress);
  if (!o.pareto.empty()) check_output_path(o.pareto);
  const auto [acc_kind, acc_path] = source_spec("--accuracy", o.accuracy, {"model"});
  const auto accuracy = hwnas::load_predictor<float, Space>(acc_path);
  // A categorical space without layers has no lookup table and nothing to run.
  bool has_layers = true;
  if constexpr (std::is_same_v<Space, CategoricalSpace>) has_layers = space.has_layers();
  const auto [lat_kind, lat_value] = has_layers ? source_spec("--latency", o.latency, {"lut", "model", "measure"})
                                                : source_spec("--latency", o.latency, {"model"});
  const hwnas::BasicEvolutionFinder<Space> finder(space, {.population = o.population,
                                                          .generations = o.generations,
                                                          .budgets = o.budgets,
                                                          .latency_margin = o.margin,
                                                          .seed = o.seed,
                                                          .memoize = o.memoize});
  auto on_generation = [&](const hwnas::GenerationInfo& g) {
    if (progress.on() && ((g.generation + 1) % 50 == 0 || g.generation + 1 == o.generations)) {
      progress.line("generation " + std::to_string(g.generation + 1) + "/" + std::to_string(o.generations));
    }
    return false;
  };
  if (lat_kind == "model") {
    return report_search(space, o, lat_kind,
                         finder.run(accuracy, hwnas::load_ensemble<float, Space>(lat_value), on_generation));
  }
  if (lat_kind == "lut") {
    return report_search(space, o, lat_kind,
                         finder.run(accuracy, hwnas::BasicLutEstimator<Space>(space, load_luts(lat_value)),
                                    on_generation));
  }
  if (lat_value != "cpu") throw hwnas::InvalidArgument("--latency measure:" + lat_value + ": only measure:cpu");
  hwnas::measure::CpuExecutor cpu;
  const hwnas::measure::MeasuredLatency live(cpu, space, 1, {.warmup = 2, .repeats = 5});
  return report_search(space, o, lat_kind, finder.run(accuracy, live, on_generation));
}

int run_search(const SearchOptions& o) {
  return std::visit([&](const auto& space) { return search_in(space, o); }, o.space.make_any());
}

}  // namespace

void add_search_command(CLI::App& app, int& status) {
  auto o = std::make_shared<SearchOptions>();
  auto* cmd = app.add_subcommand("search", "OFA's evolutionary search under latency budgets; prints the winners");
  o->space.add_to(*cmd);
  cmd->add_option("--latency", o->latency,
                  "lut:DIR|FILE.json, model:FILE (a latency predictor) or measure:cpu; a categorical space: model:FILE")
      ->required();
  cmd->add_option("--accuracy", o->accuracy, "model:FILE (an accuracy predictor, e.g. from import-torch)")
      ->required();
  add_list_option(*cmd, "--budget", o->budgets, "latency budgets in ms (several share their evaluations)")->required();
  cmd->add_option("--seed", o->seed, "random seed")->capture_default_str()->check(non_negative());
  cmd->add_option("--generations", o->generations, "generations")->capture_default_str()->check(positive());
  cmd->add_option("--population", o->population, "population")->capture_default_str()->check(positive());
  cmd->add_option("--margin", o->margin, "safety margin: latency x (1 + margin) must meet the budget")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_flag("--memoize,!--no-memoize", o->memoize,
                "cache every score by network (the default: same winners, fewer evaluations); --no-memoize scores "
                "every proposal");
  cmd->add_option("--pareto", o->pareto, "write the Pareto front (latency, accuracy) as a dataset CSV");
  add_progress_flag(*cmd, o->progress);
  add_json_flag(*cmd, o->json);
  cmd->callback([o, &status] { status = run_search(*o); });
}

}  // namespace hwnas_cli
