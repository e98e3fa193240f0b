// CategoricalSpace: a generic space of named decisions with their choices.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include "hwnas/space/categorical_space.hpp"
#include "hwnas/space/fbnet_space.hpp"
#include "hwnas/space/mbconv_space.hpp"
#include "hwnas/space/search_space.hpp"

using hwnas::CategoricalArch;
using hwnas::CategoricalSpace;
using hwnas::Decision;
using hwnas::InvalidArgument;
using hwnas::Rng;

namespace {

// 2 x 2 x 3 = 12 architectures; encoding blocks start at 0, 2 and 4; dim 7.
CategoricalSpace small_space() {
  return CategoricalSpace({{"width", {32, 64}}, {"act", {0, 1}}, {"lr", {0.1, 0.01, 0.001}}});
}

// 2 x 3 x 2 = 12, the shape named in the brief.
CategoricalSpace space_2x3x2() {
  return CategoricalSpace({{"a", {1, 2}}, {"b", {10, 20, 30}}, {"c", {-1, 1}}});
}

}  // namespace

TEST_CASE("categorical space: construction and accessors") {
  const CategoricalSpace space = small_space();
  CHECK(space.size() == 3);
  REQUIRE(space.decisions().size() == 3);
  CHECK(space.decisions()[2].name == "lr");
  CHECK(space.decisions()[2].choices == std::vector<double>{0.1, 0.01, 0.001});
  CHECK(space.encoding_dim() == 7);
  // A single decision with a single choice is a valid (trivial) space.
  const CategoricalSpace one({{"only", {42}}});
  CHECK(one.count() == 1);
  CHECK(one.enumerate() == std::vector<CategoricalArch>{{0}});
}

TEST_CASE("categorical space: construction errors name the decision") {
  CHECK_THROWS_WITH_AS(CategoricalSpace({}), doctest::Contains("categorical space: expected at least one decision"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(CategoricalSpace({{"a", {1}}, {"", {1}}}),
                       doctest::Contains("decision at index 1 has an empty name"), InvalidArgument);
  CHECK_THROWS_WITH_AS(CategoricalSpace({{"a", {1}}, {"b", {1}}, {"a", {2}}}),
                       doctest::Contains("decision 'a' (index 2): the name is already used by index 0"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(CategoricalSpace({{"a", {1}}, {"empty", {}}}),
                       doctest::Contains("decision 'empty' (index 1): expected at least one choice"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(CategoricalSpace({{"lr", {0.1, 0.01, 0.1}}}),
                       doctest::Contains("decision 'lr' (index 0): choice value 0.1 appears twice (choices 0 and 2)"),
                       InvalidArgument);
  // -0.0 == 0.0: the two could not be told apart by from_values.
  CHECK_THROWS_WITH_AS(CategoricalSpace({{"z", {0.0, -0.0}}}), doctest::Contains("appears twice"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(CategoricalSpace({{"a", {1}}, {"x", {1, std::nan("")}}}),
                       doctest::Contains("decision 'x' (index 1): choice 1 is nan; expected a finite value"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(CategoricalSpace({{"x", {std::numeric_limits<double>::infinity()}}}),
                       doctest::Contains("decision 'x' (index 0): choice 0 is inf"), InvalidArgument);
  // Every error is an hwnas::Error.
  CHECK_THROWS_AS(CategoricalSpace({}), hwnas::Error);
}

TEST_CASE("categorical space: count equals the product of the choice counts") {
  CHECK(small_space().count() == 2 * 2 * 3);
  CHECK(space_2x3x2().count().to_string() == "12");
  // Beyond 64 bits: five decisions of 7371 choices and one of 25 (the size of OFA's MobileNetV3 space).
  std::vector<Decision> big;
  std::vector<double> stage(7371);
  for (std::size_t i = 0; i < stage.size(); ++i) stage[i] = static_cast<double>(i);
  for (int s = 0; s < 5; ++s) big.push_back({"stage" + std::to_string(s), stage});
  big.push_back({"r", {128, 132, 136, 140, 144, 148, 152, 156, 160, 164, 168, 172, 176, 180, 184, 188,
                       192, 196, 200, 204, 208, 212, 216, 220, 224}});
  const CategoricalSpace ofa(std::move(big));
  CHECK(ofa.count().to_string() == "543966387314312146275");
  CHECK_THROWS_WITH_AS(ofa.enumerate(), doctest::Contains("has 543966387314312146275 architectures, more than the limit 1000000"),
                       InvalidArgument);
}

TEST_CASE("categorical space: enumerate covers every architecture once, in lexicographic order") {
  const CategoricalSpace space = space_2x3x2();
  const auto all = space.enumerate();
  REQUIRE(all.size() == 12);
  CHECK(all.size() == *space.count().to_uint64());
  CHECK(std::set<CategoricalArch>(all.begin(), all.end()).size() == 12);
  for (const auto& arch : all) CHECK_NOTHROW(space.validate(arch));
  CHECK(all.front() == CategoricalArch{0, 0, 0});
  CHECK(all[1] == CategoricalArch{0, 0, 1});  // the last decision varies fastest
  CHECK(all[2] == CategoricalArch{0, 1, 0});
  CHECK(all.back() == CategoricalArch{1, 2, 1});
  for (std::size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1] < all[i]);
  // The limit is inclusive.
  CHECK(space.enumerate(12).size() == 12);
  CHECK_THROWS_WITH_AS(space.enumerate(11), doctest::Contains("the space has 12 architectures, more than the limit 11"),
                       InvalidArgument);
}

TEST_CASE("categorical space: sample is valid and roughly uniform") {
  const CategoricalSpace space({{"four", {1, 2, 3, 4}}, {"two", {5, 6}}, {"one", {7}}});
  Rng rng(123);
  constexpr int kDraws = 40'000;
  std::array<int, 4> four{};
  std::array<int, 2> two{};
  int single = 0;
  for (int n = 0; n < kDraws; ++n) {
    const CategoricalArch arch = space.sample(rng);
    REQUIRE_NOTHROW(space.validate(arch));
    ++four[static_cast<std::size_t>(arch[0])];
    ++two[static_cast<std::size_t>(arch[1])];
    single += arch[2] == 0;
  }
  CHECK(single == kDraws);
  // Expected 10000 and 20000; standard deviations about 87 and 100.
  for (const int c : four) CHECK(std::abs(c - kDraws / 4) < 800);
  for (const int c : two) CHECK(std::abs(c - kDraws / 2) < 800);
}

TEST_CASE("categorical space: mutate") {
  const CategoricalSpace space = small_space();
  Rng rng(7);
  const CategoricalArch parent{1, 0, 2};

  SUBCASE("probability 0 is the identity") {
    int same = 0;
    for (int n = 0; n < 100; ++n) same += space.mutate(parent, rng, {.probability = 0.0}) == parent;
    CHECK(same == 100);
  }
  SUBCASE("probability 1 stays valid and redraws among all choices, the current one included") {
    const CategoricalSpace four({{"x", {1, 2, 3, 4}}});
    int kept = 0;
    constexpr int kDraws = 20'000;
    for (int n = 0; n < kDraws; ++n) {
      const CategoricalArch child = space.mutate(parent, rng, {.probability = 1.0});
      REQUIRE_NOTHROW(space.validate(child));
      kept += four.mutate({2}, rng, {.probability = 1.0}) == CategoricalArch{2};
    }
    // OFA semantics: a redraw keeps the same choice with probability 1/4.
    CHECK(std::abs(kept - kDraws / 4) < 600);
  }
  SUBCASE("the default probability changes a little") {
    int changed = 0;
    for (int n = 0; n < 1000; ++n) changed += space.mutate(parent, rng) != parent;
    CHECK(changed > 0);
    CHECK(changed < 500);
  }
  SUBCASE("bad inputs") {
    CHECK_THROWS_WITH_AS(space.mutate({1, 0, 3}, rng),
                         doctest::Contains("mutate: decision 'lr' (index 2): choice index 3 outside [0, 3)"),
                         InvalidArgument);
    CHECK_THROWS_WITH_AS(space.mutate({1, 0}, rng), doctest::Contains("architecture has 2 choice indices, expected 3"),
                         InvalidArgument);
    CHECK_THROWS_WITH_AS(space.mutate(parent, rng, {.probability = 1.5}),
                         doctest::Contains("expected a probability in [0, 1], got 1.5"), InvalidArgument);
    CHECK_THROWS_AS(space.mutate(parent, rng, {.probability = -0.1}), InvalidArgument);
    CHECK_THROWS_AS(space.mutate(parent, rng, {.probability = std::nan("")}), InvalidArgument);
  }
}

TEST_CASE("categorical space: crossover takes each gene from a parent") {
  const CategoricalSpace space({{"a", {0, 1, 2}}, {"b", {0, 1, 2}}, {"c", {0, 1, 2}}, {"d", {0, 1, 2}}});
  Rng rng(99);
  const CategoricalArch a{0, 0, 0, 0};
  const CategoricalArch b{2, 1, 2, 1};
  std::array<int, 4> from_a{};
  int foreign = 0;  // genes found in neither parent
  constexpr int kDraws = 4000;
  for (int n = 0; n < kDraws; ++n) {
    const CategoricalArch child = space.crossover(a, b, rng);
    REQUIRE(child.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
      foreign += child[i] != a[i] && child[i] != b[i];
      from_a[i] += child[i] == a[i];
    }
  }
  CHECK(foreign == 0);
  for (const int c : from_a) CHECK(std::abs(c - kDraws / 2) < 300);  // each parent half the time
  CHECK(space.crossover(b, b, rng) == b);
  CHECK_THROWS_WITH_AS(space.crossover(a, {0, 0, 0, 7}, rng),
                       doctest::Contains("crossover: second parent: decision 'd' (index 3): choice index 7 outside [0, 3)"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(space.crossover({-1, 0, 0, 0}, b, rng),
                       doctest::Contains("crossover: first parent: decision 'a' (index 0): choice index -1"),
                       InvalidArgument);
}

TEST_CASE("categorical space: validate") {
  const CategoricalSpace space = small_space();
  CHECK_NOTHROW(space.validate({1, 1, 2}));
  CHECK_THROWS_WITH_AS(space.validate({0, 0, 5}),
                       "categorical space: decision 'lr' (index 2): choice index 5 outside [0, 3)", InvalidArgument);
  CHECK_THROWS_WITH_AS(space.validate({0, -1, 0}),
                       "categorical space: decision 'act' (index 1): choice index -1 outside [0, 2)", InvalidArgument);
  CHECK_THROWS_WITH_AS(space.validate({0, 0, 0, 0}),
                       "categorical space: architecture has 4 choice indices, expected 3 (one per decision)",
                       InvalidArgument);
  CHECK_THROWS_AS(space.validate({}), InvalidArgument);
}

TEST_CASE("categorical space: hash") {
  const CategoricalSpace space = space_2x3x2();
  CHECK(space.hash({1, 0, 1}) == space.hash(CategoricalArch{1, 0, 1}));
  std::unordered_set<std::size_t> seen;
  for (const auto& arch : space.enumerate()) seen.insert(space.hash(arch));
  CHECK(seen.size() == 12);
  if constexpr (sizeof(std::size_t) == 8) {
    // FNV-1a 64 over four little-endian bytes per index, computed outside
    // the library: the same in every run and on every 64-bit platform.
    CHECK(space.hash({1, 0, 2}) == 0x9f19854a6eada506ULL);
    CHECK(space.hash({0, 0, 0}) == 0x5467b0da1d106495ULL);
  }
}

TEST_CASE("categorical space: values and from_values round trip") {
  const CategoricalSpace space = small_space();
  CHECK(space.values({1, 0, 2}) == std::vector<double>{64, 0, 0.001});
  for (const auto& arch : space.enumerate()) CHECK(space.from_values(space.values(arch)) == arch);
  const std::vector<double> v{32, 1, 0.01};
  CHECK(space.from_values(v) == CategoricalArch{0, 1, 1});
  CHECK_THROWS_WITH_AS(space.from_values(std::vector<double>{32, 1, 0.5}),
                       doctest::Contains("decision 'lr' (index 2): value 0.5 is not one of its choices {0.1, 0.01, 0.001}"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(space.from_values(std::vector<double>{32, 1}), doctest::Contains("got 2 values, expected 3"),
                       InvalidArgument);
  CHECK_THROWS_AS(space.values({2, 0, 0}), InvalidArgument);
}

TEST_CASE_TEMPLATE("categorical space: encode is one-hot per decision", Scalar, float, double) {
  using Row = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;
  const CategoricalSpace space = small_space();  // blocks [0, 2), [2, 4), [4, 7)
  Row out = Row::Constant(7, Scalar(5));          // stale values must be cleared
  space.template encode<Scalar>({1, 0, 2}, out);
  Row expected(7);
  expected << 0, 1, 1, 0, 0, 0, 1;  // positions 0 + 1, 2 + 0, 4 + 2
  CHECK(out == expected);
  space.template encode<Scalar>({0, 1, 0}, out);
  expected << 1, 0, 0, 1, 1, 0, 0;
  CHECK(out == expected);
  CHECK(out.sum() == Scalar(3));

  // Into a row of a row-major matrix.
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m =
      Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>::Zero(2, 7);
  space.template encode<Scalar>({0, 1, 0}, m.row(1));
  CHECK(Row(m.row(1)) == expected);
  CHECK(m.row(0).isZero());

  Row wrong(6);
  CHECK_THROWS_WITH_AS(space.template encode<Scalar>({0, 0, 0}, wrong),
                       doctest::Contains("encode: output has 6 entries, expected encoding_dim() = 7"),
                       hwnas::ShapeMismatch);
  CHECK_THROWS_WITH_AS(space.template encode<Scalar>({0, 0, 3}, out),
                       doctest::Contains("encode: decision 'lr' (index 2): choice index 3 outside [0, 3)"),
                       InvalidArgument);
}

TEST_CASE_TEMPLATE("categorical space: encode_batch rows equal single encodes", Scalar, float, double) {
  using Row = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;
  const CategoricalSpace space = space_2x3x2();
  const auto all = space.enumerate();
  const auto batch = space.template encode_batch<Scalar>(all);
  REQUIRE(batch.rows() == 12);
  REQUIRE(batch.cols() == 7);
  Row row(7);
  for (std::size_t r = 0; r < all.size(); ++r) {
    space.template encode<Scalar>(all[r], row);
    CHECK(Row(batch.row(static_cast<Eigen::Index>(r))) == row);
  }
  // All 12 encodings differ.
  std::set<std::vector<Scalar>> distinct;
  for (Eigen::Index r = 0; r < batch.rows(); ++r) {
    distinct.insert(std::vector<Scalar>(batch.row(r).data(), batch.row(r).data() + batch.cols()));
  }
  CHECK(distinct.size() == 12);
  CHECK(space.template encode_batch<Scalar>({}).rows() == 0);
  const std::vector<CategoricalArch> bad{{0, 0, 0}, {0, 3, 0}};
  CHECK_THROWS_WITH_AS(space.template encode_batch<Scalar>(bad),
                       doctest::Contains("encode_batch: architecture 1: decision 'b' (index 1): choice index 3"),
                       InvalidArgument);
}

TEST_CASE("categorical space: encode defaults to float") {
  const CategoricalSpace space = small_space();
  Eigen::RowVectorXf out(7);
  space.encode({1, 1, 1}, out);
  CHECK(out.sum() == 3.0f);
  const auto batch = space.encode_batch(std::vector<CategoricalArch>{{1, 1, 1}});
  static_assert(std::is_same_v<typename std::decay_t<decltype(batch)>::Scalar, float>);
  CHECK(Eigen::RowVectorXf(batch.row(0)) == out);
}

TEST_CASE("categorical space: same seed, same architectures") {
  const CategoricalSpace space = small_space();
  auto run = [&](std::uint64_t seed) {
    Rng rng(seed);
    std::vector<CategoricalArch> out;
    CategoricalArch a = space.sample(rng);
    CategoricalArch b = space.sample(rng);
    for (int n = 0; n < 50; ++n) {
      out.push_back(a);
      const CategoricalArch child = space.crossover(a, b, rng);
      b = a;
      a = space.mutate(child, rng, {.probability = 0.3});
    }
    return out;
  };
  CHECK(run(2024) == run(2024));
  CHECK(run(2024) != run(2025));
}

TEST_CASE("categorical space: labels, names and the checks on them") {
  const CategoricalSpace space({{"op", {0, 1, 2}, {"conv3", "conv5", "skip"}}, {"w", {32, 64}}}, "tiny");
  CHECK(space.name() == "tiny");
  CHECK(space.choice_text(0, 1) == "conv5");
  CHECK(space.choice_text(1, 1) == "64");
  CHECK(space.choice_index(0, "skip") == 2);
  CHECK(space.choice_index(0, "1") == 1);   // a value
  CHECK(space.choice_index(1, "64") == 1);
  CHECK(space.choice_index(1, "48") == -1);
  CHECK(space.choice_index(0, "conv7") == -1);
  CHECK(space.feature_names() == std::vector<std::string>{"op=conv3", "op=conv5", "op=skip", "w=32", "w=64"});
  CHECK(space == CategoricalSpace({{"op", {0, 1, 2}, {"conv3", "conv5", "skip"}}, {"w", {32, 64}}}, "tiny"));
  CHECK_FALSE(space == CategoricalSpace({{"op", {0, 1, 2}, {"conv3", "conv5", "skip"}}, {"w", {32, 64}}}, "other"));
  CHECK_FALSE(space == CategoricalSpace({{"op", {0, 1, 2}, {"conv3", "conv5", "id"}}, {"w", {32, 64}}}, "tiny"));

  CHECK_THROWS_WITH_AS(CategoricalSpace({{"op", {0, 1}, {"a"}}}),
                       doctest::Contains("decision 'op' (index 0): 1 labels for 2 choices"), InvalidArgument);
  CHECK_THROWS_WITH_AS(CategoricalSpace({{"op", {0, 1}, {"a", "a"}}}),
                       doctest::Contains("label 'a' appears twice (choices 0 and 1)"), InvalidArgument);
  CHECK_THROWS_WITH_AS(CategoricalSpace({{"op", {0, 1}, {"a", "b c"}}}), doctest::Contains("label 'b c'"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(CategoricalSpace({{"op,1", {0, 1}}}), doctest::Contains("it names a dataset column"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(CategoricalSpace({{"op", {0, 1}}}, "my space"), doctest::Contains("name 'my space'"),
                       InvalidArgument);
}

TEST_CASE("categorical space: for_each_feature visits the bits encode sets") {
  const CategoricalSpace space = small_space();
  for (const auto& arch : space.enumerate()) {
    Eigen::RowVectorXf dense(static_cast<Eigen::Index>(space.encoding_dim()));
    space.encode(arch, dense);
    std::vector<std::size_t> visited;
    space.for_each_feature(arch, [&](std::size_t i, double v) {
      CHECK(v == 1.0);
      visited.push_back(i);
    });
    std::vector<std::size_t> set;
    for (Eigen::Index i = 0; i < dense.size(); ++i) {
      if (dense(i) != 0) set.push_back(static_cast<std::size_t>(i));
    }
    CHECK(visited == set);
  }
  CHECK_THROWS_WITH_AS(space.for_each_feature({0, 0, 3}, [](std::size_t, double) {}),
                       doctest::Contains("encode: decision 'lr' (index 2): choice index 3 outside [0, 3)"),
                       InvalidArgument);
}

TEST_CASE("fbnet space: HELP's 22 layers of 9 operations") {
  const CategoricalSpace space = hwnas::fbnet_space();
  CHECK(space.name() == "fbnet");
  REQUIRE(space.size() == 22);
  CHECK(space.decisions().front().name == "op0");
  CHECK(space.decisions().back().name == "op21");
  const std::vector<std::string> ops{"k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1",
                                     "k5_e1_g2", "k5_e3", "k5_e6", "skip"};
  for (const auto& d : space.decisions()) {
    CHECK(d.labels == ops);
    CHECK(d.choices == std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8});
  }
  CHECK(space.count().to_string() == "984770902183611232881");  // 9^22
  CHECK(space.encoding_dim() == 22 * 9);
  static_assert(hwnas::SearchSpace<CategoricalSpace>);
}

namespace {
CategoricalArch fbnet_arch(const std::vector<std::string>& ops) {
  CategoricalArch a;
  for (const auto& op : ops) {
    const auto& all = hwnas::fbnet_operations();
    a.push_back(static_cast<int>(std::find(all.begin(), all.end(), op) - all.begin()));
  }
  return a;
}
}  // namespace

TEST_CASE("fbnet space: HW-NAS-Bench's network, MACs and parameters by hand and against the FBNet paper") {
  const CategoricalSpace cifar = hwnas::fbnet_space();
  const CategoricalSpace imagenet = hwnas::fbnet_space(hwnas::FbnetInput::imagenet);
  CHECK(imagenet.name() == "fbnet-imagenet");
  CHECK(cifar.decisions() == imagenet.decisions());
  CHECK_FALSE(cifar == imagenet);
  REQUIRE(cifar.has_layers());

  // Every layer skipped (CIFAR-100, 32x32): the stem 32^2 x 27 x 16 =
  // 442368; where a stage changes the shape the skip is a 1x1 projection:
  // 32^2 x 16 x 24 = 393216, 16^2 x 24 x 32 = 196608, 8^2 x 32 x 64 =
  // 131072, 8^2 x 64 x 112 = 458752, 4^2 x 112 x 184 = 329728, 4^2 x 184 x
  // 352 = 1036288; the head 4^2 x 352 x 1504 = 8470528; the classifier
  // 1504 x 100 = 150400.
  const CategoricalArch skip(22, 8);
  CHECK(cifar.layers(skip).size() == 1 + 6 + 3);
  CHECK(cifar.cost(skip).macs == 442368 + 393216 + 196608 + 131072 + 458752 + 329728 + 1036288 + 8470528 + 150400);
  // Parameters: weights plus BN's scale and shift (plus the classifier's bias).
  CHECK(cifar.cost(skip).params == (432 + 32) + (384 + 48) + (768 + 64) + (2048 + 128) + (7168 + 224) +
                                       (20608 + 368) + (64768 + 704) + (529408 + 3008) + (150400 + 100));
  // The same network on ImageNet (224x224, a stride-2 stem, strides 1 2 2 2 1 2 1, head 1984).
  CHECK(imagenet.cost(skip).macs == 5419008 + 1204224 + 602112 + 401408 + 1404928 + 1009792 + 3173632 +
                                        34220032 + 1984000);

  // op0 = k3_e1_g2 on 32x32x16: the 1x1 convolutions in 2 groups (32^2 x
  // 16 x 16 / 2 each), the 3x3 depthwise 32^2 x 16 x 9; a shortcut.
  CategoricalArch g2 = skip;
  g2[0] = 1;
  const hwnas::Layer block = cifar.layers(g2)[1];
  CHECK(block.groups == 2);
  CHECK(block.shortcut);
  CHECK(block.macs() == 131072 + 147456 + 131072);
  CHECK(block.params() == (128 + 32) + (144 + 32) + (128 + 32));

  // FBNet-B and FBNet-C (the paper's Figure 4, as facebookresearch's
  // fbnet_modeldef.py writes them): the paper gives 295 M and 375 M FLOPs,
  // 4.5 M and 5.5 M parameters (docs/spaces.md shows the differences).
  const auto b = imagenet.cost(fbnet_arch({"k3_e1", "k3_e6", "k5_e1", "k3_e1", "k3_e1", "k5_e6", "k5_e3", "k3_e6",
                                           "k5_e6", "k5_e6", "k5_e1", "skip", "k5_e3", "k5_e6", "k3_e1", "k5_e1",
                                           "k5_e3", "k5_e6", "k5_e1", "k5_e6", "k5_e6", "k3_e6"}));
  const auto c = imagenet.cost(fbnet_arch({"k3_e1", "k3_e6", "skip", "k3_e1", "k3_e1", "k5_e6", "k5_e3", "k5_e6",
                                           "k3_e6", "k5_e6", "k5_e3", "k5_e6", "k5_e6", "k5_e6", "k5_e6", "k5_e6",
                                           "k5_e3", "k5_e6", "k5_e6", "k5_e6", "k5_e6", "k3_e6"}));
  CHECK(b.macs == doctest::Approx(295e6).epsilon(0.01));
  CHECK(c.macs == doctest::Approx(375e6).epsilon(0.03));
  CHECK(b.params == doctest::Approx(4.5e6).epsilon(0.08));
  CHECK(c.params == doctest::Approx(5.5e6).epsilon(0.02));
}

TEST_CASE("categorical space: a network's layers are checked where they are given") {
  hwnas::Layer stem;
  stem.kind = hwnas::LayerKind::first_conv;
  stem.in_size = stem.out_size = 8;
  stem.in_channels = 3;
  stem.out_channels = 4;
  stem.kernel = 3;
  hwnas::Layer widen = stem;  // a 1x1 convolution 4 -> 8
  widen.kind = hwnas::LayerKind::conv;
  widen.in_channels = 4;
  widen.out_channels = 8;
  widen.kernel = 1;
  const std::vector<Decision> decisions{{"op", {0, 1}}};
  auto make = [&](std::vector<std::vector<hwnas::Layer>> per_choice, std::vector<hwnas::Layer> head = {}) {
    return CategoricalSpace(decisions, "net", hwnas::SpaceLayers{{stem}, {std::move(per_choice)}, std::move(head)});
  };
  const CategoricalSpace ok = make({{widen}, {widen}});
  CHECK(ok.layers({1}).size() == 2);
  CHECK_THROWS_WITH_AS(make({{widen}, {}}),
                       doctest::Contains("categorical space 'net': layers: decision 'op' (index 0), choice 1: gives "
                                         "8x8x4, choice 0 gives 8x8x8; every choice of a decision must give the "
                                         "same shape"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(make({{widen}}), doctest::Contains("1 layer lists for 2 choices"), InvalidArgument);
  CHECK_THROWS_WITH_AS(make({{widen}, {widen}}, {widen}),
                       doctest::Contains("head: layer 0 (conv): takes 8x8x4 but the layers before it give 8x8x8"),
                       InvalidArgument);
  hwnas::Layer wrong = widen;
  wrong.out_size = 4;
  CHECK_THROWS_WITH_AS(make({{wrong}, {widen}}),
                       doctest::Contains("choice 0: layer 0 (conv): out_size = 4 but in_size 8 and stride 1 give 8"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(CategoricalSpace(decisions).layers({0}), doctest::Contains("has no layer list"),
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(ok.layers({2}), doctest::Contains("layers: decision 'op' (index 0): choice index 2"),
                       InvalidArgument);
  // Every layer of OFA's presets passes the same checks.
  Rng rng(1);
  for (const auto& space : {hwnas::MbConvSpace::ofa_mobilenet_v3(), hwnas::MbConvSpace::ofa_proxyless(1.3)}) {
    for (const auto& l : space.layers(space.sample(rng))) CHECK(hwnas::layer_problem(l) == "");
  }
}
