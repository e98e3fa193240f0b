// The measurement adapters by the names the `hwnas` program and the Python
// module give them: "cpu" (the built-in executor) everywhere, "torch-cpu"
// and "torch-cuda" in builds linked with hwnas::measure_torch (which defines
// HWNAS_WITH_TORCH_ADAPTER).
#pragma once

#include <string>

#include "hwnas/error.hpp"
#include "hwnas/measure/cpu_executor.hpp"
#ifdef HWNAS_WITH_TORCH_ADAPTER
#include "hwnas/measure/torch_adapter.hpp"
#endif

namespace hwnas::measure {

struct ExecutorChoice {
  std::string name = "cpu";  ///< cpu, torch-cpu or torch-cuda
  int threads = 1;           ///< libtorch's intra-op threads (torch-cpu)
};

/// InvalidArgument unless `name` is an executor's (whether or not this
/// build has it).
inline void check_executor_name(const std::string& name) {
  if (name != "cpu" && name != "torch-cpu" && name != "torch-cuda") {
    throw InvalidArgument("executor: expected cpu, torch-cpu or torch-cuda, found '" + name + "'");
  }
}

/// Runs fn(adapter) with the adapter `choice` names and returns what fn
/// returns; InvalidArgument for another name, or for a torch executor in a
/// build without libtorch.
template <class Fn>
auto with_executor(const ExecutorChoice& choice, Fn&& fn) {
  check_executor_name(choice.name);
  if (choice.name == "cpu") {
    CpuExecutor cpu;
    return fn(cpu);
  }
#ifdef HWNAS_WITH_TORCH_ADAPTER
  TorchAdapter torch_adapter(
      {.device = choice.name == "torch-cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU),
       .threads = choice.threads});
  return fn(torch_adapter);
#else
  throw InvalidArgument("executor " + choice.name +
                        ": this hwnas was built without libtorch (configure with -DHWNAS_WITH_TORCH=ON)");
#endif
}

}  // namespace hwnas::measure
