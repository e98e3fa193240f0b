// Fine-tuning a latency predictor to a new device from N measured samples:
// a curve of test RMSE % over N for three strategies, on the benchmark split
// of HELP's OFA GPU latencies, printed as one JSON object.
//
//   finetune_curve [CSV] [--full] [--columns a,b,..] [--samples 50,100,..] [--seeds 1,2,3]
//                  [--candidates 3] [--keep 2] [--folds 2] [--method-base 2080ti_1] [--out FILE]
//
// For a target column and a seed, the N samples are the first N of
// random_subset(train rows, largest N, seed) (nested: the 100 contain the 50).
// Nothing else of the target column is used: 20 % of the N samples validate.
// Strategies:
//   scratch   finetune_recipe() from scratch on the samples (its hold-out
//             validates);
//   finetune  hwnas::fine_tune_from (transfer.hpp) with the default_recipe()
//             predictors of every other column as bases: the `candidates`
//             bases whose predictions a line maps best onto the samples are
//             fine-tuned, the `keep` with the lowest validation RMSE kept,
//             each refitted on `folds` hold-out folds, all averaged;
//   method    the method: the paper recipe's base on one device (2080ti_1),
//             the first 2 layers frozen, the paper recipe's training on all N
//             samples (for that column itself, the next column is the base).
// "full" is default_recipe() on all train rows of the column with its
// validation rows: the reference the curve should approach. The full models
// are also the bases of the other columns.
//
// --full: all 9 columns, N = 50..700, 3 seeds (about 13 minutes on one
// core; tools/results/run.sh runs it). Without it: v100_64, N = 50, seed 1
// (the 9 full models are still trained as bases: about 1.5 minutes). The CSV
// defaults to $HWNAS_DATA_DIR or the checkout's ../shared/data; without it
// the program says "skipped: ..." and exits 77 (CTest: skipped).
#include <hwnas/hwnas.hpp>
#include <hwnas/io/json.hpp>

#include "experiment_args.hpp"
#include "seed_mean.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace {

using Predictor = hwnas::LatencyPredictor<float>;
using hwnas::Json;
using hwnas_experiment::SeedMean;

struct Options {
  std::filesystem::path csv = hwnas_experiment::data_dir() / "help-ofa" / "ofa_gpu_latency.csv";
  bool full = false;
  std::vector<std::string> columns;  // empty: every column
  std::vector<std::size_t> samples{50, 100, 200, 400, 700};
  std::vector<std::uint64_t> seeds{1, 2, 3};
  std::size_t candidates = 3;
  std::size_t keep = 2;
  std::size_t folds = 2;  // 1 or 2 hold-outs per kept base
  std::string method_base = "2080ti_1";
};

int run(int argc, char** argv) {
  Options opt;
  // Without --full: a quick check (one column, N = 50, one seed), what CTest runs.
  if (!hwnas_experiment::Args::given(argc, argv, "--full")) {
    opt.columns = {"v100_64"};
    opt.samples = {50};
    opt.seeds = {1};
  }
  hwnas_experiment::Args args("finetune_curve", "Test RMSE % of fine-tuning to a new device from N samples.");
  args.positional("CSV", opt.csv, "HELP's ofa_gpu_latency.csv")
      .flag("--full", opt.full, "every column, N = 50..700, seeds 1,2,3")
      .texts("--columns", opt.columns, "target columns (default: all with --full, else v100_64)")
      .numbers("--samples", opt.samples, "values of N")
      .numbers("--seeds", opt.seeds, "seeds of the sample draws and the training")
      .number("--candidates", opt.candidates, "bases fine-tuned (3)")
      .number("--keep", opt.keep, "fine-tuned bases kept (2)")
      .number("--folds", opt.folds, "hold-out folds per kept base, 1 or 2 (2)")
      .text("--method-base", opt.method_base, "the method's base column (2080ti_1)");
  if (!args.parse(argc, argv)) return 0;
  std::sort(opt.samples.begin(), opt.samples.end());
  if (opt.candidates == 0 || opt.keep == 0) throw hwnas::InvalidArgument("--candidates and --keep must not be 0");
  if (opt.folds != 1 && opt.folds != 2) throw hwnas::InvalidArgument("--folds must be 1 or 2");
  opt.keep = std::min(opt.keep, opt.candidates);
  if (!hwnas_experiment::data_present({opt.csv}, "pass the dataset CSV as the first argument or set HWNAS_DATA_DIR")) {
    return hwnas_experiment::kSkipped;
  }
  const hwnas_experiment::Stopwatch clock;

  const auto data = hwnas::Dataset::read_csv(opt.csv);
  const auto split = hwnas::benchmark_split(data);
  // HELP's networks come from OFA's w1.2 supernet.
  const auto space = hwnas::MbConvSpace::ofa_mobilenet_v3(1.2);
  const auto train = data.subset(split.train), val = data.subset(split.validation), test = data.subset(split.test);
  const auto &train_archs = train.archs(), &val_archs = val.archs(), &test_archs = test.archs();
  const auto& all_columns = data.columns();
  const std::vector<std::string> targets = opt.columns.empty() ? all_columns : opt.columns;
  for (const auto& t : targets) {
    if (std::find(all_columns.begin(), all_columns.end(), t) == all_columns.end()) {
      throw hwnas::InvalidArgument("no column " + t);
    }
  }

  // The full-data models: the reference for their column, a base for the others.
  std::map<std::string, Predictor> full;
  for (const auto& c : all_columns) {
    Predictor p(space, hwnas::default_recipe().predictor);
    p.fit(train_archs, train.column(c), val_archs, val.column(c),
          hwnas::default_recipe().training);
    full.emplace(c, std::move(p));
    clock.progress("full model " + c);
  }
  // The method's base: the paper recipe on one device.
  std::map<std::string, Predictor> paper_bases;
  auto paper_base = [&](const std::string& c) -> const Predictor& {
    if (auto it = paper_bases.find(c); it != paper_bases.end()) return it->second;
    Predictor p(space, hwnas::paper_recipe().predictor);
    p.fit(train_archs, train.column(c), {}, {}, hwnas::paper_recipe().training);
    clock.progress("paper base " + c);
    return paper_bases.emplace(c, std::move(p)).first->second;
  };

  Json out;
  out["data"] = opt.csv.string();
  out["split"] = "benchmark (id % 20: 0-2 test, 3-5 validation, the rest train)";
  out["samples"] = opt.samples;
  out["seeds"] = opt.seeds;
  out["strategies"] = {
      {"scratch", "finetune_recipe() from scratch on the N samples (its seeded 20 % hold-out validates)"},
      {"finetune", "`hwnas::fine_tune_from` with the other columns' default bases: the " +
                       std::to_string(opt.candidates) +
                       " whose predictions a line maps best onto the samples fine-tuned with "
                       "finetune_recipe().training, the " +
                       std::to_string(opt.keep) + " with the lowest hold-out RMSE kept, each fine-tuned on " +
                       std::to_string(opt.folds) + " seeded 20 % hold-out folds, all averaged"},
      {"method", "paper recipe base on " + opt.method_base +
                     ", frozen_layers = 2, paper training on all N samples, last epoch"}};

  for (const auto& target : targets) {
    const auto y_test = test.column(target);
    Json col;
    col["full"] = full.at(target).evaluate(test_archs, y_test);
    // The method's base must not be the target itself.
    std::string method_col = opt.method_base;
    if (method_col == target) {
      const auto it = std::find(all_columns.begin(), all_columns.end(), target);
      method_col = std::next(it) == all_columns.end() ? all_columns.front() : *std::next(it);
    }
    col["method_base"] = method_col;
    std::map<std::size_t, std::map<std::string, SeedMean>> curve;
    std::map<std::size_t, Json> chosen;
    for (const auto seed : opt.seeds) {
      const auto subset = hwnas::random_subset(split.train, opt.samples.back(), seed);
      for (const auto n : opt.samples) {
        const std::vector<std::size_t> idx(subset.begin(), subset.begin() + static_cast<std::ptrdiff_t>(n));
        const auto samples = data.subset(idx);
        const auto& xa = samples.archs();
        const auto ya = samples.column(target);
        auto training = hwnas::finetune_recipe().training;
        training.seed = seed;

        // scratch: the recipe's hold-out (20 %) validates
        {
          Predictor p(space, hwnas::finetune_recipe().predictor);
          p.fit(xa, ya, {}, {}, training);
          curve[n]["scratch"].add(p.evaluate(test_archs, y_test));
        }
        // finetune: hwnas::fine_tune_from over the other columns' bases
        {
          std::vector<std::string> names;
          std::vector<Predictor> bases;
          for (const auto& c : all_columns) {
            if (c == target) continue;
            names.push_back(c);
            bases.push_back(full.at(c));
          }
          hwnas::TransferOptions transfer;
          transfer.candidates = opt.candidates;
          transfer.keep = opt.keep;
          transfer.folds = opt.folds;
          transfer.training.seed = seed;
          hwnas::TransferReport report;
          const auto ensemble = hwnas::fine_tune_from<float>(bases, xa, ya, transfer, &report);
          curve[n]["finetune"].add(ensemble.evaluate(test_archs, y_test));
          Json kept = Json::array();
          for (const auto& c : report.candidates) {
            if (c.kept) kept.push_back(names[c.base]);
          }
          chosen[n].push_back(kept);
        }
        // the method
        {
          Predictor p = paper_base(method_col);
          auto method = hwnas::paper_recipe().training;
          method.frozen_layers = 2;
          method.seed = seed;
          p.fine_tune(xa, ya, {}, {}, method);
          curve[n]["method"].add(p.evaluate(test_archs, y_test));
        }
      }
      clock.progress(target + " seed " + std::to_string(seed));
    }
    Json points = Json::array();
    for (const auto& [n, by_strategy] : curve) {
      Json point{{"n", n}};
      for (const auto& [name, mean] : by_strategy) point[name] = mean.to_json();
      point["finetune"]["bases_per_seed"] = chosen[n];
      point["finetune_over_full"] = point["finetune"]["rmse_pct"].get<double>() / col["full"]["rmse_pct"].get<double>();
      points.push_back(point);
    }
    col["curve"] = points;
    out["columns"][target] = col;
  }
  out["seconds"] = clock.seconds();
  args.emit(out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return hwnas_experiment::guarded("finetune_curve", [&] { return run(argc, argv); });
}
