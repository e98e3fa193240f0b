// Lookup tables: OFA's key grammar, the estimator's sum, the YAML and JSON
// files, on OFA's real Note10 tables (../shared/data/note10-lut) and by hand.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hwnas/detail/file_io.hpp"
#include "hwnas/lut/lookup_table.hpp"
#include "hwnas/lut/lut_estimator.hpp"
#include "hwnas/io/lut.hpp"
#include "hwnas/space/fbnet_space.hpp"
#include "test_support.hpp"

using namespace hwnas;

namespace {

/// The OFA MobileNetV3 layout (20 slots, 5 stages), every choice the same.
Architecture uniform(int k, int e, int d, int r) {
  return hwnas_test::uniform_arch(MbConvSpace::ofa_mobilenet_v3(), k, e, d, r);
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("hwnas_test_lut_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("lut: MobileNetV3 keys follow OFA's grammar (ofa-reference.md §4.2)") {
  const auto space = MbConvSpace::ofa_mobilenet_v3(1.2);
  const auto keys = lut_keys(space, uniform(7, 6, 4, 224));
  REQUIRE(keys.size() == 1 + 1 + 20 + 4);
  CHECK(keys[0] == "Conv-input:224x224x3-output:112x112x24");
  CHECK(keys[1] == "expanded_conv-input:112x112x24-output:112x112x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0");
  // First block of stage 1: 24 -> 32, mid = 24 * 6 = 144, stride 2, no shortcut.
  CHECK(keys[2] == "expanded_conv-input:112x112x24-output:56x56x32-expand:144-kernel:7-stride:2-idskip:0-se:0-hs:0");
  CHECK(keys[3] == "expanded_conv-input:56x56x32-output:56x56x32-expand:192-kernel:7-stride:1-idskip:1-se:0-hs:0");
  // Stage 4 (SE, h-swish), first block: 96 -> 136 at 14x14, mid 96 * 6 = 576.
  CHECK(keys[14] == "expanded_conv-input:14x14x96-output:14x14x136-expand:576-kernel:7-stride:1-idskip:0-se:1-hs:1");
  CHECK(keys[22] == "Conv_1-input:7x7x192-output:7x7x1152");
  CHECK(keys[23] == "AvgPool2D-input:7x7x1152-output:1x1x1152");
  CHECK(keys[24] == "Conv_2-input:1x1x1152-output:1x1x1536");
  CHECK(keys[25] == "Logits-input:1x1x1536-output:1000");
  // Depth 2 everywhere: 10 blocks; the ceil rule at r = 164: 82/41/21/11/11/6.
  const auto small = lut_keys(space, uniform(3, 3, 2, 164));
  CHECK(small.size() == 1 + 1 + 10 + 4);
  CHECK(small[0] == "Conv-input:164x164x3-output:82x82x24");
  CHECK(small.back() == "Logits-input:1x1x1536-output:1000");
  CHECK(small[small.size() - 4] == "Conv_1-input:6x6x192-output:6x6x1152");
}

TEST_CASE("lut: ProxylessNAS keys hold the expand ratio and fold pooling into Logits") {
  const auto space = MbConvSpace::ofa_proxyless(1.3);
  const auto keys = lut_keys(space, hwnas_test::uniform_arch(space, 5, 6, 2, 224));  // last stage: 1 block
  const int blocks = 2 * static_cast<int>(space.num_stages()) - 1;
  REQUIRE(keys.size() == static_cast<std::size_t>(1 + 1 + blocks + 2));
  CHECK(keys[0] == "Conv-input:224x224x3-output:112x112x40");
  CHECK(keys[1] == "expanded_conv-input:112x112x40-output:112x112x24-expand:1-kernel:3-stride:1-idskip:0");
  CHECK(keys[2] == "expanded_conv-input:112x112x24-output:56x56x32-expand:6-kernel:5-stride:2-idskip:0");
  CHECK(keys[3] == "expanded_conv-input:56x56x32-output:56x56x32-expand:6-kernel:5-stride:1-idskip:1");
  CHECK(keys[keys.size() - 2] == "Conv_1-input:7x7x416-output:7x7x1664");
  CHECK(keys.back() == "Logits-input:7x7x1664-output:1000");
}

TEST_CASE("lut: OFA's Note10 tables reproduce the test vectors of ofa-reference.md §4.7") {
  HWNAS_REQUIRE_DATA(dir, "note10-lut");
  const auto tables = read_lut_folder(dir);
  REQUIRE(tables.size() == 17);
  CHECK(tables.begin()->first == 160);
  CHECK(tables.rbegin()->first == 224);
  const LutEstimator lut(MbConvSpace::ofa_mobilenet_v3(1.2), tables);
  CHECK(std::abs(lut.predict(uniform(7, 6, 4, 224)) - 92.3980) < 1e-4);
  CHECK(std::abs(lut.predict(uniform(3, 3, 2, 160)) - 9.8903) < 1e-4);
  // The batch form is the single form, row by row.
  const std::vector<Architecture> batch{uniform(7, 6, 4, 224), uniform(3, 3, 2, 160), uniform(5, 4, 3, 192)};
  const auto many = lut.predict(batch);
  for (std::size_t i = 0; i < batch.size(); ++i) CHECK(many[i] == lut.predict(batch[i]));
}

TEST_CASE("lut: every key the w1.2 space can produce is in the Note10 table of its resolution, and nothing else") {
  HWNAS_REQUIRE_DATA(dir, "note10-lut");
  const auto tables = read_lut_folder(dir);
  const auto space = MbConvSpace::ofa_mobilenet_v3(1.2);
  for (const auto& [r, table] : tables) {
    CAPTURE(r);
    // Uniform (k, e) at depth 4 holds every block signature: first and
    // other block of each stage, for each of the 9 (k, e) pairs.
    std::set<std::string> keys;
    for (int k : {3, 5, 7}) {
      for (int e : {3, 4, 6}) {
        for (const auto& key : lut_keys(space, uniform(k, e, 4, r))) keys.insert(key);
      }
    }
    CHECK(keys.size() == 96);  // 5 head/tail + block 0 + 10 signatures x 9 pairs
    CHECK(table.size() == 96);
    std::set<std::string> in_table;
    for (const auto& [key, entry] : table.entries()) in_table.insert(key);
    CHECK(keys == in_table);
  }
}

TEST_CASE("lut: lut_layers lists every key a space can produce, for every preset") {
  HWNAS_REQUIRE_DATA(dir, "note10-lut");
  const auto tables = read_lut_folder(dir);
  const auto w12 = MbConvSpace::ofa_mobilenet_v3(1.2);
  for (const auto& [r, table] : tables) {
    const auto items = lut_layers(w12, r);
    std::set<std::string> keys, in_table;
    for (const auto& [key, layers] : items) keys.insert(key);
    for (const auto& [key, entry] : table.entries()) in_table.insert(key);
    CHECK(keys == in_table);
  }
  // CompOFA fixed-kernel: one kernel per stage, expand coupled to depth
  // (3 pairs), first and later block: 5 x 3 x 2 + block 0 + 5 = 36.
  CHECK(lut_layers(MbConvSpace::compofa(CompofaKernel::fixed), 224).size() == 36);
  // CompOFA elastic: 3 kernels x 3 expands: 5 x 9 x 2 + 6 = 96, as OFA.
  CHECK(lut_layers(MbConvSpace::compofa(CompofaKernel::elastic), 224).size() == 96);
  // ProxylessNAS: 6 stages, the last with one block; Conv, block 0, Conv_1, Logits.
  const auto proxyless = lut_layers(MbConvSpace::ofa_proxyless(1.3), 224);
  CHECK(proxyless.size() == std::size_t(5 * 9 * 2 + 9 + 4));
  CHECK(proxyless.at("Logits-input:7x7x1664-output:1000").size() == 2);  // pool + classifier
  // Every key of a random sub-network is in the list.
  Rng rng(3);
  for (const auto& space : {MbConvSpace::ofa_mobilenet_v3(), MbConvSpace::compofa(CompofaKernel::fixed),
                            MbConvSpace::ofa_proxyless(1.3)}) {
    const auto items = lut_layers(space, 192);
    for (int i = 0; i < 50; ++i) {
      Architecture a = space.sample(rng);
      a.r = 192;
      for (const auto& key : lut_keys(space, a)) CHECK(items.count(key) == 1);
    }
  }
  CHECK_THROWS_WITH_AS(lut_layers(w12, 100), "ofa-mbv3: resolution 100 is not in the space", InvalidArgument);
}

TEST_CASE("lut: loading and saving OFA's YAML gives back the original bytes") {
  HWNAS_REQUIRE_DATA(dir, "note10-lut");
  const auto tables = read_lut_folder(dir);
  const auto out = temp_dir("roundtrip");
  write_lut_folder(out, tables);
  for (const auto& [r, table] : tables) {
    const std::string name = std::to_string(r) + "_lookup_table.yaml";
    CAPTURE(name);
    CHECK(lut_to_yaml(table) == detail::read_file(dir / name));
    CHECK(detail::read_file(out / name) == detail::read_file(dir / name));
  }
  const auto again = read_lut_folder(out);
  CHECK(again == tables);
  // No temp files left behind.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& f : std::filesystem::directory_iterator(out)) ++files;
  CHECK(files == tables.size());
  // The JSON form round-trips exactly too.
  write_lut_json(out / "note10.json", tables);
  const auto from_json = read_lut_json(out / "note10.json");
  CHECK(from_json == tables);
  CHECK(lut_to_json(from_json) == lut_to_json(tables));
  std::filesystem::remove_all(out);
}

TEST_CASE("lut: floats are written as PyYAML writes them") {
  CHECK(detail::python_float(0.1) == "0.1");
  CHECK(detail::python_float(0.0) == "0.0");
  CHECK(detail::python_float(3.0) == "3.0");
  CHECK(detail::python_float(-2.5) == "-2.5");
  CHECK(detail::python_float(0.0001) == "0.0001");
  CHECK(detail::python_float(1e-05) == "1.0e-05");
  CHECK(detail::python_float(1.5e-07) == "1.5e-07");
  CHECK(detail::python_float(100000.0) == "100000.0");
  CHECK(detail::python_float(123.456) == "123.456");
  CHECK(detail::python_float(1e16) == "1.0e+16");
  CHECK(detail::python_float(1234567890123456.0) == "1234567890123456.0");
  CHECK(detail::python_float(0.008482688391038698) == "0.008482688391038698");
  // Any table survives a YAML round trip exactly, odd keys included.
  LookupTable t("hand");
  t.set("Conv-input:8x8x3-output:4x4x8", {3, 1e-05, 0.0});
  t.set("a key: with \"quotes\" and \\", {1, 2.5, 0.25});
  t.set("-leading-dash", {0, 1e20, 1.0 / 3.0});
  const auto back = parse_lut_yaml(lut_to_yaml(t), "hand.yaml");
  CHECK(back == t);
  CHECK(lut_to_yaml(back) == lut_to_yaml(t));
  CHECK(lut_to_yaml(LookupTable("empty")) == "{}\n");
  CHECK(parse_lut_yaml("{}\n", "e.yaml").empty());
}

TEST_CASE("lut: bad YAML names the file, line and what is wrong") {
  const std::string good = "Conv-input:8x8x3-output:4x4x8:\n  count: 3\n  mean: 0.5\n  std: 0.1\n";
  CHECK(parse_lut_yaml(good, "t.yaml").size() == 1);
  auto err = [](const std::string& text) { return error_of([&] { parse_lut_yaml(text, "t.yaml"); }); };
  CHECK(err("a:\n  count: 3\n  mean: [1\n").find("t.yaml:") == 0);
  CHECK(err("a:\n  count: 3\n  mean: [1\n").find("malformed YAML") != std::string::npos);
  CHECK(err("a:\n  count: 3\n  std: 0.1\n") == "t.yaml:2:3: a: missing field 'mean'");
  CHECK(err("a:\n  count: 3\n  mean: 0.5\n  std: 0.1\n  min: 0.4\n") ==
        "t.yaml:5:3: a: unknown field 'min' (expected count, mean, std)");
  CHECK(err("a:\n  count: 3\n  mean: fast\n  std: 0.1\n") == "t.yaml:3:9: a.mean: expected a number, found 'fast'");
  CHECK(err("a:\n  count: 2.5\n  mean: 1\n  std: 0.1\n") == "t.yaml:2:10: a.count: expected an integer, found '2.5'");
  CHECK(err("a:\n  count: 3\n  mean: -1\n  std: 0.1\n") == "t.yaml:1:1: a: mean must be finite and >= 0 (ms), found -1.000000");
  CHECK(err("a:\n  count: 3\n  mean: .nan\n  std: 0.1\n").find("mean must be finite") != std::string::npos);
  CHECK(err(good + good) == "t.yaml:5:1: repeated key 'Conv-input:8x8x3-output:4x4x8'");
  CHECK(err("a:\n  count: 3\n  count: 4\n  mean: 1\n  std: 0\n") == "t.yaml:3:3: a: repeated field 'count'");
  CHECK(err("") == "t.yaml: empty lookup table");
  CHECK(err("- 1\n- 2\n") == "t.yaml:1:1: expected a mapping of layer keys");
  CHECK(err("a: 3\n") == "t.yaml:1:4: a: expected {count, mean, std}");
  // Deep nesting is an error, not a stack overflow.
  CHECK(err("a: " + std::string(100000, '[')).find("t.yaml") == 0);
  CHECK(error_of([] { read_lut_yaml("/nonexistent/160_lookup_table.yaml"); }).find("cannot open") != std::string::npos);
  CHECK(error_of([] { read_lut_folder("/nonexistent-folder"); }) == "lut: '/nonexistent-folder' is not a folder");
  const auto empty = temp_dir("empty");
  CHECK(error_of([&] { read_lut_folder(empty); }).find("no <r>_lookup_table.yaml file") != std::string::npos);
  std::filesystem::remove_all(empty);
}

TEST_CASE("lut: bad JSON tables name the field") {
  auto err = [](const std::string& text) { return error_of([&] { parse_lut_json(text, "t.json"); }); };
  CHECK(err("[]") == "t.json: expected an object with format, version and tables");
  CHECK(err(R"({"format": "x", "version": 1, "tables": {}})") == "t.json: field 'format' must be \"hwnas-lut\"");
  CHECK(err(R"({"format": "hwnas-lut", "version": 2, "tables": {}})").find("field 'version' must be 1") !=
        std::string::npos);
  CHECK(err(R"({"format": "hwnas-lut", "version": 1, "tables": {"abc": {}}})") ==
        "t.json: tables.abc: the resolution must be an integer in [1, 4096], found 'abc'");
  CHECK(err(R"({"format": "hwnas-lut", "version": 1, "tables": {"160": {"k": {"count": 1, "mean": 1}}}})") ==
        "t.json: tables.160.k must be {\"count\", \"mean\", \"std\"}");
  CHECK(err(R"({"format": "hwnas-lut", "version": 1, "tables": {"160": {"k": {"count": 1, "mean": -1, "std": 0}}}})")
            .find("tables.160.k: lut") != std::string::npos);
  CHECK(err("{").find("t.json:1:") == 0);
}

TEST_CASE("lut: the estimator never answers 0 for what it does not know") {
  const auto space = MbConvSpace::ofa_mobilenet_v3(1.2);
  LookupTables tables;
  LookupTable t("hand/160_lookup_table.yaml");
  for (const auto& key : lut_keys(space, uniform(3, 3, 2, 160))) t.set(key, {1, 0.5, 0.0});
  tables.emplace(160, t);
  const LutEstimator lut(space, tables);
  CHECK(lut.predict(uniform(3, 3, 2, 160)) == doctest::Approx(0.5 * 16));
  CHECK(error_of([&] { lut.predict(uniform(3, 3, 2, 224)); }) == "lut: no table for resolution 224 (tables: 160)");
  CHECK(error_of([&] { lut.predict(uniform(5, 3, 2, 160)); }) ==
        "lut: no entry 'expanded_conv-input:80x80x24-output:40x40x32-expand:72-kernel:5-stride:2-idskip:0-se:0-hs:0' "
        "in table 'hand/160_lookup_table.yaml' (16 entries)");
  CHECK(error_of([&] { lut.predict(uniform(4, 3, 2, 160)); }).find("ks[0]") != std::string::npos);
  CHECK(error_of([&] { LutEstimator(space, {}); }) == "lut: no tables (one per input resolution is needed)");
  CHECK(error_of([&] { t.set("", {}); }) == "lut 'hand/160_lookup_table.yaml': empty key");
  CHECK(error_of([&] { t.set("a\nb", {}); }).find("control character") != std::string::npos);
  CHECK(error_of([&] { t.set("a", {-1, 0, 0}); }).find("count must be >= 0") != std::string::npos);
}

namespace {

/// The slow sum the estimator's indexed parts must reproduce: every key of
/// the network, in order, looked up by its text.
template <class Space>
double sum_of_keys(const Space& space, const LookupTable& table, const typename Space::arch_type& arch) {
  double sum = 0;
  for (const auto& key : lut_keys(space, arch)) sum += table.at(key).mean;
  return sum;
}

/// A table of every key `space` can produce at r, with irregular means.
template <class Space>
LookupTable random_table(const Space& space, int r, Rng& rng) {
  LookupTable t("random");
  for (const auto& [key, layers] : lut_layers(space, r)) t.set(key, {1, rng.uniform01() * 10, 0});
  return t;
}

}  // namespace

TEST_CASE("lut: the estimator's indexed sum is the sum over the keys, bit for bit, in every space") {
  Rng rng(11);
  for (const auto& space : {MbConvSpace::ofa_mobilenet_v3(1.2).with_resolutions({160, 192}),
                            MbConvSpace::compofa(CompofaKernel::fixed).with_resolutions({160, 192}),
                            MbConvSpace::compofa(CompofaKernel::elastic).with_resolutions({160, 192}),
                            MbConvSpace::ofa_proxyless(1.3).with_resolutions({160, 192})}) {
    LookupTables tables;
    for (const int r : space.options().resolutions) tables.emplace(r, random_table(space, r, rng));
    const LutEstimator lut(space, tables);
    for (int i = 0; i < 300; ++i) {
      const auto a = space.sample(rng);
      CHECK(lut.predict(a) == sum_of_keys(space, tables.at(a.r), a));
    }
  }
  const auto fbnet = fbnet_space(FbnetInput::cifar100);
  const int r = lut_resolution(fbnet);
  LookupTables tables;
  tables.emplace(r, random_table(fbnet, r, rng));
  const BasicLutEstimator<CategoricalSpace> lut(fbnet, tables);
  for (int i = 0; i < 300; ++i) {
    const auto a = fbnet.sample(rng);
    CHECK(lut.predict(a) == sum_of_keys(fbnet, tables.at(r), a));
  }
  // A table without some of a network's keys still names the missing one.
  LookupTable partial("partial");
  const auto a = fbnet.sample(rng);
  const auto keys = lut_keys(fbnet, a);
  for (std::size_t k = 1; k < keys.size(); ++k) partial.set(keys[k], {1, 1.0, 0});
  const BasicLutEstimator<CategoricalSpace> missing(fbnet, {{r, partial}});
  CHECK(error_of([&] { missing.predict(a); }).find("no entry '" + keys[0] + "'") != std::string::npos);
}

TEST_CASE("lut: predict is thread-safe") {
  HWNAS_REQUIRE_DATA(dir, "note10-lut");
  const LutEstimator lut(MbConvSpace::ofa_mobilenet_v3(1.2), read_lut_folder(dir));
  Rng rng(7);
  std::vector<Architecture> archs;
  const auto space = MbConvSpace::ofa_mobilenet_v3(1.2).with_resolutions({160, 176, 192, 208, 224});
  for (int i = 0; i < 200; ++i) archs.push_back(space.sample(rng));
  const auto serial = lut.predict(archs);
  std::vector<std::vector<double>> results(8);
  std::vector<std::thread> threads;
  for (auto& out : results) threads.emplace_back([&] { out = lut.predict(archs); });
  for (auto& th : threads) th.join();
  for (const auto& out : results) CHECK(out == serial);
}
