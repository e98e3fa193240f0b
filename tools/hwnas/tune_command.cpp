// tune: ASHA over learning rate x momentum x weight decay (hwnas::tune).
#include <iomanip>
#include <iostream>
#include <memory>
#include <variant>

#include <fmt/core.h>

#include "common.hpp"
#include "hwnas/predictor/tune.hpp"

namespace hwnas_cli {

namespace {

struct TuneOptions {
  DataArgs data;
  SpaceArgs space;
  std::string recipe = "default";
  std::uint64_t seed = 0;
  std::size_t threads = 2;
  std::size_t max_epochs = 0;  ///< 0: the recipe's epochs
  std::size_t grace_period = 5;
  std::size_t reduction_factor = 4;
  std::vector<double> learning_rates, momenta, weight_decays;  ///< empty: the library's grid
  bool progress = false;
  bool json = false;
};

std::string trial_text(const hwnas::TrialResult& t) {
  return fmt::format(
      "trial {:2}  lr {:<7g} momentum {:<4g} weight decay {:<7g} {:4} epoch{}  val RMSE best {:.4g}, last {:.4g} ms{}",
      t.index, t.learning_rate, t.momentum, t.weight_decay, t.epochs, t.epochs == 1 ? " " : "s", t.best_validation_rmse,
      t.final_validation_rmse,
      t.stopped_early                                    ? "  (stopped by ASHA)"
      : t.stop_reason == hwnas::StopReason::non_finite ? "  (diverged)"
                                                         : "");
}

template <class Space>
int tune_in(const Space& space, const TuneOptions& o, const hwnas::Recipe& recipe, const Progress& progress) {
  const auto table = load_table(o.data, table_layout(space), false, "tune");
  require_rows(table.split.train.size(), "train", table, o.data);
  require_rows(table.split.validation.size(), "validation", table, o.data);
  const auto [xt, yt] = table.rows(table.split.train, space, o.data.csv);
  const auto [xv, yv] = table.rows(table.split.validation, space, o.data.csv);

  hwnas::TuneOptions options;
  if (!o.learning_rates.empty()) options.learning_rates = o.learning_rates;
  if (!o.momenta.empty()) options.momenta = o.momenta;
  if (!o.weight_decays.empty()) options.weight_decays = o.weight_decays;
  options.max_epochs = recipe.training.epochs;
  options.grace_period = o.grace_period;
  options.reduction_factor = o.reduction_factor;
  options.threads = o.threads;
  options.base = recipe.training;
  const std::size_t n_trials = options.learning_rates.size() * options.momenta.size() * options.weight_decays.size();
  std::size_t done = 0;
  if (progress.on()) {
    // Called under tune's lock, one trial at a time.
    options.on_trial_done = [&](const hwnas::TrialResult& t) {
      progress.line("[" + std::to_string(++done) + "/" + std::to_string(n_trials) + "] " + trial_text(t));
    };
  }
  const hwnas::LatencyPredictor<float, Space> prototype(space, recipe.predictor);
  const auto report = hwnas::tune(prototype, xt, yt, xv, yv, options);
  const auto& best = report.trials[report.best];

  if (o.json) {
    print_json(hwnas::tune_report_json(report, options,
                                       Json{{"recipe", o.recipe},
                                            {"target", o.data.target},
                                            {"split", table.choice.text},
                                            {"seed", o.seed},
                                            {"n_train", xt.size()},
                                            {"n_validation", xv.size()}}));
    return 0;
  }
  for (const auto& t : report.trials) std::cout << trial_text(t) << "\n";
  std::cout << "best: " << trial_text(best) << "\n"
            << n_trials << " trials in " << std::fixed << std::setprecision(2) << report.seconds << " s\n";
  return 0;
}

int run_tune(const TuneOptions& o) {
  const Progress progress(o.progress);
  const auto recipe = make_recipe(o.recipe, o.max_epochs, o.seed);
  return std::visit([&](const auto& space) { return tune_in(space, o, recipe, progress); }, o.space.make_any());
}

}  // namespace

void add_tune_command(CLI::App& app, int& status) {
  auto o = std::make_shared<TuneOptions>();
  auto* cmd = app.add_subcommand("tune", "ASHA search over learning rate x momentum x weight decay");
  o->data.add_to(*cmd, false);
  o->space.add_to(*cmd);
  cmd->add_option("--recipe", o->recipe,
                  "paper (the method exactly), default (hwnas's best; train's and tune's default) or finetune "
                  "(default, for N samples; finetune's default)");
  cmd->add_option("--seed", o->seed, "seed of the initialisation and the batches")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--threads", o->threads, "worker threads (0: every core)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--max-epochs", o->max_epochs, "epochs of a trial never stopped (default: the recipe's, 100)")
      ->check(positive());
  cmd->add_option("--grace-period", o->grace_period, "first rung, in epochs")->capture_default_str()->check(positive());
  cmd->add_option("--reduction-factor", o->reduction_factor, "keep the best 1/F at each rung (F >= 2)")
      ->capture_default_str()
      ->check(positive());
  add_list_option(*cmd, "--learning-rates", o->learning_rates, "grid (default 0.1,0.03,0.01,0.003)");
  add_list_option(*cmd, "--momenta", o->momenta, "grid (default 0,0.5,0.9)");
  add_list_option(*cmd, "--weight-decays", o->weight_decays, "grid (default 0,1e-5,1e-4)");
  add_progress_flag(*cmd, o->progress);
  add_json_flag(*cmd, o->json);
  cmd->callback([o, &status] { status = run_tune(*o); });
}

}  // namespace hwnas_cli
