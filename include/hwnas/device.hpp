// A device record (docs/generalisation.md): what a latency model
// knows of a device it may never have been trained on. The fingerprint, the
// measured latencies of a few reference architectures, says most: it is
// what a new device's latency is predicted from.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "hwnas/error.hpp"

namespace hwnas {

struct DeviceDescriptor {
  std::string name;  ///< e.g. "v100_64"; unique within a model
  std::string kind;  ///< gpu, cpu, mobile, accelerator, ...
  std::size_t batch = 1;
  /// Numeric spec-sheet features, in a fixed order (the method's three:
  /// cores, memory_gb, bandwidth_gbs).
  std::vector<std::pair<std::string, double>> spec;
  /// ms: the measured latencies of the model's reference architectures, in
  /// their order (empty: no fingerprint).
  std::vector<double> fingerprint;

  friend bool operator==(const DeviceDescriptor&, const DeviceDescriptor&) = default;
};

/// InvalidArgument naming the device and the field unless: a name, a batch of
/// at least 1, finite positive spec values with distinct non-empty names,
/// and finite positive fingerprint latencies.
inline void check_device(const DeviceDescriptor& d) {
  const std::string who = "device '" + d.name + "': ";
  if (d.name.empty()) throw InvalidArgument("device: empty 'name'");
  if (d.batch == 0) throw InvalidArgument(who + "'batch' must be at least 1");
  for (std::size_t i = 0; i < d.spec.size(); ++i) {
    const auto& [key, value] = d.spec[i];
    if (key.empty()) throw InvalidArgument(who + "spec feature " + std::to_string(i) + " has no name");
    for (std::size_t j = 0; j < i; ++j) {
      if (d.spec[j].first == key) throw InvalidArgument(who + "spec feature '" + key + "' appears twice");
    }
    if (!std::isfinite(value) || value <= 0) {
      throw InvalidArgument(who + "spec feature '" + key + "' = " + std::to_string(value) + " must be finite and positive");
    }
  }
  for (std::size_t i = 0; i < d.fingerprint.size(); ++i) {
    const double v = d.fingerprint[i];
    if (!std::isfinite(v) || v <= 0) {
      throw InvalidArgument(who + "fingerprint[" + std::to_string(i) + "] = " + std::to_string(v) +
                            " ms must be finite and positive");
    }
  }
}

/// The fingerprint as features that keep the device's speed: the mean log
/// latency (the scale), then each log latency minus that mean (the shape).
/// A scale-free fingerprint cannot tell a fast device from a slow one.
inline std::vector<double> fingerprint_features(const DeviceDescriptor& d) {
  if (d.fingerprint.empty()) throw InvalidArgument("device '" + d.name + "': no fingerprint");
  std::vector<double> f(d.fingerprint.size() + 1);
  double mean = 0;
  for (double v : d.fingerprint) mean += std::log(v);
  mean /= static_cast<double>(d.fingerprint.size());
  f[0] = mean;
  for (std::size_t i = 0; i < d.fingerprint.size(); ++i) f[i + 1] = std::log(d.fingerprint[i]) - mean;
  return f;
}

/// The spec features by name, as logs (cores and bandwidths span orders of
/// magnitude), in the order of `names`; the name "batch" is the batch size.
/// InvalidArgument naming the device and the first missing name.
inline std::vector<double> spec_features(const DeviceDescriptor& d, std::span<const std::string> names) {
  std::vector<double> f;
  for (const auto& name : names) {
    if (name == "batch") {
      f.push_back(std::log(static_cast<double>(d.batch)));
      continue;
    }
    const auto it = std::find_if(d.spec.begin(), d.spec.end(), [&](const auto& kv) { return kv.first == name; });
    if (it == d.spec.end()) throw InvalidArgument("device '" + d.name + "': no spec feature '" + name + "'");
    f.push_back(std::log(it->second));
  }
  return f;
}

}  // namespace hwnas
