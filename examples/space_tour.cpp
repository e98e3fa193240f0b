// A tour of the search spaces: sample, mutate and cross over OFA MobileNetV3
// sub-networks, count them exactly, and look at their cost and encoding.
#include <hwnas/hwnas.hpp>

#include <iostream>

int main() {
  const auto space =
      hwnas::MbConvSpace::ofa_mobilenet_v3(1.0).with_resolutions(hwnas::ofa_search_resolutions());
  std::cout << space.name() << ": " << space.count().to_string()
            << " distinct (network, resolution) pairs\n";

  hwnas::Rng rng(2026);  // every random choice comes from this generator
  const hwnas::Architecture a = space.sample(rng);
  const hwnas::Architecture b = space.sample(rng);
  const hwnas::Architecture child = space.crossover(space.mutate(a, rng), b, rng);

  const hwnas::Encoder encoder(space);  // the method's 128-d one-hot
  hwnas::RowVector<float> features(static_cast<Eigen::Index>(encoder.dim()));
  for (const auto* arch : {&a, &b, &child}) {
    const auto cost = space.cost(*arch);
    encoder.encode<float>(*arch, features);
    std::cout << "r=" << arch->r << "  " << cost.macs / 1e6 << " M MACs  " << cost.params / 1e6
              << " M params  " << features.sum() << " of " << encoder.dim() << " features set\n";
  }

  // Memoisation keys: equal networks hash equally whatever their don't-care slots hold.
  hwnas::Architecture same = a;
  for (std::size_t i = 0; i < space.num_slots(); ++i) {
    if (!space.is_active(same, i)) same.ks[i] = 0;
  }
  std::cout << "same network: " << std::boolalpha << (space.hash(a) == space.hash(same)) << '\n';

  try {
    hwnas::Architecture bad = a;
    bad.ks[0] = 4;
    space.validate(bad);
  } catch (const hwnas::InvalidArgument& e) {
    std::cout << "rejected: " << e.what() << '\n';
  }
  return 0;
}
