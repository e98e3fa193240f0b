// Architecture I/O: OFA spec JSON in both forms, spec lists, net.config in
// both dialects (real files from ../shared/data/net-configs).
#include <doctest/doctest.h>

#include <filesystem>

#include "hwnas/io/arch.hpp"
#include "test_support.hpp"

using namespace hwnas;

namespace {

const char* kSpec =
    R"({"wid": null, "ks": [3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5],)"
    R"( "e": [3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4], "d": [2, 3, 4, 2, 3], "r": [192]})";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

}  // namespace

TEST_CASE("arch io: both spec forms parse to the same architecture") {
  const auto a = parse_arch_json(kSpec);
  CHECK(a.ks.size() == 20);
  CHECK(a.ks[2] == 7);
  CHECK(a.e[1] == 4);
  CHECK(a.d == std::vector<int>{2, 3, 4, 2, 3});
  CHECK(a.r == 192);
  const std::string image_size_form = arch_to_json(a, SpecForm::image_size);
  CHECK(image_size_form.find("\"image_size\": 192}") != std::string::npos);
  CHECK(parse_arch_json(image_size_form) == a);
  CHECK(parse_arch_json(arch_to_json(a)) == a);
  CHECK(arch_to_json(a).find("\"r\": [192]}") != std::string::npos);
  // A scalar "r" and integral floats (numpy) are accepted too.
  auto scalar = replace_all(kSpec, "\"r\": [192]", "\"r\": 192.0");
  CHECK(parse_arch_json(scalar) == a);
  MbConvSpace::ofa_mobilenet_v3().validate(a);
}

TEST_CASE("arch io: Python's separators, byte-identical to OFA's accuracy-dataset keys") {
  HWNAS_REQUIRE_DATA(dict, "ofa-acc-224/224.dict");
  const auto values = nlohmann::json::parse(detail::read_file(dict));
  REQUIRE(values.size() == 1000);
  int checked = 0;
  for (const auto& [key, top1] : values.items()) {
    const auto arch = parse_arch_json(key);
    CHECK(arch_to_json(arch, SpecForm::image_size) == key);
    CHECK(arch.r == 224);
    CHECK(top1.get<double>() > 70.0);
    if (++checked == 50) break;
  }
}

TEST_CASE("arch io: malformed JSON names the line and column") {
  const std::string text = "{\"ks\": [3, 5],\n  \"e\": [3 4]}";
  CHECK_THROWS_WITH_AS(parse_arch_json(text, "arch.json"), doctest::Contains("arch.json:2:11: malformed JSON"),
                       FormatError);
  try {
    parse_arch_json(text, "arch.json");
  } catch (const FormatError& e) {
    CHECK(e.line() == 2);
    CHECK(e.column() == 11);  // the "4" where a comma or "]" belongs
  }
  CHECK_THROWS_WITH_AS(parse_arch_json(""), doctest::Contains("malformed JSON"), FormatError);
}

TEST_CASE("arch io: semantic errors name the field") {
  CHECK_THROWS_WITH_AS(parse_arch_json(replace_all(kSpec, "\"d\"", "\"depth\"")),
                       doctest::Contains("unknown field 'depth'"), FormatError);
  CHECK_THROWS_WITH_AS(parse_arch_json(R"({"ks": [3], "e": [3], "r": [224]})"),
                       doctest::Contains("missing field 'd'"), FormatError);
  CHECK_THROWS_WITH_AS(parse_arch_json(replace_all(kSpec, "[2, 3, 4, 2, 3]", "[2, 3.5, 4, 2, 3]")),
                       doctest::Contains("field 'd[1]': expected an integer, found 3.5"), FormatError);
  CHECK_THROWS_WITH_AS(parse_arch_json(replace_all(kSpec, "\"r\": [192]", "\"r\": [192, 224]")),
                       doctest::Contains("field 'r': expected one resolution"), FormatError);
  CHECK_THROWS_WITH_AS(parse_arch_json(replace_all(kSpec, "\"r\": [192]", "\"image_size\": 1, \"r\": 2")),
                       doctest::Contains("both 'r' and 'image_size'"), FormatError);
  CHECK_THROWS_WITH_AS(parse_arch_json("[1, 2]"), doctest::Contains("expected a JSON object"), FormatError);
  CHECK_THROWS_WITH_AS(parse_arch_json(replace_all(kSpec, "\"e\": [3,", "\"e\": \"3\", \"x\": [3,")),
                       doctest::Contains("unknown field 'x'"), FormatError);
}

TEST_CASE("arch io: lists of specs (array, JSON lines, one pretty object)") {
  Rng rng(4);
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  std::vector<Architecture> archs;
  std::string lines, array = "[";
  for (int i = 0; i < 5; ++i) {
    archs.push_back(space.sample(rng));
    lines += arch_to_json(archs.back()) + "\n";
    array += (i ? ",\n" : "") + arch_to_json(archs.back(), SpecForm::image_size);
  }
  array += "]";
  CHECK(parse_arch_list(lines) == archs);
  CHECK(parse_arch_list(array) == archs);
  const std::string pretty = nlohmann::json::parse(arch_to_json(archs[0])).dump(4);
  CHECK(parse_arch_list(pretty) == std::vector<Architecture>{archs[0]});
  // An error on the third line of a JSON-lines file names that line.
  std::string bad = arch_to_json(archs[0]) + "\n\n{\"ks\": [3,, 3]}\n";
  CHECK_THROWS_WITH_AS(parse_arch_list(bad, "specs.jsonl"), doctest::Contains("specs.jsonl:3:"), FormatError);
  CHECK_THROWS_WITH_AS(parse_arch_list(" \n", "specs.jsonl"), "specs.jsonl: file is empty", FormatError);

  const auto dir = std::filesystem::temp_directory_path() / "hwnas_test_arch_io";
  std::filesystem::create_directories(dir);
  detail::write_file_atomic(dir / "specs.jsonl", lines);
  CHECK(read_arch_file(dir / "specs.jsonl") == archs);
  std::filesystem::remove_all(dir);
  CHECK_THROWS_AS(read_arch_file(dir / "missing.json"), IoError);
}

TEST_CASE("arch io: real MobileNetV3 net.config (old dialect) matches the w1.0 space") {
  HWNAS_REQUIRE_DATA(dir, "net-configs");
  const auto net = dir / "pixel1_lat@20ms_top1@71.4_finetune@25.net.json";
  const int r = read_run_config_image_size(dir / "pixel1_lat@20ms_top1@71.4_finetune@25.run.json");
  CHECK(r == 152);
  const auto cfg = read_net_config(net, r);
  CHECK(cfg.name == "MobileNetV3");
  REQUIRE(cfg.layers.size() == 1 + 11 + 4);
  CHECK(cfg.layers[0].out_size == 76);
  CHECK(cfg.layers[1].shortcut);
  CHECK(cfg.layers[4].se_channels == make_divisible(72 / 4));  // 24 -> 40, k5, e3, SE
  const auto space = MbConvSpace::ofa_mobilenet_v3(1.0);
  const auto arch = match_net_config(cfg, space);
  REQUIRE(arch.has_value());
  // Read from the file: two blocks per stage.
  CHECK(arch->d == std::vector<int>{2, 2, 2, 2, 2});
  CHECK(arch->ks == std::vector<int>{3, 3, 0, 0, 5, 5, 0, 0, 7, 3, 0, 0, 5, 3, 0, 0, 3, 7, 0, 0});
  CHECK(arch->e == std::vector<int>{3, 3, 0, 0, 3, 3, 0, 0, 4, 3, 0, 0, 3, 4, 0, 0, 6, 6, 0, 0});
  CHECK(arch->r == 152);
  CHECK(space.cost(*arch).macs == network_cost(cfg.layers).macs);
  CHECK_FALSE(match_net_config(cfg, MbConvSpace::ofa_mobilenet_v3(1.2)).has_value());
  CHECK_FALSE(match_net_config(cfg, MbConvSpace::compofa(CompofaKernel::fixed)).has_value());
  CHECK_FALSE(match_net_config(cfg, MbConvSpace::ofa_proxyless()).has_value());

  // The new dialect (ResidualBlock / conv / MBConvLayer) gives the same layers.
  std::string text = detail::read_file(net);
  text = replace_all(text, "MobileInvertedResidualBlock", "ResidualBlock");
  text = replace_all(text, "mobile_inverted_conv", "conv");
  text = replace_all(text, "MBInvertedConvLayer", "MBConvLayer");
  CHECK(parse_net_config(text, r).layers == cfg.layers);
}

TEST_CASE("arch io: real ProxylessNAS net.config matches the w1.3 space") {
  HWNAS_REQUIRE_DATA(dir, "net-configs");
  const auto stem = std::string("v100_gpu64@9ms_top1@75.3_finetune@25");
  const int r = read_run_config_image_size(dir / (stem + ".run.json"));
  CHECK(r == 188);
  const auto cfg = read_net_config(dir / (stem + ".net.json"), r);
  CHECK(cfg.name == "ProxylessNASNets");
  const auto arch = match_net_config(cfg, MbConvSpace::ofa_proxyless(1.3));
  REQUIRE(arch.has_value());
  CHECK(arch->d == std::vector<int>{2, 2, 3, 3, 3, 1});
  CHECK(arch->ks[20] == 3);
  CHECK(arch->e[20] == 4);
  CHECK_FALSE(match_net_config(cfg, MbConvSpace::ofa_proxyless(1.0)).has_value());
}

TEST_CASE("arch io: bad net.config input") {
  HWNAS_REQUIRE_DATA(dir, "net-configs");
  const std::string text = detail::read_file(dir / "pixel1_lat@20ms_top1@71.4_finetune@25.net.json");
  CHECK_THROWS_WITH_AS(parse_net_config(replace_all(text, "\"MobileNetV3\"", "\"ResNet\""), 224, "n.json"),
                       doctest::Contains("n.json: field 'name'"), FormatError);
  // Break the chain: the second block's input no longer matches.
  auto broken = text;
  const auto pos = broken.find("\"in_channels\": 16", broken.find("\"blocks\"") + 200);
  broken.replace(pos, 17, "\"in_channels\": 17");
  CHECK_THROWS_WITH_AS(parse_net_config(broken, 224, "n.json"),
                       doctest::Contains("blocks[1].mobile_inverted_conv.in_channels' = 17"), FormatError);
  CHECK_THROWS_WITH_AS(parse_net_config(replace_all(text, "\"classifier\"", "\"head\""), 224, "n.json"),
                       doctest::Contains("missing field 'classifier'"), FormatError);
  CHECK_THROWS_WITH_AS(parse_net_config(replace_all(text, "\"h_swish\"", "\"gelu\""), 224, "n.json"),
                       doctest::Contains("act_func': activation: unknown act_func 'gelu'"), FormatError);
  CHECK_THROWS_AS(parse_net_config(text, 0), InvalidArgument);
}

// Regressions found by tests/test_robustness.cpp: nlohmann exceptions other
// than parse_error leaked out of the parsers instead of FormatError.
TEST_CASE("arch io: a number beyond double's range is a FormatError with its position") {
  // nlohmann reports "1e400" as out_of_range (406), not as a parse_error.
  const std::string spec = replace_all(kSpec, "\"r\": [192]", "\"r\": [1e400]");
  CHECK_THROWS_WITH_AS(parse_arch_json(spec, "a.json"),
                       doctest::Contains("a.json:1:178: malformed JSON: number overflow parsing '1e400'"),
                       FormatError);
  CHECK_THROWS_WITH_AS(parse_arch_json("{\"ks\": [3],\n \"e\": [-1e400]}", "a.json"),
                       doctest::Contains("a.json:2:8: malformed JSON"), FormatError);
  // Single object, array and JSON lines all report it.
  CHECK_THROWS_AS(parse_arch_list(spec), FormatError);
  CHECK_THROWS_AS(parse_arch_list("[" + spec + "]"), FormatError);
  CHECK_THROWS_WITH_AS(parse_arch_list(std::string(kSpec) + "\n" + spec + "\n", "s.jsonl"),
                       doctest::Contains("s.jsonl:2:178: malformed JSON"), FormatError);
  CHECK_THROWS_AS(parse_net_config("{\"name\": \"MobileNetV3\", \"x\": 1e999}", 224), FormatError);
}

TEST_CASE("arch io: net.config blocks of the wrong JSON type are FormatErrors") {
  // json::value("name", ...) threw type_error for a conv or shortcut that is
  // not an object, or whose name is not a string.
  const std::string config = R"({"name": "MobileNetV3",
    "first_conv": {"kernel_size": 3, "stride": 2, "in_channels": 3, "out_channels": 16},
    "blocks": [{"conv": CONV, "shortcut": SHORTCUT}],
    "final_expand_layer": {"kernel_size": 1, "stride": 1, "in_channels": 16, "out_channels": 32},
    "feature_mix_layer": {"kernel_size": 1, "stride": 1, "in_channels": 32, "out_channels": 64},
    "classifier": {"in_features": 64, "out_features": 10}})";
  const std::string conv =
      R"({"name": "MBConvLayer", "in_channels": 16, "out_channels": 16, "kernel_size": 3, "stride": 1,)"
      R"( "expand_ratio": 1})";
  auto make = [&](const std::string& c, const std::string& shortcut) {
    return replace_all(replace_all(config, "CONV", c), "SHORTCUT", shortcut);
  };
  CHECK(parse_net_config(make(conv, "null"), 224).layers.size() == 6);
  CHECK(parse_net_config(make(conv, R"({"name": "IdentityLayer"})"), 224).layers[1].shortcut);
  CHECK_THROWS_WITH_AS(parse_net_config(make("5", "null"), 224, "n.json"),
                       doctest::Contains("n.json: field 'blocks[0].conv.name': expected MBConvLayer"), FormatError);
  CHECK_THROWS_WITH_AS(parse_net_config(make(R"({"name": 5})", "null"), 224),
                       doctest::Contains("field 'blocks[0].conv.name'"), FormatError);
  CHECK_THROWS_WITH_AS(parse_net_config(make(conv, "7"), 224),
                       doctest::Contains("field 'blocks[0].shortcut': expected null or IdentityLayer"), FormatError);
  CHECK_THROWS_WITH_AS(parse_net_config(make(conv, R"({"name": ["IdentityLayer"]})"), 224),
                       doctest::Contains("field 'blocks[0].shortcut'"), FormatError);
}

TEST_CASE("arch io: error locations in pretty-printed specs, JSON lines and arrays") {
  // A pretty-printed spec broken on its third line is one document, not JSON lines.
  const std::string pretty = "{\n  \"ks\": [3, 5],\n  \"e\": [3 4],\n  \"d\": [2], \"r\": [224]\n}\n";
  try {
    parse_arch_list(pretty, "p.json");
    FAIL("no exception");
  } catch (const FormatError& e) {
    CHECK(e.file() == "p.json");
    CHECK(e.line() == 3);
    CHECK(e.column() == 11);
  }
  // A field error on the second JSON line names that line.
  const std::string lines = std::string(kSpec) + "\n" + replace_all(kSpec, "\"d\"", "\"depth\"") + "\n";
  try {
    parse_arch_list(lines, "s.jsonl");
    FAIL("no exception");
  } catch (const FormatError& e) {
    CHECK(e.file() == "s.jsonl");
    CHECK(e.line() == 2);
    CHECK(e.message() == "unknown field 'depth'; expected ks, e, d, r or image_size (and wid)");
  }
  CHECK_THROWS_WITH_AS(parse_arch_list("[" + std::string(kSpec) + ", {\"ks\": 1}]", "a.json"),
                       doctest::Contains("a.json: element 1: field 'ks': expected a list of integers, found 1"),
                       FormatError);
}

TEST_CASE("arch io: deeply nested input is an error, not a stack overflow") {
  const std::string deep = "{\"ks\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK_THROWS_WITH_AS(parse_arch_json(deep), doctest::Contains("field 'ks[0]': expected an integer, found a list of 1 values"),
                       FormatError);
  CHECK_THROWS_AS(parse_arch_list(deep), FormatError);
}
