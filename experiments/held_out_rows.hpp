// The rows a leave-one-device-out study scores and samples from: the
// benchmark split's test rows and train rows, both without the reference
// architectures (whose latencies are the held-out device's fingerprint).
#pragma once

#include <hwnas/split.hpp>

#include <cstdint>
#include <set>
#include <span>
#include <vector>

namespace hwnas_experiment {

struct HeldOutRows {
  std::vector<std::size_t> test;  ///< the split's test rows without the references
  std::vector<std::size_t> pool;  ///< its train rows without them: where the N samples come from
};

template <class Data>
HeldOutRows rows_without_reference(const Data& data, const hwnas::Split& split,
                                   std::span<const std::int64_t> reference_ids) {
  std::set<std::size_t> reference_rows;
  for (const auto id : reference_ids) reference_rows.insert(data.row_of_id(id));
  HeldOutRows out;
  for (auto r : split.test) {
    if (!reference_rows.contains(r)) out.test.push_back(r);
  }
  for (auto r : split.train) {
    if (!reference_rows.contains(r)) out.pool.push_back(r);
  }
  return out;
}

}  // namespace hwnas_experiment
