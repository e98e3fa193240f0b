// The additive model of a new device (fit_additive_device) on FBNet's
// network, against latencies known exactly: a line in the network's MACs is
// recovered to the coefficient, a sum of per-operation costs that no base
// knows is learned from the samples, and too few samples are refused.
#include <doctest/doctest.h>

#include <cmath>

#include "hwnas/hwnas.hpp"
#include "test_support.hpp"

using namespace hwnas;

namespace {

using Predictor = LatencyPredictor<float, CategoricalSpace>;
using Model = DevicePredictor<float, CategoricalSpace>;

using hwnas_test::latencies;
using hwnas_test::sample_archs;

// A per-operation cost table the bases do not know.
double table(const CategoricalArch& a) {
  double ms = 0.5;
  for (std::size_t i = 0; i < a.size(); ++i) ms += 0.02 * static_cast<double>((a[i] * 5 + static_cast<int>(i) * 7) % 13);
  return ms;
}

// A small base in log space trained on one synthetic device.
template <class F>
Predictor base(const CategoricalSpace& space, F f) {
  return hwnas_test::small_base(space, f, 16, 10, 400);
}

DeviceDescriptor device(std::string name, std::vector<double> fingerprint) {
  return {std::move(name), "", 1, {}, std::move(fingerprint)};
}

}  // namespace

TEST_CASE("additive device: a line in MACs is recovered; a per-operation table is learned from the samples") {
  const CategoricalSpace space = fbnet_space();
  auto macs = [&](const CategoricalArch& a) { return static_cast<double>(space.cost(a).macs); };
  auto odd = [&](const CategoricalArch& a) { return 1.0 + 3e-9 * macs(a) * (1.0 + 0.01 * a[3]); };
  auto ops = [&](const CategoricalArch& a) { return 2.0 + 0.1 * static_cast<double>(a[0] + a[21]); };
  const auto reference = sample_archs(space, 10, 5);
  const Model model(DescriptorMode::fingerprint, reference,
                    {device("odd", latencies(reference, odd)), device("ops", latencies(reference, ops))}, {},
                    {base(space, odd), base(space, ops)});
  const auto test = sample_archs(space, 300, 9);

  // 0.7 ms + 4e-9 ms per MAC: three free terms fit it exactly, with no correction.
  auto line = [&](const CategoricalArch& a) { return 0.7 + 4e-9 * macs(a); };
  const auto few = sample_archs(space, 5, 21);
  const auto fit = fit_additive_device(model, device("line", latencies(reference, line)),
                                       std::span<const CategoricalArch>(few), latencies(few, line));
  CHECK(fit.samples == 15);
  CHECK(std::isinf(fit.ridge));
  CHECK(fit.macs_weight() == doctest::Approx(4e-9).epsilon(1e-4));
  CHECK(fit.weights().size() == 198);
  for (const auto& a : test) CHECK(fit.predict(a) == doctest::Approx(line(a)).epsilon(1e-5));
  // By hand: intercept + the weights of the operations chosen + MACs.
  double by_hand = fit.intercept() + fit.macs_weight() * macs(test[0]);
  for (std::size_t i = 0; i < 22; ++i) by_hand += fit.weights()[i * 9 + static_cast<std::size_t>(test[0][i])];
  CHECK(fit.predict(test[0]) == doctest::Approx(by_hand).epsilon(1e-12));

  // A table of per-operation costs: the samples pay for a correction, which
  // the blend of the two bases cannot make.
  const auto samples = sample_archs(space, 400, 31);
  const auto target = device("table", latencies(reference, table));
  const auto learned = fit_additive_device(model, target, std::span<const CategoricalArch>(samples),
                                           latencies(samples, table));
  CHECK(std::isfinite(learned.ridge));
  const auto truth = latencies(test, table);
  const double additive_rmse = evaluate(learned.predict(test), truth).rmse_pct;
  const double blend_rmse =
      evaluate(model.blended(model.blend(target, samples, latencies(samples, table))).predict(test), truth).rmse_pct;
  MESSAGE("per-operation table from 410 samples: additive RMSE " << additive_rmse << " %, blend " << blend_rmse << " %");
  CHECK(additive_rmse < 0.05);
  CHECK(blend_rmse > 2 * additive_rmse);
  // Reproducible: the same inputs give the same model.
  const auto again = fit_additive_device(model, target, std::span<const CategoricalArch>(samples),
                                         latencies(samples, table));
  CHECK(again.weights() == learned.weights());

  // Without a fingerprint, 4 samples are too few for three free terms.
  const std::vector<CategoricalArch> four(test.begin(), test.begin() + 4);
  CHECK_THROWS_WITH_AS(fit_additive_device(model, device("new", {}), std::span<const CategoricalArch>(four),
                                           latencies(four, table)),
                       "additive device 'new': 4 calibration latencies; at least 5 are needed", InvalidArgument);
  AdditiveOptions none;
  none.table_samples = 0;
  CHECK_THROWS_WITH_AS(fit_additive_device(model, target, std::span<const CategoricalArch>(few), latencies(few, table),
                                           none),
                       "additive device: table_samples must be positive", InvalidArgument);
}

TEST_CASE("additive device: a space without a layer list has no MACs term") {
  const CategoricalSpace space({{"a", {0, 1, 2}}, {"b", {0, 1, 2, 3}}, {"c", {0, 1}}}, "small");
  auto sum = [](const CategoricalArch& a) { return 1.0 + 0.3 * a[0] + 0.2 * a[1] * a[1] + 0.5 * a[2]; };
  auto prod = [](const CategoricalArch& a) { return 1.0 + 0.1 * (a[0] + 1) * (a[1] + 1) * (a[2] + 1); };
  const auto reference = sample_archs(space, 6, 3);
  const Model model(DescriptorMode::fingerprint, reference,
                    {device("sum", latencies(reference, sum)), device("prod", latencies(reference, prod))}, {},
                    {base(space, sum), base(space, prod)});
  // 2 x the sum device plus 0.4 ms: one-hot costs, exactly additive.
  auto target_f = [&](const CategoricalArch& a) { return 0.4 + 2 * sum(a); };
  const auto samples = sample_archs(space, 30, 4);
  const auto fit = fit_additive_device(model, device("t", latencies(reference, target_f)),
                                       std::span<const CategoricalArch>(samples), latencies(samples, target_f));
  CHECK(fit.macs_weight() == 0);
  CHECK(model.devices()[fit.base].name == "sum");
  for (const auto& a : sample_archs(space, 50, 8)) CHECK(fit.predict(a) == doctest::Approx(target_f(a)).epsilon(0.02));
}
