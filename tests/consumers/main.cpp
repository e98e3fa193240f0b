// The consumer projects' program (find_package, add_subdirectory,
// FetchContent): the umbrella header compiles with only the hwnas targets
// linked (so Eigen must travel with hwnas::hwnas), and with hwnas::io the
// JSON formats too (so must nlohmann-json).
#include <hwnas/hwnas.hpp>
#ifdef HWNAS_CONSUMER_IO
#include <hwnas/io/arch.hpp>
#endif

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

int main() {
  hwnas::Rng rng(42);
  try {
    (void)rng.uniform_index(0);
    std::cerr << "expected hwnas::InvalidArgument\n";
    return 1;
  } catch (const hwnas::InvalidArgument&) {
  }
  const auto space = hwnas::MbConvSpace::ofa_mobilenet_v3();
  const auto arch = space.sample(rng);
  // Functions whose code GCC 12 once warned about (-Wrestrict) in a
  // consumer's -Werror build: validation messages, big counts, atomic writes.
  space.validate(arch);
  if (space.count().to_string().empty()) return 1;
  hwnas::Dataset data(std::vector<std::string>{"latency"});
  const double latency[] = {1.5};
  data.add_row(0, arch, latency);
  const auto csv = std::filesystem::temp_directory_path() / ("hwnas-consumer-" + std::to_string(rng()) + ".csv");
  data.write_csv(csv);
  std::filesystem::remove(csv);
  // A predictor trained with the default options (their default argument
  // once tripped GCC 12's -Wmaybe-uninitialized).
  hwnas::LatencyPredictor<float> predictor(space, {.hidden = {4}});
  const std::vector<hwnas::Architecture> archs{arch, space.sample(rng)};
  const std::vector<double> latencies{1.0, 2.0};
  (void)predictor.fit(archs, latencies);
  const hwnas::Encoder encoder(space);
  const auto features = encoder.encode_batch<float>(std::vector<hwnas::Architecture>{arch});
#ifdef HWNAS_CONSUMER_IO
  if (hwnas::parse_arch_json(hwnas::arch_to_json(arch)) != arch) return 1;
#endif
  std::cout << "hwnas " << hwnas::version_string << " random " << rng() << " features "
            << features.sum() << '\n';
  return 0;
}
