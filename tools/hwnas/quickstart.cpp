// quickstart, the main job on an embedded default: measure this machine
// with the built-in executor (a dataset and a lookup table of OFA
// MobileNetV3 w1.0 at OFA's search resolutions), train a predictor on 80 %
// of the dataset, compare it with the lookup table on the other 20 %, then
// search with the predictor and measure the winner (again with a wider
// margin while it is over the budget).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include <fmt/core.h>

#include "common.hpp"
#include "hwnas/io/arch.hpp"
#include "hwnas/io/lut.hpp"
#include "hwnas/lut/lut_estimator.hpp"
#include "hwnas/measure/builders.hpp"
#include "hwnas/measure/cpu_executor.hpp"
#include "hwnas/predictor/model_file.hpp"
#include "hwnas/search/evolution.hpp"
#include "hwnas/search/score.hpp"
#include "hwnas/version.hpp"

namespace hwnas_cli {

namespace {

struct QuickstartOptions {
  std::uint64_t seed = 0;
  std::size_t n = 250;
  std::size_t repeats = 10;
  std::string output = "hwnas-quickstart";
  double budget = 0;    ///< ms; 0: the held-out networks' median latency
  std::size_t rounds = 3;  ///< searches at most, each measured winner over the budget raising the margin
  double slowdown = 1;     ///< hidden, for tests: the winner's measurement times this, as on a busy machine
  bool progress = false;
  bool json = false;
};

/// How the measured winner compares with the budget it was searched for.
struct BudgetVerdict {
  bool within = true;
  double overshoot_pct = 0;  ///< how far over the budget, % (0 within it)
};

BudgetVerdict budget_verdict(double budget, double measured) {
  if (measured <= budget) return {};
  return {false, 100 * (measured / budget - 1)};
}

int run_quickstart(const QuickstartOptions& q) {
  namespace fs = std::filesystem;
  const Progress progress(q.progress);
  const auto space = MbConvSpace::ofa_mobilenet_v3().with_resolutions(hwnas::ofa_search_resolutions());
  const fs::path dir = q.output;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw hwnas::IoError("-o: cannot create folder '" + q.output + "': " + ec.message());
  const hwnas::measure::TimingOptions timing{.warmup = 2, .repeats = q.repeats};
  hwnas::measure::CpuExecutor cpu(q.seed);
  if (!q.json) {
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
  hwnas::LatencyPredictor<float> predictor(space, recipe.predictor);
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
  const bool median_budget = q.budget == 0;
  const double budget = median_budget ? std::round(10 * sorted_test[(sorted_test.size() - 1) / 2]) / 10 : q.budget;
  const double margin = hwnas::latency_margin(mlp_test, y_test);
  const hwnas::FunctionScore macs([&space](std::span<const Architecture> archs) {
    std::vector<double> out;
    for (const auto& a : archs) out.push_back(static_cast<double>(space.cost(a).macs) / 1e6);
    return out;
  });
  // The winner is measured; one over the budget shows an under-estimate the
  // held-out networks did not: the margin rises to it and the search runs
  // again, at most --rounds times.
  Json search = {{"budget", budget}, {"margin", margin}};
  Json rounds = Json::array();
  std::ostringstream search_text;
  search_text << std::fixed << "\nsearch: the most MACs within " << std::setprecision(1) << budget
              << (median_budget ? " ms (the held-out median)" : " ms (--budget)")
              << ", latency from the predictor with its worst held-out under-estimate, "
              << 100 * margin << " %, as margin";
  std::optional<Json> best;  // the last round's winner
  double round_margin = margin;
  for (std::size_t round = 1; round <= q.rounds; ++round) {
    const hwnas::EvolutionFinder finder(space, {.budgets = {budget}, .latency_margin = round_margin, .seed = q.seed});
    Json entry = {{"margin", round_margin}};
    std::optional<hwnas::EvolutionResult> found;
    try {
      found = finder.run(macs, predictor);
    } catch (const hwnas::InvalidArgument& e) {
      // With few samples the margin can rule out every network: say so, keep the rest.
      entry["skipped"] = e.what();
      rounds.push_back(entry);
      if (round == 1) {
        search["skipped"] = e.what();
        search_text << ": skipped, " << e.what() << " (measure more networks: --n)\n";
      } else {
        search_text << fmt::format("  round {}: no network fits with that margin\n", round);
      }
      break;
    }
    const auto& winner = found->budgets.front().best;
    const double measured =
        q.slowdown * hwnas::measure::measure_network(cpu, space, winner.arch, 1, timing).median;
    const auto verdict = budget_verdict(budget, measured);
    entry.update({{"mmacs", winner.fitness}, {"predicted", winner.latency}, {"measured", measured}});
    rounds.push_back(entry);
    best = Json{{"arch", winner.arch},
                {"mmacs", winner.fitness},
                {"predicted", winner.latency},
                {"measured", measured},
                {"within_budget", verdict.within},
                {"overshoot_pct", verdict.overshoot_pct},
                {"evaluations", found->latency_evaluations},
                {"search_s", found->seconds}};
    if (round == 1) {
      search_text << "; " << found->generations << " generations, " << found->latency_evaluations
                  << " networks scored in " << std::setprecision(2) << found->seconds << " s:\n";
    } else {
      search_text << fmt::format("  round {}, margin {:.1f} %: {} networks scored in {:.2f} s:\n", round,
                                 100 * round_margin, found->latency_evaluations, found->seconds);
    }
    search_text << "  " << hwnas::arch_to_json(winner.arch) << "\n  " << std::setprecision(1) << winner.fitness
                << " M MACs, predicted " << std::setprecision(2) << winner.latency << " ms, measured now " << measured
                << " ms\n";
    if (verdict.within) {
      search_text << "  within the budget\n";
      break;
    }
    if (round == q.rounds) break;
    // Over the budget means measured > predicted x (1 + margin): the
    // under-estimate exceeds this round's margin.
    const double under_estimate = measured / winner.latency - 1;
    round_margin = under_estimate;
    search_text << fmt::format(
        "  over the budget by {:.1f} %: the predictor under-estimated this network by {:.1f} %, the next round's "
        "margin\n",
        verdict.overshoot_pct, 100 * under_estimate);
  }
  if (best && !(*best)["within_budget"].get<bool>()) {
    search_text << fmt::format(
        "  measured {:.2f} ms: over the budget by {:.1f} % — the machine was busy or the predictor "
        "under-estimates; rerun on an idle machine (the measurements are reused), measure more networks (--n) "
        "or allow more rounds (--rounds)\n",
        (*best)["measured"].get<double>(), (*best)["overshoot_pct"].get<double>());
  }
  if (best) search.update(*best);
  search["rounds"] = rounds;

  if (q.json) {
    print_json({{"version", hwnas::version_string},
                {"seed", q.seed},
                {"space", space.name()},
                {"resolutions", space.options().resolutions},
                {"output", q.output},
                {"lut",
                 {{"keys", lut_report.measured + lut_report.resumed},
                  {"measured", lut_report.measured},
                  {"seconds", lut_report.seconds}}},
                {"dataset", {{"rows", data.size()}, {"measured", data_report.measured}, {"seconds", data_report.seconds}}},
                {"n_train", train.size()},
                {"n_test", test.size()},
                {"train_s", fit.seconds},
                {"lut_test", lut_metrics},
                {"predictor_test", mlp_metrics},
                {"search", search}});
    return 0;
  }
  std::cout << "lookup table: " << lut_report.measured + lut_report.resumed << " layer keys (" << lut_report.measured
            << " measured now, " << std::fixed << std::setprecision(1) << lut_report.seconds << " s) in "
            << (dir / "lut").string() << "/\n"
            << "dataset: " << data.size() << " sub-networks (" << data_report.measured << " measured now, "
            << data_report.seconds << " s) in " << (dir / "cpu.csv").string() << "\n"
            << "predictor: trained on " << train.size() << " of them in " << fit.seconds << " s, saved to "
            << (dir / "cpu.hwnas").string() << "\n\n"
            << "on the " << test.size() << " held-out sub-networks (measured median latency):\n";
  std::cout << fmt::format("  {:<28} {:>8} {:>8} {:>9} {:>9}\n", "", "RMSE %", "MAPE %", "Kendall", "Spearman");
  for (const auto& [name, m] :
       {std::pair{"lookup table (sum of layers)", lut_metrics}, std::pair{"learned predictor", mlp_metrics}}) {
    std::cout << fmt::format("  {:<28} {:8.2f} {:8.2f} {:9.3f} {:9.3f}\n", name, m.rmse_pct, m.mape, m.kendall,
                             m.spearman);
  }
  std::cout << search_text.str() << "\nnext: hwnas measure / lut build / train / search on your own device (docs/cli.md)\n";
  return 0;
}

}  // namespace

void add_quickstart_command(CLI::App& app, int& status) {
  auto o = std::make_shared<QuickstartOptions>();
  auto* cmd = app.add_subcommand(
      "quickstart", "the main job: measure this CPU, build a lookup table, train a predictor, compare them");
  cmd->add_option("--seed", o->seed, "which sub-networks, weights, split")->capture_default_str()->check(non_negative());
  cmd->add_option("-o,--output", o->output, "folder for the dataset, the lookup table and the model")
      ->capture_default_str();
  add_json_flag(*cmd, o->json);
  cmd->add_option("--n", o->n, "sub-networks to measure (80 % train, 20 % test)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{10}, std::size_t{100000}));
  cmd->add_option("--repeats", o->repeats, "timed runs per network and per layer")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--budget", o->budget, "latency budget of the search, ms (default: the held-out median)")
      ->check(real_in(0, false, HUGE_VAL, false, "> 0"));
  cmd->add_option("--rounds", o->rounds,
                  "searches at most: a winner measured over the budget makes its under-estimate the margin of the "
                  "next")
      ->capture_default_str()
      ->check(positive());
  // Hidden: makes the over-budget verdict testable without a busy machine.
  cmd->add_option("--test-slowdown", o->slowdown, "multiply the winner's measured latency by F (tests)")
      ->check(real_in(0, false, HUGE_VAL, false, "> 0"))
      ->group("");
  add_progress_flag(*cmd, o->progress);
  cmd->callback([o, &status] { status = run_quickstart(*o); });
}

}  // namespace hwnas_cli
