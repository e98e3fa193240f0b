// The contract every search space fulfils, so that the searcher, the
// datasets, the predictors and their model files can hold an MbConvSpace, a
// CategoricalSpace or a user's own space (docs/spaces.md).
#pragma once

#include <concepts>
#include <cstdint>
#include <string>

#include "hwnas/big_uint.hpp"
#include "hwnas/dataset_columns.hpp"
#include "hwnas/random.hpp"

namespace hwnas {

/// A space of architectures of type S::arch_type with OFA's evolutionary
/// operators. Every operator draws its randomness from the Rng it is given;
/// validate throws hwnas::InvalidArgument; hash is stable across runs and
/// equal for architectures that describe the same network; name() and ==
/// tell spaces apart (a model of one space refuses another); columns() lays
/// architectures out in a dataset CSV (dataset_columns.hpp). The learned
/// core also needs an encoding: EncodedSpace (predictor/encoding.hpp), or,
/// for MbConvSpace, the method's Encoder.
template <class S>
concept SearchSpace = std::equality_comparable<S> && requires(const S& space, const typename S::arch_type& arch,
                                                              Rng& rng) {
  { space.name() } -> std::convertible_to<std::string>;
  { space.columns() } -> std::same_as<ArchColumns<typename S::arch_type>>;
  { space.sample(rng) } -> std::same_as<typename S::arch_type>;
  { space.mutate(arch, rng) } -> std::same_as<typename S::arch_type>;
  { space.crossover(arch, arch, rng) } -> std::same_as<typename S::arch_type>;
  space.validate(arch);
  { space.hash(arch) } -> std::same_as<std::uint64_t>;
  { space.count() } -> std::same_as<BigUint>;
};

}  // namespace hwnas
