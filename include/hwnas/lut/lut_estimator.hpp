// LutEstimator: a sub-network's latency as the sum of its layers' entries in
// OFA's lookup tables (ofa-reference.md §4.3), a latency source for the
// search like any other BatchScore.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/error.hpp"
#include "hwnas/lut/lookup_table.hpp"
#include "hwnas/space/layer.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas {

/// A sub-network's latency as the sum of its layers' mean latencies
/// (ofa-reference.md §4.3), from the table of its resolution. Const members
/// are thread-safe.
class LutEstimator {
 public:
  /// InvalidArgument when `tables` is empty.
  LutEstimator(MbConvSpace space, LookupTables tables);

  const MbConvSpace& space() const noexcept { return space_; }
  const LookupTables& tables() const noexcept { return tables_; }

  /// Latency in ms. InvalidArgument for an invalid architecture, a
  /// resolution without a table (listing those loaded), or a missing key
  /// (naming the key and the table): never a silent 0.
  double predict(const Architecture& arch) const;
  std::vector<double> predict(std::span<const Architecture> archs) const;

 private:
  MbConvSpace space_;
  LookupTables tables_;
};

// ---------------------------------------------------------------------------

inline LutEstimator::LutEstimator(MbConvSpace space, LookupTables tables)
    : space_(std::move(space)), tables_(std::move(tables)) {
  if (tables_.empty()) throw InvalidArgument("lut: no tables (one per input resolution is needed)");
}

inline double LutEstimator::predict(const Architecture& arch) const {
  const auto layers = space_.layers(arch);
  const auto it = tables_.find(arch.r);
  if (it == tables_.end()) {
    std::string have;
    for (const auto& [r, t] : tables_) have += (have.empty() ? "" : ", ") + std::to_string(r);
    throw InvalidArgument("lut: no table for resolution " + std::to_string(arch.r) + " (tables: " + have + ")");
  }
  const LookupTable& table = it->second;
  double sum = 0;
  for_each_lut_key(space_.options().family, layers,
                   [&](std::string_view key, std::span<const Layer>) { sum += table.at(key).mean; });
  return sum;
}

inline std::vector<double> LutEstimator::predict(std::span<const Architecture> archs) const {
  std::vector<double> out;
  out.reserve(archs.size());
  for (const auto& a : archs) out.push_back(predict(a));
  return out;
}

}  // namespace hwnas
