// tune(): the ASHA rungs and promotion rule checked by hand, option checks,
// the choice of the best trial, independence from the number of threads, and
// exceptions from the workers reaching the caller.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "hwnas/predictor/tune.hpp"
#include "test_support.hpp"

using namespace hwnas;

namespace {

using hwnas_test::make_synthetic;
using hwnas_test::Synthetic;

// 3 x 2 x 2 = 12 trials, rungs at 1, 3, 9 epochs; one learning rate too
// small to learn much so that ASHA has something to stop.
TuneOptions small_grid() {
  TuneOptions o;
  o.learning_rates = {0.05, 0.01, 1e-4};
  o.momenta = {0.0, 0.9};
  o.weight_decays = {0.0, 1e-4};
  o.max_epochs = 9;
  o.grace_period = 1;
  o.reduction_factor = 3;
  o.base.batch_size = 16;
  o.base.seed = 3;
  return o;
}

void check_same_trials(const TuneReport& a, const TuneReport& b) {
  REQUIRE(a.trials.size() == b.trials.size());
  CHECK(a.best == b.best);
  for (std::size_t i = 0; i < a.trials.size(); ++i) {
    CAPTURE(i);
    const auto &x = a.trials[i], &y = b.trials[i];
    CHECK(x.index == y.index);
    CHECK(x.learning_rate == y.learning_rate);
    CHECK(x.momentum == y.momentum);
    CHECK(x.weight_decay == y.weight_decay);
    CHECK(x.validation_curve == y.validation_curve);  // bit-identical
    CHECK(x.epochs == y.epochs);
    CHECK(x.stopped_early == y.stopped_early);
    CHECK(x.stop_reason == y.stop_reason);
    CHECK(x.best_validation_rmse == y.best_validation_rmse);
    CHECK(x.final_validation_rmse == y.final_validation_rmse);
  }
}

}  // namespace

TEST_CASE("tune: rung milestones") {
  using V = std::vector<std::size_t>;
  CHECK(asha_rungs(1, 3, 9) == V{1, 3, 9});
  CHECK(asha_rungs(1, 3, 8) == V{1, 3});
  CHECK(asha_rungs(5, 4, 100) == V{5, 20, 80});  // the defaults
  CHECK(asha_rungs(1, 2, 10) == V{1, 2, 4, 8});
  CHECK(asha_rungs(10, 4, 10) == V{10});
  // No overflow near the top of std::size_t.
  const std::size_t big = std::numeric_limits<std::size_t>::max();
  CHECK(asha_rungs(big / 2, 2, big) == V{big / 2, big / 2 * 2});
  CHECK_THROWS_AS(asha_rungs(0, 3, 9), InvalidArgument);
  CHECK_THROWS_AS(asha_rungs(10, 3, 9), InvalidArgument);
  CHECK_THROWS_AS(asha_rungs(1, 1, 9), InvalidArgument);
}

TEST_CASE("tune: the promotion rule by hand (Ray's cutoff)") {
  // Reduction factor 4: a metric continues when it is <= the 25th percentile
  // (numpy's linear interpolation) of the metrics earlier trials recorded at
  // that rung; the trial's own metric is not among them.
  AshaRungs rungs(5, 2, 4);
  CHECK(std::isnan(rungs.cutoff(0, 0)));
  CHECK(rungs.report(0, 0, 5.0));  // first at the rung: continues
  CHECK(rungs.cutoff(1, 0) == 5.0);
  CHECK(rungs.report(1, 0, 3.0));  // 3 <= 5
  CHECK(rungs.cutoff(2, 0) == 3.5);  // {3, 5}: position 0.25 -> 3 + 0.25 * 2
  CHECK_FALSE(rungs.report(2, 0, 4.0));
  rungs.finish(2);  // a stopped trial ends
  CHECK(rungs.cutoff(3, 0) == 3.5);  // {3, 4, 5}: position 0.5
  // 3.4 continues. Counting its own metric it would not: the 25th percentile
  // of {3, 3.4, 4, 5} is 3.3.
  CHECK(rungs.report(3, 0, 3.4));
  CHECK(rungs.cutoff(4, 0) == doctest::Approx(3.3));  // {3, 3.4, 4, 5}: position 0.75
  CHECK_FALSE(rungs.report(4, 0, 3.35));
  // Rung 1 only counts the trials that recorded rung 1.
  CHECK(rungs.report(0, 1, 2.0));
  CHECK(rungs.report(1, 1, 1.5));
  CHECK(rungs.cutoff(3, 1) == doctest::Approx(1.625));  // {1.5, 2}: position 0.25
  CHECK_FALSE(rungs.report(3, 1, 1.7));

  // A metric equal to the cutoff continues (Ray stops only below it).
  AshaRungs tie(2, 1, 2);
  CHECK(tie.report(0, 0, 1.0));
  CHECK(tie.report(1, 0, 1.0));
}

TEST_CASE("tune: a decision waits for every earlier trial") {
  AshaRungs rungs(4, 1, 2);
  CHECK(rungs.ready(0, 0));
  CHECK_FALSE(rungs.ready(1, 0));
  CHECK_THROWS_AS(rungs.report(1, 0, 1.0), InvalidArgument);  // trial 0 has not decided yet
  CHECK(rungs.report(0, 0, 1.0));
  CHECK(rungs.ready(1, 0));
  CHECK_FALSE(rungs.ready(2, 0));
  rungs.finish(1);  // trial 1 ended before the rung (it diverged, say): it does not count
  CHECK(rungs.ready(2, 0));
  CHECK_FALSE(rungs.report(2, 0, 2.0));  // cutoff 1 (trial 0 alone)
  // A non-finite metric stops its trial and is not counted for later ones.
  CHECK(rungs.ready(3, 0));
  CHECK(rungs.cutoff(3, 0) == 1.5);  // {1, 2}
  AshaRungs nan_rungs(2, 1, 2);
  CHECK_FALSE(nan_rungs.report(0, 0, std::numeric_limits<double>::quiet_NaN()));
  CHECK(std::isnan(nan_rungs.cutoff(1, 0)));
  CHECK(nan_rungs.report(1, 0, 7.0));
  // Rungs in order, once each.
  CHECK_THROWS_AS(rungs.report(0, 0, 1.0), InvalidArgument);
  CHECK_THROWS_AS(rungs.report(1, 0, 1.0), InvalidArgument);  // finished
  CHECK_THROWS_AS(rungs.report(9, 0, 1.0), InvalidArgument);
  CHECK_THROWS_AS(AshaRungs(2, 1, 1), InvalidArgument);
}

TEST_CASE("tune: validates its options") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const auto data = make_synthetic(space, 40, 10, 0, 1);
  const LatencyPredictor<float> proto(space, {.hidden = {4}});
  auto fails = [&](TuneOptions o, const char* what) {
    CAPTURE(what);
    CHECK_THROWS_WITH_AS(tune(proto, data.train, data.y_train, data.val, data.y_val, o), doctest::Contains(what),
                         InvalidArgument);
  };
  TuneOptions o = small_grid();
  o.learning_rates.clear();
  fails(o, "learning_rates is empty");
  o = small_grid();
  o.momenta.clear();
  fails(o, "momenta is empty");
  o = small_grid();
  o.weight_decays.clear();
  fails(o, "weight_decays is empty");
  o = small_grid();
  o.learning_rates = {0.1, 0.0};
  fails(o, "learning_rates[1] must be finite and > 0");
  o = small_grid();
  o.learning_rates = {std::numeric_limits<double>::infinity()};
  fails(o, "learning_rates[0] must be finite");
  o = small_grid();
  o.momenta = {-0.5};
  fails(o, "momenta[0] must be finite and >= 0");
  o = small_grid();
  o.weight_decays = {std::nan("")};
  fails(o, "weight_decays[0] must be finite and >= 0");
  o = small_grid();
  o.base.nesterov = true;
  fails(o, "base.nesterov needs momentum > 0");
  o = small_grid();
  o.reduction_factor = 1;
  fails(o, "reduction_factor must be >= 2");
  o = small_grid();
  o.grace_period = 10;
  fails(o, "grace_period (10) must be <= max_epochs (9)");
  o = small_grid();
  o.grace_period = 0;
  fails(o, "grace_period must be positive");
  o = small_grid();
  o.max_epochs = 0;
  fails(o, "max_epochs must be positive");
  o = small_grid();
  o.base.on_epoch = [](const EpochInfo&) { return false; };
  fails(o, "base.on_epoch must be empty");
  CHECK_THROWS_WITH_AS(tune(proto, data.train, data.y_train, {}, {}, small_grid()),
                       doctest::Contains("no validation architectures"), InvalidArgument);
}

TEST_CASE("tune: stops the weak trials and picks the best finished one") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const auto data = make_synthetic(space, 200, 60, 0, 2);
  const LatencyPredictor<float> proto(space, {.hidden = {16}});
  auto o = small_grid();
  std::size_t calls = 0;
  std::vector<bool> seen(12, false);
  o.on_trial_done = [&](const TrialResult& t) {  // under tune's lock: no race on calls or seen
    ++calls;
    seen.at(t.index) = true;
  };
  const auto report = tune(proto, data.train, data.y_train, data.val, data.y_val, o);
  REQUIRE(report.trials.size() == 12);
  CHECK(calls == 12);
  CHECK(std::count(seen.begin(), seen.end(), true) == 12);
  CHECK(report.seconds > 0);

  std::size_t stopped = 0, finished = 0;
  for (std::size_t i = 0; i < 12; ++i) {
    CAPTURE(i);
    const auto& t = report.trials[i];
    CHECK(t.index == i);
    // Grid order: learning rate outermost, weight decay innermost.
    CHECK(t.learning_rate == o.learning_rates[i / 4]);
    CHECK(t.momentum == o.momenta[(i / 2) % 2]);
    CHECK(t.weight_decay == o.weight_decays[i % 2]);
    CHECK(t.validation_curve.size() == t.epochs);
    CHECK(t.final_validation_rmse == t.validation_curve.back());
    CHECK(t.best_validation_rmse == *std::min_element(t.validation_curve.begin(), t.validation_curve.end()));
    if (t.stopped_early) {
      ++stopped;
      CHECK(t.stop_reason == StopReason::callback);
      CHECK((t.epochs == 1 || t.epochs == 3));  // stopped at a rung, before max_epochs
    } else {
      ++finished;
      CHECK(t.stop_reason == StopReason::max_epochs);
      CHECK(t.epochs == 9);
    }
  }
  MESSAGE(stopped << " of 12 trials stopped early");
  CHECK(stopped > 0);
  CHECK(finished > 0);
  CHECK_FALSE(report.trials[0].stopped_early);  // nothing to compare it with at any rung

  // Replaying the curves in grid order through the rule gives the same
  // decisions: the result is the sequential ASHA, whatever the threads did.
  AshaRungs replay(12, 2, 3);  // decisions at 1 and 3; the rung at 9 = max_epochs decides nothing
  const std::size_t milestones[] = {1, 3};
  for (const auto& t : report.trials) {
    bool keep = true;
    for (std::size_t k = 0; k < 2 && keep && t.epochs >= milestones[k]; ++k) {
      keep = replay.report(t.index, k, t.validation_curve[milestones[k] - 1]);
      if (!keep) CHECK(t.epochs == milestones[k]);
    }
    CHECK(keep == !t.stopped_early);
    replay.finish(t.index);
  }

  // The best: the lowest final RMSE among the trials that ran to the end.
  const auto& best = report.trials[report.best];
  CHECK_FALSE(best.stopped_early);
  for (const auto& t : report.trials) {
    if (!t.stopped_early) CHECK(best.final_validation_rmse <= t.final_validation_rmse);
  }
  CHECK(report.best_options.learning_rate == best.learning_rate);
  CHECK(report.best_options.momentum == best.momentum);
  CHECK(report.best_options.weight_decay == best.weight_decay);
  CHECK(report.best_options.epochs == 9);
  CHECK(report.best_options.batch_size == 16);
  CHECK(report.best_options.seed == 3);
  CHECK_FALSE(report.best_options.on_epoch);

  // Refitting with best_options reproduces the best trial's curve.
  LatencyPredictor<float> refit = proto;
  const auto fit = refit.fit(data.train, data.y_train, data.val, data.y_val, report.best_options);
  CHECK(fit.validation_rmse == best.validation_curve);

  // With keep_best the best epoch of each trial decides.
  o.base.keep_best = true;
  o.on_trial_done = nullptr;
  const auto kb = tune(proto, data.train, data.y_train, data.val, data.y_val, o);
  for (const auto& t : kb.trials) {
    if (!t.stopped_early) CHECK(kb.trials[kb.best].best_validation_rmse <= t.best_validation_rmse);
  }
}

TEST_CASE("tune: the result does not depend on the number of threads") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const auto data = make_synthetic(space, 200, 60, 0, 4);
  auto o = small_grid();
  {
    const LatencyPredictor<float> proto(space, {.hidden = {16}});
    o.threads = 1;
    const auto one = tune(proto, data.train, data.y_train, data.val, data.y_val, o);
    o.threads = 3;
    const auto three = tune(proto, data.train, data.y_train, data.val, data.y_val, o);
    o.threads = 0;  // hardware_concurrency
    const auto all = tune(proto, data.train, data.y_train, data.val, data.y_val, o);
    check_same_trials(one, three);
    check_same_trials(one, all);
    CHECK(std::count_if(one.trials.begin(), one.trials.end(), [](const auto& t) { return t.stopped_early; }) > 0);
  }
  {
    const LatencyPredictor<double> proto(space, {.hidden = {16}});
    o.threads = 1;
    const auto one = tune(proto, data.train, data.y_train, data.val, data.y_val, o);
    o.threads = 4;  // more threads than cores
    const auto four = tune(proto, data.train, data.y_train, data.val, data.y_val, o);
    check_same_trials(one, four);
  }
}

TEST_CASE("tune: grace_period == max_epochs runs every trial to the end") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const auto data = make_synthetic(space, 100, 30, 0, 5);
  const LatencyPredictor<float> proto(space, {.hidden = {8}});
  auto o = small_grid();
  o.grace_period = o.max_epochs = 2;
  const auto r = tune(proto, data.train, data.y_train, data.val, data.y_val, o);
  for (const auto& t : r.trials) {
    CHECK_FALSE(t.stopped_early);
    CHECK(t.epochs == 2);
  }
}

TEST_CASE("tune: exceptions in the workers reach the caller") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  auto data = make_synthetic(space, 100, 30, 0, 6);
  const LatencyPredictor<float> proto(space, {.hidden = {8}});
  auto o = small_grid();
  o.threads = 3;

  // Bad data is found by fit() inside the workers.
  auto bad = data.y_train;
  bad[5] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(tune(proto, data.train, bad, data.val, data.y_val, o),
                       doctest::Contains("training latency[5] = nan"), InvalidArgument);
  auto short_val = data.y_val;
  short_val.pop_back();
  CHECK_THROWS_AS(tune(proto, data.train, data.y_train, data.val, short_val, o), ShapeMismatch);

  // A throwing hook ends the tuning promptly. Trial 1 (a learning rate of
  // 1e-7 learns nothing) is stopped at the first rung and throws from the
  // hook; trial 0 would otherwise train for a million epochs.
  o.threads = 2;
  o.learning_rates = {0.01, 1e-7};
  o.momenta = {0.9};
  o.weight_decays = {0.0};
  o.grace_period = 1;
  o.reduction_factor = 2;
  o.max_epochs = 1'000'000;
  std::size_t calls = 0;
  o.on_trial_done = [&](const TrialResult& t) {
    ++calls;
    throw std::runtime_error("hook failed on trial " + std::to_string(t.index));
  };
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(tune(proto, data.train, data.y_train, data.val, data.y_val, o), "hook failed on trial 1",
                       std::runtime_error);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(calls == 1);
  CHECK(seconds < 10.0);  // a million epochs would take minutes
}
