// FNV-1a over 32-bit values, four little-endian bytes each: a hash that is the
// same on every platform and run, for memoisation keys.
#pragma once

#include <cstdint>

namespace hwnas::detail {

class Fnv1a {
 public:
  void mix(std::uint32_t v) noexcept {
    for (int shift = 0; shift < 32; shift += 8) {
      h_ ^= (v >> shift) & 0xffu;
      h_ *= 0x100000001b3ULL;  // FNV 64-bit prime
    }
  }
  std::uint64_t value() const noexcept { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;  // FNV-1a 64-bit offset basis
};

}  // namespace hwnas::detail
