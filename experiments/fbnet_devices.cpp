// FBNet on HELP's 13 devices: each device's own default-recipe model
// (benchmark split), then leave one device out (a GPU with all its batch
// sizes): the held-out device from the fingerprint of HELP's 10 reference
// architectures and N measured samples, by the mapped base (`fingerprint`),
// the bases fine-tuned on samples plus fingerprint (`finetune`), the
// additive model (`additive`: the nearest base's per-operation table and
// MACs, corrected per operation; fit_additive_device) and
// adapt_to_device (`adapt`), against the trivial baseline (the other device
// whose fingerprint ranks the references most alike, its own measurements
// mapped by a line in log space through the fingerprint).
//
//   fbnet_devices [CSV] [--full] [--held-out a,b] [--samples 0,5,..] [--seeds 1,2,3]
//
// Default (CTest): pixel3 and 1080ti held out, N = 0, 10, seed 1.
#include <hwnas/hwnas.hpp>
#include <hwnas/io/device.hpp>
#include <hwnas/io/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "experiment_args.hpp"
#include "held_out_rows.hpp"
#include "seed_mean.hpp"

namespace {

using hwnas::CategoricalArch;
using hwnas::CategoricalSpace;
using hwnas::DeviceDescriptor;
using hwnas::Json;
using hwnas_experiment::SeedMean;
using Predictor = hwnas::LatencyPredictor<float, CategoricalSpace>;
using Data = hwnas::BasicDataset<CategoricalArch>;

struct Options {
  std::filesystem::path csv = hwnas_experiment::data_dir() / "help-fbnet" / "fbnet_latency.csv";
  std::filesystem::path reference = hwnas_experiment::data_dir() / "help-fbnet" / "reference_arch_ids.txt";
  bool full = false;
  std::vector<std::string> held_out{"pixel3", "1080ti"};
  std::vector<std::size_t> samples{0, 10};
  std::vector<std::uint64_t> seeds{1};
};

// The device of a column: a GPU at any batch size ("1080ti_32" -> "1080ti"),
// any other column itself.
std::string device_of(const std::string& column) {
  for (const char* gpu : {"1080ti", "titanx"}) {
    if (column.rfind(std::string(gpu) + "_", 0) == 0) return gpu;
  }
  return column;
}

// y ~ exp(a + c log x) through the points, least squares in log space.
std::vector<double> log_line(std::span<const double> x_fit, std::span<const double> y_fit,
                             std::span<const double> x) {
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x_fit.size(); ++i) mx += std::log(x_fit[i]), my += std::log(y_fit[i]);
  mx /= static_cast<double>(x_fit.size());
  my /= static_cast<double>(y_fit.size());
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < x_fit.size(); ++i) {
    sxy += (std::log(x_fit[i]) - mx) * (std::log(y_fit[i]) - my);
    sxx += (std::log(x_fit[i]) - mx) * (std::log(x_fit[i]) - mx);
  }
  const double c = sxx > 0 ? sxy / sxx : 1.0, a = my - c * mx;
  std::vector<double> out;
  for (double v : x) out.push_back(std::exp(a + c * std::log(v)));
  return out;
}

int run(int argc, char** argv) {
  Options opt;
  if (hwnas_experiment::Args::given(argc, argv, "--full")) {
    opt.held_out = {"1080ti", "titanx", "silver_4114", "silver_4210r", "gold_6240",
                    "samsung_a50", "samsung_s7", "pixel3", "essential_ph_1"};
    opt.samples = {0, 5, 10, 20, 50};
    opt.seeds = {1, 2, 3};
  }
  hwnas_experiment::Args args("fbnet_devices", "FBNet: per-device models, and leave one device out.");
  args.positional("CSV", opt.csv, "HELP's fbnet_latency.csv")
      .flag("--full", opt.full, "every device held out, N = 0, 5, 10, 20, 50, seeds 1, 2, 3")
      .texts("--held-out", opt.held_out, "devices held out one at a time (a GPU: every batch size)")
      .numbers("--samples", opt.samples, "values of N")
      .numbers("--seeds", opt.seeds, "seeds of the sample draws and the fine-tuning")
      .path("--reference", opt.reference, "ids of the reference architectures (HELP's)");
  if (!args.parse(argc, argv)) return 0;
  std::sort(opt.samples.begin(), opt.samples.end());
  if (!hwnas_experiment::data_present({opt.csv, opt.reference},
                                      "pass the dataset CSV as the first argument or set HWNAS_DATA_DIR")) {
    return hwnas_experiment::kSkipped;
  }
  const hwnas_experiment::Stopwatch clock;
  const CategoricalSpace space = hwnas::fbnet_space();
  const Data data = Data::read_csv(opt.csv, space.columns());
  const auto split = hwnas::benchmark_split(data);
  const auto reference_ids = hwnas::read_reference_ids(opt.reference);
  std::vector<CategoricalArch> reference;
  for (const auto id : reference_ids) reference.push_back(data.archs()[data.row_of_id(id)]);
  const auto rows = hwnas_experiment::rows_without_reference(data, split, reference_ids);
  const auto& test_rows = rows.test;
  const auto& pool = rows.pool;
  const Data test = data.subset(test_rows);

  // Every column's base in log space, trained once (a fingerprint model's
  // member); its test metrics are the per-device default recipe's.
  Json out, per_device;
  std::map<std::string, Predictor> bases;
  std::map<std::string, DeviceDescriptor> devices;
  for (const auto& c : data.columns()) {
    devices[c] = {c, "", 1, {}, hwnas::fingerprint_from(data, c, reference_ids)};
    auto one = hwnas::train_device_predictor<float, CategoricalSpace>(data, split, space, {devices[c]}, reference_ids);
    bases.emplace(c, one.models().front());
    per_device[c] = bases.at(c).evaluate(test.archs(), test.column(c));
    clock.progress("base " + c);
  }
  out["data"] = opt.csv.string();
  out["reference_ids"] = reference_ids;
  out["test_rows"] = test_rows.size();
  out["samples"] = opt.samples;
  out["seeds"] = opt.seeds;
  out["per_device"] = per_device;

  hwnas::Rng random_rng(7);
  std::vector<CategoricalArch> random_archs;
  for (int i = 0; i < 2000; ++i) random_archs.push_back(space.sample(random_rng));
  std::map<std::size_t, std::map<std::string, SeedMean>> overall;  // n -> strategy -> every held-out column
  for (const auto& held : opt.held_out) {
    std::vector<DeviceDescriptor> train_devices;
    std::vector<Predictor> fold_bases;
    for (const auto& c : data.columns()) {
      if (device_of(c) == held) continue;
      train_devices.push_back(devices.at(c));
      fold_bases.push_back(bases.at(c));
    }
    if (train_devices.size() == data.columns().size()) throw hwnas::InvalidArgument("--held-out " + held + ": no such device");
    const hwnas::DevicePredictor<float, CategoricalSpace> model(hwnas::DescriptorMode::fingerprint, reference,
                                                               train_devices, {}, fold_bases);
    for (const auto& target : data.columns()) {
      if (device_of(target) != held) continue;
      const auto& device = devices.at(target);
      const auto y_test = test.column(target);
      Json col;
      // The trivial baseline: the other device whose fingerprint ranks the
      // references most alike, its measurements mapped through the fingerprint.
      std::string nearest;
      double best = -2;
      for (const auto& d : train_devices) {
        const double rho = hwnas::spearman_rho(d.fingerprint, device.fingerprint);
        if (rho > best) best = rho, nearest = d.name;
      }
      col["trivial"] = hwnas::evaluate(log_line(devices.at(nearest).fingerprint, device.fingerprint,
                                                test.column(nearest)),
                                       y_test);
      col["trivial"]["device"] = nearest;
      std::map<std::size_t, std::map<std::string, SeedMean>> curve;
      std::map<std::size_t, Json> chosen_base;
      double lowest_prediction = std::numeric_limits<double>::infinity();
      for (const auto seed : opt.seeds) {
        const auto subset = hwnas::random_subset(pool, opt.samples.back(), seed);
        for (const auto n : opt.samples) {
          const std::vector<std::size_t> idx(subset.begin(), subset.begin() + static_cast<std::ptrdiff_t>(n));
          const Data samples = data.subset(idx);
          const auto ya = samples.column(target);
          const auto mapping = model.map(device, samples.archs(), ya);
          chosen_base[n].push_back(train_devices[mapping.base].name);
          const auto add = [&](const std::string& name, const hwnas::RegressionMetrics& m) {
            curve[n][name].add(m);
            overall[n][name].add(m);
          };
          add("fingerprint", model.mapped(mapping).evaluate(test.archs(), y_test));
          const auto blend = model.blended(model.blend(device, samples.archs(), ya));
          add("blend", blend.evaluate(test.archs(), y_test));
          // A blend may weigh bases negatively: its smallest prediction over
          // the test rows and random architectures, against the smallest measured.
          const auto p_test = blend.predict(test.archs());
          const auto p_random = blend.predict(random_archs);
          lowest_prediction = std::min({lowest_prediction, *std::min_element(p_test.begin(), p_test.end()),
                                        *std::min_element(p_random.begin(), p_random.end())});
          hwnas::TransferOptions transfer;
          transfer.training.seed = seed;
          const auto tuned = hwnas::fine_tune_to_device(model, device, std::span<const CategoricalArch>(samples.archs()),
                                                        std::span<const double>(ya), transfer);
          add("finetune", tuned.evaluate(test.archs(), y_test));
          const auto additive = hwnas::fit_additive_device(model, device, std::span<const CategoricalArch>(samples.archs()),
                                                           std::span<const double>(ya));
          add("additive", hwnas::evaluate(additive.predict(test.archs()), y_test));
          hwnas::AdaptOptions adapt;
          adapt.transfer.training.seed = seed;
          add("adapt", hwnas::adapt_to_device(model, device, std::span<const CategoricalArch>(samples.archs()),
                                              std::span<const double>(ya), adapt)
                           .evaluate(test.archs(), y_test));
        }
      }
      Json points = Json::array();
      for (const auto& [n, by_strategy] : curve) {
        Json point{{"n", n}, {"bases_per_seed", chosen_base[n]}};
        for (const auto& [name, mean] : by_strategy) point[name] = mean.to_json();
        points.push_back(point);
      }
      col["curve"] = points;
      col["lowest_blend_prediction"] = lowest_prediction;
      const auto measured = data.column(target);
      col["lowest_measured"] = *std::min_element(measured.begin(), measured.end());
      out["columns"][target] = col;
      clock.progress(target + " held out");
    }
  }
  Json means = Json::array();
  for (const auto& [n, by_strategy] : overall) {
    Json point{{"n", n}};
    for (const auto& [name, mean] : by_strategy) point[name] = mean.to_json();
    means.push_back(point);
  }
  out["mean_over_held_out_columns"] = means;
  out["seconds"] = clock.seconds();
  args.emit(out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return hwnas_experiment::guarded("fbnet_devices", [&] { return run(argc, argv); });
}
