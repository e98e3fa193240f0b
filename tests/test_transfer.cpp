// PredictorEnsemble and fine_tune_from: the ensemble is the members' mean
// (serial, batch and threaded alike), members must agree on the space; the
// multi-base fine-tuning picks the base of the device the samples resemble,
// keeps keep x folds members, is deterministic for a seed, rejects bad
// options, and beats training from scratch on the same samples, on synthetic
// devices and on HELP's measured V100 latencies.
#include <doctest/doctest.h>

#include <cmath>
#include <thread>

#include "hwnas/predictor/transfer.hpp"
#include "test_support.hpp"

using namespace hwnas;

namespace {

// Two kinds of device: one where layer costs add up, one where they multiply.
constexpr auto additive = hwnas_test::additive_latency;
constexpr auto multiplicative = hwnas_test::multiplicative_latency;

struct Sample {
  std::vector<Architecture> archs;
  std::vector<double> y;
};
template <class Latency>
Sample sample(const MbConvSpace& space, std::size_t n, std::uint64_t seed, Latency latency) {
  Sample s;
  Rng rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    s.archs.push_back(space.sample(rng));
    s.y.push_back(latency(s.archs.back()));
  }
  return s;
}

Recipe small_recipe() {
  Recipe r = default_recipe();
  r.predictor.hidden = {32, 32};
  r.training.epochs = 30;
  r.training.schedule.total_epochs = 30;
  return r;
}

LatencyPredictor<float> trained(const MbConvSpace& space, const Sample& s, std::uint64_t seed) {
  const Recipe r = small_recipe();
  LatencyPredictor<float> p(space, r.predictor);
  auto o = r.training;
  o.seed = seed;
  o.holdout = 0.2;
  p.fit(s.archs, s.y, {}, {}, o);
  return p;
}

}  // namespace

TEST_CASE("ensemble: the members' mean, serial, batch and threaded alike") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const auto a = sample(space, 300, 1, [&](const Architecture& x) { return additive(space, x); });
  const auto b = sample(space, 300, 2, [&](const Architecture& x) { return multiplicative(space, x); });
  const PredictorEnsemble<float> e({trained(space, a, 1), trained(space, b, 2)});
  REQUIRE(e.size() == 2);
  const auto test = sample(space, 40, 3, [](const Architecture&) { return 1.0; }).archs;
  const auto batch = e.predict(test);
  const auto m0 = e.members()[0].predict(test), m1 = e.members()[1].predict(test);
  std::vector<double> serial;
  for (std::size_t i = 0; i < test.size(); ++i) {
    serial.push_back(e.predict(test[i]));
    CHECK(batch[i] == doctest::Approx((m0[i] + m1[i]) / 2).epsilon(1e-12));
    CHECK(serial[i] == doctest::Approx(batch[i]).epsilon(1e-6));  // float members: single and batch round alike
  }
  std::vector<std::vector<double>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) {
    threads.emplace_back([&e, &test, &out] {
      for (const auto& arch : test) out.push_back(e.predict(arch));
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& out : per_thread) CHECK(out == serial);

  // One member: the member itself, bit for bit.
  const PredictorEnsemble<float> one({e.members()[0]});
  CHECK(one.predict(test) == m0);
}

TEST_CASE("ensemble: members must share the space and hardware features") {
  const auto mbv3 = MbConvSpace::ofa_mobilenet_v3();
  CHECK_THROWS_WITH_AS(PredictorEnsemble<float>(std::vector<LatencyPredictor<float>>{}), "ensemble: no members",
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(PredictorEnsemble<float>({LatencyPredictor<float>(mbv3),
                                                 LatencyPredictor<float>(MbConvSpace::ofa_mobilenet_v3(1.2))}),
                       doctest::Contains("ensemble: member 1 searches space"), InvalidArgument);
  PredictorOptions hw;
  hw.encoding.hardware_features = 3;
  CHECK_THROWS_WITH_AS(PredictorEnsemble<float>({LatencyPredictor<float>(mbv3), LatencyPredictor<float>(mbv3, hw)}),
                       "ensemble: member 1 takes 3 hardware features but member 0 takes 0", InvalidArgument);
}

TEST_CASE("transfer: picks the base of the device the samples resemble; keep x folds members; deterministic") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  auto dev_a = [&](const Architecture& x) { return additive(space, x); };
  auto dev_b = [&](const Architecture& x) { return multiplicative(space, x); };
  // The target is device A's kind, slower and with an offset.
  auto target = [&](const Architecture& x) { return 1.7 * additive(space, x) + 0.3; };
  const std::vector<LatencyPredictor<float>> bases{trained(space, sample(space, 500, 1, dev_b), 1),
                                                   trained(space, sample(space, 500, 2, dev_a), 2)};
  const auto few = sample(space, 60, 5, target);
  const auto test = sample(space, 300, 6, target);

  TransferOptions o;
  o.candidates = 2;
  o.keep = 1;
  o.folds = 2;
  o.training.epochs = 40;
  o.training.schedule.total_epochs = 40;
  TransferReport report;
  const auto e = fine_tune_from<float>(bases, few.archs, few.y, o, &report);
  CHECK(e.size() == 2);  // keep 1 x folds 2
  REQUIRE(report.candidates.size() == 2);
  CHECK(report.candidates[0].base == 1);  // device A's base maps onto the samples by a line
  CHECK(report.candidates[0].line_fit_rmse < 0.2 * report.candidates[1].line_fit_rmse);
  CHECK(report.candidates[0].kept);
  CHECK_FALSE(report.candidates[1].kept);
  CHECK(report.candidates[0].fits.size() == 2);
  CHECK(report.candidates[1].fits.size() == 1);
  CHECK(report.train_rows == 48);
  CHECK(report.validation_rows == 12);
  CHECK(report.candidates[0].validation_rmse == report.candidates[0].fits[0].best_validation_rmse);

  // Against training from scratch on the same 60 samples.
  const Recipe r = small_recipe();
  LatencyPredictor<float> scratch(space, r.predictor);
  auto so = finetune_recipe().training;
  so.epochs = 40;
  so.schedule.total_epochs = 40;
  scratch.fit(few.archs, few.y, {}, {}, so);
  const double transfer_rmse = e.evaluate(test.archs, test.y).rmse_pct;
  const double scratch_rmse = scratch.evaluate(test.archs, test.y).rmse_pct;
  MESSAGE("synthetic target, 60 samples: fine_tune_from " << transfer_rmse << " % vs scratch " << scratch_rmse << " %");
  CHECK(transfer_rmse < 0.7 * scratch_rmse);

  const auto again = fine_tune_from<float>(bases, few.archs, few.y, o);
  CHECK(again.predict(test.archs) == e.predict(test.archs));
  o.training.seed = 9;
  CHECK(fine_tune_from<float>(bases, few.archs, few.y, o).predict(test.archs) != e.predict(test.archs));
}

TEST_CASE("transfer: bad input") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const auto s = sample(space, 20, 1, [&](const Architecture& x) { return additive(space, x); });
  const std::vector<LatencyPredictor<float>> bases{LatencyPredictor<float>(space, small_recipe().predictor)};
  auto call = [&](TransferOptions o, std::size_t n = 20) {
    return fine_tune_from<float>(bases, std::span(s.archs).first(n), std::span(s.y).first(n), o);
  };
  CHECK_THROWS_WITH_AS(fine_tune_from<float>({}, s.archs, s.y), "fine_tune_from: no base predictors", InvalidArgument);
  TransferOptions o;
  o.keep = 4;
  CHECK_THROWS_WITH_AS(call(o), "fine_tune_from: need 1 <= keep <= candidates, found keep 4 and candidates 3",
                       InvalidArgument);
  o = {};
  o.folds = 6;
  CHECK_THROWS_WITH_AS(call(o), doctest::Contains("1 <= folds <= 1 / holdout, found holdout 0.2"), InvalidArgument);
  o = {};
  o.training.holdout = 0;
  CHECK_THROWS_WITH_AS(call(o), doctest::Contains("need training.holdout > 0"), InvalidArgument);
  CHECK_THROWS_WITH_AS(call({}, 2), doctest::Contains("fine_tune_from: 2 samples are too few"), InvalidArgument);
  CHECK_THROWS_WITH_AS(fine_tune_from<float>(bases, s.archs, std::span(s.y).first(5)),
                       "predictor: 20 fine-tuning architectures but 5 latencies", ShapeMismatch);
}

TEST_CASE("transfer: on HELP's V100 at batch 64, from two other devices' bases, 100 samples beat scratch") {
  HWNAS_REQUIRE_DATA(csv, "help-ofa/ofa_gpu_latency.csv");
  const auto data = Dataset::read_csv(csv);
  const auto split = benchmark_split(data);
  const auto space = MbConvSpace::ofa_mobilenet_v3(1.2);  // HELP's networks: OFA's w1.2 supernet
  std::vector<LatencyPredictor<float>> bases;
  for (const std::string c : {"2080ti_1", "titan_xp_64"}) {
    auto r = default_recipe();
    r.training.epochs = 20;
    r.training.schedule.total_epochs = 20;
    LatencyPredictor<float> p(space, r.predictor);
    p.fit(data, c, split, r.training);
    bases.push_back(std::move(p));
  }
  const auto idx = random_subset(split.train, 100, 1);
  const auto samples = data.subset(idx), test_rows = data.subset(split.test);
  const auto &few = samples.archs(), &test = test_rows.archs();
  const auto y_few = samples.column("v100_64"), y_test = test_rows.column("v100_64");

  TransferOptions o;
  o.candidates = 2;
  TransferReport report;
  const auto e = fine_tune_from<float>(bases, few, y_few, o, &report);
  CHECK(report.candidates.front().base == 1);  // a batch-64 device resembles a batch-64 device
  LatencyPredictor<float> scratch(space, finetune_recipe().predictor);
  scratch.fit(few, y_few, {}, {}, finetune_recipe().training);
  const auto m = e.evaluate(test, y_test);
  const auto s = scratch.evaluate(test, y_test);
  MESSAGE("v100_64, 100 samples: fine_tune_from " << m.rmse_pct << " % (Spearman " << m.spearman << ") vs scratch "
                                                   << s.rmse_pct << " %");
  CHECK(m.rmse_pct < s.rmse_pct);
  CHECK(m.spearman > 0.97);
}
