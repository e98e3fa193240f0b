// A device descriptor is not GPU-specific (docs/generalisation.md): two
// configurations of this machine's CPU, batch 1 and batch 4 through the
// built-in executor, are two devices. A latency model trained on batch 1
// predicts batch 4 from nothing but batch 4's fingerprint (its latencies of
// 10 reference networks). Prints one JSON object.
//
//   cpu_devices [--train 80] [--test 40] [--batch 4] [--repeats 5] [--seed 0] [-o DIR] [--out FILE]
//
// Everything is measured here (about 1 min on one core of a 2-core VM): the
// reference networks on both configurations, the training networks on batch
// 1, the test networks on both. It needs no data, so it has no quick mode:
// CTest runs it as tools/results/run.sh does. -o DIR also writes the model
// file (both records in it) and the new device's record as JSON.
#include <hwnas/hwnas.hpp>
#include <hwnas/io/device.hpp>
#include <hwnas/io/json.hpp>
#include <hwnas/measure/adapter.hpp>
#include <hwnas/measure/builders.hpp>
#include <hwnas/measure/cpu_executor.hpp>

#include "experiment_args.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using hwnas::Architecture;
using hwnas::Json;

struct Options {
  std::size_t train = 80, test = 40, repeats = 5;
  int batch = 4;
  std::uint64_t seed = 0;
  std::filesystem::path output;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int run(int argc, char** argv) {
  Options opt;
  hwnas_experiment::Args args("cpu_devices", "Batch 4 on this CPU predicted from its fingerprint by a batch-1 model.");
  args.number("--train", opt.train, "batch-1 training networks (80)")
      .number("--test", opt.test, "test networks, measured at both batch sizes (40)")
      .number("--batch", opt.batch, "the second configuration's batch size (4)")
      .number("--repeats", opt.repeats, "timed runs per network (5)")
      .number("--seed", opt.seed, "seed of the networks and the training (0)")
      .path("-o", opt.output, "also write the model file and the new device's record into this folder", "DIR");
  if (!args.parse(argc, argv)) return 0;
  if (opt.train < 10 || opt.test < 5 || opt.batch < 2 || opt.repeats < 1) {
    throw hwnas::InvalidArgument("need --train >= 10, --test >= 5, --batch >= 2, --repeats >= 1");
  }
  const hwnas_experiment::Stopwatch clock;
  const auto space = hwnas::MbConvSpace::ofa_mobilenet_v3().with_resolutions(hwnas::ofa_search_resolutions());
  // Distinct networks: the first 10 are the reference, then train, then test.
  const auto archs = hwnas::measure::dataset_architectures(space, 10 + opt.train + opt.test, opt.seed);
  const std::vector<Architecture> reference(archs.begin(), archs.begin() + 10);
  const std::vector<Architecture> train(archs.begin() + 10, archs.begin() + 10 + static_cast<std::ptrdiff_t>(opt.train));
  const std::vector<Architecture> test(archs.end() - static_cast<std::ptrdiff_t>(opt.test), archs.end());

  hwnas::measure::CpuExecutor cpu(opt.seed);
  const hwnas::measure::TimingOptions timing{.warmup = 2, .repeats = opt.repeats};
  auto measure = [&](const std::vector<Architecture>& nets, int batch) {
    std::vector<double> ms;
    for (const auto& a : nets) ms.push_back(hwnas::measure::measure_network(cpu, space, a, batch, timing).median);
    return ms;
  };
  const std::string big = "cpu_b" + std::to_string(opt.batch);
  hwnas::DeviceDescriptor b1{"cpu_b1", "cpu", 1, {}, measure(reference, 1)};
  hwnas::DeviceDescriptor bn{big, "cpu", static_cast<std::size_t>(opt.batch), {}, measure(reference, opt.batch)};
  const auto y_train = measure(train, 1);
  const auto y_test_b1 = measure(test, 1), y_test_bn = measure(test, opt.batch);
  const double measure_s = clock.seconds();

  // The batch-1 model, in log space (what a fingerprint model's bases are);
  // few samples: the finetune recipe, its hold-out out of them.
  auto recipe = hwnas::finetune_recipe();
  recipe.training.seed = opt.seed;
  recipe.training.choose_target = false;
  hwnas::LatencyPredictor<float> base(space, recipe.predictor);
  base.fit(train, y_train, {}, {}, recipe.training);
  const hwnas::DevicePredictor<float> model(hwnas::DescriptorMode::fingerprint, reference, {b1}, {}, {base});

  // The new device, from its fingerprint alone.
  const auto mapping = model.map(bn);
  const auto predicted = model.predict(bn, test);
  // What a user without descriptors would do: the batch-1 model as it is,
  // or scaled by the fingerprints' mean ratio (the slope held at 1).
  const auto as_is = model.predict(b1, test);
  double log_ratio = 0;
  for (std::size_t k = 0; k < reference.size(); ++k) log_ratio += std::log(bn.fingerprint[k] / b1.fingerprint[k]);
  log_ratio /= static_cast<double>(reference.size());
  std::vector<double> scaled = as_is;
  for (double& v : scaled) v *= std::exp(log_ratio);

  Json out{{"space", space.name()},
           {"devices", {b1.name, bn.name}},
           {"networks", {{"reference", reference.size()}, {"train", train.size()}, {"test", test.size()}}},
           {"timing", {{"warmup", timing.warmup}, {"repeats", timing.repeats}}},
           {"measure_s", measure_s},
           {"cpu_b1_model_on_cpu_b1", hwnas::evaluate(as_is, y_test_b1)},
           {"mapping", {{"base", model.devices()[mapping.base].name},
                        {"intercept", mapping.intercept},
                        {"slope", mapping.slope},
                        {"loo_rmse_log", mapping.loo_rmse}}},
           {"on_" + big,
            {{"fingerprint", hwnas::evaluate(predicted, y_test_bn)},
             {"scaled_by_mean_ratio", hwnas::evaluate(scaled, y_test_bn)},
             {"cpu_b1_model_as_is", hwnas::evaluate(as_is, y_test_bn)}}},
           {"median_ms", {{"cpu_b1", median(y_test_b1)}, {big, median(y_test_bn)}}}};
  if (!opt.output.empty()) {
    std::filesystem::create_directories(opt.output);
    const auto& dir = opt.output;
    hwnas::save_device_predictor(model, dir / "cpu.hwnas");
    hwnas::write_device_file(dir / (big + ".json"), std::vector<hwnas::DeviceDescriptor>{bn});
    out["files"] = {(dir / "cpu.hwnas").string(), (dir / (big + ".json")).string()};
  }
  out["seconds"] = clock.seconds();
  args.emit(out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return hwnas_experiment::guarded("cpu_devices", [&] { return run(argc, argv); });
}
