// LutEstimator: a sub-network's latency as the sum of its layers' entries in
// OFA's lookup tables (ofa-reference.md §4.3), a latency source for the
// search like any other BatchScore. BasicLutEstimator<CategoricalSpace> does
// the same for a categorical space with layers (one table, at its network's
// input size; keys from layer_key).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
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

namespace detail {

/// A table's entries by the part of the network they price: the fixed
/// layers before and after the choices, and per layer slot (an MBConv
/// space's; index kernel * 8 + expand) or decision (a categorical space's)
/// the entries of each choice's layers. NaN: no entry (predict then takes
/// the slow path, which names the missing key). Summed in network order,
/// these give the slow path's sum bit for bit without building a key.
struct LutParts {
  std::vector<double> before, after;
  std::vector<std::vector<std::vector<double>>> choices;
};

inline double lut_mean(const LookupTable& table, std::string_view key) {
  const LutEntry* e = table.find(key);
  return e ? e->mean : std::numeric_limits<double>::quiet_NaN();
}

/// An MBConv network at resolution r with every slot on: depth step t of
/// each stage, kernel k and expand ratio e everywhere (the stage's own where
/// the space fixes them).
inline Architecture uniform_network(const MbConvSpace& space, std::size_t t, int k, int e, int r) {
  Architecture a{{}, {}, {}, r};
  for (std::size_t s = 0; s < space.num_stages(); ++s) {
    const auto& st = space.stages()[s];
    const int d = st.depth_choices[std::min(t, st.depth_choices.size() - 1)];
    a.d.push_back(d);
    for (int j = 0; j < st.max_depth; ++j) {
      a.ks.push_back(space.fixed_kernel() ? space.options().stage_kernels[s] : k);
      a.e.push_back(space.coupled() ? space.coupled_expand(d) : e);
    }
  }
  return a;
}

/// An MBConv space's parts at resolution r. A slot's block prices the same
/// whatever the other slots hold (its input size and channels follow from
/// its stage), so the networks of uniform_network visit every slot's every
/// choice. nullopt where the walk does not fit the space (its networks then
/// go through their keys).
inline std::optional<LutParts> mbconv_lut_parts(const MbConvSpace& space, const LookupTable& table, int r) {
  const auto& o = space.options();
  std::size_t depth_steps = 1;
  for (const auto& st : space.stages()) depth_steps = std::max(depth_steps, st.depth_choices.size());
  const std::vector<int> kernels = space.fixed_kernel() ? std::vector<int>{0} : o.kernel_choices;
  const std::vector<int> expands = space.coupled() ? std::vector<int>{0} : o.expand_choices;
  LutParts p;
  p.choices.assign(space.num_slots(), std::vector<std::vector<double>>(64, {std::numeric_limits<double>::quiet_NaN()}));
  bool regular = true;
  for (std::size_t t = 0; t < depth_steps; ++t) {
    for (const int k : kernels) {
      for (const int e : expands) {
        const Architecture a = uniform_network(space, t, k, e, r);
        std::vector<Layer> layers;
        try {
          layers = space.layers(a);
        } catch (const InvalidArgument&) {
          return std::nullopt;
        }
        // The active slots' blocks are layers 2, 3, ... (after the stem and
        // the fixed first block), one key each.
        std::vector<std::size_t> active;
        for (std::size_t s = 0; s < space.num_stages(); ++s) {
          for (int j = 0; j < a.d[s]; ++j) active.push_back(static_cast<std::size_t>(space.stages()[s].first_slot + j));
        }
        std::vector<double> before, after;
        for_each_lut_key(space, layers, [&](std::string_view key, std::span<const Layer> covered) {
          const auto at = static_cast<std::size_t>(covered.data() - layers.data());
          const double mean = lut_mean(table, key);
          if (at < 2) {
            regular = regular && at + covered.size() <= 2;
            before.push_back(mean);
          } else if (at < 2 + active.size()) {
            const std::size_t slot = active[at - 2];
            regular = regular && covered.size() == 1 && a.ks[slot] < 8 && a.e[slot] < 8;
            if (regular) p.choices[slot][static_cast<std::size_t>(a.ks[slot] * 8 + a.e[slot])] = {mean};
          } else {
            after.push_back(mean);
          }
        });
        if (!regular) return std::nullopt;
        p.before = std::move(before);
        p.after = std::move(after);
      }
    }
  }
  return p;
}

}  // namespace detail

/// A sub-network's latency as the sum of its layers' mean latencies
/// (ofa-reference.md §4.3), from the table of its resolution (its first
/// layer's input size). The entries are looked up once, at construction,
/// by the part of the network they price; predict then adds numbers (about
/// 60x faster than building the keys, docs/lut.md). Const members are
/// thread-safe.
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
  double sum_keys(const arch_type& arch) const;
  void index_parts();

  Space space_;
  LookupTables tables_;
  std::map<int, detail::LutParts> parts_;  ///< by resolution
};

/// OFA's: the estimator of an MBConv space.
using LutEstimator = BasicLutEstimator<MbConvSpace>;

// ---------------------------------------------------------------------------

template <class Space>
BasicLutEstimator<Space>::BasicLutEstimator(Space space, LookupTables tables)
    : space_(std::move(space)), tables_(std::move(tables)) {
  if (tables_.empty()) throw InvalidArgument("lut: no tables (one per input resolution is needed)");
  if constexpr (std::is_same_v<Space, CategoricalSpace>) (void)lut_resolution(space_);  // it has layers
  index_parts();
}

template <class Space>
void BasicLutEstimator<Space>::index_parts() {
  if constexpr (std::is_same_v<Space, CategoricalSpace>) {
    const int r = lut_resolution(space_);
    const auto it = tables_.find(r);
    if (it == tables_.end()) return;
    const auto& layers = space_.space_layers();
    const auto means = [&](const std::vector<Layer>& list) {
      std::vector<double> out;
      for (const auto& l : list) out.push_back(detail::lut_mean(it->second, layer_key(l)));
      return out;
    };
    detail::LutParts p{means(layers.stem), means(layers.head), {}};
    for (const auto& decision : layers.choices) {
      p.choices.emplace_back();
      for (const auto& choice : decision) p.choices.back().push_back(means(choice));
    }
    parts_.emplace(r, std::move(p));
  } else {
    for (const int r : space_.options().resolutions) {
      const auto it = tables_.find(r);
      if (it == tables_.end()) continue;
      if (auto p = detail::mbconv_lut_parts(space_, it->second, r)) parts_.emplace(r, std::move(*p));
    }
  }
}

template <class Space>
double BasicLutEstimator<Space>::predict(const arch_type& arch) const {
  const auto it = parts_.find([&] {
    if constexpr (std::is_same_v<Space, CategoricalSpace>) {
      return parts_.empty() ? 0 : parts_.begin()->first;
    } else {
      return arch.r;
    }
  }());
  if (it == parts_.end()) return sum_keys(arch);
  space_.validate(arch);
  const detail::LutParts& p = it->second;
  double sum = 0;
  const auto add = [&sum](const std::vector<double>& means) {
    for (const double m : means) sum += m;
  };
  add(p.before);
  if constexpr (std::is_same_v<Space, CategoricalSpace>) {
    for (std::size_t i = 0; i < arch.size(); ++i) add(p.choices[i][static_cast<std::size_t>(arch[i])]);
  } else {
    for (std::size_t s = 0; s < space_.num_stages(); ++s) {
      const auto first = static_cast<std::size_t>(space_.stages()[s].first_slot);
      for (std::size_t slot = first; slot < first + static_cast<std::size_t>(arch.d[s]); ++slot) {
        if (arch.ks[slot] >= 8 || arch.e[slot] >= 8) return sum_keys(arch);
        add(p.choices[slot][static_cast<std::size_t>(arch.ks[slot] * 8 + arch.e[slot])]);
      }
    }
  }
  add(p.after);
  return std::isnan(sum) ? sum_keys(arch) : sum;  // NaN: a missing entry, which sum_keys names
}

template <class Space>
double BasicLutEstimator<Space>::sum_keys(const arch_type& arch) const {
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
