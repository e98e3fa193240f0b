// The contract every search space fulfils, so that search and evaluation code
// can hold an MbConvSpace, a CategoricalSpace or a user's own space.
#pragma once

#include <concepts>
#include <cstdint>

#include "hwnas/big_uint.hpp"
#include "hwnas/random.hpp"

namespace hwnas {

/// A space of architectures of type S::arch_type with OFA's evolutionary
/// operators. Every operator draws its randomness from the Rng it is given;
/// validate throws hwnas::InvalidArgument; hash is stable across runs and
/// equal for architectures that describe the same network.
template <class S>
concept SearchSpace = requires(const S& space, const typename S::arch_type& arch, Rng& rng) {
  { space.sample(rng) } -> std::same_as<typename S::arch_type>;
  { space.mutate(arch, rng) } -> std::same_as<typename S::arch_type>;
  { space.crossover(arch, arch, rng) } -> std::same_as<typename S::arch_type>;
  space.validate(arch);
  { space.hash(arch) } -> std::same_as<std::uint64_t>;
  { space.count() } -> std::same_as<BigUint>;
};

}  // namespace hwnas
