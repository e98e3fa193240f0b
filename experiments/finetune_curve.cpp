// Fine-tuning a latency predictor to a new device from N measured samples
// (issue 3 §4): a curve of test RMSE % over N for three strategies, on the
// benchmark split of HELP's OFA GPU latencies, printed as one JSON object.
//
//   finetune_curve [CSV] [--full] [--columns a,b,..] [--samples 50,100,..] [--seeds 1,2,3]
//                  [--candidates 3] [--keep 2] [--folds 2] [--method-base 2080ti_1]
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
// core; tools/results.sh runs it). Without it: v100_64, N = 50, seed 1 (the
// 9 full models are still trained as bases: about 1.5 minutes). Without the
// CSV (default: the checkout's ../shared/data/help-ofa/ofa_gpu_latency.csv)
// it prints a skip message and exits 0.
#include <hwnas/hwnas.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using hwnas::Architecture;
using Predictor = hwnas::LatencyPredictor<float>;
using nlohmann::json;

struct Options {
  std::filesystem::path csv = std::filesystem::path(HWNAS_SOURCE_DIR) / "../shared/data/help-ofa/ofa_gpu_latency.csv";
  std::vector<std::string> columns;  // empty: every column
  std::vector<std::size_t> samples{50, 100, 200, 400, 700};
  std::vector<std::uint64_t> seeds{1, 2, 3};
  std::size_t candidates = 3;
  std::size_t keep = 2;
  std::size_t folds = 2;  // 1 or 2 hold-outs per kept base
  std::string method_base = "2080ti_1";
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  // Without --full: a quick check (one column, N = 50, one seed), what CTest runs.
  if (std::find_if(argv + 1, argv + argc, [](const char* a) { return std::string(a) == "--full"; }) == argv + argc) {
    o.columns = {"v100_64"};
    o.samples = {50};
    o.seeds = {1};
  }
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw hwnas::InvalidArgument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--full") {
      continue;
    } else if (a == "--columns") {
      o.columns = split_list(value());
    } else if (a == "--samples") {
      o.samples.clear();
      for (const auto& s : split_list(value())) o.samples.push_back(std::stoul(s));
      std::sort(o.samples.begin(), o.samples.end());
    } else if (a == "--seeds") {
      o.seeds.clear();
      for (const auto& s : split_list(value())) o.seeds.push_back(std::stoull(s));
    } else if (a == "--candidates") {
      o.candidates = std::stoul(value());
    } else if (a == "--keep") {
      o.keep = std::stoul(value());
    } else if (a == "--folds") {
      o.folds = std::stoul(value());
    } else if (a == "--method-base") {
      o.method_base = value();
    } else if (a == "-h" || a == "--help") {
      std::cout << "usage: finetune_curve [CSV] [--full] [--columns a,b] [--samples 50,100] [--seeds 1,2,3]\n"
                   "                      [--candidates 3] [--keep 2] [--folds 2] [--method-base 2080ti_1]\n";
      std::exit(0);
    } else if (!a.empty() && a[0] != '-') {
      o.csv = a;
    } else {
      throw hwnas::InvalidArgument("unknown option " + a);
    }
  }
  if (o.samples.empty() || o.seeds.empty() || o.candidates == 0 || o.keep == 0) {
    throw hwnas::InvalidArgument("--samples, --seeds, --candidates and --keep must not be empty or 0");
  }
  if (o.folds != 1 && o.folds != 2) throw hwnas::InvalidArgument("--folds must be 1 or 2");
  o.keep = std::min(o.keep, o.candidates);
  return o;
}

/// Mean over seeds of the metrics the curve reports.
struct Mean {
  double rmse_pct = 0, median_ape = 0, spearman = 0;
  std::vector<double> per_seed;
  void add(const hwnas::RegressionMetrics& m) {
    rmse_pct += m.rmse_pct, median_ape += m.median_ape, spearman += m.spearman;
    per_seed.push_back(m.rmse_pct);
  }
  json to_json() const {
    const double k = static_cast<double>(per_seed.size());
    return {{"rmse_pct", rmse_pct / k}, {"median_ape", median_ape / k}, {"spearman", spearman / k},
            {"rmse_pct_per_seed", per_seed}};
  }
};

json metrics_json(const hwnas::RegressionMetrics& m) {
  return {{"rmse_pct", m.rmse_pct}, {"median_ape", m.median_ape}, {"spearman", m.spearman}};
}

}  // namespace

int main(int argc, char** argv) try {
  const Options opt = parse(argc, argv);
  if (!std::filesystem::exists(opt.csv)) {
    std::cout << "skipped: data not found: " << opt.csv.string()
              << " (pass the dataset CSV as the first argument)\n";
    return 0;
  }
  const auto start = std::chrono::steady_clock::now();
  auto progress = [&](const std::string& what) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cerr << "[" << static_cast<long>(s) << " s] " << what << '\n';
  };

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
    progress("full model " + c);
  }
  // The method's base: the paper recipe on one device.
  std::map<std::string, Predictor> paper_bases;
  auto paper_base = [&](const std::string& c) -> const Predictor& {
    if (auto it = paper_bases.find(c); it != paper_bases.end()) return it->second;
    Predictor p(space, hwnas::paper_recipe().predictor);
    p.fit(train_archs, train.column(c), {}, {}, hwnas::paper_recipe().training);
    progress("paper base " + c);
    return paper_bases.emplace(c, std::move(p)).first->second;
  };

  json out;
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
    json col;
    col["full"] = metrics_json(full.at(target).evaluate(test_archs, y_test));
    // The method's base must not be the target itself.
    std::string method_col = opt.method_base;
    if (method_col == target) {
      const auto it = std::find(all_columns.begin(), all_columns.end(), target);
      method_col = std::next(it) == all_columns.end() ? all_columns.front() : *std::next(it);
    }
    col["method_base"] = method_col;
    std::map<std::size_t, std::map<std::string, Mean>> curve;
    std::map<std::size_t, json> chosen;
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
          json kept = json::array();
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
      progress(target + " seed " + std::to_string(seed));
    }
    json points = json::array();
    for (const auto& [n, by_strategy] : curve) {
      json point{{"n", n}};
      for (const auto& [name, mean] : by_strategy) point[name] = mean.to_json();
      point["finetune"]["bases_per_seed"] = chosen[n];
      point["finetune_over_full"] = point["finetune"]["rmse_pct"].get<double>() / col["full"]["rmse_pct"].get<double>();
      points.push_back(point);
    }
    col["curve"] = points;
    out["columns"][target] = col;
  }
  out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << out.dump(2) << '\n';
  return 0;
} catch (const std::exception& e) {
  std::cerr << "finetune_curve: " << e.what() << '\n';
  return 1;
}
