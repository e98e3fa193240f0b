// A space that is not OFA's, end to end: the FBNet space of HW-NAS-Bench and
// HELP (22 layers, 9 operations each) defined in JSON, its measured
// latencies read, a predictor trained on one GPU, adapted to another GPU from
// 10 samples, and searched under a latency budget. Needs ../shared/data
// (help-fbnet/); skips when it is absent. docs/spaces.md walks through it.
#include <hwnas/hwnas.hpp>
#include <hwnas/io/space.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>

int main(int argc, char** argv) {
  const auto csv = argc > 1 ? std::filesystem::path(argv[1])
                            : std::filesystem::path(HWNAS_SOURCE_DIR) / "../shared/data/help-fbnet/fbnet_latency.csv";
  if (!std::filesystem::exists(csv)) {
    std::cout << "skipped: " << csv.string() << " not found (pass HELP's fbnet_latency.csv as the first argument)\n";
    return 0;
  }
  // The space as a user writes it: the decisions of the preset hwnas::fbnet_space(),
  // which also describes FBNet's layers (docs/spaces.md).
  const hwnas::CategoricalSpace space = hwnas::parse_space_json(R"({
    "name": "fbnet",
    "decisions": [{"name": "op", "repeat": 22,
                   "labels": ["k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip"]}]
  })");
  std::cout << space.name() << ": " << space.count().to_string() << " architectures\n";

  // Columns id, op0..op21, then one latency column per device.
  using Data = hwnas::BasicDataset<hwnas::CategoricalArch>;
  const Data data = Data::read_csv(csv, space.columns());
  const hwnas::Split split = hwnas::benchmark_split(data);

  // Train on the GTX 1080 Ti at batch 1.
  const hwnas::Recipe recipe = hwnas::default_recipe();
  hwnas::LatencyPredictor<float, hwnas::CategoricalSpace> gpu(space, recipe.predictor);
  gpu.fit(data, "1080ti_1", split, recipe.training);
  const Data test = data.subset(split.test);
  const auto m = gpu.evaluate(test.archs(), test.column("1080ti_1"));
  std::cout << "1080ti_1: test RMSE " << m.rmse_pct << " %, Spearman " << m.spearman << "\n";

  // Adapt it to the Titan X from 10 measured architectures.
  std::vector<std::size_t> ten(split.train.begin(), split.train.begin() + 10);
  const Data samples = data.subset(ten);
  const std::vector<hwnas::LatencyPredictor<float, hwnas::CategoricalSpace>> bases{gpu};
  const auto titan = hwnas::fine_tune_from<float, hwnas::CategoricalSpace>(bases, samples.archs(),
                                                                           samples.column("titanx_1"));
  const auto t = titan.evaluate(test.archs(), test.column("titanx_1"));
  std::cout << "titanx_1 from 10 samples: test RMSE " << t.rmse_pct << " %, Spearman " << t.spearman << "\n";

  // Search the Titan X under 11 ms for the most layers with 6x expansion
  // (a stand-in for an accuracy predictor of the space).
  const hwnas::BasicFunctionScore<hwnas::CategoricalArch> wide([](std::span<const hwnas::CategoricalArch> archs) {
    std::vector<double> out;
    for (const auto& a : archs) {
      out.push_back(static_cast<double>(std::count_if(a.begin(), a.end(), [](int op) { return op == 3 || op == 7; })));
    }
    return out;
  });
  const hwnas::BasicEvolutionFinder<hwnas::CategoricalSpace> finder(
      space, {.population = 50, .generations = 50, .budgets = {11.0}, .seed = 1});
  const auto result = finder.run(wide, titan);
  const auto& best = result.budgets.front().best;
  std::cout << "under 11 ms: " << best.fitness << " layers with expand 6, predicted " << best.latency << " ms:";
  for (std::size_t i = 0; i < best.arch.size(); ++i) std::cout << ' ' << space.choice_text(i, best.arch[i]);
  std::cout << "\n";
  return 0;
}
