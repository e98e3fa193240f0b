// Hardware generalisation (docs/generalisation.md): leave one GPU out of
// HELP's OFA latencies, train on the other GPUs' columns (every batch size),
// predict each batch size of the held-out GPU from its fingerprint and N
// measured samples. Prints one JSON object.
//
//   generalisation [CSV] [--full] [--gpus v100,..] [--samples 0,5,..] [--seeds 1,2,3]
//                  [--devices FILE] [--reference FILE] [--fine-tune-from 100] [--out FILE]
//
// Rows: the benchmark split; the 10 reference architectures (HELP's
// fingerprint) leave the test rows. For a column, seed and N, the samples
// are the first N of random_subset(train rows without the reference, largest
// N, seed) (nested). Per held-out column:
//   full         default_recipe() on the column's 3500 training rows (and its
//                validation rows): what generalisation is measured against;
//   fingerprint  the DevicePredictor of the other GPUs' columns, the device
//                mapped by a line in log space on its fingerprint plus the N
//                samples (DevicePredictor::map);
//   finetune     fine_tune_from over the same bases, on the N samples plus
//                the fingerprint (N >= 5);
//   adapt        adapt_to_device: fingerprint below --fine-tune-from samples;
//                from there, fingerprint or finetune, whichever does better
//                on a seeded 20 % hold-out of the samples;
//   spec, spec_batch, both (--full, N = 0)
//                one MLP on the encoding plus device features, trained on the
//                other GPUs' columns: the method's 131-d model (cores, memory,
//                bandwidth), the same plus the batch size, and spec plus
//                fingerprint.
//
// --full: 3 GPUs, N = 0, 5, 10, 20, 50, 100, 700, seeds 1..3, the baselines
// (about 25 minutes on one core; tools/results/run.sh runs it). Without it:
// v100 held out, N = 0 and 20, seed 1, no baselines (about 2 minutes). The
// CSV and the reference ids default to $HWNAS_DATA_DIR or the checkout's
// ../shared/data; without them the program says "skipped: ..." and exits 77
// (CTest: skipped). The device records (cores, memory, bandwidth of HELP's
// GPUs) are examples/devices/help-gpus.json, the file the docs' examples use.
#include <hwnas/hwnas.hpp>
#include <hwnas/io/device.hpp>
#include <hwnas/io/json.hpp>

#include "experiment_args.hpp"
#include "held_out_rows.hpp"
#include "seed_mean.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

using hwnas::Architecture;
using hwnas::DeviceDescriptor;
using hwnas::Json;
using Predictor = hwnas::LatencyPredictor<float>;
using hwnas_experiment::SeedMean;

struct Options {
  std::filesystem::path csv = hwnas_experiment::data_dir() / "help-ofa" / "ofa_gpu_latency.csv";
  std::filesystem::path reference = hwnas_experiment::data_dir() / "help-ofa" / "reference_arch_ids.txt";
  std::filesystem::path devices = std::filesystem::path(HWNAS_SOURCE_DIR) / "examples" / "devices" / "help-gpus.json";
  bool full = false;
  std::vector<std::string> gpus{"2080ti", "titan_xp", "v100"};
  std::vector<std::size_t> samples{0, 5, 10, 20, 50, 100, 700};
  std::vector<std::uint64_t> seeds{1, 2, 3};
  std::size_t fine_tune_from = hwnas::AdaptOptions{}.fine_tune_samples;
  bool baselines = true;
};

// The GPU of a column "<gpu>_<batch>".
std::string gpu_of(const std::string& column) { return column.substr(0, column.rfind('_')); }

int run(int argc, char** argv) {
  Options opt;
  if (!hwnas_experiment::Args::given(argc, argv, "--full")) {
    opt.gpus = {"v100"};
    opt.samples = {0, 20};
    opt.seeds = {1};
    opt.baselines = false;
  }
  hwnas_experiment::Args args("generalisation", "Leave one GPU out: new devices from a fingerprint and N samples.");
  args.positional("CSV", opt.csv, "HELP's ofa_gpu_latency.csv")
      .flag("--full", opt.full, "3 GPUs held out, N = 0..700, seeds 1,2,3, the spec baselines")
      .texts("--gpus", opt.gpus, "GPUs held out, one at a time (default: v100; all 3 with --full)")
      .numbers("--samples", opt.samples, "values of N")
      .numbers("--seeds", opt.seeds, "seeds of the sample draws and the training")
      .path("--devices", opt.devices, "device records of the columns (examples/devices/help-gpus.json)")
      .path("--reference", opt.reference, "ids of the reference architectures (HELP's)")
      .number("--fine-tune-from", opt.fine_tune_from, "N from which adapt_to_device may fine-tune");
  if (!args.parse(argc, argv)) return 0;
  std::sort(opt.samples.begin(), opt.samples.end());
  if (!hwnas_experiment::data_present({opt.csv, opt.reference},
                                      "pass the dataset CSV as the first argument or set HWNAS_DATA_DIR")) {
    return hwnas_experiment::kSkipped;
  }
  const hwnas_experiment::Stopwatch clock;

  const auto data = hwnas::Dataset::read_csv(opt.csv);
  const auto split = hwnas::benchmark_split(data);
  const auto space = hwnas::MbConvSpace::ofa_mobilenet_v3(1.2);  // HELP's networks come from the w1.2 supernet
  const auto reference_ids = hwnas::read_reference_ids(opt.reference);
  const auto rows = hwnas_experiment::rows_without_reference(data, split, reference_ids);
  const auto& test_rows = rows.test;
  const auto& pool = rows.pool;
  const auto test = data.subset(test_rows);
  const auto train = data.subset(split.train), val = data.subset(split.validation);

  std::map<std::string, DeviceDescriptor> devices;
  for (auto& d : hwnas::read_device_file(opt.devices)) {
    d.fingerprint = hwnas::fingerprint_from(data, d.name, reference_ids);
    devices.emplace(d.name, d);
  }
  for (const auto& c : data.columns()) {
    if (!devices.contains(c)) throw hwnas::InvalidArgument(opt.devices.string() + ": no device '" + c + "'");
  }
  std::vector<std::string> held_out_columns;
  for (const auto& c : data.columns()) {
    if (std::find(opt.gpus.begin(), opt.gpus.end(), gpu_of(c)) != opt.gpus.end()) held_out_columns.push_back(c);
  }
  if (held_out_columns.empty()) throw hwnas::InvalidArgument("--gpus names no GPU of the data");

  // Every column's base (log space) and full model, trained once: a base
  // serves every fold that does not hold its GPU out.
  std::map<std::string, Predictor> bases, full;
  for (const auto& c : data.columns()) {
    const bool needed_as_base = std::any_of(held_out_columns.begin(), held_out_columns.end(),
                                            [&](const std::string& h) { return gpu_of(h) != gpu_of(c); });
    if (needed_as_base) {
      auto one = hwnas::train_device_predictor<float>(data, split, space, {devices.at(c)}, reference_ids);
      bases.emplace(c, one.models().front());
      clock.progress("base " + c);
    }
    if (std::find(held_out_columns.begin(), held_out_columns.end(), c) != held_out_columns.end()) {
      Predictor p(space, hwnas::default_recipe().predictor);
      p.fit(train.archs(), train.column(c), val.archs(), val.column(c), hwnas::default_recipe().training);
      full.emplace(c, std::move(p));
      clock.progress("full " + c);
    }
  }

  Json out;
  out["data"] = opt.csv.string();
  out["devices"] = opt.devices.string();
  out["reference_ids"] = reference_ids;
  out["test_rows"] = test_rows.size();
  out["samples"] = opt.samples;
  out["seeds"] = opt.seeds;
  out["fine_tune_from"] = opt.fine_tune_from;
  for (const auto& gpu : opt.gpus) {
    std::vector<DeviceDescriptor> train_devices;
    std::vector<Predictor> fold_bases;
    for (const auto& c : data.columns()) {
      if (gpu_of(c) == gpu) continue;
      train_devices.push_back(devices.at(c));
      fold_bases.push_back(bases.at(c));
    }
    std::vector<Architecture> reference;
    for (const auto id : reference_ids) reference.push_back(data.archs()[data.row_of_id(id)]);
    const hwnas::DevicePredictor<float> model(hwnas::DescriptorMode::fingerprint, reference, train_devices, {},
                                              fold_bases);
    // The conditioned baselines, trained on the same columns.
    std::map<std::string, hwnas::DevicePredictor<float>> baselines;
    if (opt.baselines) {
      const std::vector<std::string> spec3{"cores", "memory_gb", "bandwidth_gbs"};
      std::vector<std::string> spec4 = spec3;
      spec4.push_back("batch");
      const std::vector<std::pair<std::string, std::pair<hwnas::DescriptorMode, std::vector<std::string>>>> kinds{
          {"spec", {hwnas::DescriptorMode::spec, spec3}},
          {"spec_batch", {hwnas::DescriptorMode::spec, spec4}},
          {"both", {hwnas::DescriptorMode::both, spec4}}};
      for (const auto& [name, kind] : kinds) {
        baselines.emplace(name, hwnas::train_device_predictor<float>(data, split, space, train_devices,
                                                                     reference_ids, kind.first, kind.second));
        clock.progress(gpu + " held out: baseline " + name);
      }
    }
    for (const auto& target : data.columns()) {
      if (gpu_of(target) != gpu) continue;
      const auto& device = devices.at(target);
      const auto y_test = test.column(target);
      Json col;
      col["full"] = full.at(target).evaluate(test.archs(), y_test);
      for (const auto& [name, b] : baselines) {
        col["n0_" + name] = hwnas::evaluate(b.predict(device, test.archs()), y_test);
      }
      std::map<std::size_t, std::map<std::string, SeedMean>> curve;
      std::map<std::size_t, Json> chosen_base;
      std::map<std::size_t, std::size_t> fine_tuned;  // seeds where adapt_to_device fine-tuned
      for (const auto seed : opt.seeds) {
        const auto subset = hwnas::random_subset(pool, opt.samples.back(), seed);
        for (const auto n : opt.samples) {
          const std::vector<std::size_t> idx(subset.begin(), subset.begin() + static_cast<std::ptrdiff_t>(n));
          const auto samples = data.subset(idx);
          const auto ya = samples.column(target);
          const auto mapping = model.map(device, samples.archs(), ya);
          chosen_base[n].push_back(train_devices[mapping.base].name);
          curve[n]["fingerprint"].add(model.mapped(mapping).evaluate(test.archs(), y_test));
          curve[n]["blend"].add(model.blended(model.blend(device, samples.archs(), ya)).evaluate(test.archs(), y_test));
          if (n >= 5) {
            hwnas::TransferOptions transfer;
            transfer.training.seed = seed;
            const auto tuned = hwnas::fine_tune_to_device(model, device, std::span<const Architecture>(samples.archs()),
                                                          std::span<const double>(ya), transfer);
            curve[n]["finetune"].add(tuned.evaluate(test.archs(), y_test));
          }
          hwnas::AdaptOptions adapt;
          adapt.fine_tune_samples = opt.fine_tune_from;
          adapt.transfer.training.seed = seed;
          hwnas::AdaptReport report;
          const auto adapted = hwnas::adapt_to_device(model, device, samples.archs(), ya, adapt, &report);
          curve[n]["adapt"].add(adapted.evaluate(test.archs(), y_test));
          fine_tuned[n] += report.fine_tuned ? 1 : 0;
        }
        clock.progress(target + " seed " + std::to_string(seed));
      }
      Json points = Json::array();
      for (const auto& [n, by_strategy] : curve) {
        Json point{{"n", n}, {"bases_per_seed", chosen_base[n]}, {"adapt_fine_tuned_seeds", fine_tuned[n]}};
        for (const auto& [name, mean] : by_strategy) {
          point[name] = mean.to_json();
          point[name]["over_full"] = mean.mean().rmse_pct / col["full"]["rmse_pct"].get<double>();
        }
        points.push_back(point);
      }
      col["curve"] = points;
      out["columns"][target] = col;
    }
  }
  out["seconds"] = clock.seconds();
  args.emit(out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return hwnas_experiment::guarded("generalisation", [&] { return run(argc, argv); });
}
