// Feature vectors of architectures: for MbConvSpace the method's 128-d
// one-hot (kernel and expand one-hot per layer slot, dropped layers
// all-zero, 8 resolution bins; ofa-reference.md §7.1) and its resolution
// variants (Encoder); for any other space the space's own encoding
// (SpaceEncoder); both append hardware features. encoder_for<Space> names
// the one a predictor of that space uses.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "hwnas/architecture.hpp"
#include "hwnas/detail/text.hpp"
#include "hwnas/error.hpp"
#include "hwnas/space/mbconv_space.hpp"
#include "hwnas/space/search_space.hpp"

namespace hwnas {

/// How the input resolution enters the feature vector.
enum class ResolutionEncoding {
  bins8,    ///< the method: one-hot over 8 bins, index (r - 112) / 16, r in [112, 240)
  one_hot,  ///< one bit per resolution of the encoder's list
  numeric,  ///< one value, (r - min) / (max - min) over the encoder's list
  none,     ///< resolution left out
};

constexpr std::string_view to_string(ResolutionEncoding e) noexcept {
  switch (e) {
    case ResolutionEncoding::bins8: return "bins8";
    case ResolutionEncoding::one_hot: return "one-hot";
    case ResolutionEncoding::numeric: return "numeric";
    case ResolutionEncoding::none: return "none";
  }
  return "?";
}

inline ResolutionEncoding resolution_encoding_from_string(std::string_view s) {
  for (auto e : {ResolutionEncoding::bins8, ResolutionEncoding::one_hot, ResolutionEncoding::numeric,
                 ResolutionEncoding::none}) {
    if (s == to_string(e)) return e;
  }
  throw InvalidArgument("encoding: unknown resolution encoding '" + std::string(s) +
                        "'; expected bins8, one-hot, numeric or none");
}

template <class Scalar>
using RowVector = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;
/// Row-major so that each architecture's features are contiguous.
template <class Scalar>
using FeatureMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace detail {

/// Whether a batch's `given` hardware values are one row per architecture
/// (true) or one row for all (false); ShapeMismatch for anything else (none
/// is allowed: the per-architecture check then reports it).
inline bool hardware_per_row(std::size_t hw, std::size_t batch, std::size_t given) {
  const bool per_row = hw > 0 && given == batch * hw && batch > 1;
  if (given != 0 && given != hw && !per_row) {
    throw ShapeMismatch("encoding: " + std::to_string(given) + " hardware values for a batch of " +
                        std::to_string(batch) + "; expected " + std::to_string(hw) + " or " +
                        std::to_string(hw * batch));
  }
  return per_row;
}

}  // namespace detail

/// Turns architectures of one MbConvSpace into feature vectors. Layout:
/// [kernel one-hot per slot | expand one-hot per slot | resolution | hardware].
/// Immutable after construction; const members are thread-safe.
class Encoder {
 public:
  struct Options {
    ResolutionEncoding resolution = ResolutionEncoding::bins8;
    /// Resolutions for one_hot and numeric; empty = the space's list.
    std::vector<int> resolutions;
    /// Number of numeric hardware features appended (the method: 3).
    std::size_t hardware_features = 0;
  };

  explicit Encoder(const MbConvSpace& space) : Encoder(space, Options{}) {}
  Encoder(const MbConvSpace& space, Options options);

  std::size_t dim() const noexcept { return layer_dim() + resolution_dim() + options_.hardware_features; }
  std::size_t layer_dim() const noexcept {
    return num_slots_ * (kernel_choices_.size() + expand_choices_.size());
  }
  std::size_t resolution_dim() const noexcept;
  const Options& options() const noexcept { return options_; }
  /// (r / the largest resolution)^2: what the linear path's pixel terms
  /// scale the layer bits by.
  double pixels(const Architecture& arch) const noexcept {
    const double rho = static_cast<double>(arch.r) / static_cast<double>(options_.resolutions.back());
    return rho * rho;
  }

  /// Writes the features of `arch` into `out` (size dim()), without heap
  /// allocation. `hardware` holds options().hardware_features values.
  template <class Scalar>
  void encode(const Architecture& arch, Eigen::Ref<RowVector<Scalar>> out,
              std::span<const double> hardware = {}) const;

  /// Calls visit(index, value) for every feature that can be non-zero, in
  /// increasing index order, without allocating: the one-hot bits, the
  /// resolution and the hardware values. What a sparse first layer needs.
  template <class Visit>
  void for_each_feature(const Architecture& arch, std::span<const double> hardware, Visit&& visit) const;

  /// One row per architecture; `hardware` is empty, one row of features for
  /// every architecture, or one row per architecture (row-major).
  template <class Scalar = float>
  FeatureMatrix<Scalar> encode_batch(std::span<const Architecture> archs,
                                     std::span<const double> hardware = {}) const;

 private:
  template <class Scalar, class Out>
  void encode_into(const Architecture& arch, Out&& out, std::span<const double> hardware) const;
  std::size_t resolution_index(int r) const;

  static constexpr int kMaxChoice = 64;  // largest kernel size / expand ratio with a lookup slot

  Options options_;
  std::vector<int> kernel_choices_, expand_choices_;
  std::array<signed char, kMaxChoice + 1> kernel_index_{}, expand_index_{};
  std::vector<int> stage_first_slot_, stage_max_depth_, slot_stage_;
  std::size_t num_slots_ = 0;
};

// ---------------------------------------------------------------------------

inline Encoder::Encoder(const MbConvSpace& space, Options options) : options_(std::move(options)) {
  kernel_choices_ = space.options().kernel_choices;
  expand_choices_ = space.options().expand_choices;
  kernel_index_.fill(-1);
  expand_index_.fill(-1);
  for (std::size_t i = 0; i < kernel_choices_.size(); ++i) {
    if (kernel_choices_[i] > kMaxChoice) {
      throw InvalidArgument("encoding: kernel size " + std::to_string(kernel_choices_[i]) +
                            " above the supported maximum " + std::to_string(kMaxChoice));
    }
    kernel_index_[static_cast<std::size_t>(kernel_choices_[i])] = static_cast<signed char>(i);
  }
  for (std::size_t i = 0; i < expand_choices_.size(); ++i) {
    if (expand_choices_[i] > kMaxChoice) {
      throw InvalidArgument("encoding: expand ratio " + std::to_string(expand_choices_[i]) +
                            " above the supported maximum " + std::to_string(kMaxChoice));
    }
    expand_index_[static_cast<std::size_t>(expand_choices_[i])] = static_cast<signed char>(i);
  }
  num_slots_ = space.num_slots();
  for (const auto& st : space.stages()) {
    stage_first_slot_.push_back(st.first_slot);
    stage_max_depth_.push_back(st.max_depth);
  }
  for (std::size_t i = 0; i < num_slots_; ++i) slot_stage_.push_back(static_cast<int>(space.stage_of(i)));
  if (options_.resolutions.empty()) options_.resolutions = space.options().resolutions;
  detail::check_choice_list("encoding: ", "resolutions", options_.resolutions, 1);
  if (options_.resolution == ResolutionEncoding::numeric && options_.resolutions.size() < 2) {
    throw InvalidArgument("encoding: numeric resolution encoding needs at least two resolutions");
  }
  if (options_.resolution == ResolutionEncoding::bins8 &&
      (options_.resolutions.front() < 112 || options_.resolutions.back() >= 240)) {
    throw InvalidArgument("encoding: the 8 resolution bins cover [112, 240), but the resolutions are " +
                          detail::join_ints(options_.resolutions) + "; use one-hot or numeric");
  }
}

inline std::size_t Encoder::resolution_dim() const noexcept {
  switch (options_.resolution) {
    case ResolutionEncoding::bins8: return 8;
    case ResolutionEncoding::one_hot: return options_.resolutions.size();
    case ResolutionEncoding::numeric: return 1;
    case ResolutionEncoding::none: return 0;
  }
  return 0;
}

inline std::size_t Encoder::resolution_index(int r) const {
  if (options_.resolution == ResolutionEncoding::bins8) {
    if (r < 112 || r >= 240) {
      throw InvalidArgument("encoding: r = " + std::to_string(r) +
                            " outside [112, 240), the range of the 8 resolution bins");
    }
    return static_cast<std::size_t>((r - 112) / 16);
  }
  const auto& rs = options_.resolutions;
  const auto it = std::find(rs.begin(), rs.end(), r);
  if (it == rs.end()) {
    throw InvalidArgument("encoding: r = " + std::to_string(r) + " not in allowed set " +
                          detail::join_ints(rs));
  }
  return static_cast<std::size_t>(it - rs.begin());
}

template <class Scalar>
void Encoder::encode(const Architecture& arch, Eigen::Ref<RowVector<Scalar>> out,
                     std::span<const double> hardware) const {
  if (static_cast<std::size_t>(out.size()) != dim()) {
    throw ShapeMismatch("encoding: output has " + std::to_string(out.size()) +
                        " entries, expected " + std::to_string(dim()));
  }
  encode_into<Scalar>(arch, out, hardware);
}

template <class Scalar>
FeatureMatrix<Scalar> Encoder::encode_batch(std::span<const Architecture> archs,
                                            std::span<const double> hardware) const {
  const std::size_t hw = options_.hardware_features;
  const bool per_row = detail::hardware_per_row(hw, archs.size(), hardware.size());
  FeatureMatrix<Scalar> m(static_cast<Eigen::Index>(archs.size()), static_cast<Eigen::Index>(dim()));
  for (std::size_t i = 0; i < archs.size(); ++i) {
    const auto row_hw = per_row ? hardware.subspan(i * hw, hw) : hardware;
    encode_into<Scalar>(archs[i], m.row(static_cast<Eigen::Index>(i)), row_hw);
  }
  return m;
}

template <class Scalar, class Out>
void Encoder::encode_into(const Architecture& arch, Out&& out, std::span<const double> hardware) const {
  out.setZero();
  for_each_feature(arch, hardware, [&out](std::size_t i, double v) {
    out(static_cast<Eigen::Index>(i)) = static_cast<Scalar>(v);
  });
}

template <class Visit>
void Encoder::for_each_feature(const Architecture& arch, std::span<const double> hardware, Visit&& visit) const {
  if (arch.ks.size() != num_slots_ || arch.e.size() != num_slots_ ||
      arch.d.size() != stage_first_slot_.size()) {
    throw InvalidArgument("encoding: architecture has " + std::to_string(arch.ks.size()) + " ks, " +
                          std::to_string(arch.e.size()) + " e, " + std::to_string(arch.d.size()) +
                          " d; expected " + std::to_string(num_slots_) + ", " +
                          std::to_string(num_slots_) + ", " + std::to_string(stage_first_slot_.size()));
  }
  if (hardware.size() != options_.hardware_features) {
    throw ShapeMismatch("encoding: " + std::to_string(hardware.size()) + " hardware values, expected " +
                        std::to_string(options_.hardware_features));
  }
  for (std::size_t s = 0; s < arch.d.size(); ++s) {
    if (arch.d[s] < 1 || arch.d[s] > stage_max_depth_[s]) {
      throw InvalidArgument("encoding: d[" + std::to_string(s) + "] = " + std::to_string(arch.d[s]) +
                            " outside [1, " + std::to_string(stage_max_depth_[s]) + "]");
    }
  }
  if (options_.resolution == ResolutionEncoding::numeric &&
      (arch.r < options_.resolutions.front() || arch.r > options_.resolutions.back())) {
    throw InvalidArgument("encoding: r = " + std::to_string(arch.r) + " outside [" +
                          std::to_string(options_.resolutions.front()) + ", " +
                          std::to_string(options_.resolutions.back()) + "], the numeric encoding's range");
  }
  const std::size_t nk = kernel_choices_.size(), ne = expand_choices_.size();
  const std::size_t expand_base = num_slots_ * nk;
  // Kernel bits first, then expand bits, so indices come in increasing order.
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 0; i < num_slots_; ++i) {
      const auto s = static_cast<std::size_t>(slot_stage_[i]);
      if (static_cast<int>(i) - stage_first_slot_[s] >= arch.d[s]) continue;  // dropped layer: all-zero
      if (pass == 0) {
        const int k = arch.ks[i];
        const int ki = (k >= 0 && k <= kMaxChoice) ? kernel_index_[static_cast<std::size_t>(k)] : -1;
        if (ki < 0) {
          throw InvalidArgument("encoding: ks[" + std::to_string(i) + "] = " + std::to_string(k) +
                                " not in allowed set " + detail::join_ints(kernel_choices_));
        }
        visit(i * nk + static_cast<std::size_t>(ki), 1.0);
      } else {
        const int e = arch.e[i];
        const int ei = (e >= 0 && e <= kMaxChoice) ? expand_index_[static_cast<std::size_t>(e)] : -1;
        if (ei < 0) {
          throw InvalidArgument("encoding: e[" + std::to_string(i) + "] = " + std::to_string(e) +
                                " not in allowed set " + detail::join_ints(expand_choices_));
        }
        visit(expand_base + i * ne + static_cast<std::size_t>(ei), 1.0);
      }
    }
  }
  const std::size_t res_base = layer_dim();
  switch (options_.resolution) {
    case ResolutionEncoding::bins8:
    case ResolutionEncoding::one_hot:
      visit(res_base + resolution_index(arch.r), 1.0);
      break;
    case ResolutionEncoding::numeric: {
      const double lo = options_.resolutions.front(), hi = options_.resolutions.back();
      visit(res_base, (arch.r - lo) / (hi - lo));
      break;
    }
    case ResolutionEncoding::none:
      break;
  }
  const std::size_t hw_base = res_base + resolution_dim();
  for (std::size_t j = 0; j < hardware.size(); ++j) visit(hw_base + j, hardware[j]);
}

// ---------------------------------------------------------------------------

/// What a space needs so that the learned core can encode its architectures
/// with SpaceEncoder: a feature count, a name per feature and a visit of the
/// non-zero features in increasing index order (CategoricalSpace's one-hot
/// blocks; a user's space brings its own).
template <class S>
concept EncodedSpace = SearchSpace<S> && requires(const S& space, const typename S::arch_type& arch) {
  { space.encoding_dim() } -> std::convertible_to<std::size_t>;
  { space.feature_names() } -> std::convertible_to<std::vector<std::string>>;
  space.for_each_feature(arch, [](std::size_t, double) {});
};

/// The encoder of a space that encodes itself (EncodedSpace): its features,
/// then the hardware features. A space of this kind has no input resolution:
/// options().resolution becomes `none` whatever a recipe set (the recipes'
/// choice is for MBConv spaces), and a resolution list is refused.
/// Immutable after construction; const members are thread-safe.
template <EncodedSpace Space>
class SpaceEncoder {
 public:
  using Options = Encoder::Options;
  using arch_type = typename Space::arch_type;

  explicit SpaceEncoder(const Space& space) : SpaceEncoder(space, Options{}) {}
  SpaceEncoder(const Space& space, Options options) : space_(space), options_(std::move(options)) {
    if (!options_.resolutions.empty()) {
      throw InvalidArgument("encoding: space '" + space_.name() + "' has no input resolution; got the resolutions " +
                            detail::join_ints(options_.resolutions));
    }
    options_.resolution = ResolutionEncoding::none;
    space_dim_ = space_.encoding_dim();
  }

  std::size_t dim() const noexcept { return space_dim_ + options_.hardware_features; }
  /// No features are scaled by pixels (see LinearPath).
  std::size_t layer_dim() const noexcept { return 0; }
  std::size_t resolution_dim() const noexcept { return 0; }
  const Options& options() const noexcept { return options_; }
  double pixels(const arch_type&) const noexcept { return 1.0; }
  /// The space's feature names, then hw0, hw1, ...
  std::vector<std::string> feature_names() const {
    std::vector<std::string> out = space_.feature_names();
    for (std::size_t j = 0; j < options_.hardware_features; ++j) out.push_back("hw" + std::to_string(j));
    return out;
  }

  template <class Visit>
  void for_each_feature(const arch_type& arch, std::span<const double> hardware, Visit&& visit) const {
    if (hardware.size() != options_.hardware_features) {
      throw ShapeMismatch("encoding: " + std::to_string(hardware.size()) + " hardware values, expected " +
                          std::to_string(options_.hardware_features));
    }
    space_.for_each_feature(arch, visit);
    for (std::size_t j = 0; j < hardware.size(); ++j) visit(space_dim_ + j, hardware[j]);
  }

  template <class Scalar>
  void encode(const arch_type& arch, Eigen::Ref<RowVector<Scalar>> out, std::span<const double> hardware = {}) const {
    if (static_cast<std::size_t>(out.size()) != dim()) {
      throw ShapeMismatch("encoding: output has " + std::to_string(out.size()) + " entries, expected " +
                          std::to_string(dim()));
    }
    out.setZero();
    for_each_feature(arch, hardware, [&out](std::size_t i, double v) {
      out(static_cast<Eigen::Index>(i)) = static_cast<Scalar>(v);
    });
  }

  /// One row per architecture; `hardware` as Encoder::encode_batch.
  template <class Scalar = float>
  FeatureMatrix<Scalar> encode_batch(std::span<const arch_type> archs, std::span<const double> hardware = {}) const {
    const std::size_t hw = options_.hardware_features;
    const bool per_row = detail::hardware_per_row(hw, archs.size(), hardware.size());
    FeatureMatrix<Scalar> m = FeatureMatrix<Scalar>::Zero(static_cast<Eigen::Index>(archs.size()),
                                                          static_cast<Eigen::Index>(dim()));
    for (std::size_t i = 0; i < archs.size(); ++i) {
      const auto row_hw = per_row ? hardware.subspan(i * hw, hw) : hardware;
      for_each_feature(archs[i], row_hw, [&m, i](std::size_t j, double v) {
        m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = static_cast<Scalar>(v);
      });
    }
    return m;
  }

 private:
  Space space_;
  Options options_;
  std::size_t space_dim_ = 0;
};

/// The encoder a predictor of `Space` uses: Encoder for MbConvSpace (the
/// method's one-hot and its resolution variants), SpaceEncoder otherwise.
template <class Space>
struct EncoderOf {
  using type = SpaceEncoder<Space>;
};
template <>
struct EncoderOf<MbConvSpace> {
  using type = Encoder;
};
template <class Space>
using encoder_for = typename EncoderOf<Space>::type;

}  // namespace hwnas
