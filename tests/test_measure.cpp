// Measurement: the timing protocol by hand, every CPU-executor operator
// against a naive loop over xtensor arrays (NCHW, written independently of
// the executor's NHWC code), and whole networks of every preset.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "hwnas/measure/adapter.hpp"
#include "hwnas/measure/cpu_executor.hpp"
#include "hwnas/measure/timing.hpp"
#include "hwnas/space/fbnet_space.hpp"
#include "hwnas/space/mbconv_space.hpp"
#include "test_support.hpp"

using namespace hwnas;
using namespace hwnas::measure;

namespace {

using Nchw = xt::xtensor<float, 4>;

std::vector<float> random_vector(std::size_t n, Rng& rng) {
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(2 * rng.uniform01() - 1);
  return v;
}

Tensor to_nhwc(const Nchw& x) {
  Tensor t(static_cast<int>(x.shape(0)), static_cast<int>(x.shape(2)), static_cast<int>(x.shape(3)),
           static_cast<int>(x.shape(1)));
  for (int n = 0; n < t.n; ++n)
    for (int c = 0; c < t.c; ++c)
      for (int y = 0; y < t.h; ++y)
        for (int xx = 0; xx < t.w; ++xx) t.at(n, y, xx, c) = x(n, c, y, xx);
  return t;
}

Nchw random_nchw(int n, int c, int h, int w, Rng& rng) {
  Nchw x = xt::zeros<float>({std::size_t(n), std::size_t(c), std::size_t(h), std::size_t(w)});
  for (auto& v : x) v = static_cast<float>(2 * rng.uniform01() - 1);
  return x;
}

float naive_act(Activation a, float v) {
  const auto relu6 = [](float z) { return std::min(std::max(z, 0.0f), 6.0f); };
  switch (a) {
    case Activation::relu: return std::max(v, 0.0f);
    case Activation::relu6: return relu6(v);
    case Activation::h_swish: return v * relu6(v + 3) / 6;
    case Activation::h_sigmoid: return relu6(v + 3) / 6;
    case Activation::sigmoid: return 1 / (1 + std::exp(-v));
    case Activation::tanh: return std::tanh(v);
    case Activation::none: break;
  }
  return v;
}

/// out[n][co][oy][ox] = act(b[co] + sum w(co, ci/groups, ky, kx) x[n][ci][iy][ix]), padding k / 2.
/// Dense: w is indexed (co, ci, ky, kx); depthwise: (c, ky, kx).
Nchw naive_conv(const Nchw& x, const std::vector<float>& w, const std::vector<float>& b, int cout, int k, int stride,
                bool depthwise, Activation act) {
  const int n = int(x.shape(0)), cin = int(x.shape(1)), h = int(x.shape(2)), wd = int(x.shape(3));
  const int oh = (h + 2 * (k / 2) - k) / stride + 1, ow = (wd + 2 * (k / 2) - k) / stride + 1;
  Nchw out = xt::zeros<float>({std::size_t(n), std::size_t(cout), std::size_t(oh), std::size_t(ow)});
  for (int b0 = 0; b0 < n; ++b0)
    for (int co = 0; co < cout; ++co)
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox) {
          double acc = b[std::size_t(co)];
          for (int ci = depthwise ? co : 0; ci < (depthwise ? co + 1 : cin); ++ci)
            for (int ky = 0; ky < k; ++ky)
              for (int kx = 0; kx < k; ++kx) {
                const int iy = oy * stride - k / 2 + ky, ix = ox * stride - k / 2 + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                const std::size_t wi = depthwise ? std::size_t((co * k + ky) * k + kx)
                                                 : std::size_t(((co * cin + ci) * k + ky) * k + kx);
                acc += double(w[wi]) * x(b0, ci, iy, ix);
              }
          out(b0, co, oy, ox) = naive_act(act, float(acc));
        }
  return out;
}

void check_close(const Tensor& got, const Nchw& want, double tol = 1e-4) {
  REQUIRE(got.n == int(want.shape(0)));
  REQUIRE(got.c == int(want.shape(1)));
  REQUIRE(got.h == int(want.shape(2)));
  REQUIRE(got.w == int(want.shape(3)));
  double worst = 0;
  for (int n = 0; n < got.n; ++n)
    for (int c = 0; c < got.c; ++c)
      for (int y = 0; y < got.h; ++y)
        for (int x = 0; x < got.w; ++x) worst = std::max(worst, double(std::abs(got.at(n, y, x, c) - want(n, c, y, x))));
  CHECK(worst < tol);
}

struct FakeDevice {  // a self-timed adapter: every run "takes" the next value
  struct Prepared {
    int layers = 0;
  };
  std::vector<double> times;
  std::size_t calls = 0, runs = 0, syncs = 0;
  Prepared prepare(std::span<const Layer> layers, int) { return {static_cast<int>(layers.size())}; }
  void run(Prepared&) { ++runs; }
  void synchronize() { ++syncs; }
  double timed_run(Prepared&) { return times[calls++ % times.size()]; }
  std::string name() const { return "fake"; }
};

}  // namespace

static_assert(Adapter<CpuExecutor>);
static_assert(!SelfTimedAdapter<CpuExecutor>);
static_assert(SelfTimedAdapter<FakeDevice>);

TEST_CASE("measure: statistics and Tukey trimming, by hand") {
  const auto s = summarize({4, 1, 100, 3, 2});
  // Q1 = 2, Q3 = 4, IQR = 2: fences [-1, 7] drop the 100.
  CHECK(s.count == 4);
  CHECK(s.discarded == 1);
  CHECK(s.median == doctest::Approx(2.5));
  CHECK(s.mean == doctest::Approx(2.5));
  CHECK(s.p90 == doctest::Approx(3.7));  // position 0.9 * 3 = 2.7: 3 + 0.7
  CHECK(s.std == doctest::Approx(std::sqrt(5.0 / 3.0)));
  CHECK(s.min == 1);
  CHECK(s.max == 4);
  const auto all = summarize({4, 1, 100, 3, 2}, Outliers::keep);
  CHECK(all.count == 5);
  CHECK(all.max == 100);
  CHECK(all.median == 3);
  CHECK_THROWS_WITH_AS(summarize({}), "measure: no runs to summarise", InvalidArgument);
  CHECK_THROWS_AS(summarize({1, -1}), InvalidArgument);
  CHECK_THROWS_AS(summarize({1, std::nan("")}), InvalidArgument);
}

TEST_CASE("measure: the protocol warms up, repeats, and uses the device's own timer when it has one") {
  FakeDevice dev;
  dev.times = {1.0, 2.0, 3.0};
  const std::vector<Layer> layers(3);
  const auto s = measure_layers(dev, layers, 1, {.warmup = 2, .repeats = 6, .outliers = Outliers::keep});
  CHECK(dev.calls == 8);
  CHECK(s.count == 6);
  // Warm-up took 1, 2; the timed runs 3, 1, 2, 3, 1, 2.
  CHECK(s.mean == doctest::Approx(2.0));
  CHECK(s.min == 1.0);
  CHECK_THROWS_WITH_AS(measure_layers(dev, layers, 1, {.repeats = 0}), "measure: repeats must be at least 1",
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(measure_layers(dev, layers, 0), "measure: batch must be at least 1, found 0", InvalidArgument);
  // steady_clock around run + synchronize for adapters without a timer.
  int calls = 0;
  const auto t = time_runs([&] { ++calls; }, {.warmup = 3, .repeats = 5});
  CHECK(calls == 8);
  CHECK(t.count + t.discarded == 5);
  CHECK(t.min >= 0);
}

TEST_CASE("measure: activations match their definitions") {
  for (Activation a : {Activation::relu, Activation::relu6, Activation::h_swish, Activation::h_sigmoid,
                       Activation::sigmoid, Activation::tanh, Activation::none}) {
    std::vector<float> x{-8, -3.5f, -1, -0.25f, 0, 0.5f, 2, 3, 5.5f, 9};
    const auto y0 = x;
    measure::detail::activate(a, x.data(), x.size());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i] == doctest::Approx(naive_act(a, y0[i])).epsilon(1e-6));
  }
  std::vector<float> hs{-4, -1, 1, 4};
  measure::detail::activate(Activation::h_swish, hs.data(), hs.size());
  CHECK(hs[0] == 0);
  CHECK(hs[1] == doctest::Approx(-1.0 / 3.0));
  CHECK(hs[2] == doctest::Approx(4.0 / 6.0));
  CHECK(hs[3] == 4);
}

TEST_CASE("measure: stem convolution, depthwise and pointwise convolutions against naive loops") {
  Rng rng(3);
  SUBCASE("stem 3x3 stride 2 on odd sizes") {
    for (int size : {9, 10}) {
      const Nchw x = random_nchw(2, 3, size, size, rng);
      const int cout = 8, k = 3;
      const auto w = random_vector(std::size_t(cout * 3 * k * k), rng), b = random_vector(cout, rng);
      // The executor's layout: (ky, kx, ci) x co.
      std::vector<float> we(w.size());
      for (int co = 0; co < cout; ++co)
        for (int ci = 0; ci < 3; ++ci)
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx)
              we[std::size_t(((ky * k + kx) * 3 + ci) * cout + co)] = w[std::size_t(((co * 3 + ci) * k + ky) * k + kx)];
      const Tensor in = to_nhwc(x);
      const int oh = (size - 1) / 2 + 1;
      Tensor out(2, oh, oh, cout), patches(2, oh, oh, 27);
      measure::detail::conv2d(in, we, b, k, 2, Activation::h_swish, patches, out);
      check_close(out, naive_conv(x, w, b, cout, k, 2, false, Activation::h_swish));
    }
  }
  SUBCASE("depthwise k = 3, 5, 7, strides 1 and 2, inputs down to smaller than the kernel") {
    for (const auto& [h, wd] : {std::pair{11, 11}, std::pair{5, 5}, std::pair{2, 2}, std::pair{7, 4}}) {
      for (int k : {3, 5, 7}) {
        for (int stride : {1, 2}) {
          CAPTURE(h);
          CAPTURE(wd);
          CAPTURE(k);
          CAPTURE(stride);
          const Nchw x = random_nchw(2, 12, h, wd, rng);
          const auto w = random_vector(std::size_t(12 * k * k), rng), b = random_vector(12, rng);
          std::vector<float> we(w.size());  // (ky, kx) x c
          for (int c = 0; c < 12; ++c)
            for (int t = 0; t < k * k; ++t) we[std::size_t(t * 12 + c)] = w[std::size_t(c * k * k + t)];
          Tensor out(2, (h - 1) / stride + 1, (wd - 1) / stride + 1, 12);
          measure::detail::depthwise(to_nhwc(x), we, b, k, stride, Activation::relu6, out);
          check_close(out, naive_conv(x, w, b, 12, k, stride, true, Activation::relu6));
        }
      }
    }
  }
  SUBCASE("pointwise 1x1") {
    const Nchw x = random_nchw(2, 16, 5, 5, rng);
    const auto w = random_vector(16 * 24, rng), b = random_vector(24, rng);
    std::vector<float> we(w.size());  // ci x co
    for (int co = 0; co < 24; ++co)
      for (int ci = 0; ci < 16; ++ci) we[std::size_t(ci * 24 + co)] = w[std::size_t(co * 16 + ci)];
    Tensor out(2, 5, 5, 24);
    measure::detail::pointwise(to_nhwc(x), we, b, Activation::relu, out);
    check_close(out, naive_conv(x, w, b, 24, 1, 1, false, Activation::relu));
  }
}

TEST_CASE("measure: grouped 1x1 convolutions and the channel shuffle against naive loops") {
  Rng rng(4);
  // Two groups: output channels 0..11 see input channels 0..7 only, 12..23
  // see 8..15; the naive convolution gets the dense weights with zeros
  // across groups.
  const Nchw x = random_nchw(2, 16, 5, 5, rng);
  std::vector<float> w(16 * 24, 0.0f);  // co x ci
  const auto b = random_vector(24, rng);
  std::vector<float> we(8 * 24);  // 2 blocks of 8 x 12
  for (int g = 0; g < 2; ++g)
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 12; ++j) {
        const float v = static_cast<float>(2 * rng.uniform01() - 1);
        w[std::size_t((g * 12 + j) * 16 + g * 8 + i)] = v;
        we[std::size_t(g * 8 * 12 + i * 12 + j)] = v;
      }
  Tensor out(2, 5, 5, 24);
  measure::detail::pointwise(to_nhwc(x), we, b, Activation::relu, out, 2);
  check_close(out, naive_conv(x, w, b, 24, 1, 1, false, Activation::relu));

  // ShuffleNet's shuffle of 6 channels in 2 groups: (0 1 2)(3 4 5) -> 0 3 1 4 2 5.
  Tensor in(1, 1, 1, 6), shuffled(1, 1, 1, 6);
  for (int c = 0; c < 6; ++c) in.at(0, 0, 0, c) = static_cast<float>(c);
  measure::detail::channel_shuffle(in, 2, shuffled);
  CHECK(shuffled.data == std::vector<float>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("measure: squeeze-and-excitation and global pooling against naive loops") {
  Rng rng(5);
  const int c = 16, se = 8;
  const Nchw x = random_nchw(2, c, 6, 6, rng);
  const auto w1 = random_vector(std::size_t(c * se), rng), b1 = random_vector(se, rng);
  const auto w2 = random_vector(std::size_t(se * c), rng), b2 = random_vector(c, rng);
  Nchw want = x;
  for (int n = 0; n < 2; ++n) {
    std::vector<double> mean(c, 0.0), hidden(se, 0.0);
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < 6; ++y)
        for (int xx = 0; xx < 6; ++xx) mean[std::size_t(ch)] += x(n, ch, y, xx) / 36.0;
    for (int j = 0; j < se; ++j) {
      double acc = b1[std::size_t(j)];
      for (int ch = 0; ch < c; ++ch) acc += mean[std::size_t(ch)] * w1[std::size_t(ch * se + j)];
      hidden[std::size_t(j)] = std::max(acc, 0.0);
    }
    for (int ch = 0; ch < c; ++ch) {
      double acc = b2[std::size_t(ch)];
      for (int j = 0; j < se; ++j) acc += hidden[std::size_t(j)] * w2[std::size_t(j * c + ch)];
      const float scale = naive_act(Activation::h_sigmoid, float(acc));
      for (int y = 0; y < 6; ++y)
        for (int xx = 0; xx < 6; ++xx) want(n, ch, y, xx) *= scale;
    }
  }
  Tensor t = to_nhwc(x);
  measure::detail::squeeze_excite(t, w1, b1, w2, b2, se);
  check_close(t, want);

  Tensor pooled(2, 1, 1, c);
  measure::detail::global_pool(to_nhwc(x), pooled);
  for (int n = 0; n < 2; ++n)
    for (int ch = 0; ch < c; ++ch) {
      double m = 0;
      for (int y = 0; y < 6; ++y)
        for (int xx = 0; xx < 6; ++xx) m += x(n, ch, y, xx) / 36.0;
      CHECK(pooled.at(n, 0, 0, ch) == doctest::Approx(m).epsilon(1e-5));
    }
}

TEST_CASE("measure: whole sub-networks of every preset have the layer list's output shape and MACs") {
  Rng rng(11);
  const std::vector<MbConvSpace> spaces{MbConvSpace::ofa_mobilenet_v3(), MbConvSpace::ofa_mobilenet_v3(1.2),
                                        MbConvSpace::compofa(CompofaKernel::fixed),
                                        MbConvSpace::compofa(CompofaKernel::elastic),
                                        MbConvSpace::ofa_proxyless(1.3)};
  const CpuExecutor executor(1);
  for (const auto& space : spaces) {
    CAPTURE(space.name());
    const auto small = space.with_resolutions({128, 132, 160});
    for (int i = 0; i < 2; ++i) {
      const Architecture arch = small.sample(rng);
      const auto layers = space.layers(arch);
      for (int batch : {1, 2}) {
        auto net = executor.prepare(layers, batch);
        CHECK(net.macs_per_image() == space.cost(arch).macs);
        const Tensor& out = net.forward();
        CHECK(out.n == batch);
        CHECK(out.h == 1);
        CHECK(out.c == space.options().num_classes);
        bool finite = true;
        for (float v : out.data) finite = finite && std::isfinite(v);
        CHECK(finite);
      }
    }
  }
}

TEST_CASE("measure: FBNet networks (grouped blocks, projecting skips) run with the layer list's shape and MACs") {
  Rng rng(12);
  const CpuExecutor executor(1);
  std::vector<CategoricalArch> archs{CategoricalArch(22, 1), CategoricalArch(22, 8)};  // all k3_e1_g2, all skip
  for (int i = 0; i < 3; ++i) archs.push_back(fbnet_space().sample(rng));
  for (const auto input : {FbnetInput::cifar100, FbnetInput::imagenet}) {
    const CategoricalSpace space = fbnet_space(input);
    CAPTURE(space.name());
    for (const auto& arch : archs) {
      auto net = executor.prepare(space.layers(arch), 1);
      CHECK(net.macs_per_image() == space.cost(arch).macs);
      const Tensor& out = net.forward();
      CHECK(out.c == (input == FbnetInput::imagenet ? 1000 : 100));
      bool finite = true;
      for (float v : out.data) finite = finite && std::isfinite(v);
      CHECK(finite);
      if (input == FbnetInput::imagenet) break;  // one 224x224 network is enough
    }
  }
  auto layers = fbnet_space().layers(CategoricalArch(22, 1));
  layers[1].groups = 3;  // 16 channels do not split in 3
  CHECK_THROWS_WITH_AS(executor.prepare(layers, 1), doctest::Contains("layer 1 (mbconv): 3 groups do not divide"),
                       InvalidArgument);
}

TEST_CASE("measure: the executor is deterministic, images of a batch are independent, shortcuts add") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const Architecture arch = hwnas_test::uniform_arch(space, 5, 4, 3, 128);
  const auto layers = space.layers(arch);
  const CpuExecutor executor(7);
  auto a = executor.prepare(layers, 2);
  auto b = executor.prepare(layers, 2);
  CHECK(a.forward().data == b.forward().data);
  // The same image twice gives the same row twice.
  Tensor twice = a.input();
  const std::size_t image = twice.data.size() / 2;
  std::copy_n(twice.data.begin(), image, twice.data.begin() + static_cast<std::ptrdiff_t>(image));
  const Tensor out = a.forward(twice);
  for (int j = 0; j < out.c; ++j) CHECK(out.at(0, 0, 0, j) == out.at(1, 0, 0, j));
  // A block with a shortcut: output = block(x) + x, so it differs from the
  // same block without one by exactly x.
  std::vector<Layer> block{layers[2], layers[3]};  // stage 1: first block, then one with a shortcut
  REQUIRE(layers[3].shortcut);
  std::vector<Layer> no_shortcut = block;
  no_shortcut[1].shortcut = false;
  auto with = executor.prepare(block, 1);
  auto without = executor.prepare(no_shortcut, 1);
  const Tensor y1 = with.forward();
  const Tensor y0 = without.forward();
  // The first block's output is the second's input: recompute it alone.
  auto first = executor.prepare(std::span<const Layer>(block.data(), 1), 1);
  const Tensor x1 = first.forward();
  double worst = 0;
  for (std::size_t i = 0; i < y1.data.size(); ++i) worst = std::max(worst, double(std::abs(y1.data[i] - y0.data[i] - x1.data[i])));
  CHECK(worst < 1e-5);
  CHECK_THROWS_WITH_AS(a.forward(Tensor(1, 128, 128, 3)), "cpu executor: input 1x128x128x3, expected 2x128x128x3",
                       ShapeMismatch);
}

TEST_CASE("measure: bad layer lists are rejected") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const Architecture arch = hwnas_test::uniform_arch(space, 3, 3, 2, 160);
  auto layers = space.layers(arch);
  const CpuExecutor executor;
  CHECK_THROWS_WITH_AS(executor.prepare({}, 1), "cpu executor: no layers", InvalidArgument);
  CHECK_THROWS_WITH_AS(executor.prepare(layers, 0), "cpu executor: batch must be at least 1, found 0", InvalidArgument);
  layers.erase(layers.begin() + 2);  // stage 1's first block: block 0's output meets the second block
  CHECK_THROWS_WITH_AS(executor.prepare(layers, 1),
                       "cpu executor: layer 2 (mbconv) expects 40x40x24, the previous layer gives 80x80x16",
                       InvalidArgument);
}

TEST_CASE("measure: timing a real sub-network on this CPU") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const Architecture arch = hwnas_test::uniform_arch(space, 3, 3, 2, 128);
  CpuExecutor executor;
  const auto s = measure_network(executor, space, arch, 1, {.warmup = 1, .repeats = 5});
  CHECK(s.count + s.discarded == 5);
  CHECK(s.median > 0);
  CHECK(s.min <= s.median);
  CHECK(s.median <= s.max);
}
