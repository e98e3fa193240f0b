// A built-in CPU executor: really runs MBConv sub-networks of every preset
// and FBNet's (stem convolution, expand / depthwise / project convolutions,
// grouped 1x1 convolutions with a channel shuffle, squeeze-and-excitation,
// ReLU / ReLU6 / h-swish, batch norm folded into the convolutions, global
// pooling, linear layers) with random weights, so a machine can measure
// itself with nothing but Eigen. Single-threaded; activations are NHWC
// (channels innermost), so 1x1 convolutions are one matrix product and
// depthwise ones vectorise over channels.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hwnas/error.hpp"
#include "hwnas/random.hpp"
#include "hwnas/space/layer.hpp"

namespace hwnas::measure {

/// An NHWC float tensor.
struct Tensor {
  int n = 0, h = 0, w = 0, c = 0;
  std::vector<float> data;

  Tensor() = default;
  Tensor(int n_, int h_, int w_, int c_)
      : n(n_), h(h_), w(w_), c(c_), data(static_cast<std::size_t>(n_) * h_ * w_ * c_, 0.0f) {}
  std::size_t pixels() const noexcept { return static_cast<std::size_t>(n) * h * w; }
  float& at(int b, int y, int x, int ch) noexcept {
    return data[((static_cast<std::size_t>(b) * h + y) * w + x) * c + ch];
  }
  const float& at(int b, int y, int x, int ch) const noexcept {
    return data[((static_cast<std::size_t>(b) * h + y) * w + x) * c + ch];
  }
};

namespace detail {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;
using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

/// The activation in place.
inline void activate(Activation act, float* x, std::size_t n) {
  ArrayMap a(x, static_cast<Eigen::Index>(n));
  switch (act) {
    case Activation::none: return;
    case Activation::relu: a = a.max(0.0f); return;
    case Activation::relu6: a = a.max(0.0f).min(6.0f); return;
    case Activation::h_swish: a = a * (a + 3.0f).max(0.0f).min(6.0f) * (1.0f / 6.0f); return;
    case Activation::h_sigmoid: a = (a + 3.0f).max(0.0f).min(6.0f) * (1.0f / 6.0f); return;
    case Activation::sigmoid: a = 1.0f / (1.0f + (-a).exp()); return;
    case Activation::tanh: a = a.tanh(); return;
  }
}

/// 1x1 convolution (or a linear layer on an n x 1 x 1 x c tensor):
/// out = act(in W + b). With g groups, W is g blocks of (cin/g) x (cout/g),
/// row-major, each mapping its group of input channels to its group of
/// output channels.
inline void pointwise(const Tensor& in, const std::vector<float>& w, const std::vector<float>& b, Activation act,
                      Tensor& out, int groups = 1) {
  const auto rows = static_cast<Eigen::Index>(in.pixels());
  const Eigen::Index ci = in.c / groups, co = out.c / groups;
  ConstMatrixMap x(in.data.data(), rows, in.c);
  MatrixMap y(out.data.data(), rows, out.c);
  for (Eigen::Index g = 0; g < groups; ++g) {
    y.middleCols(g * co, co).noalias() = x.middleCols(g * ci, ci) * ConstMatrixMap(w.data() + g * ci * co, ci, co);
  }
  y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(b.data(), out.c);
  activate(act, out.data.data(), out.data.size());
}

/// ShuffleNet's channel shuffle into `out`: channel gi * (c/g) + i of each
/// pixel moves to i * g + gi, so the next grouped convolution mixes groups.
inline void channel_shuffle(const Tensor& in, int groups, Tensor& out) {
  const int per_group = in.c / groups;
  for (std::size_t p = 0; p < in.pixels(); ++p) {
    const float* src = in.data.data() + p * static_cast<std::size_t>(in.c);
    float* dst = out.data.data() + p * static_cast<std::size_t>(in.c);
    for (int g = 0; g < groups; ++g) {
      for (int i = 0; i < per_group; ++i) dst[i * groups + g] = src[g * per_group + i];
    }
  }
}

/// Calls fn(tap, iy, ix) for each tap ky * k + kx of a k x k window (stride
/// s, padding k / 2) at output pixel (oy, ox) that falls inside the input.
template <class Fn>
void for_each_tap(const Tensor& in, int oy, int ox, int k, int stride, Fn&& fn) {
  const int pad = k / 2;
  for (int ky = 0; ky < k; ++ky) {
    const int iy = oy * stride - pad + ky;
    if (iy < 0 || iy >= in.h) continue;
    for (int kx = 0; kx < k; ++kx) {
      const int ix = ox * stride - pad + kx;
      if (ix >= 0 && ix < in.w) fn(ky * k + kx, iy, ix);
    }
  }
}

/// k x k depthwise convolution, stride s, padding k / 2; W is (k*k) x c.
/// One output row at a time, one tap at a time over every output pixel the
/// tap reaches (a c x pixels block, strided in the input): long vector
/// loops, no per-pixel bounds checks.
inline void depthwise(const Tensor& in, const std::vector<float>& w, const std::vector<float>& b, int k, int stride,
                      Activation act, Tensor& out) {
  using Pixels = Eigen::Map<Eigen::ArrayXXf>;  // c x pixels, one column per pixel
  using StridedPixels = Eigen::Map<const Eigen::ArrayXXf, 0, Eigen::OuterStride<>>;
  const int c = in.c;
  const int pad = k / 2;
  const ConstArrayMap bias(b.data(), c);
  for (int n = 0; n < in.n; ++n) {
    for (int oy = 0; oy < out.h; ++oy) {
      Pixels acc(&out.at(n, oy, 0, 0), c, out.w);
      acc.colwise() = bias;
      for (int ky = 0; ky < k; ++ky) {
        const int iy = oy * stride - pad + ky;
        if (iy < 0 || iy >= in.h) continue;
        for (int kx = 0; kx < k; ++kx) {
          // Output pixels ox with 0 <= ox * stride - pad + kx < in.w.
          const int first = kx >= pad ? 0 : (pad - kx + stride - 1) / stride;
          const int last_num = in.w - 1 + pad - kx;
          if (last_num < 0) continue;
          const int last = std::min(out.w - 1, last_num / stride);
          if (first > last) continue;
          const int count = last - first + 1;
          const StridedPixels x(&in.at(n, iy, first * stride - pad + kx, 0), c, count,
                                Eigen::OuterStride<>(static_cast<Eigen::Index>(stride) * c));
          acc.middleCols(first, count) += x.colwise() * ConstArrayMap(&w[static_cast<std::size_t>(ky * k + kx) * c], c);
        }
      }
    }
  }
  activate(act, out.data.data(), out.data.size());
}

/// Full k x k convolution, stride s, padding k / 2 (the stem): the patches
/// (im2col) times W, which is (k*k*cin) x cout row-major.
inline void conv2d(const Tensor& in, const std::vector<float>& w, const std::vector<float>& b, int k, int stride,
                   Activation act, Tensor& patches, Tensor& out) {
  const int cin = in.c;
  std::fill(patches.data.begin(), patches.data.end(), 0.0f);
  for (int n = 0; n < in.n; ++n) {
    for (int oy = 0; oy < out.h; ++oy) {
      for (int ox = 0; ox < out.w; ++ox) {
        float* row = &patches.at(n, oy, ox, 0);
        for_each_tap(in, oy, ox, k, stride,
                     [&](int tap, int iy, int ix) { std::copy_n(&in.at(n, iy, ix, 0), cin, row + tap * cin); });
      }
    }
  }
  pointwise(patches, w, b, act, out);
}

/// Squeeze-and-excitation in place: per image, the channel means through
/// reduce (W1: c x se, ReLU) and expand (W2: se x c, h-sigmoid) scale the
/// channels.
inline void squeeze_excite(Tensor& x, const std::vector<float>& w1, const std::vector<float>& b1,
                           const std::vector<float>& w2, const std::vector<float>& b2, int se) {
  const int c = x.c;
  const auto area = static_cast<Eigen::Index>(x.h) * x.w;
  for (int n = 0; n < x.n; ++n) {
    MatrixMap img(&x.at(n, 0, 0, 0), area, c);
    const Eigen::RowVectorXf mean = img.colwise().mean();
    Eigen::RowVectorXf hidden = mean * ConstMatrixMap(w1.data(), c, se) +
                                Eigen::Map<const Eigen::RowVectorXf>(b1.data(), se);
    activate(Activation::relu, hidden.data(), static_cast<std::size_t>(se));
    Eigen::RowVectorXf scale = hidden * ConstMatrixMap(w2.data(), se, c) +
                               Eigen::Map<const Eigen::RowVectorXf>(b2.data(), c);
    activate(Activation::h_sigmoid, scale.data(), static_cast<std::size_t>(c));
    img.array().rowwise() *= scale.array();
  }
}

/// Global average pooling to n x 1 x 1 x c.
inline void global_pool(const Tensor& in, Tensor& out) {
  const auto area = static_cast<Eigen::Index>(in.h) * in.w;
  for (int n = 0; n < in.n; ++n) {
    Eigen::Map<Eigen::RowVectorXf>(&out.at(n, 0, 0, 0), in.c) =
        ConstMatrixMap(&in.at(n, 0, 0, 0), area, in.c).colwise().mean();
  }
}

}  // namespace detail

/// One prepared network: its weights (random, batch norm folded in) and
/// every buffer, allocated once; forward() allocates nothing.
class CpuNetwork {
 public:
  /// InvalidArgument for an empty layer list, batch < 1, or layers whose
  /// shapes do not chain.
  CpuNetwork(std::span<const Layer> layers, int batch, std::uint64_t seed);

  /// Runs the network on `input` (the shape of input()); returns the output.
  const Tensor& forward(const Tensor& input);
  /// Runs the network on its own random input.
  const Tensor& forward() { return forward(input_); }

  const Tensor& input() const noexcept { return input_; }
  /// The last forward()'s output (zeros before the first).
  const Tensor& output() const noexcept { return last(); }
  /// Multiply-accumulates per image, counted from the operations performed.
  std::int64_t macs_per_image() const noexcept { return macs_; }

 private:
  enum class Op { conv, pointwise, depthwise, shuffle, squeeze_excite, pool, add_shortcut };
  struct Step {
    Op op;
    int k = 1, stride = 1, se = 0, groups = 1;
    Activation act = Activation::none;
    std::vector<float> w, b, w2, b2;
    Tensor out, patches;
    std::size_t shortcut_from = 0;  // add_shortcut: the step whose input is added (its out is this out)
  };

  static bool in_place(Op op) noexcept { return op == Op::squeeze_excite || op == Op::add_shortcut; }
  void add_conv(Op op, int k, int stride, int cout, Activation act, bool bias_is_bn, Rng& rng, int groups = 1);
  void add_shuffle(int groups);
  // The output of the last step that has one (in-place steps change it).
  const Tensor& last() const noexcept {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
      if (!in_place(it->op)) return it->out;
    }
    return input_;
  }

  Tensor input_;
  std::vector<Step> steps_;
  std::vector<const Tensor*> read_;  // forward(): the tensor each step read (for the shortcuts)
  std::int64_t macs_ = 0;
};

/// The adapter (adapter.hpp) around CpuNetwork.
class CpuExecutor {
 public:
  using Prepared = CpuNetwork;
  explicit CpuExecutor(std::uint64_t seed = 0) : seed_(seed) {}
  Prepared prepare(std::span<const Layer> layers, int batch = 1) const { return CpuNetwork(layers, batch, seed_); }
  void run(Prepared& p) const { p.forward(); }
  void synchronize() const noexcept {}
  std::string name() const { return "cpu"; }

 private:
  std::uint64_t seed_;
};

// ---------------------------------------------------------------------------

inline void CpuNetwork::add_conv(Op op, int k, int stride, int cout, Activation act, bool bias_is_bn, Rng& rng,
                                 int groups) {
  const Tensor& in = last();
  Step s;
  s.op = op;
  s.k = k;
  s.stride = stride;
  s.groups = groups;
  s.act = act;
  const int oh = (in.h - 1) / stride + 1, ow = (in.w - 1) / stride + 1;
  const int out_c = op == Op::depthwise ? in.c : cout;
  // Weights per output channel: its fan-in.
  const std::size_t rows = op == Op::conv ? static_cast<std::size_t>(k) * k * in.c
                           : op == Op::depthwise ? static_cast<std::size_t>(k) * k
                                                 : static_cast<std::size_t>(in.c / groups);
  // Uniform(-1, 1) / sqrt(fan_in) keeps activations near unit scale through
  // any depth (no overflow, no denormals that would slow the arithmetic).
  const float scale = 1.0f / std::sqrt(static_cast<float>(rows));
  s.w.resize(rows * static_cast<std::size_t>(out_c));
  for (float& v : s.w) v = scale * static_cast<float>(2.0 * rng.uniform01() - 1.0);
  // A folded batch norm leaves a bias; a convolution without one gets zeros.
  s.b.assign(static_cast<std::size_t>(out_c), 0.0f);
  if (bias_is_bn) {
    for (float& v : s.b) v = 0.1f * static_cast<float>(2.0 * rng.uniform01() - 1.0);
  }
  s.out = Tensor(in.n, oh, ow, out_c);
  if (op == Op::conv) s.patches = Tensor(in.n, oh, ow, static_cast<int>(rows));
  const std::int64_t area = std::int64_t{oh} * ow;
  macs_ += op == Op::depthwise ? area * k * k * out_c : area * static_cast<std::int64_t>(rows) * out_c;
  steps_.push_back(std::move(s));
}

inline void CpuNetwork::add_shuffle(int groups) {
  const Tensor& in = last();
  Step s;
  s.op = Op::shuffle;
  s.groups = groups;
  s.out = Tensor(in.n, in.h, in.w, in.c);
  steps_.push_back(std::move(s));
}

inline CpuNetwork::CpuNetwork(std::span<const Layer> layers, int batch, std::uint64_t seed) {
  if (layers.empty()) throw InvalidArgument("cpu executor: no layers");
  if (batch < 1) throw InvalidArgument("cpu executor: batch must be at least 1, found " + std::to_string(batch));
  Rng rng(seed);
  const Layer& first = layers.front();
  input_ = first.kind == LayerKind::classifier ? Tensor(batch, 1, 1, first.in_channels)
                                               : Tensor(batch, first.in_size, first.in_size, first.in_channels);
  for (float& v : input_.data) v = static_cast<float>(2.0 * rng.uniform01() - 1.0);

  for (std::size_t li = 0; li < layers.size(); ++li) {
    const Layer& l = layers[li];
    const Tensor& in = last();
    const bool chains = in.c == l.in_channels && (l.kind == LayerKind::classifier ? in.h == 1 : in.h == l.in_size);
    if (!chains) {
      throw InvalidArgument("cpu executor: layer " + std::to_string(li) + " (" + std::string(to_string(l.kind)) +
                            ") expects " + std::to_string(l.in_size) + "x" + std::to_string(l.in_size) + "x" +
                            std::to_string(l.in_channels) + ", the previous layer gives " + std::to_string(in.h) +
                            "x" + std::to_string(in.w) + "x" + std::to_string(in.c));
    }
    switch (l.kind) {
      case LayerKind::first_conv:
      case LayerKind::conv: {
        const bool one_by_one = l.kernel == 1 && l.stride == 1;
        add_conv(one_by_one ? Op::pointwise : Op::conv, l.kernel, l.stride, l.out_channels, l.act,
                 l.use_bn || l.bias, rng);
        break;
      }
      case LayerKind::final_expand:
      case LayerKind::feature_mix:
        add_conv(Op::pointwise, 1, 1, l.out_channels, l.act, l.use_bn || l.bias, rng);
        break;
      case LayerKind::classifier:
        add_conv(Op::pointwise, 1, 1, l.out_channels, Activation::none, l.bias, rng);
        break;
      case LayerKind::pool: {
        Step s;
        s.op = Op::pool;
        s.out = Tensor(in.n, 1, 1, in.c);
        steps_.push_back(std::move(s));
        break;
      }
      case LayerKind::mbconv: {
        const int g = l.groups;
        if (g < 1 || l.in_channels % g != 0 || l.mid_channels % g != 0 || l.out_channels % g != 0) {
          throw InvalidArgument("cpu executor: layer " + std::to_string(li) + " (mbconv): " + std::to_string(g) +
                                " groups do not divide its channels " + std::to_string(l.in_channels) + ", " +
                                std::to_string(l.mid_channels) + ", " + std::to_string(l.out_channels));
        }
        const std::size_t block_input = steps_.size();  // the step whose input the shortcut adds
        if (l.has_expand()) {
          add_conv(Op::pointwise, 1, 1, l.mid_channels, l.act, true, rng, g);
          if (g > 1) add_shuffle(g);
        }
        add_conv(Op::depthwise, l.kernel, l.stride, 0, l.act, true, rng);
        if (l.has_se()) {
          Step s;  // in place, on the depthwise output
          s.op = Op::squeeze_excite;
          s.se = l.se_channels;
          const float s1 = 1.0f / std::sqrt(static_cast<float>(l.mid_channels));
          const float s2 = 1.0f / std::sqrt(static_cast<float>(l.se_channels));
          s.w.resize(static_cast<std::size_t>(l.mid_channels) * l.se_channels);
          s.w2.resize(s.w.size());
          for (float& v : s.w) v = s1 * static_cast<float>(2.0 * rng.uniform01() - 1.0);
          for (float& v : s.w2) v = s2 * static_cast<float>(2.0 * rng.uniform01() - 1.0);
          s.b.assign(static_cast<std::size_t>(l.se_channels), 0.0f);
          s.b2.assign(static_cast<std::size_t>(l.mid_channels), 0.0f);
          macs_ += 2 * std::int64_t{l.mid_channels} * l.se_channels;
          steps_.push_back(std::move(s));
        }
        add_conv(Op::pointwise, 1, 1, l.out_channels, Activation::none, true, rng, g);
        if (l.shortcut) {
          Step s;
          s.op = Op::add_shortcut;
          s.shortcut_from = block_input;
          steps_.push_back(std::move(s));
        }
        if (last().c != l.out_channels || last().h != l.out_size) {
          throw InvalidArgument("cpu executor: layer " + std::to_string(li) + " (mbconv) gives " +
                                std::to_string(last().h) + "x" + std::to_string(last().c) + ", its layer says " +
                                std::to_string(l.out_size) + "x" + std::to_string(l.out_channels));
        }
        break;
      }
    }
  }
  read_.resize(steps_.size());
}

inline const Tensor& CpuNetwork::forward(const Tensor& input) {
  if (input.n != input_.n || input.h != input_.h || input.w != input_.w || input.c != input_.c) {
    throw ShapeMismatch("cpu executor: input " + std::to_string(input.n) + "x" + std::to_string(input.h) + "x" +
                        std::to_string(input.w) + "x" + std::to_string(input.c) + ", expected " +
                        std::to_string(input_.n) + "x" + std::to_string(input_.h) + "x" + std::to_string(input_.w) +
                        "x" + std::to_string(input_.c));
  }
  // In-place steps (SE, the shortcut) change the last output, `current`.
  const Tensor* in = &input;
  Tensor* current = nullptr;
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    Step& s = steps_[i];
    read_[i] = in;
    switch (s.op) {
      case Op::conv: detail::conv2d(*in, s.w, s.b, s.k, s.stride, s.act, s.patches, s.out); break;
      case Op::pointwise: detail::pointwise(*in, s.w, s.b, s.act, s.out, s.groups); break;
      case Op::shuffle: detail::channel_shuffle(*in, s.groups, s.out); break;
      case Op::depthwise: detail::depthwise(*in, s.w, s.b, s.k, s.stride, s.act, s.out); break;
      case Op::pool: detail::global_pool(*in, s.out); break;
      case Op::squeeze_excite: detail::squeeze_excite(*current, s.w, s.b, s.w2, s.b2, s.se); continue;
      case Op::add_shortcut: {
        const auto size = static_cast<Eigen::Index>(current->data.size());
        detail::ArrayMap(current->data.data(), size) += detail::ConstArrayMap(read_[s.shortcut_from]->data.data(), size);
        continue;
      }
    }
    current = &s.out;
    in = current;
  }
  return *in;
}

}  // namespace hwnas::measure
