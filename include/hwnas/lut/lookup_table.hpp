// OFA's latency lookup tables (LUT): the measured latency of each layer,
// keyed by the layer's signature (ofa-reference.md §4.2). LutEstimator
// (lut/lut_estimator.hpp) sums a sub-network's layers; the file formats
// (OFA's YAML folder, a JSON form) are in io/lut.hpp.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/error.hpp"
#include "hwnas/random.hpp"
#include "hwnas/space/categorical_space.hpp"
#include "hwnas/space/layer.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas {

/// One measured layer, as OFA stores it: how many runs, their mean and
/// standard deviation, in ms. Only the mean enters a network's latency.
struct LutEntry {
  std::int64_t count = 0;
  double mean = 0;
  double std = 0;
  friend bool operator==(const LutEntry&, const LutEntry&) = default;
};

/// The table of one input resolution: layer key -> entry, kept in key order
/// (the order of OFA's files). `name` says where it came from (a file path)
/// and appears in every error about it.
class LookupTable {
 public:
  using Map = std::map<std::string, LutEntry, std::less<>>;

  LookupTable() = default;
  explicit LookupTable(std::string name) : name_(std::move(name)) {}

  const std::string& name() const noexcept { return name_; }
  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  const Map& entries() const noexcept { return entries_; }

  /// Adds or replaces an entry. InvalidArgument for an empty key, a key with
  /// control characters, a negative count, or a mean or std that is negative
  /// or not finite.
  void set(std::string key, const LutEntry& entry);
  /// nullptr when the key is absent.
  const LutEntry* find(std::string_view key) const {
    const auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }
  /// InvalidArgument naming the key and the table when it is absent.
  const LutEntry& at(std::string_view key) const;

  friend bool operator==(const LookupTable& a, const LookupTable& b) { return a.entries_ == b.entries_; }

 private:
  std::string name_;
  Map entries_;
};

/// Tables by input resolution: what OFA's folder of `<r>_lookup_table.yaml`
/// files holds.
using LookupTables = std::map<int, LookupTable>;

/// Calls fn(key, layers) for each LUT entry a layer list needs, in network
/// order: one key per layer, except ProxylessNAS's pooling, which its
/// `Logits` entry covers (fn then gets the pool and the classifier). Keys
/// follow ofa-reference.md §4.2: MobileNetV3 `expanded_conv` keys hold the
/// middle width as `expand` plus se and hs; ProxylessNAS ones hold the ratio.
template <class Fn>
void for_each_lut_key(Family family, std::span<const Layer> layers, Fn&& fn);

/// The key of one layer of a categorical space's network: its kind, shapes
/// and every field that changes what it computes, e.g. "mbconv-input:
/// 32x32x16-output:32x32x16-kernel:3-stride:1-mid:16-se:0-groups:2-expand:1-
/// idskip:1-act:relu" (without the line breaks).
std::string layer_key(const Layer& l);

/// The same walk for a space: OFA's grammar for an MbConvSpace (its
/// family's), one layer_key per layer for a CategoricalSpace.
template <class Fn>
void for_each_lut_key(const MbConvSpace& space, std::span<const Layer> layers, Fn&& fn) {
  for_each_lut_key(space.options().family, layers, std::forward<Fn>(fn));
}
template <class Fn>
void for_each_lut_key(const CategoricalSpace&, std::span<const Layer> layers, Fn&& fn) {
  for (std::size_t i = 0; i < layers.size(); ++i) fn(std::string_view(layer_key(layers[i])), layers.subspan(i, 1));
}

/// The keys of a sub-network, in network order (validates `arch`; a
/// categorical space needs its layers).
std::vector<std::string> lut_keys(const MbConvSpace& space, const Architecture& arch);
std::vector<std::string> lut_keys(const CategoricalSpace& space, const CategoricalArch& arch);

/// The input resolution of a categorical space's network, the one
/// resolution its lookup table has (the first layer's input size).
/// InvalidArgument for a space without layers.
int lut_resolution(const CategoricalSpace& space);

/// The resolutions a space's lookup tables cover: an MBConv space's
/// resolutions, a categorical space's lut_resolution.
std::vector<int> lut_resolutions(const MbConvSpace& space);
std::vector<int> lut_resolutions(const CategoricalSpace& space);

/// Every key a space can produce at resolution `r`, with the layers each
/// covers: the fixed layers, and per stage the first and the later blocks
/// for every kernel / expand pair the stage allows; for a categorical space
/// its stem, every choice's layers and its head. A lookup-table builder's
/// work list. InvalidArgument when r is not one of the space's resolutions
/// (a categorical space: not lut_resolution(space)).
std::map<std::string, std::vector<Layer>> lut_layers(const MbConvSpace& space, int r);
std::map<std::string, std::vector<Layer>> lut_layers(const CategoricalSpace& space, int r);

// ---------------------------------------------------------------------------

namespace detail {

inline void append_int(std::string& out, long long v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

/// "input:HxWxC-output:HxWxC" (square maps), then the caller's fields.
inline void append_shapes(std::string& out, int in_size, int in_channels, int out_size, int out_channels) {
  out += "-input:";
  append_int(out, in_size);
  out += 'x';
  append_int(out, in_size);
  out += 'x';
  append_int(out, in_channels);
  out += "-output:";
  append_int(out, out_size);
  out += 'x';
  append_int(out, out_size);
  out += 'x';
  append_int(out, out_channels);
}

}  // namespace detail

namespace detail {

/// What is wrong with an entry ("" when nothing): the file readers report it
/// with a file position, set() with the table's name.
inline std::string lut_entry_problem(const std::string& key, const LutEntry& entry) {
  if (key.empty()) return "empty key";
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) return "key '" + key + "' holds a control character";
  }
  if (entry.count < 0) return key + ": count must be >= 0, found " + std::to_string(entry.count);
  if (!std::isfinite(entry.mean) || entry.mean < 0) {
    return key + ": mean must be finite and >= 0 (ms), found " + std::to_string(entry.mean);
  }
  if (!std::isfinite(entry.std) || entry.std < 0) {
    return key + ": std must be finite and >= 0, found " + std::to_string(entry.std);
  }
  return {};
}

}  // namespace detail

inline void LookupTable::set(std::string key, const LutEntry& entry) {
  if (const auto problem = detail::lut_entry_problem(key, entry); !problem.empty()) {
    throw InvalidArgument("lut '" + name_ + "': " + problem);
  }
  entries_.insert_or_assign(std::move(key), entry);
}

inline const LutEntry& LookupTable::at(std::string_view key) const {
  if (const LutEntry* e = find(key)) return *e;
  throw InvalidArgument("lut: no entry '" + std::string(key) + "' in table '" + name_ + "' (" +
                        std::to_string(entries_.size()) + " entries)");
}

template <class Fn>
void for_each_lut_key(Family family, std::span<const Layer> layers, Fn&& fn) {
  const bool mbv3 = family == Family::mobilenet_v3;
  std::string key;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    key.clear();
    std::size_t covered = 1;
    switch (l.kind) {
      case LayerKind::first_conv:
        key = "Conv";
        detail::append_shapes(key, l.in_size, l.in_channels, l.out_size, l.out_channels);
        break;
      case LayerKind::mbconv:
        key = "expanded_conv";
        detail::append_shapes(key, l.in_size, l.in_channels, l.out_size, l.out_channels);
        key += "-expand:";
        detail::append_int(key, mbv3 ? l.mid_channels : l.expand_ratio);
        key += "-kernel:";
        detail::append_int(key, l.kernel);
        key += "-stride:";
        detail::append_int(key, l.stride);
        key += l.shortcut ? "-idskip:1" : "-idskip:0";
        if (mbv3) {
          key += l.has_se() ? "-se:1" : "-se:0";
          key += l.act == Activation::h_swish ? "-hs:1" : "-hs:0";
        }
        // Only FBNet's blocks have these; OFA's keys stay as OFA writes them.
        if (l.groups > 1) {
          key += "-groups:";
          detail::append_int(key, l.groups);
        }
        if (l.always_expand && l.expand_ratio == 1) key += "-pw:1";
        break;
      case LayerKind::conv:
        key = "conv";
        detail::append_shapes(key, l.in_size, l.in_channels, l.out_size, l.out_channels);
        key += "-kernel:";
        detail::append_int(key, l.kernel);
        key += "-stride:";
        detail::append_int(key, l.stride);
        break;
      case LayerKind::final_expand:
        key = "Conv_1";
        detail::append_shapes(key, l.in_size, l.in_channels, l.out_size, l.out_channels);
        break;
      case LayerKind::feature_mix:
        // MobileNetV3 mixes after pooling (Conv_2, 1x1), ProxylessNAS before (Conv_1).
        key = mbv3 ? "Conv_2" : "Conv_1";
        detail::append_shapes(key, l.in_size, l.in_channels, l.out_size, l.out_channels);
        break;
      case LayerKind::pool:
        if (mbv3) {
          key = "AvgPool2D";
          detail::append_shapes(key, l.in_size, l.in_channels, 1, l.out_channels);
          break;
        }
        // ProxylessNAS: "Logits-input:fxfxC-output:N" covers pooling and the classifier.
        if (i + 1 < layers.size() && layers[i + 1].kind == LayerKind::classifier) {
          key = "Logits-input:";
          detail::append_int(key, l.in_size);
          key += 'x';
          detail::append_int(key, l.in_size);
          key += 'x';
          detail::append_int(key, l.in_channels);
          key += "-output:";
          detail::append_int(key, layers[i + 1].out_channels);
          covered = 2;
        }
        break;
      case LayerKind::classifier:
        key = "Logits-input:1x1x";
        detail::append_int(key, l.in_channels);
        key += "-output:";
        detail::append_int(key, l.out_channels);
        break;
    }
    if (key.empty()) throw InvalidArgument("lut: a " + std::string(to_string(l.kind)) + " layer has no LUT key here");
    fn(std::string_view(key), layers.subspan(i, covered));
    i += covered - 1;
  }
}

inline std::vector<std::string> lut_keys(const MbConvSpace& space, const Architecture& arch) {
  const auto layers = space.layers(arch);
  std::vector<std::string> keys;
  for_each_lut_key(space.options().family, layers,
                   [&](std::string_view key, std::span<const Layer>) { keys.emplace_back(key); });
  return keys;
}

inline std::string layer_key(const Layer& l) {
  std::string key(to_string(l.kind));
  detail::append_shapes(key, l.in_size, l.in_channels, l.out_size, l.out_channels);
  auto field = [&key](const char* name, long long v) {
    key += '-';
    key += name;
    key += ':';
    detail::append_int(key, v);
  };
  if (l.kind == LayerKind::pool) return key;
  if (l.kind != LayerKind::classifier) {
    field("kernel", l.kernel);
    field("stride", l.stride);
  }
  if (l.kind == LayerKind::mbconv) {
    field("mid", l.mid_channels);
    field("se", l.se_channels);
    field("groups", l.groups);
    field("expand", l.has_expand());
    field("idskip", l.shortcut);
  } else {
    field("bn", l.use_bn);
    field("bias", l.bias);
  }
  if (l.kind != LayerKind::classifier) key += "-act:" + std::string(to_string(l.act));
  return key;
}

inline std::vector<std::string> lut_keys(const CategoricalSpace& space, const CategoricalArch& arch) {
  std::vector<std::string> keys;
  for (const Layer& l : space.layers(arch)) keys.push_back(layer_key(l));
  return keys;
}

inline int lut_resolution(const CategoricalSpace& space) {
  if (!space.has_layers()) {
    throw InvalidArgument("lut: space '" + space.name() + "' has no layer list, so no lookup table");
  }
  // Without a stem, every choice of the first decision has layers (the
  // space's check: an identity there would leave the shape unknown).
  const SpaceLayers& sl = space.space_layers();
  return (sl.stem.empty() ? sl.choices.front().front() : sl.stem).front().in_size;
}

inline std::vector<int> lut_resolutions(const MbConvSpace& space) { return space.options().resolutions; }
inline std::vector<int> lut_resolutions(const CategoricalSpace& space) { return {lut_resolution(space)}; }

inline std::map<std::string, std::vector<Layer>> lut_layers(const CategoricalSpace& space, int r) {
  if (r != lut_resolution(space)) {
    throw InvalidArgument(space.name() + ": resolution " + std::to_string(r) + " is not the network's input size " +
                          std::to_string(lut_resolution(space)));
  }
  std::map<std::string, std::vector<Layer>> out;
  auto add = [&out](const std::vector<Layer>& list) {
    for (const Layer& l : list) out.try_emplace(layer_key(l), std::vector<Layer>{l});
  };
  const SpaceLayers& sl = space.space_layers();
  add(sl.stem);
  for (const auto& per_choice : sl.choices) {
    for (const auto& list : per_choice) add(list);
  }
  add(sl.head);
  return out;
}

inline std::map<std::string, std::vector<Layer>> lut_layers(const MbConvSpace& space, int r) {
  const auto& o = space.options();
  if (std::find(o.resolutions.begin(), o.resolutions.end(), r) == o.resolutions.end()) {
    throw InvalidArgument(space.name() + ": resolution " + std::to_string(r) + " is not in the space");
  }
  std::map<std::string, std::vector<Layer>> out;
  auto collect = [&](const Architecture& arch) {
    const auto layers = space.layers(arch);
    for_each_lut_key(o.family, layers, [&](std::string_view key, std::span<const Layer> covered) {
      out.try_emplace(std::string(key), covered.begin(), covered.end());
    });
  };
  // A block's key depends on its stage, whether it is the stage's first
  // block, its kernel and expand ratio and r, not on the other stages: vary
  // one stage at a time over every depth and kernel / expand it allows,
  // with its blocks uniform, on a valid template.
  Rng rng(0);
  Architecture base = space.sample(rng);
  base.r = r;
  for (std::size_t s = 0; s < space.num_stages(); ++s) {
    const auto& stage = space.stages()[s];
    const std::vector<int> kernels = space.fixed_kernel() ? std::vector<int>{o.stage_kernels[s]} : o.kernel_choices;
    for (int d : stage.depth_choices) {
      const std::vector<int> expands = space.coupled() ? std::vector<int>{space.coupled_expand(d)} : o.expand_choices;
      for (int k : kernels) {
        for (int e : expands) {
          Architecture a = base;
          a.d[s] = d;
          for (int j = 0; j < stage.max_depth; ++j) {
            a.ks[static_cast<std::size_t>(stage.first_slot + j)] = k;
            a.e[static_cast<std::size_t>(stage.first_slot + j)] = e;
          }
          collect(a);
        }
      }
    }
  }
  return out;
}

}  // namespace hwnas
