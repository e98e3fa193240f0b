// Device records, device files, and the multi-device predictor: the
// fingerprint features keep speed (values by hand), records round-trip
// through JSON and model files and bad ones are refused by field; the
// leave-one-out line matches brute force; a new device is reached through
// the base it is a power of; a conditioned model learns per-row hardware
// features; HELP's V100 is predicted from two other GPUs' bases.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <thread>

#include "hwnas/io/device.hpp"
#include "hwnas/hwnas.hpp"
#include "test_support.hpp"

using namespace hwnas;

namespace {

DeviceDescriptor gpu(std::string name, std::size_t batch, std::vector<double> fingerprint = {}) {
  return {std::move(name), "gpu", batch, {{"cores", 5120}, {"memory_gb", 16}, {"bandwidth_gbs", 900}},
          std::move(fingerprint)};
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

// Two synthetic devices with different rankings.
constexpr auto additive = hwnas_test::additive_latency;
constexpr auto other = hwnas_test::multiplicative_latency;

using hwnas_test::latencies;
using hwnas_test::sample_archs;

// A small log-space base trained on one synthetic device.
template <class Latency>
LatencyPredictor<float> base(const MbConvSpace& space, Latency f) {
  return hwnas_test::small_base(space, f, 32, 30, 600);
}

}  // namespace

TEST_CASE("device: fingerprint features keep the speed; spec features are logs; bad records are refused") {
  const auto e = std::exp(1.0);
  const auto d = gpu("a", 32, {1.0, e, e * e});
  const auto f = fingerprint_features(d);
  REQUIRE(f.size() == 4);
  CHECK(f[0] == doctest::Approx(1.0));  // mean log latency
  CHECK(f[1] == doctest::Approx(-1.0));
  CHECK(f[2] == doctest::Approx(0.0).epsilon(1e-12));
  CHECK(f[3] == doctest::Approx(1.0));
  // Twice as slow: the same shape, the scale moves by log 2.
  const auto g = fingerprint_features(gpu("b", 32, {2.0, 2 * e, 2 * e * e}));
  CHECK(g[0] == doctest::Approx(1.0 + std::log(2.0)));
  for (std::size_t i = 1; i < 4; ++i) CHECK(g[i] == doctest::Approx(f[i]).epsilon(1e-12));

  const std::vector<std::string> names{"bandwidth_gbs", "batch", "cores"};
  const auto s = spec_features(d, names);
  CHECK(s == std::vector<double>{std::log(900.0), std::log(32.0), std::log(5120.0)});
  CHECK(error_of([&] { (void)spec_features(d, std::vector<std::string>{"clock"}); }) ==
        "device 'a': no spec feature 'clock'");
  CHECK(error_of([&] { (void)fingerprint_features(gpu("c", 1)); }) == "device 'c': no fingerprint");

  CHECK_NOTHROW(check_device(d));
  auto bad = d;
  bad.batch = 0;
  CHECK(error_of([&] { check_device(bad); }) == "device 'a': 'batch' must be at least 1");
  bad = d;
  bad.fingerprint[1] = -1;
  CHECK(error_of([&] { check_device(bad); }).find("fingerprint[1]") != std::string::npos);
  bad = d;
  bad.spec.emplace_back("cores", 1.0);
  CHECK(error_of([&] { check_device(bad); }) == "device 'a': spec feature 'cores' appears twice");
  bad = d;
  bad.spec[0].second = std::nan("");
  CHECK(error_of([&] { check_device(bad); }).find("spec feature 'cores'") != std::string::npos);
}

TEST_CASE("device files: round trip, the three layouts, errors name the field") {
  const std::vector<DeviceDescriptor> devices{gpu("v100_64", 64, {12.5, 3.25}), {"pi", "cpu", 1, {}, {}}};
  const auto dir = std::filesystem::temp_directory_path() / "hwnas_test_device_files";
  std::filesystem::create_directories(dir);
  write_device_file(dir / "d.json", devices);
  auto back = read_device_file(dir / "d.json");
  REQUIRE(back.size() == 2);
  // JSON objects come back sorted by key: compare the spec by name.
  std::sort(back[0].spec.begin(), back[0].spec.end());
  auto want = devices[0];
  std::sort(want.spec.begin(), want.spec.end());
  CHECK(back[0] == want);
  CHECK(back[1] == devices[1]);

  CHECK(parse_device_list(R"({"name": "x"})").front().batch == 1);
  CHECK(parse_device_list(R"([{"name": "x"}, {"name": "y", "batch": 8}])")[1].batch == 8);
  CHECK(error_of([] { (void)parse_device_list(R"({"devices": [{"name": "x"}, {"name": "y", "batch": 0}]})", "f.json"); }) ==
        "f.json: field 'devices[1].batch': must be at least 1, found 0");
  CHECK(error_of([] { (void)parse_device_list(R"({"name": "x", "spec": {"cores": -3}})", "f.json"); }) ==
        "f.json: field 'device.spec.cores': expected a finite positive number, found -3");
  CHECK(error_of([] { (void)parse_device_list(R"({"name": "x", "fingerprint": [1, "a"]})", "f.json"); }) ==
        "f.json: field 'device.fingerprint[1]': expected a finite positive number, found \"a\"");
  CHECK(error_of([] { (void)parse_device_list(R"({"name": "x", "speed": 3})", "f.json"); }).find("'device.speed': unknown field") !=
        std::string::npos);
  CHECK(error_of([] { (void)parse_device_list(R"([{"name": "x"}, {"name": "x"}])", "f.json"); }) ==
        "f.json: device 'x' appears twice");
  CHECK(error_of([] { (void)parse_device_list("{\"name\":\n 3}", "f.json"); }) ==
        "f.json: field 'device.name': expected a non-empty string, found 3");
  CHECK(error_of([] { (void)parse_device_list("{\"name\": \"x\",\n}", "f.json"); }).find("f.json:2:") == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("device predictor: the closed-form leave-one-out line equals brute force") {
  const std::vector<double> p{0.1, 0.5, 0.9, 1.4, 2.0, 2.2}, y{1.0, 1.7, 2.1, 3.3, 4.0, 4.9};
  const auto f = detail::fit_line(p, y);
  double sq = 0;
  for (std::size_t k = 0; k < p.size(); ++k) {
    std::vector<double> pk, yk;
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (i != k) pk.push_back(p[i]), yk.push_back(y[i]);
    }
    const auto g = detail::fit_line(pk, yk);
    sq += std::pow(y[k] - g.a - g.c * p[k], 2);
  }
  CHECK(f.loo_rmse == doctest::Approx(std::sqrt(sq / static_cast<double>(p.size()))).epsilon(1e-12));
  double in_sample = 0;
  for (std::size_t i = 0; i < p.size(); ++i) in_sample += std::pow(y[i] - f.a - f.c * p[i], 2);
  CHECK(f.rmse == doctest::Approx(std::sqrt(in_sample / static_cast<double>(p.size()))).epsilon(1e-12));
  // Exact data: the line itself, no error.
  const auto exact = detail::fit_line(p, std::vector<double>{0.3, 1.1, 1.9, 2.9, 4.1, 4.5});
  CHECK(exact.c == doctest::Approx(2.0));
  CHECK(exact.a == doctest::Approx(0.1));
  CHECK(exact.loo_rmse == doctest::Approx(0.0).epsilon(1e-9));
}

TEST_CASE("device predictor: a new device is reached through the base it is a power of; file round trip") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  auto add = [&](const Architecture& a) { return additive(space, a); };
  auto odd = [&](const Architecture& a) { return other(space, a); };
  // The new device: exp(0.3) * additive^1.5 (slower, and more so for bigger networks).
  auto target = [&](const Architecture& a) { return std::exp(0.3) * std::pow(additive(space, a), 1.5); };
  const auto reference = sample_archs(space, 10, 5);
  const DevicePredictor<float> model(DescriptorMode::fingerprint, reference,
                                     {gpu("odd", 1, latencies(reference, odd)), gpu("add", 1, latencies(reference, add))},
                                     {}, {base(space, odd), base(space, add)});
  auto fresh = gpu("new", 1, latencies(reference, target));
  const auto m = model.map(fresh);
  CHECK(m.base == 1);
  CHECK(m.samples == 10);
  CHECK(m.slope == doctest::Approx(1.5).epsilon(0.1));
  const auto test = sample_archs(space, 200, 9);
  const auto truth = latencies(test, target);
  const auto line = evaluate(model.mapped(m).predict(test), truth);
  MESSAGE("new device from its fingerprint, one base: RMSE " << line.rmse_pct << " %, slope " << m.slope);
  CHECK(line.rmse_pct < 5.0);
  // predict() blends the bases: nearly all weight on the base it is a power of.
  const auto blend = model.blend(fresh);
  CHECK(blend.samples == 10);
  CHECK(blend.weights.size() == 2);
  const auto direct = model.predict(fresh, test);
  const auto metrics = evaluate(direct, truth);
  MESSAGE("new device from its fingerprint, blend: RMSE " << metrics.rmse_pct << " %, weights " << blend.weights[0]
          << ", " << blend.weights[1] << ", ridge " << blend.ridge);
  CHECK(metrics.rmse_pct < 5.0);
  CHECK(model.blended(blend).predict(test) == direct);
  // Const members are thread-safe: four threads predicting at once agree with one.
  std::vector<std::vector<double>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) threads.emplace_back([&] { out = model.predict(fresh, test); });
  for (auto& t : threads) t.join();
  for (const auto& out : per_thread) CHECK(out == direct);
  // Measured samples join the fingerprint.
  const auto more = sample_archs(space, 20, 21);
  CHECK(model.map(fresh, more, latencies(more, target)).samples == 30);
  CHECK(model.blend(fresh, more, latencies(more, target)).samples == 30);
  // A training device by name is its own base.
  const auto own = model.map(gpu("add", 1));
  CHECK(own.base == 1);
  CHECK(own.slope == 1.0);
  CHECK(model.blend(gpu("add", 1)).weights == std::vector<double>{0.0, 0.0});
  CHECK(model.blend(gpu("add", 1)).mapping.base == 1);
  CHECK(model.predict(gpu("add", 1), test) == model.models()[1].predict(test));

  // Few-shot adaptation: below fine_tune_samples the blend, from there fine-tuned members.
  AdaptReport rep;
  const auto few = adapt_to_device(model, fresh, more, latencies(more, target), {}, &rep);
  CHECK_FALSE(rep.fine_tuned);
  CHECK(few.predict(test) == model.blended(model.blend(fresh, more, latencies(more, target))).predict(test));
  CHECK(rep.blend.mapping.base == 1);
  CHECK(std::isnan(rep.blend_holdout_rmse));
  // From fine_tune_samples on, fine-tuning competes on a hold-out of the samples.
  AdaptOptions tune;
  tune.fine_tune_samples = 20;
  tune.transfer.candidates = 1;
  tune.transfer.keep = 1;
  const auto y_more = latencies(more, target);
  const auto tuned = adapt_to_device(model, fresh, more, y_more, tune, &rep);
  REQUIRE(std::isfinite(rep.blend_holdout_rmse));
  REQUIRE(std::isfinite(rep.fine_tuned_holdout_rmse));
  CHECK(rep.fine_tuned == (rep.fine_tuned_holdout_rmse < rep.blend_holdout_rmse));
  if (rep.fine_tuned) {
    CHECK(rep.transfer.train_rows + rep.transfer.validation_rows == 30);  // every sample plus the fingerprint
    CHECK(tuned.size() == 2);                                             // keep 1 x 2 folds
  } else {
    CHECK(tuned.predict(test) == few.predict(test));
  }
  CHECK(adapt_to_device(model, fresh, more, y_more, tune).predict(test) == tuned.predict(test));
  // What adapt fine-tunes: the samples plus the fingerprint (30 points; 2 folds of 1 kept base).
  TransferReport tr;
  CHECK(fine_tune_to_device(model, fresh, more, y_more, tune.transfer, &tr).size() == 2);
  CHECK(tr.train_rows + tr.validation_rows == 30);
  CHECK(error_of([&] { (void)fine_tune_to_device(model, gpu("x", 1, {1.0}), more, y_more); }) ==
        "device 'x': 1 fingerprint latencies for 10 reference architectures");
  // A device that is 3x the base 'add', so its line fits it exactly and
  // nothing is left to correct: the hold-out keeps the blend.
  auto exact = fresh;
  const auto& add_base = model.models()[1];
  for (std::size_t k = 0; k < reference.size(); ++k) exact.fingerprint[k] = 3 * add_base.predict(reference[k]);
  std::vector<double> y_exact;
  for (const auto& a : more) y_exact.push_back(3 * add_base.predict(a));
  (void)adapt_to_device(model, exact, more, y_exact, tune, &rep);
  CHECK_FALSE(rep.fine_tuned);
  CHECK(rep.blend_holdout_rmse < 1e-6 * y_exact.front());
  CHECK(rep.blend.mapping.base == 1);
  CHECK(rep.blend.mapping.slope == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(rep.blend.mapping.intercept == doctest::Approx(std::log(3.0)).epsilon(1e-6));
  // Whatever the penalty, the correction has only float rounding to fit.
  CHECK(std::abs(rep.blend.weights[0]) < 1e-4);
  CHECK(std::abs(rep.blend.weights[1]) < 1e-4);
  CHECK(rep.blend.loo_rmse < 1e-6);

  // The model file keeps everything: the same bytes again, the same predictions.
  const std::string bytes = device_predictor_to_bytes(model);
  const auto back = device_predictor_from_bytes<float>(bytes, "m.hwnas");
  CHECK(device_predictor_to_bytes(back) == bytes);
  CHECK(back.devices()[0] == model.devices()[0]);
  CHECK(back.reference()[3] == reference[3]);
  CHECK(back.predict(fresh, test) == direct);
  CHECK(error_of([&] { (void)predictor_from_bytes<float>(bytes, "m.hwnas"); }).find("load_device_predictor") !=
        std::string::npos);
  CHECK(error_of([&] { (void)device_predictor_from_bytes<float>(predictor_to_bytes(model.models()[0]), "p.hwnas"); })
            .find("field 'kind' = 'latency-mlp'") != std::string::npos);

  // Refused: too few calibration latencies, a fingerprint of the wrong length, a base not in log space.
  CHECK(error_of([&] { (void)model.map(gpu("x", 1)); }) ==
        "device 'x': 0 calibration latencies (fingerprint plus samples); at least 3 are needed");
  CHECK(error_of([&] { (void)model.map(gpu("x", 1, {1.0, 2.0})); }) ==
        "device 'x': 2 fingerprint latencies for 10 reference architectures");
  LatencyPredictor<float> plain(space, {.hidden = {4}});
  CHECK(error_of([&] {
          (void)DevicePredictor<float>(DescriptorMode::fingerprint, reference, {gpu("p", 1, latencies(reference, add))},
                                       {}, {plain});
        }) == "device predictor: base 'p' must predict in log space (TargetTransform::log_standardize)");
}

TEST_CASE("device predictor: a device that is a mix of two bases is blended back; the weighted ensemble's file") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  auto add = [&](const Architecture& a) { return additive(space, a); };
  auto odd = [&](const Architecture& a) { return other(space, a); };
  const auto reference = sample_archs(space, 10, 5);
  const DevicePredictor<float> model(DescriptorMode::fingerprint, reference,
                                     {gpu("odd", 1, latencies(reference, odd)), gpu("add", 1, latencies(reference, add))},
                                     {}, {base(space, odd), base(space, add)});
  // The new device: 0.5 ms + 2 x base 'odd' + 1 x base 'add' (by their own
  // predictions); no single base's line fits it, the line plus a
  // correction by both bases nearly does.
  const auto& b_odd = model.models()[0];
  const auto& b_add = model.models()[1];
  auto mix = [&](const Architecture& a) { return 0.5 + 2 * b_odd.predict(a) + b_add.predict(a); };
  const auto samples = sample_archs(space, 20, 31);
  const auto fresh = gpu("mix", 1, latencies(reference, mix));
  const auto blend = model.blend(fresh, samples, latencies(samples, mix));
  CHECK(blend.samples == 30);
  CHECK(blend.ridge <= 1e-2);  // a correction this clear needs a weak penalty
  const auto test = sample_archs(space, 200, 9);
  const auto truth = latencies(test, mix);
  const auto ensemble = model.blended(blend);
  const double blended_rmse = evaluate(ensemble.predict(test), truth).rmse_pct;
  const double line_rmse = evaluate(model.mapped(model.map(fresh, samples, latencies(samples, mix))).predict(test),
                                    truth).rmse_pct;
  MESSAGE("mix of two bases: blend RMSE " << blended_rmse << " %, best single base " << line_rmse << " %");
  CHECK(blended_rmse < 4.0);
  CHECK(line_rmse > 3 * blended_rmse);
  // By hand: the mapped nearest base plus offset plus the weighted bases.
  CHECK(ensemble.size() == 3);
  CHECK(ensemble.predict(test[0]) ==
        doctest::Approx(model.mapped(blend.mapping).predict(test[0]) + blend.offset +
                        blend.weights[0] * b_odd.predict(test[0]) + blend.weights[1] * b_add.predict(test[0])));

  // The weighted ensemble's file keeps weights and offset; a plain mean's has neither.
  const std::string bytes = ensemble_to_bytes(ensemble);
  const auto back = ensemble_from_bytes<float>(bytes, "blend.hwnas");
  CHECK(ensemble_to_bytes(back) == bytes);
  CHECK_FALSE(back.is_mean());
  CHECK(back.predict(test) == ensemble.predict(test));
  const PredictorEnsemble<float> mean({b_odd, b_add});
  CHECK(ensemble_to_bytes(mean).find("offset") == std::string::npos);
  CHECK(error_of([&] { (void)PredictorEnsemble<float>({b_odd, b_add}, {1.0}, 0.0); }) ==
        "ensemble: 1 weights for 2 members");
  CHECK(error_of([&] { (void)PredictorEnsemble<float>({b_odd}, {std::nan("")}, 0.0); }) ==
        "ensemble: weight 0 is not finite");
  CHECK(error_of([&] { (void)model.blended(DeviceBlend{.weights = {1.0}}); }) ==
        "device predictor: a blend of 1 bases for 2");
}

TEST_CASE("device predictor: a conditioned model learns per-row hardware features") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  // Two devices: the same ranking, one 3x slower; the feature says which.
  const auto archs = sample_archs(space, 400, 3);
  std::vector<Architecture> xa;
  std::vector<double> h, y;
  for (const double speed : {1.0, 3.0}) {
    for (const auto& a : archs) {
      xa.push_back(a);
      h.push_back(std::log(speed));
      y.push_back(speed * additive(space, a));
    }
  }
  Recipe r = default_recipe();
  r.predictor.hidden = {32};
  r.predictor.encoding.hardware_features = 1;
  r.training.epochs = 30;
  r.training.schedule.total_epochs = 30;
  r.training.holdout = 0.2;
  LatencyPredictor<float> p(space, r.predictor);
  p.fit_with_hardware(xa, h, y, {}, {}, {}, r.training);
  const auto test = sample_archs(space, 100, 4);
  for (const double speed : {1.0, 3.0}) {
    const std::vector<double> hw{std::log(speed)};
    std::vector<double> truth, pred;
    for (const auto& a : test) truth.push_back(speed * additive(space, a)), pred.push_back(p.predict(a, hw));
    CHECK(evaluate(pred, truth).rmse_pct < 3.0);
  }
  CHECK(error_of([&] { p.fit_with_hardware(xa, std::vector<double>(3), y, {}, {}, {}, r.training); }) ==
        "predictor: 3 training hardware values for 800 rows of 1 hardware features");

  // As a spec-mode DevicePredictor: the feature is the log of spec "speed",
  // standardised with mean 0 and scale 1 here; the file keeps it all.
  auto dev = [](std::string name, double speed) { return DeviceDescriptor{name, "cpu", 1, {{"speed", speed}}, {}}; };
  const DevicePredictor<float> model(DescriptorMode::spec, {}, {dev("slow", 3.0), dev("fast", 1.0)},
                                     {{"speed"}, {0.0}, {1.0}}, {p});
  const auto fresh = dev("new", 2.0);  // never trained on
  std::vector<double> want;
  for (const auto& a : test) want.push_back(p.predict(a, std::vector<double>{std::log(2.0)}));
  const auto got = model.predict(fresh, test);
  for (std::size_t i = 0; i < test.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
  const auto bytes = device_predictor_to_bytes(model);
  CHECK(device_predictor_to_bytes(device_predictor_from_bytes<float>(bytes)) == bytes);
  CHECK(error_of([&] { (void)model.map(fresh); }) ==
        "device predictor: map needs a fingerprint model; this one is spec");
  CHECK(error_of([&] { (void)model.blend(fresh); }) ==
        "device predictor: blend needs a fingerprint model; this one is spec");
  CHECK(error_of([&] { (void)model.predict(DeviceDescriptor{"bare", "cpu", 1, {}, {}}, test); }) ==
        "device 'bare': no spec feature 'speed'");
}

TEST_CASE("device predictor: HELP's V100 at batch 64 from two other GPUs' bases and its fingerprint") {
  HWNAS_REQUIRE_DATA(csv, "help-ofa/ofa_gpu_latency.csv");
  const auto data = Dataset::read_csv(csv);
  const auto split = benchmark_split(data);
  const auto space = MbConvSpace::ofa_mobilenet_v3(1.2);
  const std::vector<std::int64_t> reference_ids{1316, 1587, 1621, 1636, 1980, 2329, 2487, 3355, 3740, 4948};
  Recipe r = default_recipe();
  r.training.epochs = 20;
  r.training.schedule.total_epochs = 20;
  auto train = [&] {
    return train_device_predictor<float>(data, split, space, {gpu("2080ti_1", 1), gpu("titan_xp_64", 64)},
                                         reference_ids, DescriptorMode::fingerprint, {}, r);
  };
  const auto model = train();
  auto target = gpu("v100_64", 64, fingerprint_from(data, "v100_64", reference_ids));
  const auto test = data.subset(split.test);
  const auto m = model.map(target);
  CHECK(model.devices()[m.base].name == "titan_xp_64");  // batch 64 resembles batch 64
  const auto got = evaluate(model.predict(target, test.archs()), test.column("v100_64"));
  MESSAGE("v100_64 from its fingerprint alone: RMSE " << got.rmse_pct << " %, Spearman " << got.spearman);
  CHECK(got.rmse_pct < 8.0);
  CHECK(got.spearman > 0.98);
  // Reproducible for the seed.
  CHECK(device_predictor_to_bytes(train()) == device_predictor_to_bytes(model));
}

TEST_CASE("device files: reference ids, one per line; errors name the line and column") {
  const auto dir = std::filesystem::temp_directory_path() / "hwnas_test_reference_ids";
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  CHECK(read_reference_ids(write("ok.txt", "1316\n  1587\r\n\n4948")) == std::vector<std::int64_t>{1316, 1587, 4948});
  CHECK(error_of([&] { (void)read_reference_ids(write("bad.txt", "1\n2\n  seven\n")); }) ==
        (dir / "bad.txt").string() + ":3:3: expected a dataset id, found 'seven'");
  CHECK(error_of([&] { (void)read_reference_ids(write("empty.txt", "\n \n")); }) ==
        (dir / "empty.txt").string() + ": no ids");
  std::filesystem::remove_all(dir);
}
