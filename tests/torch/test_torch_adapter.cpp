// The libtorch adapter (built with -DHWNAS_WITH_TORCH=ON): the torch modules
// have the layer list's structure (parameter count, output shape), they run
// through the shared timing protocol, and CUDA is refused clearly where
// there is none.
#include <doctest/doctest.h>

#include <cmath>

#include "hwnas/measure/adapter.hpp"
#include "hwnas/measure/torch_adapter.hpp"
#include "hwnas/space/fbnet_space.hpp"
#include "hwnas/space/mbconv_space.hpp"
#include "test_support.hpp"

// libtorch defines its own CHECK (glog style): the doctest macros are spelt
// out in full here.

using namespace hwnas;
using namespace hwnas::measure;

static_assert(Adapter<TorchAdapter>);

TEST_CASE("torch adapter: every preset's sub-networks have the layer list's parameters and output") {
  const std::vector<MbConvSpace> spaces{MbConvSpace::ofa_mobilenet_v3(), MbConvSpace::ofa_mobilenet_v3(1.2),
                                        MbConvSpace::compofa(CompofaKernel::elastic), MbConvSpace::ofa_proxyless(1.3)};
  TorchAdapter torch_cpu;
  Rng rng(3);
  for (const auto& space : spaces) {
    DOCTEST_CAPTURE(space.name());
    const auto small = space.with_resolutions({128, 160});
    for (int i = 0; i < 2; ++i) {
      const Architecture arch = small.sample(rng);
      const auto layers = space.layers(arch);
      auto p = torch_cpu.prepare(layers, 2);
      std::int64_t params = 0;
      for (const auto& t : p.net->parameters()) params += t.numel();
      // BatchNorm's running statistics are buffers, not parameters: the
      // count is exactly Layer::params() (weights, biases, BN scale and shift).
      DOCTEST_CHECK(params == space.cost(arch).params);
      const auto out = torch_cpu.forward(p);
      DOCTEST_CHECK(out.dim() == 2);
      DOCTEST_CHECK(out.size(0) == 2);
      DOCTEST_CHECK(out.size(1) == space.options().num_classes);
      DOCTEST_CHECK(torch::isfinite(out).all().item<bool>());
    }
  }
}

TEST_CASE("torch adapter: FBNet networks (grouped blocks, projecting skips) have the layer list's parameters") {
  TorchAdapter torch_cpu;
  Rng rng(4);
  for (const auto input : {FbnetInput::cifar100, FbnetInput::imagenet}) {
    const CategoricalSpace space = fbnet_space(input);
    DOCTEST_CAPTURE(space.name());
    for (const CategoricalArch& arch : {CategoricalArch(22, 1), CategoricalArch(22, 8), space.sample(rng)}) {
      auto p = torch_cpu.prepare(space.layers(arch), 1);
      std::int64_t params = 0;
      for (const auto& t : p.net->parameters()) params += t.numel();
      DOCTEST_CHECK(params == space.cost(arch).params);
      const auto out = torch_cpu.forward(p);
      DOCTEST_CHECK(out.size(1) == (input == FbnetInput::imagenet ? 1000 : 100));
      DOCTEST_CHECK(torch::isfinite(out).all().item<bool>());
    }
  }
}

TEST_CASE("torch adapter: the same seed builds the same network, and timing goes through the protocol") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const Architecture arch = hwnas_test::uniform_arch(space, 3, 3, 2, 128);
  TorchAdapter a({.seed = 4}), b({.seed = 4});
  auto pa = a.prepare(space.layers(arch), 1);
  auto pb = b.prepare(space.layers(arch), 1);
  DOCTEST_CHECK(torch::equal(a.forward(pa), b.forward(pb)));
  const auto s = measure_network(a, space, arch, 1, {.warmup = 1, .repeats = 5});
  DOCTEST_CHECK(s.count + s.discarded == 5);
  DOCTEST_CHECK(s.median > 0);
  DOCTEST_CHECK(a.name() == "torch-cpu");
  DOCTEST_CHECK_THROWS_WITH_AS(a.prepare({}, 1), "torch adapter: no layers", InvalidArgument);
  if (!torch::cuda::is_available()) {
    DOCTEST_CHECK_THROWS_AS(TorchAdapter({.device = torch::kCUDA}), BackendError);
  }
}
