// The measurement adapter contract: how hwnas times a sub-network (or one
// layer) on a runtime it does not know. An adapter prepares a layer list
// once (weights, buffers, a compiled graph...), runs it, and synchronises;
// the timing protocol (timing.hpp) is the same for every adapter.
#pragma once

#include <concepts>
#include <span>
#include <string>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/measure/timing.hpp"
#include "hwnas/space/layer.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas::measure {

/// What hwnas needs from a runtime:
///   a.prepare(layers, batch) -> A::Prepared   build the network (or layer) once
///   a.run(prepared)                           one forward pass (may be asynchronous)
///   a.synchronize()                           wait until the runtime is done
///   a.name() -> string                        for reports ("cpu", "torch-cuda")
/// Optionally, a.timed_run(prepared) -> double: one synchronised run timed by
/// the device itself (ms), used instead of steady_clock around run +
/// synchronize (CUDA events).
template <class A>
concept Adapter = requires(A& a, typename A::Prepared& p, std::span<const Layer> layers, int batch) {
  { a.prepare(layers, batch) } -> std::same_as<typename A::Prepared>;
  a.run(p);
  a.synchronize();
  { a.name() } -> std::convertible_to<std::string>;
};

template <class A>
concept SelfTimedAdapter = Adapter<A> && requires(A& a, typename A::Prepared& p) {
  { a.timed_run(p) } -> std::convertible_to<double>;
};

/// Times a layer list (a whole network, or the layers of one LUT key) with
/// the shared protocol.
template <Adapter A>
TimingStats measure_layers(A& adapter, std::span<const Layer> layers, int batch = 1,
                           const TimingOptions& options = {}) {
  check(options);
  if (batch < 1) throw InvalidArgument("measure: batch must be at least 1, found " + std::to_string(batch));
  auto prepared = adapter.prepare(layers, batch);
  if constexpr (SelfTimedAdapter<A>) {
    return time_runs([&] { return adapter.timed_run(prepared); }, options);
  } else {
    return time_runs(
        [&] {
          adapter.run(prepared);
          adapter.synchronize();
        },
        options);
  }
}

/// Times a sub-network of `space`, any space with a layer list: MbConvSpace,
/// or a CategoricalSpace that has layers (validates `arch`).
template <Adapter A, class Space>
TimingStats measure_network(A& adapter, const Space& space, const typename Space::arch_type& arch, int batch = 1,
                            const TimingOptions& options = {}) {
  const auto layers = space.layers(arch);
  return measure_layers(adapter, layers, batch, options);
}

/// Live measurement as a latency source (search/evolution.hpp's BatchScore):
/// each architecture of `space` (any space with a layer list) is timed
/// through the adapter, its median in ms.
template <Adapter A, class Space = MbConvSpace>
class MeasuredLatency {
 public:
  MeasuredLatency(A& adapter, const Space& space, int batch = 1, TimingOptions timing = {})
      : adapter_(&adapter), space_(&space), batch_(batch), timing_(timing) {}
  std::vector<double> predict(std::span<const typename Space::arch_type> archs) const {
    std::vector<double> out;
    out.reserve(archs.size());
    for (const auto& a : archs) out.push_back(measure_network(*adapter_, *space_, a, batch_, timing_).median);
    return out;
  }

 private:
  A* adapter_;
  const Space* space_;
  int batch_;
  TimingOptions timing_;
};

}  // namespace hwnas::measure
