// LutEstimator: a sub-network's latency as the sum of its layers' entries in
// OFA's lookup tables (ofa-reference.md §4.3), a latency source for the
// search like any other BatchScore. BasicLutEstimator<CategoricalSpace> does
// the same for a categorical space with layers (one table, at its network's
// input size; keys from layer_key).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/error.hpp"
#include "hwnas/lut/lookup_table.hpp"
#include "hwnas/space/categorical_space.hpp"
#include "hwnas/space/layer.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas {

/// A sub-network's latency as the sum of its layers' mean latencies
/// (ofa-reference.md §4.3), from the table of its resolution (its first
/// layer's input size). Const members are thread-safe.
template <class Space>
class BasicLutEstimator {
 public:
  using arch_type = typename Space::arch_type;

  /// InvalidArgument when `tables` is empty, or for a categorical space
  /// without layers.
  BasicLutEstimator(Space space, LookupTables tables);

  const Space& space() const noexcept { return space_; }
  const LookupTables& tables() const noexcept { return tables_; }

  /// Latency in ms. InvalidArgument for an invalid architecture, a
  /// resolution without a table (listing those loaded), or a missing key
  /// (naming the key and the table): never a silent 0.
  double predict(const arch_type& arch) const;
  std::vector<double> predict(std::span<const arch_type> archs) const;

 private:
  Space space_;
  LookupTables tables_;
};

/// OFA's: the estimator of an MBConv space.
using LutEstimator = BasicLutEstimator<MbConvSpace>;

// ---------------------------------------------------------------------------

template <class Space>
BasicLutEstimator<Space>::BasicLutEstimator(Space space, LookupTables tables)
    : space_(std::move(space)), tables_(std::move(tables)) {
  if (tables_.empty()) throw InvalidArgument("lut: no tables (one per input resolution is needed)");
  if constexpr (std::is_same_v<Space, CategoricalSpace>) (void)lut_resolution(space_);  // it has layers
}

template <class Space>
double BasicLutEstimator<Space>::predict(const arch_type& arch) const {
  const auto layers = space_.layers(arch);
  const int r = layers.front().in_size;
  const auto it = tables_.find(r);
  if (it == tables_.end()) {
    std::string have;
    for (const auto& [res, t] : tables_) have += (have.empty() ? "" : ", ") + std::to_string(res);
    throw InvalidArgument("lut: no table for resolution " + std::to_string(r) + " (tables: " + have + ")");
  }
  const LookupTable& table = it->second;
  double sum = 0;
  for_each_lut_key(space_, layers, [&](std::string_view key, std::span<const Layer>) { sum += table.at(key).mean; });
  return sum;
}

template <class Space>
std::vector<double> BasicLutEstimator<Space>::predict(std::span<const arch_type> archs) const {
  std::vector<double> out;
  out.reserve(archs.size());
  for (const auto& a : archs) out.push_back(predict(a));
  return out;
}

}  // namespace hwnas
