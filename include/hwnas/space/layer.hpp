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
};

constexpr std::string_view to_string(LayerKind k) noexcept {
  switch (k) {
    case LayerKind::first_conv: return "first_conv";
    case LayerKind::mbconv: return "mbconv";
    case LayerKind::final_expand: return "final_expand";
    case LayerKind::pool: return "pool";
    case LayerKind::feature_mix: return "feature_mix";
    case LayerKind::classifier: return "classifier";
  }
  return "?";
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
  Activation act = Activation::none;
  bool use_bn = false;   ///< convolution followed by batch norm
  bool bias = false;     ///< convolution or linear layer with bias
  bool shortcut = false; ///< mbconv: identity shortcut around the block

  bool has_se() const noexcept { return se_channels > 0; }
  /// mbconv: the 1x1 expansion exists only when the block expands.
  bool has_expand() const noexcept { return kind == LayerKind::mbconv && expand_ratio != 1; }

  /// Multiply-accumulates, counted as OFA's count_flops_given_config
  /// (ofa-reference.md §4.4): convolutions and the classifier only.
  std::int64_t macs() const noexcept;
  /// Trainable parameters as PyTorch counts them (weights, biases, BN's
  /// scale and shift; running statistics are buffers, not parameters).
  std::int64_t params() const noexcept;

  friend bool operator==(const Layer&, const Layer&) = default;
};

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
      return I{in_channels} * out_channels * k2 * out_area;
    case LayerKind::mbconv: {
      I m = 0;
      if (has_expand()) m += I{in_channels} * mid_channels * in_area;  // at the input size
      m += I{mid_channels} * k2 * out_area;                          // depthwise
      if (has_se()) m += 2 * I{mid_channels} * se_channels;          // two 1x1 at 1x1
      m += I{mid_channels} * out_channels * out_area;                // point-linear
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
      return I{in_channels} * out_channels * k2 + (bias ? out_channels : 0) + bn * out_channels;
    case LayerKind::mbconv: {
      I p = 0;
      if (has_expand()) p += I{in_channels} * mid_channels + 2 * I{mid_channels};
      p += I{mid_channels} * k2 + 2 * I{mid_channels};
      if (has_se()) p += 2 * I{mid_channels} * se_channels + se_channels + mid_channels;
      p += I{mid_channels} * out_channels + 2 * I{out_channels};
      return p;
    }
    case LayerKind::classifier:
      return I{in_channels} * out_channels + (bias ? out_channels : 0);
    case LayerKind::pool:
      return 0;
  }
  return 0;
}

}  // namespace hwnas
