// The FBNet search space as HW-NAS-Bench and HELP use it: 22 searchable
// layers, each one of 9 operations, in HELP's index order (its
// `data/fbnet/` files and ../shared/data/help-fbnet/ops.json).
#pragma once

#include <string>
#include <vector>

#include "hwnas/space/categorical_space.hpp"

namespace hwnas {

/// FBNet's 9 candidate operations by index: kernel size, expand ratio, g2 =
/// grouped 1x1 convolutions in 2 groups; `skip` is the identity (a layer
/// left out).
inline const std::vector<std::string>& fbnet_operations() {
  static const std::vector<std::string> ops{"k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1",
                                            "k5_e1_g2", "k5_e3", "k5_e6", "skip"};
  return ops;
}

/// The space `fbnet`: decisions op0..op21, choice values 0..8 (the dataset
/// cells of HELP's fbnet CSVs) labelled with fbnet_operations().
inline CategoricalSpace fbnet_space() {
  std::vector<Decision> decisions;
  for (int layer = 0; layer < 22; ++layer) {
    Decision d{"op" + std::to_string(layer), {}, fbnet_operations()};
    for (int op = 0; op < 9; ++op) d.choices.push_back(op);
    decisions.push_back(std::move(d));
  }
  return CategoricalSpace(std::move(decisions), "fbnet");
}

}  // namespace hwnas
