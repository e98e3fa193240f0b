// A sub-network of an MBConv-chain space: kernel size and expand ratio per
// layer slot, depth per stage, input resolution (OFA's "spec").
#pragma once

#include <vector>

namespace hwnas {

/// One sub-network, in OFA's layout. `ks` and `e` hold one entry per layer
/// slot (20 for MobileNetV3, 21 for ProxylessNAS), `d` one per stage; only
/// the first d[s] slots of stage s run, the others are don't-care (a
/// canonical form stores 0 there). `r` is the input resolution in pixels.
struct Architecture {
  std::vector<int> ks;
  std::vector<int> e;
  std::vector<int> d;
  int r = 0;

  friend bool operator==(const Architecture&, const Architecture&) = default;
};

}  // namespace hwnas
