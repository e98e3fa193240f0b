// Encodings: the method's 128-d one-hot (ofa-reference.md §7.1) with indices
// computed by hand, resolution variants, hardware features, batches.
#include <doctest/doctest.h>

#include <set>

#include "hwnas/dataset.hpp"
#include "hwnas/predictor/encoding.hpp"
#include "test_support.hpp"

using namespace hwnas;

namespace {

Architecture arch_of(int ks, int e, int d, int r) {
  Architecture a;
  a.ks.assign(20, ks);
  a.e.assign(20, e);
  a.d.assign(5, d);
  a.r = r;
  return a;
}

std::set<int> hot(const RowVector<float>& v) {
  std::set<int> s;
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    if (v(i) != 0.0f) s.insert(static_cast<int>(i));
  }
  return s;
}

}  // namespace

TEST_CASE("encoding: the method's 128-d one-hot, max net") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const Encoder enc(space);
  REQUIRE(enc.dim() == 128);
  RowVector<float> v(128);
  enc.encode<float>(arch_of(7, 6, 4, 224), v);
  std::set<int> expected;
  for (int i = 0; i < 20; ++i) {
    expected.insert(3 * i + 2);       // kmap[7] = 2
    expected.insert(60 + 3 * i + 2);  // emap[6] = 2
  }
  expected.insert(120 + (224 - 112) / 16);  // bin 7
  CHECK(hot(v) == expected);
}

TEST_CASE("encoding: dropped layers are all-zero, mixed choices") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const Encoder enc(space);
  Architecture a = arch_of(3, 3, 2, 160);
  a.ks[1] = 5;   // active (stage 0, depth 2)
  a.e[1] = 4;
  a.ks[2] = 7;   // dropped
  a.d[4] = 3;
  a.ks[18] = 7;  // active now (stage 4 slot 2)
  a.e[18] = 6;
  RowVector<float> v(128);
  enc.encode<float>(a, v);
  std::set<int> expected;
  for (int s = 0; s < 5; ++s) {
    for (int j = 0; j < a.d[static_cast<std::size_t>(s)]; ++j) {
      const int i = 4 * s + j;
      const int k = a.ks[static_cast<std::size_t>(i)], e = a.e[static_cast<std::size_t>(i)];
      expected.insert(3 * i + (k == 3 ? 0 : k == 5 ? 1 : 2));
      expected.insert(60 + 3 * i + (e == 3 ? 0 : e == 4 ? 1 : 2));
    }
  }
  expected.insert(120 + 3);  // (160 - 112) / 16 = 3
  CHECK(hot(v) == expected);
  CHECK(v.sum() == doctest::Approx(2 * 11 + 1));
  CHECK(v(3 * 1 + 1) == 1.0f);
  CHECK(v(60 + 3 * 1 + 1) == 1.0f);
  CHECK(v(3 * 18 + 2) == 1.0f);
  CHECK(v(3 * 2 + 2) == 0.0f);  // dropped slot contributes nothing
}

TEST_CASE("encoding: resolution bins share a bin between multiples of 16") {
  const Encoder enc(MbConvSpace::ofa_mobilenet_v3());
  RowVector<double> a(128), b(128);
  enc.encode<double>(arch_of(3, 3, 2, 160), a);
  enc.encode<double>(arch_of(3, 3, 2, 172), b);
  CHECK(a == b);  // 160 and 172 both land in bin 3
  enc.encode<double>(arch_of(3, 3, 2, 128), a);
  CHECK(a(121) == 1.0);
}

TEST_CASE("encoding: resolution variants") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const Encoder onehot(space, {.resolution = ResolutionEncoding::one_hot});
  CHECK(onehot.dim() == 120 + 25);
  RowVector<float> v(static_cast<Eigen::Index>(onehot.dim()));
  onehot.encode<float>(arch_of(3, 3, 2, 132), v);
  CHECK(v(121) == 1.0f);  // 132 is the second of 128, 132, ...
  CHECK(v.tail(25).sum() == 1.0f);

  const Encoder numeric(space, {.resolution = ResolutionEncoding::numeric});
  CHECK(numeric.dim() == 121);
  RowVector<float> n(121);
  numeric.encode<float>(arch_of(3, 3, 2, 176), n);
  CHECK(n(120) == doctest::Approx((176.0 - 128.0) / (224.0 - 128.0)));

  const Encoder none(space, {.resolution = ResolutionEncoding::none});
  CHECK(none.dim() == 120);
  const Encoder search(space, {.resolution = ResolutionEncoding::one_hot,
                               .resolutions = ofa_search_resolutions()});
  CHECK(search.dim() == 125);
  RowVector<float> s(125);
  CHECK_THROWS_WITH_AS(search.encode<float>(arch_of(3, 3, 2, 164), s),
                       "encoding: r = 164 not in allowed set {160, 176, 192, 208, 224}", InvalidArgument);
  CHECK(resolution_encoding_from_string("one-hot") == ResolutionEncoding::one_hot);
  CHECK_THROWS_AS(resolution_encoding_from_string("bins9"), InvalidArgument);
}

TEST_CASE("encoding: the method's 131-d encoding with hardware features") {
  const Encoder enc(MbConvSpace::ofa_mobilenet_v3(), {.hardware_features = 3});
  CHECK(enc.dim() == 131);
  RowVector<double> v(131);
  const double hw[] = {4352, 11, 616};
  enc.encode<double>(arch_of(3, 3, 2, 224), v, hw);
  CHECK(v(128) == 4352);
  CHECK(v(129) == 11);
  CHECK(v(130) == 616);
  CHECK_THROWS_AS(enc.encode<double>(arch_of(3, 3, 2, 224), v), ShapeMismatch);
}

TEST_CASE("encoding: batch rows equal single encodings") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const Encoder enc(space, {.hardware_features = 2});
  Rng rng(1);
  std::vector<Architecture> archs;
  for (int i = 0; i < 50; ++i) archs.push_back(space.sample(rng));
  std::vector<double> hw;
  for (int i = 0; i < 50; ++i) {
    hw.push_back(i);
    hw.push_back(-i);
  }
  const auto m = enc.encode_batch<float>(archs, hw);
  REQUIRE(m.rows() == 50);
  RowVector<float> v(static_cast<Eigen::Index>(enc.dim()));
  for (int i = 0; i < 50; ++i) {
    enc.encode<float>(archs[static_cast<std::size_t>(i)], v,
                      std::span<const double>(hw).subspan(2 * static_cast<std::size_t>(i), 2));
    CHECK(m.row(i) == v);
  }
  const double shared[] = {1.5, 2.5};
  const auto b = enc.encode_batch<double>(archs, shared);
  CHECK(b(7, 128) == 1.5);
  const double wrong[] = {1, 2, 3};
  CHECK_THROWS_AS(enc.encode_batch<double>(archs, wrong), ShapeMismatch);
}

TEST_CASE("encoding: bad input") {
  const Encoder enc(MbConvSpace::ofa_mobilenet_v3());
  RowVector<float> v(128), short_v(100);
  CHECK_THROWS_WITH_AS(enc.encode<float>(arch_of(3, 3, 2, 224), short_v),
                       "encoding: output has 100 entries, expected 128", ShapeMismatch);
  auto a = arch_of(3, 3, 2, 224);
  a.ks[0] = 9;
  CHECK_THROWS_WITH_AS(enc.encode<float>(a, v), "encoding: ks[0] = 9 not in allowed set {3, 5, 7}",
                       InvalidArgument);
  a = arch_of(3, 3, 2, 100);
  CHECK_THROWS_WITH_AS(enc.encode<float>(a, v), doctest::Contains("r = 100 outside [112, 240)"),
                       InvalidArgument);
  a = arch_of(3, 3, 2, 224);
  a.d.pop_back();
  CHECK_THROWS_AS(enc.encode<float>(a, v), InvalidArgument);
  a = arch_of(3, 3, 2, 224);
  a.d[1] = 5;
  CHECK_THROWS_WITH_AS(enc.encode<float>(a, v), "encoding: d[1] = 5 outside [1, 4]", InvalidArgument);
  a.d[1] = 0;
  CHECK_THROWS_AS(enc.encode<float>(a, v), InvalidArgument);
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const Encoder numeric(space, {.resolution = ResolutionEncoding::numeric});
  RowVector<float> n(121);
  CHECK_THROWS_WITH_AS(numeric.encode<float>(arch_of(3, 3, 2, 240), n),
                       "encoding: r = 240 outside [128, 224], the numeric encoding's range", InvalidArgument);
  CHECK_THROWS_WITH_AS(Encoder(space.with_resolutions({96, 128})), doctest::Contains("the 8 resolution bins cover"),
                       InvalidArgument);
}

TEST_CASE("encoding: ProxylessNAS and CompOFA dimensions") {
  CHECK(Encoder(MbConvSpace::ofa_proxyless()).dim() == 21 * 6 + 8);
  CHECK(Encoder(MbConvSpace::compofa(CompofaKernel::fixed)).dim() == 128);  // same layout as OFA
}

TEST_CASE("encoding: every row of the real HELP dataset encodes to 2 bits per active layer + 1") {
  HWNAS_REQUIRE_DATA(csv, "help-ofa/ofa_gpu_latency.csv");
  const auto data = Dataset::read_csv(csv);
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const Encoder enc(space);
  const auto m = enc.encode_batch<float>(data.archs());
  for (std::size_t i = 0; i < data.size(); ++i) {
    const auto& a = data.archs()[i];
    space.validate(a);
    int active = 0;
    for (int d : a.d) active += d;
    REQUIRE(m.row(static_cast<Eigen::Index>(i)).sum() == doctest::Approx(2 * active + 1));
  }
}
