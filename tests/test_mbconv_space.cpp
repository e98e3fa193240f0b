// MBConv-chain spaces: widths, layer lists, MACs against ofa-reference.md
// §4.7, exact counts (§3.5), sampling, mutation, crossover, validation.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "hwnas/space/categorical_space.hpp"
#include "hwnas/space/mbconv_space.hpp"
#include "hwnas/space/search_space.hpp"

#include "test_support.hpp"

using namespace hwnas;
using hwnas_test::uniform_arch;

namespace {

std::vector<int> stage_widths(const MbConvSpace& s) {
  std::vector<int> w;
  for (const auto& st : s.stages()) w.push_back(st.width);
  return w;
}

}  // namespace

TEST_CASE("mbconv space: make_divisible follows OFA's rule") {
  CHECK(make_divisible(16 * 1.2) == 24);  // 19.2 -> 16 < 0.9 * 19.2, so +8
  CHECK(make_divisible(24 * 1.2) == 32);  // 28.8 -> 32
  CHECK(make_divisible(112 * 1.2) == 136);  // 134.4 -> 136
  CHECK(make_divisible(3) == 8);  // min value is the divisor
  CHECK(make_divisible(12) == 16);  // halves round up
  CHECK(make_divisible(320 * 1.3) == 416);
  CHECK(make_divisible(96 * 1.3) == 128);  // 124.8 -> 128
}

TEST_CASE("mbconv space: preset widths (ofa-reference.md §1.2 and §2)") {
  const auto w10 = MbConvSpace::ofa_mobilenet_v3(1.0);
  CHECK(w10.stem_width() == 16);
  CHECK(stage_widths(w10) == std::vector<int>{24, 40, 80, 112, 160});
  CHECK(w10.final_expand_width() == 960);
  CHECK(w10.feature_mix_width() == 1280);
  const auto w12 = MbConvSpace::ofa_mobilenet_v3(1.2);
  CHECK(w12.stem_width() == 24);
  CHECK(w12.first_block_width() == 24);
  CHECK(stage_widths(w12) == std::vector<int>{32, 48, 96, 136, 192});
  CHECK(w12.final_expand_width() == 1152);
  CHECK(w12.feature_mix_width() == 1536);
  const auto px = MbConvSpace::ofa_proxyless(1.3);
  CHECK(px.stem_width() == 40);
  CHECK(px.first_block_width() == 24);
  CHECK(stage_widths(px) == std::vector<int>{32, 56, 104, 128, 248, 416});
  CHECK(px.feature_mix_width() == 1664);
  CHECK(px.num_slots() == 21);
  CHECK(px.num_stages() == 6);
  CHECK(w10.num_slots() == 20);
}

TEST_CASE("mbconv space: MACs match the test vectors of ofa-reference.md §4.7") {
  struct Case {
    double width;
    int ks, e, d, r;
    double mmacs;
  };
  for (const Case c : {Case{1.0, 7, 6, 4, 224, 566.171}, Case{1.0, 3, 3, 2, 160, 63.241},
                       Case{1.2, 7, 6, 4, 224, 843.101}, Case{1.2, 3, 3, 2, 160, 100.321}}) {
    CAPTURE(c.width);
    CAPTURE(c.r);
    const auto space = MbConvSpace::ofa_mobilenet_v3(c.width);
    const auto cost = space.cost(uniform_arch(space, c.ks, c.e, c.d, c.r));
    CHECK(std::abs(cost.macs / 1e6 - c.mmacs) < 1e-3);
  }
}

TEST_CASE("mbconv space: layer list of the w1.0 max net has OFA's shapes") {
  const auto space = MbConvSpace::ofa_mobilenet_v3(1.0);
  const auto layers = space.layers(uniform_arch(space, 7, 6, 4, 224));
  REQUIRE(layers.size() == 1 + 1 + 20 + 4);
  CHECK(layers[0].kind == LayerKind::first_conv);
  CHECK(layers[0].out_size == 112);
  CHECK(layers[0].act == Activation::h_swish);
  const Layer& b0 = layers[1];
  CHECK(b0.expand_ratio == 1);
  CHECK(b0.mid_channels == 16);
  CHECK(b0.shortcut);
  CHECK_FALSE(b0.has_expand());
  // Stage sizes 56, 28, 14, 14, 7 (stage 4 has stride 1).
  const int expected_out[] = {56, 28, 14, 14, 7};
  for (int s = 0; s < 5; ++s) {
    const Layer& first = layers[2 + 4 * s];
    CAPTURE(s);
    CHECK(first.out_size == expected_out[s]);
    CHECK_FALSE(first.shortcut);  // width changes on every stage's first layer
    CHECK(layers[3 + 4 * s].shortcut);
  }
  // mid / se_mid table of ofa-reference.md §1.4 (w1.0, e = 6): stage 2 first
  // 144/40, other 240/64; stage 5 first 672/168, other 960/240.
  CHECK(layers[6].mid_channels == 144);
  CHECK(layers[6].se_channels == 40);
  CHECK(layers[7].mid_channels == 240);
  CHECK(layers[7].se_channels == 64);
  CHECK(layers[18].mid_channels == 672);
  CHECK(layers[18].se_channels == 168);
  CHECK(layers[19].se_channels == 240);
  CHECK(layers[2].se_channels == 0);  // stage 1 has no SE
  CHECK(layers[22].kind == LayerKind::final_expand);
  CHECK(layers[22].in_size == 7);
  CHECK(layers[23].kind == LayerKind::pool);
  CHECK(layers[24].kind == LayerKind::feature_mix);
  CHECK_FALSE(layers[24].use_bn);
  CHECK(layers[25].kind == LayerKind::classifier);
  CHECK(layers[25].in_channels == 1280);
}

TEST_CASE("mbconv space: w1.2 mid / se_mid values (ofa-reference.md §1.4)") {
  const auto space = MbConvSpace::ofa_mobilenet_v3(1.2);
  const auto layers = space.layers(uniform_arch(space, 5, 4, 4, 224));
  // Stage 4, e = 4: first 384/96, other 544/136. Stage 4 starts at slot 12.
  CHECK(layers[2 + 12].mid_channels == 384);
  CHECK(layers[2 + 12].se_channels == 96);
  CHECK(layers[3 + 12].mid_channels == 544);
  CHECK(layers[3 + 12].se_channels == 136);
}

TEST_CASE("mbconv space: the ceil spatial rule") {
  const auto space = MbConvSpace::ofa_mobilenet_v3(1.2);
  // ofa-reference.md §4.2: r = 164 gives 82/41/21/11/11/6.
  const auto layers = space.layers(uniform_arch(space, 3, 3, 2, 164));
  CHECK(layers[0].out_size == 82);
  std::vector<int> sizes;
  for (int s = 0; s < 5; ++s) sizes.push_back(layers[2 + 2 * s].out_size);
  CHECK(sizes == std::vector<int>{41, 21, 11, 11, 6});
}

TEST_CASE("mbconv space: parameter count of a layer computed by hand") {
  Layer l;
  l.kind = LayerKind::mbconv;
  l.in_channels = 24;
  l.out_channels = 40;
  l.kernel = 5;
  l.expand_ratio = 3;
  l.mid_channels = 72;
  l.se_channels = 24;
  l.in_size = 56;
  l.out_size = 28;
  // expand 24*72 + BN 2*72; dw 72*25 + BN 2*72; SE 72*24 + 24 + 24*72 + 72;
  // project 72*40 + BN 2*40.
  CHECK(l.params() == 24 * 72 + 144 + 72 * 25 + 144 + 72 * 24 + 24 + 24 * 72 + 72 + 72 * 40 + 80);
  // expand at 56x56, dw and project at 28x28, SE at 1x1.
  CHECK(l.macs() == 24 * 72 * 56 * 56 + 72 * 25 * 28 * 28 + 2 * 72 * 24 + 72 * 40 * 28 * 28);
}

TEST_CASE("mbconv space: exact counts (ofa-reference.md §3.5)") {
  const auto ofa = MbConvSpace::ofa_mobilenet_v3();
  CHECK(ofa.count_per_resolution().to_string() == "21758655492572485851");
  CHECK(ofa.count().to_string() == (ofa.count_per_resolution() * BigUint(25)).to_string());
  CHECK(MbConvSpace::compofa(CompofaKernel::fixed).count_per_resolution().to_string() == "243");
  CHECK(MbConvSpace::compofa(CompofaKernel::elastic).count_per_resolution().to_string() == "21924480357");
  const auto fixed5 = MbConvSpace::compofa(CompofaKernel::fixed).with_resolutions(ofa_search_resolutions());
  CHECK(fixed5.count().to_string() == "1215");
  // ProxylessNAS: five 4-block stages and a 1-block stage with 9 options.
  CHECK(MbConvSpace::ofa_proxyless().count_per_resolution() ==
        pow(BigUint(7371), 5) * BigUint(9));
}

TEST_CASE("mbconv space: enumerate the CompOFA fixed-kernel space") {
  const auto space = MbConvSpace::compofa(CompofaKernel::fixed).with_resolutions({160, 224});
  const auto all = space.enumerate();
  CHECK(all.size() == 486);
  std::set<std::uint64_t> hashes;
  for (const auto& a : all) {
    space.validate(a);
    CHECK(space.canonical(a) == a);
    hashes.insert(space.hash(a));
  }
  CHECK(hashes.size() == 486);
  CHECK_THROWS_WITH_AS(MbConvSpace::ofa_mobilenet_v3().enumerate(), doctest::Contains("cannot enumerate"),
                       InvalidArgument);
}

TEST_CASE("mbconv space: enumerate a small elastic space") {
  MbConvSpace::Options o;
  o.name = "tiny";
  o.kernel_choices = {3, 5};
  o.expand_choices = {4};
  o.depth_choices = {3};
  o.resolutions = {160};
  const MbConvSpace space(o);
  CHECK(space.count().to_string() == "32768");  // (2^3)^5
  const auto all = space.enumerate();
  REQUIRE(all.size() == 32768);
  std::set<std::uint64_t> hashes;
  for (const auto& a : all) hashes.insert(space.hash(a));
  CHECK(hashes.size() == all.size());
}

TEST_CASE("mbconv space: sample is valid, deterministic and uses every choice") {
  for (const auto& name : MbConvSpace::preset_names()) {
    CAPTURE(name);
    const auto space = MbConvSpace::preset(name);
    Rng a(7), b(7);
    std::set<int> depths, kernels, res;
    for (int i = 0; i < 300; ++i) {
      const auto x = space.sample(a);
      CHECK(x == space.sample(b));
      space.validate(x);
      for (std::size_t s = 0; s + 1 < x.d.size(); ++s) depths.insert(x.d[s]);
      kernels.insert(x.ks.begin(), x.ks.end());
      res.insert(x.r);
    }
    CHECK(depths == std::set<int>{2, 3, 4});
    CHECK(res.size() == 25);
    CHECK(kernels == (name == "compofa-fixed" ? std::set<int>{3, 5} : std::set<int>{3, 5, 7}));
  }
}

TEST_CASE("mbconv space: CompOFA samples couple depth and expand") {
  const auto space = MbConvSpace::compofa(CompofaKernel::elastic);
  Rng rng(3);
  for (int i = 0; i < 200; ++i) {
    const auto a = space.sample(rng);
    for (std::size_t s = 0; s < 5; ++s) {
      for (std::size_t j = 0; j < 4; ++j) CHECK(a.e[4 * s + j] == space.coupled_expand(a.d[s]));
    }
  }
  CHECK(space.coupled_expand(2) == 3);
  CHECK(space.coupled_expand(3) == 4);
  CHECK(space.coupled_expand(4) == 6);
}

TEST_CASE("mbconv space: sample_distinct is uniform over distinct networks") {
  // CompOFA fixed kernel: 3 distinct stages of each depth weight 1, so each
  // depth is 1/3; for OFA depth 4 has weight 6561 / 7371.
  const auto ofa = MbConvSpace::ofa_mobilenet_v3().with_resolutions({224});
  Rng rng(11);
  int depth4 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const auto a = ofa.sample_distinct(rng);
    CHECK(ofa.canonical(a) == a);
    depth4 += a.d[0] == 4;
  }
  CHECK(std::abs(depth4 / double(n) - 6561.0 / 7371.0) < 0.01);
}

TEST_CASE("mbconv space: mutate") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  Rng rng(5);
  const auto parent = space.sample(rng);
  CHECK(space.mutate(parent, rng, {.probability = 0.0, .resolution_probability = 0.0}) == parent);
  int changed = 0;
  for (int i = 0; i < 200; ++i) {
    const auto child = space.mutate(parent, rng);
    space.validate(child);
    changed += !(child == parent);
  }
  CHECK(changed > 150);  // P(no change) = 0.9^46 ~ 0.8 %
  CHECK_THROWS_AS(space.mutate(parent, rng, {.probability = 1.5}), InvalidArgument);

  const auto compofa = MbConvSpace::compofa(CompofaKernel::fixed);
  const auto cp = compofa.sample(rng);
  for (int i = 0; i < 100; ++i) {
    compofa.validate(compofa.mutate(cp, rng, {.probability = 0.5, .resolution_probability = 0.5}));
  }
}

TEST_CASE("mbconv space: crossover takes every gene from a parent") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  Rng rng(9);
  for (int t = 0; t < 50; ++t) {
    const auto a = space.sample(rng), b = space.sample(rng);
    for (auto mode : {CrossoverMode::per_gene, CrossoverMode::stage_wise}) {
      const auto c = space.crossover(a, b, rng, mode);
      space.validate(c);
      for (std::size_t i = 0; i < 20; ++i) {
        CHECK((c.ks[i] == a.ks[i] || c.ks[i] == b.ks[i]));
        CHECK((c.e[i] == a.e[i] || c.e[i] == b.e[i]));
      }
      CHECK((c.r == a.r || c.r == b.r));
      if (mode == CrossoverMode::stage_wise) {
        for (std::size_t s = 0; s < 5; ++s) {
          const auto& from = c.d[s] == a.d[s] && std::equal(c.e.begin() + 4 * s, c.e.begin() + 4 * s + 4,
                                                            a.e.begin() + 4 * s)
                                 ? a
                                 : b;
          CHECK(std::equal(c.e.begin() + 4 * s, c.e.begin() + 4 * s + 4, from.e.begin() + 4 * s));
          CHECK(c.d[s] == from.d[s]);
        }
      }
    }
  }
  // Coupled spaces stay coupled.
  const auto compofa = MbConvSpace::compofa(CompofaKernel::elastic);
  for (int t = 0; t < 100; ++t) {
    compofa.validate(compofa.crossover(compofa.sample(rng), compofa.sample(rng), rng));
  }
}

TEST_CASE("mbconv space: validate names the field, index, value and allowed set") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  auto a = uniform_arch(space, 3, 3, 2, 224);
  space.validate(a);
  auto bad = a;
  bad.ks.pop_back();
  CHECK_THROWS_WITH_AS(space.validate(bad), "ofa-mbv3: ks has 19 entries, expected 20", InvalidArgument);
  bad = a;
  bad.ks[4] = 4;
  CHECK_THROWS_WITH_AS(space.validate(bad), "ofa-mbv3: ks[4] = 4 not in allowed set {3, 5, 7}",
                       InvalidArgument);
  bad = a;
  bad.d[2] = 5;
  CHECK_THROWS_WITH_AS(space.validate(bad), "ofa-mbv3: d[2] = 5 not in allowed set {2, 3, 4}",
                       InvalidArgument);
  bad = a;
  bad.r = 225;
  CHECK_THROWS_WITH_AS(space.validate(bad), doctest::Contains("r = 225 not in allowed set {128, 132"),
                       InvalidArgument);
  bad = a;
  bad.e[3] = 5;  // unused slot (stage 0 has depth 2)
  CHECK_THROWS_WITH_AS(space.validate(bad), doctest::Contains("e[3] = 5 (unused slot; 0 also allowed)"),
                       InvalidArgument);
  bad = a;
  bad.ks[3] = 0;  // unused slot may be 0
  space.validate(bad);

  const auto compofa = MbConvSpace::compofa(CompofaKernel::fixed);
  auto c = uniform_arch(compofa, 3, 3, 2, 224);
  for (int i = 4; i < 8; ++i) c.ks[static_cast<std::size_t>(i)] = 5;
  for (int i = 16; i < 20; ++i) c.ks[static_cast<std::size_t>(i)] = 5;
  compofa.validate(c);
  auto cb = c;
  cb.e[4] = 4;
  CHECK_THROWS_WITH_AS(compofa.validate(cb), doctest::Contains("depth d[1] = 2 requires expand 3"),
                       InvalidArgument);
  cb = c;
  cb.ks[0] = 7;
  CHECK_THROWS_WITH_AS(compofa.validate(cb), "compofa-fixed: ks[0] = 7 not in allowed set {3}",
                       InvalidArgument);
}

TEST_CASE("mbconv space: canonical form and hash ignore don't-care slots") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  auto a = uniform_arch(space, 5, 4, 2, 192);
  auto b = a;
  b.ks[2] = 7;  // slot 2 of stage 0 is dropped at depth 2
  b.e[3] = 6;
  CHECK_FALSE(a == b);
  CHECK(space.same_network(a, b));
  CHECK(space.hash(a) == space.hash(b));
  CHECK(space.canonical(b).ks[2] == 0);
  CHECK(space.canonical(a) == space.canonical(b));
  b.ks[1] = 7;  // active slot
  CHECK_FALSE(space.same_network(a, b));
  CHECK(space.hash(a) != space.hash(b));
}

TEST_CASE("mbconv space: ProxylessNAS layer list") {
  const auto space = MbConvSpace::ofa_proxyless(1.3);
  auto a = uniform_arch(space, 3, 3, 2, 224);
  const auto layers = space.layers(a);
  CHECK(layers[0].act == Activation::relu6);
  CHECK_FALSE(layers[1].shortcut);  // hard-coded None in OFA
  CHECK(layers[1].in_channels == 40);
  CHECK(layers[1].out_channels == 24);
  CHECK(layers[1].mid_channels == 40);
  const Layer& mix = layers[layers.size() - 3];
  CHECK(mix.kind == LayerKind::feature_mix);
  CHECK(mix.use_bn);
  CHECK(mix.in_size == 7);  // before pooling
  CHECK(layers.back().in_channels == 1664);
  a.d.back() = 2;
  CHECK_THROWS_WITH_AS(space.validate(a), "ofa-proxyless: d[5] = 2 not in allowed set {1}",
                       InvalidArgument);
}

TEST_CASE("mbconv space: options are validated") {
  MbConvSpace::Options o;
  o.kernel_choices = {3, 4};
  CHECK_THROWS_WITH_AS(MbConvSpace{o}, "mbconv: kernel sizes must be odd, found 4", InvalidArgument);
  o = {};
  o.depth_choices = {3, 2};
  CHECK_THROWS_WITH_AS(MbConvSpace{o}, doctest::Contains("depth_choices must be strictly ascending"),
                       InvalidArgument);
  o = {};
  o.depth_expand = {{2, 3}, {3, 4}};
  CHECK_THROWS_WITH_AS(MbConvSpace{o}, "mbconv: depth_expand has no expand ratio for depth 4 (stage 0)",
                       InvalidArgument);
  o = {};
  o.depth_choices = {2, 5};
  CHECK_THROWS_WITH_AS(MbConvSpace{o}, "mbconv: depth choice 5 exceeds the 4 blocks of stage 0", InvalidArgument);
  // A coupled ProxylessNAS space needs an expand ratio for the single-block stage's depth 1.
  o = {};
  o.family = Family::proxyless;
  o.depth_expand = {{2, 3}, {3, 4}, {4, 6}};
  CHECK_THROWS_WITH_AS(MbConvSpace{o}, "mbconv: depth_expand has no expand ratio for depth 1 (stage 5)",
                       InvalidArgument);
  o.depth_expand.push_back({1, 6});
  Rng rng(1);
  MbConvSpace coupled_proxyless(o);
  coupled_proxyless.validate(coupled_proxyless.sample(rng));
  o = {};
  o.width = 0;
  CHECK_THROWS_AS(MbConvSpace{o}, InvalidArgument);
  CHECK_THROWS_WITH_AS(MbConvSpace::preset("resnet"), doctest::Contains("unknown preset 'resnet'"),
                       InvalidArgument);
}

TEST_CASE("mbconv space: operators on canonical parents give valid children") {
  // Canonical forms hold 0 in don't-care slots; a deeper stage switches them on.
  for (const auto& name : MbConvSpace::preset_names()) {
    CAPTURE(name);
    const auto space = MbConvSpace::preset(name);
    Rng rng(21);
    for (int i = 0; i < 300; ++i) {
      const auto a = space.sample_distinct(rng), b = space.canonical(space.sample(rng));
      space.validate(space.mutate(a, rng, {.probability = 0.5, .resolution_probability = 0.5}));
      space.validate(space.crossover(a, b, rng));
      space.validate(space.crossover(a, b, rng, CrossoverMode::stage_wise));
    }
  }
}

TEST_CASE("mbconv space: both spaces fulfil the SearchSpace contract") {
  static_assert(SearchSpace<MbConvSpace>);
  static_assert(SearchSpace<CategoricalSpace>);
  CHECK(MbConvSpace::compofa(CompofaKernel::fixed).name() == "compofa-fixed");
}
