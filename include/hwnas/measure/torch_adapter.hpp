// The libtorch adapter: builds the same sub-networks as torch modules (what
// a PyTorch user would time) and runs them on the CPU or a CUDA device.
// Optional: target hwnas::measure_torch (CMake option HWNAS_WITH_TORCH);
// CUDA events need HWNAS_WITH_CUDA (defines HWNAS_TORCH_CUDA_EVENTS).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#ifdef HWNAS_TORCH_CUDA_EVENTS
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#endif

#include "hwnas/error.hpp"
#include "hwnas/measure/adapter.hpp"
#include "hwnas/space/layer.hpp"

namespace hwnas::measure {

namespace detail {

inline torch::Tensor torch_activate(Activation a, const torch::Tensor& x) {
  switch (a) {
    case Activation::relu: return torch::relu(x);
    case Activation::relu6: return torch::hardtanh(x, 0.0, 6.0);
    case Activation::h_swish: return torch::hardswish(x);
    case Activation::h_sigmoid: return torch::hardsigmoid(x);
    case Activation::sigmoid: return torch::sigmoid(x);
    case Activation::tanh: return torch::tanh(x);
    case Activation::none: break;
  }
  return x;
}

inline torch::nn::Conv2d torch_conv(int cin, int cout, int k, int stride, int groups, bool bias) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(cin, cout, k).stride(stride).padding(k / 2).groups(groups).bias(bias));
}

/// One layer of hwnas's layer list as a torch module, laid out as OFA's
/// modules are (convolution, batch norm, activation; MBConv blocks with
/// their SE module and shortcut).
class TorchLayerImpl : public torch::nn::Module {
 public:
  explicit TorchLayerImpl(const Layer& l) : layer_(l) {
    switch (l.kind) {
      case LayerKind::first_conv:
      case LayerKind::final_expand:
      case LayerKind::feature_mix:
      case LayerKind::conv:
        conv_ = register_module("conv", torch_conv(l.in_channels, l.out_channels, l.kernel, l.stride, 1, l.bias));
        if (l.use_bn) bn_ = register_module("bn", torch::nn::BatchNorm2d(l.out_channels));
        break;
      case LayerKind::mbconv:
        if (l.has_expand()) {
          expand_ = register_module("expand", torch_conv(l.in_channels, l.mid_channels, 1, 1, l.groups, false));
          expand_bn_ = register_module("expand_bn", torch::nn::BatchNorm2d(l.mid_channels));
        }
        depthwise_ = register_module(
            "depthwise", torch_conv(l.mid_channels, l.mid_channels, l.kernel, l.stride, l.mid_channels, false));
        depthwise_bn_ = register_module("depthwise_bn", torch::nn::BatchNorm2d(l.mid_channels));
        if (l.has_se()) {
          reduce_ = register_module("se_reduce", torch_conv(l.mid_channels, l.se_channels, 1, 1, 1, true));
          excite_ = register_module("se_expand", torch_conv(l.se_channels, l.mid_channels, 1, 1, 1, true));
        }
        project_ = register_module("project", torch_conv(l.mid_channels, l.out_channels, 1, 1, l.groups, false));
        project_bn_ = register_module("project_bn", torch::nn::BatchNorm2d(l.out_channels));
        break;
      case LayerKind::classifier:
        fc_ = register_module("fc", torch::nn::Linear(torch::nn::LinearOptions(l.in_channels, l.out_channels).bias(l.bias)));
        break;
      case LayerKind::pool:
        break;
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    const Layer& l = layer_;
    switch (l.kind) {
      case LayerKind::first_conv:
      case LayerKind::final_expand:
      case LayerKind::feature_mix:
      case LayerKind::conv:
        x = conv_(x);
        if (bn_) x = bn_(x);
        return torch_activate(l.act, x);
      case LayerKind::pool:
        return x.mean({2, 3}, /*keepdim=*/true);
      case LayerKind::classifier:
        return fc_(x.flatten(1));
      case LayerKind::mbconv: {
        torch::Tensor y = x;
        if (expand_) y = torch_activate(l.act, expand_bn_(expand_(y)));
        if (expand_ && l.groups > 1) {  // ShuffleNet's channel shuffle
          const auto n = y.size(0), c = y.size(1), h = y.size(2), w = y.size(3);
          y = y.view({n, l.groups, c / l.groups, h, w}).transpose(1, 2).contiguous().view({n, c, h, w});
        }
        y = torch_activate(l.act, depthwise_bn_(depthwise_(y)));
        if (reduce_) {
          const auto s = torch::hardsigmoid(excite_(torch::relu(reduce_(y.mean({2, 3}, true)))));
          y = y * s;
        }
        y = project_bn_(project_(y));
        return l.shortcut ? y + x : y;
      }
    }
    return x;
  }

 private:
  Layer layer_;
  torch::nn::Conv2d conv_{nullptr}, expand_{nullptr}, depthwise_{nullptr}, reduce_{nullptr}, excite_{nullptr},
      project_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr}, expand_bn_{nullptr}, depthwise_bn_{nullptr}, project_bn_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(TorchLayer);

}  // namespace detail

/// The adapter (adapter.hpp) for libtorch, CPU or CUDA. Networks run in
/// eval mode under torch::InferenceMode.
class TorchAdapter {
 public:
  struct Options {
    torch::Device device = torch::kCPU;
    /// Intra-op threads (torch::set_num_threads, which is process-wide); 0
    /// leaves libtorch's setting alone.
    int threads = 1;
    std::uint64_t seed = 0;  ///< weights and input (libtorch's global generator)
    /// CPU: keep freed memory in the process (glibc's mallopt: no mmap for
    /// blocks under 32 MiB, no trimming), as a serving process with a
    /// caching allocator (jemalloc, tcmalloc) does. Without it every
    /// forward pass maps its large activations afresh, and their page faults
    /// cost more than the arithmetic: a 16-96-24 MBConv block at 112 x 112
    /// takes 6.0 ms instead of 1.7 ms (docs/measurement.md). Process-wide;
    /// no effect off glibc.
    bool keep_freed_memory = true;
  };
  struct Prepared {
    torch::nn::Sequential net;
    torch::Tensor input;
  };

  TorchAdapter() : TorchAdapter(Options{}) {}
  explicit TorchAdapter(Options options) : options_(std::move(options)) {
    if (options_.device.is_cuda() && !torch::cuda::is_available()) {
      throw BackendError("torch adapter: CUDA requested but torch::cuda::is_available() is false", 0);
    }
    if (options_.threads < 0) throw InvalidArgument("torch adapter: threads must be >= 0");
    if (options_.threads > 0) torch::set_num_threads(options_.threads);
#if defined(__GLIBC__)
    if (options_.keep_freed_memory && !options_.device.is_cuda()) {
      mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest
      mallopt(M_TRIM_THRESHOLD, 1 << 30);
    }
#endif
  }

  Prepared prepare(std::span<const Layer> layers, int batch = 1) const {
    if (layers.empty()) throw InvalidArgument("torch adapter: no layers");
    if (batch < 1) throw InvalidArgument("torch adapter: batch must be at least 1, found " + std::to_string(batch));
    torch::manual_seed(options_.seed);
    Prepared p;
    for (const Layer& l : layers) p.net->push_back(detail::TorchLayer(l));
    p.net->to(options_.device);
    p.net->eval();
    const Layer& first = layers.front();
    p.input = first.kind == LayerKind::classifier
                  ? torch::randn({batch, first.in_channels, 1, 1})
                  : torch::randn({batch, first.in_channels, first.in_size, first.in_size});
    p.input = p.input.to(options_.device);
    return p;
  }

  /// One forward pass; returns its output.
  torch::Tensor forward(Prepared& p) const {
    torch::InferenceMode guard;
    return p.net->forward(p.input);
  }
  void run(Prepared& p) const { forward(p); }
  void synchronize() const {
    if (options_.device.is_cuda()) torch::cuda::synchronize();
  }
  std::string name() const { return options_.device.is_cuda() ? "torch-cuda" : "torch-cpu"; }

#ifdef HWNAS_TORCH_CUDA_EVENTS
  /// CUDA: one run between two events on the current stream (ms), after the
  /// stream is idle; CPU: steady_clock around run + synchronize.
  double timed_run(Prepared& p) const {
    if (!options_.device.is_cuda()) {
      const auto t0 = std::chrono::steady_clock::now();
      run(p);
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    synchronize();
    at::cuda::CUDAEvent start(cudaEventDefault), stop(cudaEventDefault);
    const auto stream = at::cuda::getCurrentCUDAStream();
    start.record(stream);
    run(p);
    stop.record(stream);
    stop.synchronize();
    return static_cast<double>(start.elapsed_time(stop));
  }
#endif

  const Options& options() const noexcept { return options_; }

 private:
  Options options_;
};

}  // namespace hwnas::measure
