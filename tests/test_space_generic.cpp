// The learned core and the search on a space that is not an MBConv chain: a
// CategoricalSpace (FBNet with HELP's measurements; a small space with a
// known additive latency) through LatencyPredictor, model files,
// fine_tune_from, tune and BasicEvolutionFinder.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "hwnas/dataset.hpp"
#include "hwnas/metrics.hpp"
#include "hwnas/predictor/device_predictor.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/predictor/model_file.hpp"
#include "hwnas/predictor/transfer.hpp"
#include "hwnas/predictor/tune.hpp"
#include "hwnas/search/evolution.hpp"
#include "hwnas/space/fbnet_space.hpp"
#include "hwnas/split.hpp"
#include "test_support.hpp"

namespace {

using hwnas::CategoricalArch;
using hwnas::CategoricalSpace;
using Predictor = hwnas::LatencyPredictor<float, CategoricalSpace>;
using FbnetData = hwnas::BasicDataset<CategoricalArch>;
using Ensemble = hwnas::PredictorEnsemble<float, CategoricalSpace>;

// (Template arguments with a comma cannot stand inside doctest's macros.)
Predictor categorical_from_bytes(const std::string& bytes, const std::string& source) {
  return hwnas::predictor_from_bytes<float, CategoricalSpace>(bytes, source);
}

// A per-operation cost table: the latency is exactly its sum plus 1 ms.
double additive(const CategoricalSpace& space, const CategoricalArch& a) {
  double ms = 1.0;
  for (std::size_t i = 0; i < a.size(); ++i) ms += 0.05 * static_cast<double>((a[i] * 7 + static_cast<int>(i) * 3) % 11);
  (void)space;
  return ms;
}

struct Rows {
  std::vector<CategoricalArch> archs;
  std::vector<double> y;
};

Rows sample_rows(const CategoricalSpace& space, std::size_t n, std::uint64_t seed) {
  hwnas::Rng rng(seed);
  Rows r;
  for (std::size_t i = 0; i < n; ++i) {
    r.archs.push_back(space.sample(rng));
    r.y.push_back(additive(space, r.archs.back()));
  }
  return r;
}

std::vector<CategoricalArch> rows_of(const FbnetData& d, const std::vector<std::size_t>& rows) {
  std::vector<CategoricalArch> out;
  for (auto i : rows) out.push_back(d.archs()[i]);
  return out;
}
std::vector<double> column_of(const FbnetData& d, const std::string& name, const std::vector<std::size_t>& rows) {
  const auto c = d.column(name);
  std::vector<double> out;
  for (auto i : rows) out.push_back(c[i]);
  return out;
}

}  // namespace

TEST_CASE("space generic: the default recipe learns an additive latency of a categorical space") {
  const CategoricalSpace space = hwnas::fbnet_space();
  const Rows train = sample_rows(space, 600, 1), val = sample_rows(space, 150, 2), test = sample_rows(space, 300, 3);
  auto recipe = hwnas::default_recipe();
  recipe.training.epochs = 30;
  recipe.training.schedule.total_epochs = 30;
  Predictor p(space, recipe.predictor);
  CHECK(p.encoder().dim() == 198);
  CHECK(p.encoder().options().resolution == hwnas::ResolutionEncoding::none);
  CHECK(p.linear_size() == 199);  // the features and the intercept: no pixel terms
  p.fit(train.archs, train.y, val.archs, val.y, recipe.training);
  const auto m = p.evaluate(test.archs, test.y);
  // A sum of per-operation costs is what the linear path is: nearly exact.
  CHECK(m.rmse_pct < 0.5);
  CHECK(m.spearman > 0.999);
  // One, batch: the same numbers.
  const auto batch = p.predict(test.archs);
  for (std::size_t i = 0; i < 10; ++i) CHECK(batch[i] == p.predict(test.archs[i]));
}

TEST_CASE("space generic: model files of a categorical space") {
  const CategoricalSpace space({{"op", {0, 1, 2}, {"a", "b", "c"}}, {"w", {0.5, 1.0}}}, "tiny");
  const CategoricalSpace wide({{"x", {0, 1, 2, 3}}, {"op", {0, 1, 2}, {"a", "b", "c"}}, {"w", {0.5, 1.0}}}, "wide");
  const Rows train = sample_rows(wide, 200, 4);
  auto recipe = hwnas::default_recipe();
  recipe.training.epochs = 5;
  recipe.training.holdout = 0.2;
  Predictor p(wide, recipe.predictor);
  p.fit(train.archs, train.y, {}, {}, recipe.training);

  const std::string bytes = hwnas::predictor_to_bytes(p);
  const Predictor back = categorical_from_bytes(bytes, "m.hwnas");
  CHECK(back.space() == wide);
  CHECK(back.space().decisions()[1].labels == std::vector<std::string>{"a", "b", "c"});
  CHECK(hwnas::predictor_to_bytes(back) == bytes);
  for (const auto& a : train.archs) CHECK(back.predict(a) == p.predict(a));
  CHECK_THROWS_WITH_AS(hwnas::predictor_from_bytes<float>(bytes, "m.hwnas"),
                       doctest::Contains("holds a predictor of the categorical space 'wide'; load it with Space = "
                                         "CategoricalSpace"),
                       hwnas::FormatError);
  const hwnas::LatencyPredictor<float> ofa(hwnas::MbConvSpace::ofa_mobilenet_v3());
  CHECK_THROWS_WITH_AS(categorical_from_bytes(hwnas::predictor_to_bytes(ofa), "o.hwnas"),
                       doctest::Contains("holds a predictor of the MBConv space 'ofa-mbv3'"), hwnas::FormatError);

  // A space without layers writes no layer fields (its files stay as they
  // were); FBNet's layers are stored and come back.
  CHECK(bytes.find("space.layer") == std::string::npos);
  const CategoricalSpace fbnet = hwnas::fbnet_space();
  Predictor fp(fbnet, recipe.predictor);
  const std::string fbytes = hwnas::predictor_to_bytes(fp);
  const Predictor fback = categorical_from_bytes(fbytes, "f.hwnas");
  CHECK(fback.space() == fbnet);
  CHECK(fback.space().has_layers());
  CHECK(hwnas::predictor_to_bytes(fback) == fbytes);

  const auto dir = std::filesystem::temp_directory_path() / "hwnas_space_generic";
  std::filesystem::create_directories(dir);
  hwnas::save_predictor(p, dir / "wide.hwnas");
  CHECK(hwnas::model_space_family(dir / "wide.hwnas") == "categorical");
  hwnas::save_predictor(ofa, dir / "ofa.hwnas");
  CHECK(hwnas::model_space_family(dir / "ofa.hwnas") == "mobilenet-v3");
  const auto ens = hwnas::load_ensemble<float, CategoricalSpace>(dir / "wide.hwnas");
  CHECK(ens.predict(train.archs[0]) == p.predict(train.archs[0]));
  std::filesystem::remove_all(dir);

  // Members of different spaces cannot form an ensemble.
  Predictor other(space, recipe.predictor);
  CHECK_THROWS_WITH_AS(Ensemble({p, other}),
                       doctest::Contains("member 1 searches space 'tiny' but member 0 searches 'wide'"),
                       hwnas::InvalidArgument);
  // A categorical space has no resolution list.
  auto with_res = recipe.predictor;
  with_res.encoding.resolutions = {160, 224};
  CHECK_THROWS_WITH_AS(Predictor(space, with_res), doctest::Contains("space 'tiny' has no input resolution"),
                       hwnas::InvalidArgument);
}

TEST_CASE("space generic: tune and search run on a categorical space") {
  const CategoricalSpace space = hwnas::fbnet_space();
  const Rows train = sample_rows(space, 300, 5), val = sample_rows(space, 100, 6);
  Predictor proto(space, hwnas::default_recipe().predictor);
  hwnas::TuneOptions o;
  o.base = hwnas::default_recipe().training;
  o.learning_rates = {0.01, 0.003};
  o.momenta = {0.9};
  o.weight_decays = {1e-4};
  o.max_epochs = 6;
  o.grace_period = 2;
  const auto report = hwnas::tune(proto, train.archs, train.y, val.archs, val.y, o);
  CHECK(report.trials.size() == 2);

  Predictor latency(space, hwnas::default_recipe().predictor);
  auto training = hwnas::default_recipe().training;
  training.epochs = 10;
  latency.fit(train.archs, train.y, val.archs, val.y, training);
  // Fitness: how many layers are not skipped (a stand-in for accuracy).
  const hwnas::BasicFunctionScore<CategoricalArch> depth([](std::span<const CategoricalArch> archs) {
    std::vector<double> out;
    for (const auto& a : archs) out.push_back(static_cast<double>(std::count_if(a.begin(), a.end(), [](int op) { return op != 8; })));
    return out;
  });
  hwnas::EvolutionOptions eo;
  eo.population = 20;
  eo.generations = 15;
  eo.budgets = {5.5, 6.5};  // the additive latencies lie around 6.5 ms
  eo.seed = 3;
  const hwnas::BasicEvolutionFinder<CategoricalSpace> finder(space, eo);
  const auto result = finder.run(depth, latency);
  REQUIRE(result.budgets.size() == 2);
  for (const auto& b : result.budgets) {
    CHECK(b.best.latency <= b.budget);
    CHECK(b.best.latency == latency.predict(b.best.arch));
    space.validate(b.best.arch);
  }
  CHECK(result.budgets[1].best.fitness >= result.budgets[0].best.fitness);
  const auto again = finder.run(depth, latency);
  CHECK(again.budgets[0].best.arch == result.budgets[0].best.arch);
  // FBNet's layers give MACs, so max_macs holds; its decisions alone do not.
  eo.max_macs = 50'000'000;  // about a tenth of random FBNet networks (CIFAR-100) are below
  const auto capped = hwnas::BasicEvolutionFinder<CategoricalSpace>(space, eo).run(depth, latency);
  for (const auto& b : capped.budgets) CHECK(space.cost(b.best.arch).macs <= eo.max_macs);
  CHECK_THROWS_WITH_AS(hwnas::BasicEvolutionFinder<CategoricalSpace>(CategoricalSpace(space.decisions(), "fbnet"), eo),
                       doctest::Contains("max_macs needs a space with a layer list; space 'fbnet' has none"),
                       hwnas::InvalidArgument);
  // A latency model of another space is refused before anything is scored.
  const Predictor tiny(CategoricalSpace({{"op", {0, 1}}}, "tiny"), hwnas::default_recipe().predictor);
  eo.max_macs = 0;
  CHECK_THROWS_WITH_AS(hwnas::BasicEvolutionFinder<CategoricalSpace>(space, eo).run(depth, tiny),
                       doctest::Contains("the latency source was built for space 'tiny', not the searched space 'fbnet'"),
                       hwnas::InvalidArgument);
}

TEST_CASE("space generic: FBNet on HELP's measured devices") {
  HWNAS_REQUIRE_DATA(path, "help-fbnet/fbnet_latency.csv");
  const CategoricalSpace space = hwnas::fbnet_space();
  const auto data = FbnetData::read_csv(path, space.columns());
  const auto split = hwnas::benchmark_split(data);
  const auto recipe = hwnas::default_recipe();

  // A GPU and a phone column, trained on the benchmark split's train rows.
  for (const std::string column : {"1080ti_1", "pixel3"}) {
    CAPTURE(column);
    Predictor p(space, recipe.predictor);
    p.fit(data, column, split, recipe.training);
    const auto m = p.evaluate(rows_of(data, split.test), column_of(data, column, split.test));
    MESSAGE(column << ": RMSE " << m.rmse_pct << " %, Spearman " << m.spearman);
    // Measured: 1080ti_1 1.98 %, 0.946; pixel3 (a sum of per-layer costs)
    // 0.0003 %, 1.000.
    CHECK(m.rmse_pct < 3.0);
    CHECK(m.spearman > 0.93);
  }

  // A new device (titanx_1) from a base of another GPU and 10 samples.
  Predictor base(space, recipe.predictor);
  base.fit(data, "1080ti_1", split, recipe.training);
  std::vector<std::size_t> ten(split.train.begin(), split.train.begin() + 10);
  hwnas::TransferOptions to;
  to.training = hwnas::finetune_recipe().training;
  to.training.seed = 1;
  const std::vector<Predictor> bases{base};
  const auto ens = hwnas::fine_tune_from<float, CategoricalSpace>(bases, rows_of(data, ten),
                                                                  column_of(data, "titanx_1", ten), to);
  const auto test_archs = rows_of(data, split.test);
  const auto test_y = column_of(data, "titanx_1", split.test);
  const auto tuned = ens.evaluate(test_archs, test_y);
  const auto raw = base.evaluate(test_archs, test_y);
  MESSAGE("titanx_1 from 1080ti_1 + 10 samples: RMSE " << tuned.rmse_pct << " % (the base as is: "
                                                        << raw.rmse_pct << " %), Spearman " << tuned.spearman);
  // Measured: 1.33 % against the base's 2.89 %, Spearman 0.994.
  CHECK(tuned.rmse_pct < raw.rmse_pct);
  CHECK(tuned.spearman > 0.97);
}

TEST_CASE("space generic: a fingerprint model of FBNet devices adapts to a held-out one") {
  HWNAS_REQUIRE_DATA(path, "help-fbnet/fbnet_latency.csv");
  HWNAS_REQUIRE_DATA(ref_path, "help-fbnet/reference_arch_ids.txt");
  const CategoricalSpace space = hwnas::fbnet_space();
  const auto data = FbnetData::read_csv(path, space.columns());
  const auto split = hwnas::benchmark_split(data);
  std::vector<std::int64_t> reference_ids;
  {
    std::ifstream in(ref_path);
    for (std::int64_t id; in >> id;) reference_ids.push_back(id);
  }
  REQUIRE(reference_ids.size() == 10);  // HELP's reference architectures
  auto recipe = hwnas::default_recipe();
  recipe.training.epochs = 20;
  recipe.training.schedule.total_epochs = 20;
  std::vector<hwnas::DeviceDescriptor> devices;
  for (const char* name : {"1080ti_32", "silver_4114", "samsung_a50"}) devices.push_back({name, "", 1, {}, {}});
  const auto model = hwnas::train_device_predictor<float, CategoricalSpace>(
      data, split, space, devices, reference_ids, hwnas::DescriptorMode::fingerprint, {}, recipe);
  CHECK(model.reference().size() == 10);

  // The file keeps the reference architectures and every base.
  const auto bytes = hwnas::device_predictor_to_bytes(model);
  const auto back = hwnas::device_predictor_from_bytes<float, CategoricalSpace>(bytes, "d.hwnas");
  CHECK(std::vector<CategoricalArch>(back.reference().begin(), back.reference().end()) ==
        std::vector<CategoricalArch>(model.reference().begin(), model.reference().end()));
  CHECK(hwnas::device_predictor_to_bytes(back) == bytes);

  // A held-out GPU from its fingerprint and 10 samples.
  hwnas::DeviceDescriptor target{"titanx_32", "", 1, {}, hwnas::fingerprint_from(data, "titanx_32", reference_ids)};
  const std::vector<std::size_t> ten(split.train.begin() + 100, split.train.begin() + 110);
  hwnas::AdaptReport report;
  const auto adapted = hwnas::adapt_to_device(model, target, std::span<const CategoricalArch>(rows_of(data, ten)),
                                              std::span<const double>(column_of(data, "titanx_32", ten)), {}, &report);
  const auto m = adapted.evaluate(rows_of(data, split.test), column_of(data, "titanx_32", split.test));
  MESSAGE("titanx_32 from " << model.devices()[report.blend.mapping.base].name << ": RMSE " << m.rmse_pct
                            << " %, Spearman " << m.spearman);
  CHECK(model.devices()[report.blend.mapping.base].name == "1080ti_32");  // the other GPU at batch 32
  CHECK(m.spearman > 0.9);
}
