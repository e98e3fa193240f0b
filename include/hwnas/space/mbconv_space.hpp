// Chains of MBConv stages: OFA MobileNetV3 (width 1.0, 1.2), CompOFA
// (fixed and elastic kernel), OFA ProxylessNAS. Sampling, mutation,
// crossover, validation, enumeration, exact counts, canonical form and hash,
// and the layer list with exact shapes (ofa-reference.md §1-§4).
//
// Over 600 lines on purpose: one class whose parts all read the same stage
// tables built by its constructor (slot to stage, widths, active slots);
// split across headers they would need those internals made public.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/big_uint.hpp"
#include "hwnas/dataset_columns.hpp"
#include "hwnas/detail/hash.hpp"
#include "hwnas/detail/text.hpp"
#include "hwnas/error.hpp"
#include "hwnas/random.hpp"
#include "hwnas/space/layer.hpp"

namespace hwnas {

/// OFA's channel rounding (ofa-reference.md §1.1): nearest multiple of
/// `divisor` (halves up), at least `min_value` (default: divisor), and
/// never more than 10 % below `v`.
inline int make_divisible(double v, int divisor = 8, int min_value = 0) {
  if (divisor < 1 || !(v >= 0 && v <= (1 << 30))) {
    throw InvalidArgument("make_divisible: expected a value in [0, 2^30] and a positive divisor, found " +
                          std::to_string(v) + " and " + std::to_string(divisor));
  }
  if (min_value <= 0) min_value = divisor;
  int n = std::max(min_value, static_cast<int>(v + divisor / 2.0) / divisor * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/// The supernet a space is cut from.
enum class Family { mobilenet_v3, proxyless };

/// CompOFA's two spaces: MobileNetV3-Large's kernel per stage, or elastic kernels.
enum class CompofaKernel { fixed, elastic };

/// How crossover mixes two parents.
enum class CrossoverMode {
  per_gene,    ///< OFA: every ks, e, d and r taken from either parent
  stage_wise,  ///< CompOFA: each stage's depth and expand ratios from one parent
};

/// The 25 resolutions OFA's supernets are trained on: 128, 132, ..., 224.
inline std::vector<int> ofa_training_resolutions() {
  std::vector<int> r;
  for (int v = 128; v <= 224; v += 4) r.push_back(v);
  return r;
}

/// The resolutions OFA's and CompOFA's evolutionary searches use.
inline std::vector<int> ofa_search_resolutions() { return {160, 176, 192, 208, 224}; }

/// A space of MBConv-chain sub-networks. Immutable after construction, so
/// const member functions are safe to call from several threads.
class MbConvSpace {
 public:
  using arch_type = Architecture;

  struct Options {
    std::string name = "mbconv";
    Family family = Family::mobilenet_v3;
    double width = 1.0;                      ///< width multiplier of the supernet
    std::vector<int> kernel_choices{3, 5, 7};
    std::vector<int> expand_choices{3, 4, 6};
    std::vector<int> depth_choices{2, 3, 4};
    std::vector<int> stage_kernels;          ///< fixed kernel per stage; empty = elastic kernels
    /// Compound coupling (CompOFA): the expand ratio every layer of a stage
    /// gets for each depth, as (depth, expand) pairs; empty = independent.
    std::vector<std::pair<int, int>> depth_expand;
    std::vector<int> resolutions = ofa_training_resolutions();
    int num_classes = 1000;

    bool operator==(const Options&) const = default;
  };

  struct MutationOptions {
    double probability = 0.1;             ///< per layer slot and per stage
    double resolution_probability = 0.1;  ///< OFA's tutorial: 0.1; OFA's new API: 0.5
  };

  /// One elastic stage of the chain.
  struct Stage {
    int width;
    int stride;
    Activation act;
    bool se;
    int max_depth;
    std::vector<int> depth_choices;
    int first_slot;  ///< index of its first layer slot in ks / e
  };

  explicit MbConvSpace(Options options);

  /// OFA MobileNetV3 (`ofa-mbv3`): ks {3,5,7}, e {3,4,6}, d {2,3,4} per layer/stage.
  static MbConvSpace ofa_mobilenet_v3(double width = 1.0);
  /// CompOFA (`compofa-fixed` / `compofa-elastic`): depth 2/3/4 couples to expand 3/4/6.
  static MbConvSpace compofa(CompofaKernel kernel, double width = 1.0);
  /// OFA ProxylessNAS (`ofa-proxyless`); OFA's published supernet uses width 1.3.
  static MbConvSpace ofa_proxyless(double width = 1.0);
  /// A preset by its command-line name; InvalidArgument listing the names.
  static MbConvSpace preset(std::string_view name, double width = 1.0);
  static std::vector<std::string> preset_names() {
    return {"ofa-mbv3", "compofa-fixed", "compofa-elastic", "ofa-proxyless"};
  }

  /// The same space with another resolution list (validated).
  [[nodiscard]] MbConvSpace with_resolutions(std::vector<int> resolutions) const;

  const Options& options() const noexcept { return options_; }
  const std::string& name() const noexcept { return options_.name; }
  /// Equal options (everything else follows from them).
  friend bool operator==(const MbConvSpace& a, const MbConvSpace& b) { return a.options_ == b.options_; }
  /// Its dataset columns: ks0.., e0.., d0.., r with this space's counts.
  ArchColumns<Architecture> columns() const { return {num_slots_, stages_.size()}; }
  const std::vector<Stage>& stages() const noexcept { return stages_; }
  std::size_t num_stages() const noexcept { return stages_.size(); }
  /// Number of layer slots: the length of ks and e (20 or 21).
  std::size_t num_slots() const noexcept { return num_slots_; }
  bool fixed_kernel() const noexcept { return !options_.stage_kernels.empty(); }
  bool coupled() const noexcept { return !options_.depth_expand.empty(); }
  /// Stem, first block, stages, final expand, feature mix widths after make_divisible.
  int stem_width() const noexcept { return stem_width_; }
  int first_block_width() const noexcept { return first_block_width_; }
  int final_expand_width() const noexcept { return final_expand_width_; }
  int feature_mix_width() const noexcept { return feature_mix_width_; }

  /// Stage of a layer slot, and whether the slot runs for `arch`. Preconditions:
  /// slot < num_slots() and arch.d has num_stages() entries (validate first).
  std::size_t stage_of(std::size_t slot) const noexcept { return slot_stage_[slot]; }
  bool is_active(const Architecture& arch, std::size_t slot) const noexcept {
    const Stage& s = stages_[slot_stage_[slot]];
    return static_cast<int>(slot) - s.first_slot < arch.d[slot_stage_[slot]];
  }
  /// The expand ratio a stage of depth `depth` has in a coupled space.
  int coupled_expand(int depth) const;

  /// A random architecture with OFA's semantics: every gene (depth, kernel,
  /// expand, resolution) uniform over its choices, don't-care slots included.
  [[nodiscard]] Architecture sample(Rng& rng) const;
  /// A random architecture uniform over the distinct networks (canonical form).
  [[nodiscard]] Architecture sample_distinct(Rng& rng) const;
  /// OFA's mutation: resolution, then per slot (kernel and expand jointly),
  /// then per stage (depth; a coupled space rewrites the stage's expand).
  [[nodiscard]] Architecture mutate(const Architecture& parent, Rng& rng, const MutationOptions& options) const;
  [[nodiscard]] Architecture mutate(const Architecture& parent, Rng& rng) const;
  [[nodiscard]] Architecture crossover(const Architecture& a, const Architecture& b, Rng& rng,
                                       CrossoverMode mode = CrossoverMode::per_gene) const;
  /// Throws InvalidArgument naming the field, index, value and allowed set.
  void validate(const Architecture& arch) const;
  /// Don't-care slots zeroed: equal networks have equal canonical forms.
  [[nodiscard]] Architecture canonical(const Architecture& arch) const;
  /// Hash of the canonical form (stable across runs and platforms).
  [[nodiscard]] std::uint64_t hash(const Architecture& arch) const noexcept;
  /// True when both describe the same network.
  bool same_network(const Architecture& a, const Architecture& b) const noexcept;

  /// Distinct networks per resolution (7371^5 for OFA MobileNetV3).
  [[nodiscard]] BigUint count_per_resolution() const;
  /// Distinct (network, resolution) pairs.
  [[nodiscard]] BigUint count() const;
  /// Every distinct architecture in canonical form, resolution outermost;
  /// InvalidArgument when there are more than `limit`.
  [[nodiscard]] std::vector<Architecture> enumerate(std::uint64_t limit = 1'000'000) const;

  /// The layer list with exact shapes (validates `arch`).
  [[nodiscard]] std::vector<Layer> layers(const Architecture& arch) const;
  [[nodiscard]] NetworkCost cost(const Architecture& arch) const { return network_cost(layers(arch)); }

 private:
  void check_options() const;
  void build_stages();
  std::string where() const { return options_.name + ": "; }
  int random_kernel(std::size_t stage, Rng& rng) const;
  int random_expand(Rng& rng) const;
  /// Slots that a deeper stage switched on but that hold 0 (a canonical
  /// parent's don't-care) get a random choice, so children stay valid.
  void fill_unset(Architecture& arch, Rng& rng) const;

  Options options_;
  std::vector<Stage> stages_;
  std::vector<std::size_t> slot_stage_;
  std::size_t num_slots_ = 0;
  int stem_width_ = 0;
  int first_block_width_ = 0;
  int final_expand_width_ = 0;  // 0 for ProxylessNAS (no final expand layer)
  int feature_mix_width_ = 0;
};

// ---------------------------------------------------------------------------

inline MbConvSpace::MbConvSpace(Options options) : options_(std::move(options)) {
  check_options();
  build_stages();
}

inline void MbConvSpace::check_options() const {
  const std::string w = where();
  const Options& o = options_;
  // The bounds keep widths, shapes and MAC counts far inside int and int64.
  if (!(o.width > 0 && o.width <= 16)) {
    throw InvalidArgument(w + "width must be in (0, 16], found " + detail::format_double(o.width));
  }
  detail::check_choice_list(w, "kernel_choices", o.kernel_choices, 1);
  for (int k : o.kernel_choices) {
    if (k % 2 == 0) throw InvalidArgument(w + "kernel sizes must be odd, found " + std::to_string(k));
  }
  detail::check_choice_list(w, "expand_choices", o.expand_choices, 1);
  detail::check_choice_list(w, "depth_choices", o.depth_choices, 1);
  detail::check_choice_list(w, "resolutions", o.resolutions, 32);
  if (o.resolutions.back() > 4096) {
    throw InvalidArgument(w + "resolutions must be at most 4096, found " + std::to_string(o.resolutions.back()));
  }
  for (const auto* list : {&o.kernel_choices, &o.expand_choices, &o.depth_choices}) {
    if (list->back() > 64) {
      throw InvalidArgument(w + "kernel sizes, expand ratios and depths must be at most 64, found " +
                            std::to_string(list->back()));
    }
  }
  if (o.num_classes < 1 || o.num_classes > 1'000'000) {
    throw InvalidArgument(w + "num_classes must be in [1, 1000000], found " + std::to_string(o.num_classes));
  }
  for (int k : o.stage_kernels) {
    if (!detail::contains(o.kernel_choices, k)) {
      throw InvalidArgument(w + "stage kernel " + std::to_string(k) + " not in kernel_choices " +
                            detail::join_ints(o.kernel_choices));
    }
  }
  for (auto [d, e] : o.depth_expand) {
    if (!detail::contains(o.expand_choices, e)) {
      throw InvalidArgument(w + "coupled expand " + std::to_string(e) + " (depth " +
                            std::to_string(d) + ") not in expand_choices " +
                            detail::join_ints(o.expand_choices));
    }
  }
}

inline void MbConvSpace::build_stages() {
  const double w = options_.width;
  std::vector<int> base_widths, strides, depths;
  std::vector<Activation> acts;
  std::vector<bool> se;
  int stem = 0, first_block = 0, tail = 0;
  if (options_.family == Family::mobilenet_v3) {
    stem = 16, first_block = 16;
    base_widths = {24, 40, 80, 112, 160};
    strides = {2, 2, 2, 1, 2};
    depths = {4, 4, 4, 4, 4};
    acts = {Activation::relu, Activation::relu, Activation::h_swish, Activation::h_swish,
            Activation::h_swish};
    se = {false, true, false, true, true};
    final_expand_width_ = make_divisible(960 * w);
    tail = 1280;
  } else {
    stem = 32, first_block = 16;
    base_widths = {24, 40, 80, 96, 192, 320};
    strides = {2, 2, 2, 1, 2, 1};
    depths = {4, 4, 4, 4, 4, 1};
    acts.assign(6, Activation::relu6);
    se.assign(6, false);
    final_expand_width_ = 0;
    tail = 1280;
  }
  stem_width_ = make_divisible(stem * w);
  first_block_width_ = make_divisible(first_block * w);
  feature_mix_width_ = make_divisible(tail * w);
  if (!options_.stage_kernels.empty() && options_.stage_kernels.size() != base_widths.size()) {
    throw InvalidArgument(where() + "stage_kernels has " +
                          std::to_string(options_.stage_kernels.size()) + " entries, expected " +
                          std::to_string(base_widths.size()) + " (one per stage)");
  }
  stages_.clear();
  slot_stage_.clear();
  int slot = 0;
  for (std::size_t s = 0; s < base_widths.size(); ++s) {
    Stage st{make_divisible(base_widths[s] * w), strides[s], acts[s], se[s], depths[s], {}, slot};
    if (st.max_depth == 1) {
      // OFA forces d = 1 on ProxylessNAS's last, single-block stage.
      st.depth_choices = {1};
    } else {
      for (int d : options_.depth_choices) {
        if (d > st.max_depth) {
          throw InvalidArgument(where() + "depth choice " + std::to_string(d) + " exceeds the " +
                                std::to_string(st.max_depth) + " blocks of stage " + std::to_string(s));
        }
        st.depth_choices.push_back(d);
      }
    }
    if (!options_.depth_expand.empty()) {
      for (int d : st.depth_choices) {
        const bool found = std::any_of(options_.depth_expand.begin(), options_.depth_expand.end(),
                                       [d](auto p) { return p.first == d; });
        if (!found) {
          throw InvalidArgument(where() + "depth_expand has no expand ratio for depth " + std::to_string(d) +
                                " (stage " + std::to_string(s) + ")");
        }
      }
    }
    for (int i = 0; i < st.max_depth; ++i) slot_stage_.push_back(s);
    slot += st.max_depth;
    stages_.push_back(std::move(st));
  }
  num_slots_ = static_cast<std::size_t>(slot);
}

inline MbConvSpace MbConvSpace::ofa_mobilenet_v3(double width) {
  Options o;
  o.name = "ofa-mbv3";
  o.width = width;
  return MbConvSpace(std::move(o));
}

inline MbConvSpace MbConvSpace::compofa(CompofaKernel kernel, double width) {
  const bool fixed_kernel = kernel == CompofaKernel::fixed;
  Options o;
  o.name = fixed_kernel ? "compofa-fixed" : "compofa-elastic";
  o.width = width;
  o.depth_expand = {{2, 3}, {3, 4}, {4, 6}};
  if (fixed_kernel) o.stage_kernels = {3, 5, 3, 3, 5};  // MobileNetV3-Large's kernels
  return MbConvSpace(std::move(o));
}

inline MbConvSpace MbConvSpace::ofa_proxyless(double width) {
  Options o;
  o.name = "ofa-proxyless";
  o.family = Family::proxyless;
  o.width = width;
  return MbConvSpace(std::move(o));
}

inline MbConvSpace MbConvSpace::preset(std::string_view name, double width) {
  if (name == "ofa-mbv3") return ofa_mobilenet_v3(width);
  if (name == "compofa-fixed") return compofa(CompofaKernel::fixed, width);
  if (name == "compofa-elastic") return compofa(CompofaKernel::elastic, width);
  if (name == "ofa-proxyless") return ofa_proxyless(width);
  std::string names;
  for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
  throw InvalidArgument("space: unknown preset '" + std::string(name) + "'; expected one of " + names);
}

inline MbConvSpace MbConvSpace::with_resolutions(std::vector<int> resolutions) const {
  Options o = options_;
  o.resolutions = std::move(resolutions);
  return MbConvSpace(std::move(o));
}

inline int MbConvSpace::coupled_expand(int depth) const {
  for (auto [d, e] : options_.depth_expand) {
    if (d == depth) return e;
  }
  throw InvalidArgument(where() + "no coupled expand ratio for depth " + std::to_string(depth));
}

inline int MbConvSpace::random_kernel(std::size_t stage, Rng& rng) const {
  if (fixed_kernel()) return options_.stage_kernels[stage];
  return rng.choice(std::span<const int>(options_.kernel_choices));
}

inline int MbConvSpace::random_expand(Rng& rng) const {
  return rng.choice(std::span<const int>(options_.expand_choices));
}

inline Architecture MbConvSpace::sample(Rng& rng) const {
  Architecture a;
  a.d.resize(stages_.size());
  a.ks.resize(num_slots_);
  a.e.resize(num_slots_);
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    a.d[s] = rng.choice(std::span<const int>(stages_[s].depth_choices));
  }
  for (std::size_t i = 0; i < num_slots_; ++i) {
    const std::size_t s = slot_stage_[i];
    a.ks[i] = random_kernel(s, rng);
    a.e[i] = coupled() ? coupled_expand(a.d[s]) : random_expand(rng);
  }
  a.r = rng.choice(std::span<const int>(options_.resolutions));
  return a;
}

inline Architecture MbConvSpace::sample_distinct(Rng& rng) const {
  // Depth d of a stage is drawn with weight options^d (the number of distinct
  // stages of that depth), then the active slots uniformly.
  const double options_per_slot = (fixed_kernel() ? 1.0 : double(options_.kernel_choices.size())) *
                                  (coupled() ? 1.0 : double(options_.expand_choices.size()));
  Architecture a;
  a.d.resize(stages_.size());
  a.ks.assign(num_slots_, 0);
  a.e.assign(num_slots_, 0);
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    const Stage& st = stages_[s];
    double total = 0;
    for (int d : st.depth_choices) total += std::pow(options_per_slot, d);
    double u = rng.uniform01() * total;
    a.d[s] = st.depth_choices.back();
    for (int d : st.depth_choices) {
      u -= std::pow(options_per_slot, d);
      if (u < 0) {
        a.d[s] = d;
        break;
      }
    }
    for (int j = 0; j < a.d[s]; ++j) {
      const std::size_t i = static_cast<std::size_t>(st.first_slot + j);
      a.ks[i] = random_kernel(s, rng);
      a.e[i] = coupled() ? coupled_expand(a.d[s]) : random_expand(rng);
    }
  }
  a.r = rng.choice(std::span<const int>(options_.resolutions));
  return a;
}

inline Architecture MbConvSpace::mutate(const Architecture& parent, Rng& rng,
                                        const MutationOptions& options) const {
  validate(parent);
  for (double p : {options.probability, options.resolution_probability}) {
    if (!(p >= 0.0 && p <= 1.0)) {
      throw InvalidArgument(where() + "mutation probability must be in [0, 1], found " +
                            std::to_string(p));
    }
  }
  Architecture child = parent;
  if (rng.bernoulli(options.resolution_probability)) {
    child.r = rng.choice(std::span<const int>(options_.resolutions));
  }
  for (std::size_t i = 0; i < num_slots_; ++i) {
    if (rng.bernoulli(options.probability)) {
      const std::size_t s = slot_stage_[i];
      child.ks[i] = random_kernel(s, rng);
      if (!coupled()) child.e[i] = random_expand(rng);
    }
  }
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    if (rng.bernoulli(options.probability)) {
      child.d[s] = rng.choice(std::span<const int>(stages_[s].depth_choices));
      if (coupled()) {
        const Stage& st = stages_[s];
        for (int j = 0; j < st.max_depth; ++j) child.e[st.first_slot + j] = coupled_expand(child.d[s]);
      }
    }
  }
  fill_unset(child, rng);
  return child;
}

inline Architecture MbConvSpace::mutate(const Architecture& parent, Rng& rng) const {
  return mutate(parent, rng, MutationOptions{});
}

inline Architecture MbConvSpace::crossover(const Architecture& a, const Architecture& b, Rng& rng,
                                           CrossoverMode mode) const {
  validate(a);
  validate(b);
  auto pick = [&rng](int x, int y) { return rng.bernoulli(0.5) ? y : x; };
  Architecture child = a;
  for (std::size_t i = 0; i < num_slots_; ++i) child.ks[i] = pick(a.ks[i], b.ks[i]);
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    const Stage& st = stages_[s];
    // In a coupled space the expand ratios follow the depth, so the stage's
    // depth and expand ratios travel together in both modes.
    if (mode == CrossoverMode::stage_wise || coupled()) {
      const Architecture& from = rng.bernoulli(0.5) ? b : a;
      child.d[s] = from.d[s];
      for (int j = 0; j < st.max_depth; ++j) child.e[st.first_slot + j] = from.e[st.first_slot + j];
    } else {
      child.d[s] = pick(a.d[s], b.d[s]);
      for (int j = 0; j < st.max_depth; ++j) {
        const std::size_t i = static_cast<std::size_t>(st.first_slot + j);
        child.e[i] = pick(a.e[i], b.e[i]);
      }
    }
  }
  child.r = pick(a.r, b.r);
  fill_unset(child, rng);
  return child;
}

inline void MbConvSpace::fill_unset(Architecture& arch, Rng& rng) const {
  for (std::size_t i = 0; i < num_slots_; ++i) {
    if (!is_active(arch, i)) continue;
    const std::size_t s = slot_stage_[i];
    if (arch.ks[i] == 0) arch.ks[i] = random_kernel(s, rng);
    if (arch.e[i] == 0) arch.e[i] = coupled() ? coupled_expand(arch.d[s]) : random_expand(rng);
  }
}

inline void MbConvSpace::validate(const Architecture& arch) const {
  const std::string w = where();
  auto check_length = [&](const char* field, std::size_t found, std::size_t expected) {
    if (found != expected) {
      throw InvalidArgument(w + field + " has " + std::to_string(found) + " entries, expected " +
                            std::to_string(expected));
    }
  };
  check_length("ks", arch.ks.size(), num_slots_);
  check_length("e", arch.e.size(), num_slots_);
  check_length("d", arch.d.size(), stages_.size());
  auto not_allowed = [&](const std::string& field, int value, std::span<const int> allowed,
                         const char* note = "") {
    return InvalidArgument(w + field + " = " + std::to_string(value) + note +
                           " not in allowed set " + detail::join_ints(allowed));
  };
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    if (!detail::contains(stages_[s].depth_choices, arch.d[s])) {
      throw not_allowed("d[" + std::to_string(s) + "]", arch.d[s], stages_[s].depth_choices);
    }
  }
  if (!detail::contains(options_.resolutions, arch.r)) {
    throw not_allowed("r", arch.r, options_.resolutions);
  }
  for (std::size_t i = 0; i < num_slots_; ++i) {
    const std::size_t s = slot_stage_[i];
    std::string idx(1, '[');  // not "[" + ...: GCC 12's -Wrestrict false positive (bug 105329)
    idx += std::to_string(i);
    idx += ']';
    const int ks = arch.ks[i], e = arch.e[i];
    if (!is_active(arch, i)) {
      // Don't-care slots: 0 (canonical) or any value the supernet knows.
      if (ks != 0 && !detail::contains(options_.kernel_choices, ks)) {
        throw not_allowed("ks" + idx, ks, options_.kernel_choices, " (unused slot; 0 also allowed)");
      }
      if (e != 0 && !detail::contains(options_.expand_choices, e)) {
        throw not_allowed("e" + idx, e, options_.expand_choices, " (unused slot; 0 also allowed)");
      }
      continue;
    }
    if (fixed_kernel()) {
      const int k = options_.stage_kernels[s];
      if (ks != k) throw not_allowed("ks" + idx, ks, std::span<const int>(&k, 1));
    } else if (!detail::contains(options_.kernel_choices, ks)) {
      throw not_allowed("ks" + idx, ks, options_.kernel_choices);
    }
    if (coupled()) {
      const int want = coupled_expand(arch.d[s]);
      if (e != want) {
        throw InvalidArgument(w + "e" + idx + " = " + std::to_string(e) + " not in allowed set {" +
                              std::to_string(want) + "}: depth d[" + std::to_string(s) + "] = " +
                              std::to_string(arch.d[s]) + " requires expand " + std::to_string(want));
      }
    } else if (!detail::contains(options_.expand_choices, e)) {
      throw not_allowed("e" + idx, e, options_.expand_choices);
    }
  }
}

inline Architecture MbConvSpace::canonical(const Architecture& arch) const {
  validate(arch);
  Architecture c = arch;
  for (std::size_t i = 0; i < num_slots_; ++i) {
    if (!is_active(arch, i)) c.ks[i] = c.e[i] = 0;
  }
  return c;
}

inline std::uint64_t MbConvSpace::hash(const Architecture& arch) const noexcept {
  // The canonical genes; slots beyond the sizes count as 0 so an invalid
  // architecture still hashes without reading out of bounds.
  detail::Fnv1a h;
  const bool sized = arch.d.size() == stages_.size() && arch.ks.size() == num_slots_ &&
                     arch.e.size() == num_slots_;
  for (std::size_t i = 0; i < num_slots_; ++i) {
    const bool active = sized && is_active(arch, i);
    h.mix(active ? static_cast<std::uint32_t>(arch.ks[i]) : 0);
    h.mix(active ? static_cast<std::uint32_t>(arch.e[i]) : 0);
  }
  for (int d : arch.d) h.mix(static_cast<std::uint32_t>(d));
  h.mix(static_cast<std::uint32_t>(arch.r));
  return h.value();
}

inline bool MbConvSpace::same_network(const Architecture& a, const Architecture& b) const noexcept {
  if (a.r != b.r || a.d != b.d || a.ks.size() != b.ks.size() || a.e.size() != b.e.size() ||
      a.d.size() != stages_.size() || a.ks.size() != num_slots_ || a.e.size() != num_slots_) {
    return a == b;
  }
  for (std::size_t i = 0; i < num_slots_; ++i) {
    if (is_active(a, i) && (a.ks[i] != b.ks[i] || a.e[i] != b.e[i])) return false;
  }
  return true;
}

inline BigUint MbConvSpace::count_per_resolution() const {
  const std::uint64_t per_slot =
      (fixed_kernel() ? 1 : options_.kernel_choices.size()) *
      (coupled() ? 1 : options_.expand_choices.size());
  BigUint total(1);
  for (const Stage& st : stages_) {
    BigUint stage(0);
    for (int d : st.depth_choices) stage = stage + pow(BigUint(per_slot), static_cast<unsigned>(d));
    total = total * stage;
  }
  return total;
}

inline BigUint MbConvSpace::count() const {
  return count_per_resolution() * BigUint(options_.resolutions.size());
}

inline std::vector<Architecture> MbConvSpace::enumerate(std::uint64_t limit) const {
  const BigUint n = count();
  if (n > BigUint(limit)) {
    throw InvalidArgument(where() + "cannot enumerate " + n.to_string() +
                          " architectures (limit " + std::to_string(limit) + ")");
  }
  // Every distinct stage configuration (depth, active ks, active e), per stage.
  std::vector<std::vector<Architecture>> stage_options(stages_.size());
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    const Stage& st = stages_[s];
    const std::vector<int> kernels =
        fixed_kernel() ? std::vector<int>{options_.stage_kernels[s]} : options_.kernel_choices;
    for (int d : st.depth_choices) {
      const std::vector<int> expands =
          coupled() ? std::vector<int>{coupled_expand(d)} : options_.expand_choices;
      const std::size_t per_slot = kernels.size() * expands.size();
      std::size_t combos = 1;
      for (int j = 0; j < d; ++j) combos *= per_slot;
      for (std::size_t c = 0; c < combos; ++c) {
        Architecture part;  // ks/e of this stage's slots only, d[0] = depth
        part.d = {d};
        part.ks.assign(static_cast<std::size_t>(st.max_depth), 0);
        part.e.assign(static_cast<std::size_t>(st.max_depth), 0);
        std::size_t rest = c;
        for (int j = d - 1; j >= 0; --j) {  // last slot varies fastest
          const std::size_t digit = rest % per_slot;
          rest /= per_slot;
          part.ks[static_cast<std::size_t>(j)] = kernels[digit / expands.size()];
          part.e[static_cast<std::size_t>(j)] = expands[digit % expands.size()];
        }
        stage_options[s].push_back(std::move(part));
      }
    }
  }
  std::vector<Architecture> out;
  out.reserve(static_cast<std::size_t>(*n.to_uint64()));
  std::vector<std::size_t> digit(stages_.size(), 0);
  for (int r : options_.resolutions) {
    std::fill(digit.begin(), digit.end(), 0);
    while (true) {
      Architecture a;
      a.r = r;
      for (std::size_t s = 0; s < stages_.size(); ++s) {
        const Architecture& part = stage_options[s][digit[s]];
        a.d.push_back(part.d[0]);
        a.ks.insert(a.ks.end(), part.ks.begin(), part.ks.end());
        a.e.insert(a.e.end(), part.e.begin(), part.e.end());
      }
      out.push_back(std::move(a));
      std::size_t s = stages_.size();
      while (s > 0 && ++digit[s - 1] == stage_options[s - 1].size()) digit[--s] = 0;
      if (s == 0) break;
    }
  }
  return out;
}

inline std::vector<Layer> MbConvSpace::layers(const Architecture& arch) const {
  validate(arch);
  const bool mbv3 = options_.family == Family::mobilenet_v3;
  std::vector<Layer> out;
  out.reserve(num_slots_ + 6);

  const Layer stem = conv_layer(LayerKind::first_conv, arch.r, 3, stem_width_, 3, 2,
                                mbv3 ? Activation::h_swish : Activation::relu6, true);
  out.push_back(stem);

  int size = stem.out_size;
  int channels = stem_width_;
  auto block = [&](int out_channels, int kernel, int stride, int expand, Activation act, bool se,
                   bool shortcut) {
    Layer b = conv_layer(LayerKind::mbconv, size, channels, out_channels, kernel, stride, act, true);
    b.expand_ratio = expand;
    b.mid_channels = make_divisible(std::round(channels * double(expand)));
    b.se_channels = se ? make_divisible(b.mid_channels / 4) : 0;
    b.shortcut = shortcut;
    out.push_back(b);
    size = b.out_size;
    channels = out_channels;
  };
  // The fixed first block: expand 1; ProxylessNAS hard-codes no shortcut.
  block(first_block_width_, 3, 1, 1, mbv3 ? Activation::relu : Activation::relu6, false,
        mbv3 && stem_width_ == first_block_width_);
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    const Stage& st = stages_[s];
    for (int j = 0; j < arch.d[s]; ++j) {
      const std::size_t i = static_cast<std::size_t>(st.first_slot + j);
      const int stride = j == 0 ? st.stride : 1;
      const bool shortcut = stride == 1 && channels == st.width;
      block(st.width, arch.ks[i], stride, arch.e[i], st.act, st.se, shortcut);
    }
  }

  auto conv1x1 = [&](LayerKind kind, int out_channels, Activation act, bool use_bn) {
    out.push_back(conv_layer(kind, size, channels, out_channels, 1, 1, act, use_bn));
    channels = out_channels;
  };
  auto pool = [&] {
    out.push_back(global_pool(size, channels));
    size = 1;
  };
  if (mbv3) {
    conv1x1(LayerKind::final_expand, final_expand_width_, Activation::h_swish, true);
    pool();
    conv1x1(LayerKind::feature_mix, feature_mix_width_, Activation::h_swish, false);
  } else {
    conv1x1(LayerKind::feature_mix, feature_mix_width_, Activation::relu6, true);
    pool();
  }
  Layer fc;
  fc.kind = LayerKind::classifier;
  fc.in_size = fc.out_size = 1;
  fc.in_channels = channels;
  fc.out_channels = options_.num_classes;
  fc.bias = true;
  out.push_back(fc);
  return out;
}

}  // namespace hwnas
