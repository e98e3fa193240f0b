// The layer list of a sub-network with exact shapes: what the LUT keys, the
// MAC and parameter counts and the executors are computed from.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hwnas/error.hpp"

namespace hwnas {

/// Activation functions of OFA's layers (ofa-reference.md §1.4).
enum class Activation { none, relu, relu6, h_swish, h_sigmoid, sigmoid, tanh };

/// OFA's spelling: "relu", "relu6", "h_swish", ..., "none".
constexpr std::string_view to_string(Activation a) noexcept {
  switch (a) {
    case Activation::relu: return "relu";
    case Activation::relu6: return "relu6";
    case Activation::h_swish: return "h_swish";
    case Activation::h_sigmoid: return "h_sigmoid";
    case Activation::sigmoid: return "sigmoid";
    case Activation::tanh: return "tanh";
    case Activation::none: break;
  }
  return "none";
}

/// Parses OFA's activation strings; an empty string means none (JSON null).
inline Activation activation_from_string(std::string_view s) {
  for (Activation a : {Activation::none, Activation::relu, Activation::relu6, Activation::h_swish,
                       Activation::h_sigmoid, Activation::sigmoid, Activation::tanh}) {
    if (s == to_string(a)) return a;
  }
  if (s.empty()) return Activation::none;
  throw InvalidArgument("activation: unknown act_func '" + std::string(s) +
                        "'; expected one of relu, relu6, h_swish, h_sigmoid, sigmoid, tanh, none");
}

/// What a layer of an MBConv-chain network is.
enum class LayerKind {
  first_conv,    ///< 3x3 stride-2 stem convolution
  mbconv,        ///< inverted residual block (expand, depthwise, SE, project)
  final_expand,  ///< 1x1 convolution before pooling (MobileNetV3)
  pool,          ///< global average pooling
  feature_mix,   ///< 1x1 convolution (after pooling in MobileNetV3, before it in ProxylessNAS)
  classifier,    ///< fully connected layer
  conv,          ///< any other k x k convolution (FBNet's projecting skip)
};

constexpr std::string_view to_string(LayerKind k) noexcept {
  switch (k) {
    case LayerKind::first_conv: return "first_conv";
    case LayerKind::mbconv: return "mbconv";
    case LayerKind::final_expand: return "final_expand";
    case LayerKind::pool: return "pool";
    case LayerKind::feature_mix: return "feature_mix";
    case LayerKind::classifier: return "classifier";
    case LayerKind::conv: return "conv";
  }
  return "?";
}

/// Parses to_string(LayerKind); InvalidArgument naming the kinds otherwise.
inline LayerKind layer_kind_from_string(std::string_view s) {
  for (LayerKind k : {LayerKind::first_conv, LayerKind::mbconv, LayerKind::final_expand, LayerKind::pool,
                      LayerKind::feature_mix, LayerKind::classifier, LayerKind::conv}) {
    if (s == to_string(k)) return k;
  }
  throw InvalidArgument("layer kind: unknown '" + std::string(s) +
                        "'; expected one of first_conv, mbconv, final_expand, pool, feature_mix, classifier, conv");
}

/// One layer with exact shapes. Feature maps are square: `in_size` x
/// `in_size` x `in_channels` in, `out_size` x `out_size` x `out_channels`
/// out (1 x 1 for the classifier).
struct Layer {
  LayerKind kind = LayerKind::mbconv;
  int in_size = 0;
  int out_size = 0;
  int in_channels = 0;
  int out_channels = 0;
  int kernel = 1;
  int stride = 1;
  int expand_ratio = 0;  ///< mbconv: e (1 for the fixed first block)
  int mid_channels = 0;  ///< mbconv: width of the expanded (depthwise) part
  int se_channels = 0;   ///< mbconv: squeeze width of the SE module; 0 without SE
  int groups = 1;        ///< mbconv: groups of both 1x1 convolutions (FBNet's g2; shuffled after the expansion)
  bool always_expand = false;  ///< mbconv: a 1x1 expansion even at e = 1 (FBNet's blocks; OFA's have none)
  Activation act = Activation::none;
  bool use_bn = false;   ///< convolution followed by batch norm
  bool bias = false;     ///< convolution or linear layer with bias
  bool shortcut = false; ///< mbconv: identity shortcut around the block

  bool has_se() const noexcept { return se_channels > 0; }
  /// mbconv: the 1x1 expansion exists when the block expands, or always.
  bool has_expand() const noexcept { return kind == LayerKind::mbconv && (expand_ratio != 1 || always_expand); }

  /// Multiply-accumulates, counted as OFA's count_flops_given_config
  /// (ofa-reference.md §4.4): convolutions and the classifier only.
  std::int64_t macs() const noexcept;
  /// Trainable parameters as PyTorch counts them (weights, biases, BN's
  /// scale and shift; running statistics are buffers, not parameters).
  std::int64_t params() const noexcept;

  friend bool operator==(const Layer&, const Layer&) = default;
};

/// What is wrong with a layer's numbers on their own, "" when nothing:
/// sizes and channels in [1, 2^20], an odd kernel, a stride of at least 1,
/// the output size its kind and stride give (padding kernel / 2), an MBConv
/// block's widths and groups, a shortcut only where shapes are kept.
std::string layer_problem(const Layer& l);

/// MACs and parameters of a whole layer list.
struct NetworkCost {
  std::int64_t macs = 0;
  std::int64_t params = 0;
};

/// Global average pooling of a size x size x channels map to 1 x 1.
inline Layer global_pool(int size, int channels) {
  Layer p;
  p.kind = LayerKind::pool;
  p.in_size = size;
  p.out_size = 1;
  p.in_channels = p.out_channels = channels;
  return p;
}

/// A convolution of `kind` (first_conv, final_expand, feature_mix, conv; an
/// mbconv block sets its expansion on top) with padding kernel / 2, so its
/// output size follows from the stride.
inline Layer conv_layer(LayerKind kind, int in_size, int in_channels, int out_channels, int kernel, int stride,
                        Activation act, bool use_bn) {
  Layer l;
  l.kind = kind;
  l.in_size = in_size;
  l.out_size = (in_size - 1) / stride + 1;
  l.in_channels = in_channels;
  l.out_channels = out_channels;
  l.kernel = kernel;
  l.stride = stride;
  l.act = act;
  l.use_bn = use_bn;
  return l;
}

inline NetworkCost network_cost(const std::vector<Layer>& layers) noexcept {
  NetworkCost c;
  for (const Layer& l : layers) {
    c.macs += l.macs();
    c.params += l.params();
  }
  return c;
}

// ---------------------------------------------------------------------------

inline std::int64_t Layer::macs() const noexcept {
  using I = std::int64_t;
  const I in_area = I{in_size} * in_size;
  const I out_area = I{out_size} * out_size;
  const I k2 = I{kernel} * kernel;
  switch (kind) {
    case LayerKind::first_conv:
    case LayerKind::final_expand:
    case LayerKind::feature_mix:
    case LayerKind::conv:
      return I{in_channels} * out_channels * k2 * out_area;
    case LayerKind::mbconv: {
      I m = 0;
      if (has_expand()) m += I{in_channels} * mid_channels / groups * in_area;  // at the input size
      m += I{mid_channels} * k2 * out_area;                                   // depthwise
      if (has_se()) m += 2 * I{mid_channels} * se_channels;                   // two 1x1 at 1x1
      m += I{mid_channels} * out_channels / groups * out_area;                // point-linear
      return m;
    }
    case LayerKind::classifier:
      return I{in_channels} * out_channels;
    case LayerKind::pool:
      return 0;
  }
  return 0;
}

inline std::int64_t Layer::params() const noexcept {
  using I = std::int64_t;
  const I k2 = I{kernel} * kernel;
  const I bn = use_bn ? 2 : 0;
  switch (kind) {
    case LayerKind::first_conv:
    case LayerKind::final_expand:
    case LayerKind::feature_mix:
    case LayerKind::conv:
      return I{in_channels} * out_channels * k2 + (bias ? out_channels : 0) + bn * out_channels;
    case LayerKind::mbconv: {
      I p = 0;
      if (has_expand()) p += I{in_channels} * mid_channels / groups + 2 * I{mid_channels};
      p += I{mid_channels} * k2 + 2 * I{mid_channels};
      if (has_se()) p += 2 * I{mid_channels} * se_channels + se_channels + mid_channels;
      p += I{mid_channels} * out_channels / groups + 2 * I{out_channels};
      return p;
    }
    case LayerKind::classifier:
      return I{in_channels} * out_channels + (bias ? out_channels : 0);
    case LayerKind::pool:
      return 0;
  }
  return 0;
}

inline std::string layer_problem(const Layer& l) {
  constexpr int kMax = 1 << 20;
  auto out_of_range = [&](const char* field, int v, int lo) -> std::string {
    return v < lo || v > kMax ? std::string(field) + " = " + std::to_string(v) + " outside [" + std::to_string(lo) +
                                    ", " + std::to_string(kMax) + "]"
                              : "";
  };
  for (const std::string& p : {out_of_range("in_size", l.in_size, 1), out_of_range("in_channels", l.in_channels, 1),
                               out_of_range("out_channels", l.out_channels, 1), out_of_range("kernel", l.kernel, 1),
                               out_of_range("stride", l.stride, 1)}) {
    if (!p.empty()) return p;
  }
  if (l.kernel % 2 == 0) {
    return "kernel = " + std::to_string(l.kernel) + ": expected an odd kernel (padding kernel / 2)";
  }
  const bool to_one = l.kind == LayerKind::pool || l.kind == LayerKind::classifier;
  if (l.kind == LayerKind::classifier && l.in_size != 1) {
    return "a classifier takes a 1x1 input, found in_size = " + std::to_string(l.in_size);
  }
  const int expected = to_one ? 1 : (l.in_size - 1) / l.stride + 1;
  if (l.out_size != expected) {
    return "out_size = " + std::to_string(l.out_size) + " but in_size " + std::to_string(l.in_size) + " and stride " +
           std::to_string(l.stride) + " give " + std::to_string(expected);
  }
  if (l.kind == LayerKind::pool && l.in_channels != l.out_channels) return "pooling keeps the channels";
  if (l.kind != LayerKind::mbconv) {
    return l.groups == 1 && !l.shortcut ? "" : "groups and shortcut belong to mbconv blocks";
  }
  for (const std::string& p : {out_of_range("expand_ratio", l.expand_ratio, 1),
                               out_of_range("mid_channels", l.mid_channels, 1),
                               out_of_range("se_channels", l.se_channels, 0), out_of_range("groups", l.groups, 1)}) {
    if (!p.empty()) return p;
  }
  if (!l.has_expand() && l.mid_channels != l.in_channels) {
    return "mid_channels = " + std::to_string(l.mid_channels) + " but a block without expansion has in_channels = " +
           std::to_string(l.in_channels);
  }
  if (l.in_channels % l.groups || l.mid_channels % l.groups || l.out_channels % l.groups) {
    return std::to_string(l.groups) + " groups do not divide in_channels, mid_channels and out_channels (" +
           std::to_string(l.in_channels) + ", " + std::to_string(l.mid_channels) + ", " +
           std::to_string(l.out_channels) + ")";
  }
  if (l.shortcut && (l.stride != 1 || l.in_channels != l.out_channels)) {
    return "a shortcut needs stride 1 and in_channels == out_channels";
  }
  return "";
}

}  // namespace hwnas
