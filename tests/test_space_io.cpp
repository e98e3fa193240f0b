// Tests of hwnas/io/space.hpp: categorical space definitions as JSON and
// architectures of such spaces as JSON lists.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "hwnas/io/space.hpp"
#include "hwnas/space/fbnet_space.hpp"

using hwnas::CategoricalArch;
using hwnas::CategoricalSpace;
using hwnas::FormatError;

namespace {
// The message of the FormatError a definition gives, or "no error".
std::string definition_error(const std::string& text, const std::string& source) {
  try {
    hwnas::parse_space_json(text, source);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("space io: a definition with repeat and labels is FBNet") {
  const CategoricalSpace space = hwnas::parse_space_json(R"({
    "name": "fbnet",
    "decisions": [{"name": "op", "repeat": 22,
                   "labels": ["k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip"]}]
  })");
  CHECK(space.name() == "fbnet");
  CHECK(space.decisions() == hwnas::fbnet_space().decisions());
  CHECK_FALSE(space.has_layers());  // the preset also describes its network
}

TEST_CASE("space io: a network's layers, written and read back") {
  for (const auto input : {hwnas::FbnetInput::cifar100, hwnas::FbnetInput::imagenet}) {
    const CategoricalSpace fbnet = hwnas::fbnet_space(input);
    CHECK(hwnas::parse_space_json(hwnas::space_to_json(fbnet).dump()) == fbnet);
  }
  // A small network by hand: a 3x3 stem on 8x8x3, one decision (a 3x3
  // MBConv block with e = 2, or the identity), a pooled classifier.
  const CategoricalSpace space = hwnas::parse_space_json(R"({
    "name": "mini",
    "stem": [{"kind": "first_conv", "in_size": 8, "in_channels": 3, "out_channels": 4, "kernel": 3, "use_bn": true}],
    "decisions": [{"name": "op", "labels": ["mb", "skip"], "layers": [
      [{"kind": "mbconv", "in_size": 8, "in_channels": 4, "out_channels": 4, "kernel": 3, "expand_ratio": 2,
        "act": "relu", "shortcut": true}],
      []]}],
    "head": [{"kind": "pool", "in_size": 8, "in_channels": 4, "out_channels": 4},
             {"kind": "classifier", "in_size": 1, "in_channels": 4, "out_channels": 10, "bias": true}]
  })");
  REQUIRE(space.has_layers());
  // stem 64 px x 27 x 4 = 6912; block: expand 64 x 4 x 8 = 2048, depthwise
  // 64 x 8 x 9 = 4608, project 64 x 8 x 4 = 2048; classifier 40.
  CHECK(space.cost({0}).macs == 6912 + 2048 + 4608 + 2048 + 40);
  CHECK(space.cost({1}).macs == 6912 + 40);
  // Parameters: stem 108 + 8 (BN); block 32 + 16, 72 + 16, 32 + 8; fc 40 + 10.
  CHECK(space.cost({0}).params == 116 + 48 + 88 + 40 + 50);
  CHECK(space.layers({1}).size() == 3);
  CHECK(hwnas::parse_space_json(hwnas::space_to_json(space).dump()) == space);

  auto error = [](const std::string& text) { return definition_error(text, "n.json"); };
  const std::string conv = R"({"kind": "conv", "in_size": 8, "in_channels": 3, "out_channels": 4})";
  CHECK(error(R"({"decisions": [{"name": "a", "choices": [1], "layers": [[{"kind": "conv", "kernal": 3}]]}]})")
            .find("field 'decisions[0].layers[0][0].kernal': unknown field") != std::string::npos);
  CHECK(error(R"({"decisions": [{"name": "a", "choices": [1], "layers": [[{"kind": "dense"}]]}]})")
            .find("field 'decisions[0].layers[0][0].kind': layer kind: unknown 'dense'") != std::string::npos);
  CHECK(error(R"({"stem": [{"kind": "conv", "in_size": 8, "in_channels": 3, "out_channels": 4, "kernel": 2}],
                  "decisions": [{"name": "a", "choices": [1]}]})")
            .find("field 'stem[0]': kernel = 2: expected an odd kernel") != std::string::npos);
  CHECK(error(R"({"stem": [)" + conv + R"(], "decisions": [{"name": "a", "choices": [1, 2]}]})")
            .find("decision 'a' (index 0): 0 layer lists for 2 choices") != std::string::npos);
  CHECK(error(R"({"stem": [)" + conv + R"(], "decisions": [{"name": "a", "choices": [1], "layers": [[)" + conv +
              "]]}]}")
            .find("choice 1: layer 0 (conv): takes 8x8x3 but the layers before it give 8x8x4") != std::string::npos);
}

TEST_CASE("space io: written and read back") {
  const CategoricalSpace space({{"width", {32, 64, 128}}, {"act", {0, 1}, {"relu", "hswish"}}, {"lr", {0.1, 0.01}}},
                               "mixed");
  const std::string text = hwnas::space_to_json(space).dump();
  CHECK(text ==
        R"({"name":"mixed","decisions":[{"name":"width","choices":[32.0,64.0,128.0]},)"
        R"({"name":"act","choices":[0.0,1.0],"labels":["relu","hswish"]},{"name":"lr","choices":[0.1,0.01]}]})");
  CHECK(hwnas::parse_space_json(text) == space);
}

TEST_CASE("space io: bad definitions name the field") {
  auto error = [](const std::string& text) { return definition_error(text, "s.json"); };
  CHECK(error("[1]").find("s.json: expected a space definition") != std::string::npos);
  CHECK(error(R"({"decisions": []})").find("field 'decisions': expected a non-empty list") != std::string::npos);
  CHECK(error(R"({"decisions": [{"name": "a", "choices": [1, "x"]}]})")
            .find("field 'decisions[0].choices[1]': expected a number, found \"x\"") != std::string::npos);
  CHECK(error(R"({"decisions": [{"name": "a"}]})").find("field 'decisions[0]': give 'choices', 'labels' or both") !=
        std::string::npos);
  CHECK(error(R"({"decisions": [{"name": "a", "choices": [1], "kind": 2}]})")
            .find("field 'decisions[0].kind': unknown field") != std::string::npos);
  CHECK(error(R"({"decisions": [{"name": "a", "choices": [1]}], "extra": 1})").find("field 'extra': unknown field") !=
        std::string::npos);
  CHECK(error(R"({"decisions": [{"name": "a", "repeat": 0, "choices": [1]}]})")
            .find("field 'decisions[0].repeat': expected an integer in [1, 100000], found 0") != std::string::npos);
  CHECK(error(R"({"decisions": [{"name": "a", "choices": [1, 1]}]})").find("s.json: categorical space: decision 'a'") !=
        std::string::npos);
  CHECK(error(R"({"decisions": [{"name": "a", "choices": [1]})").find("s.json:1:") != std::string::npos);  // malformed
}

TEST_CASE("space io: architectures as lists of labels or values") {
  const CategoricalSpace space = hwnas::fbnet_space();
  nlohmann::json v = nlohmann::json::array();
  for (int i = 0; i < 22; ++i) v.push_back(i % 2 ? nlohmann::json("skip") : nlohmann::json(i % 9));
  const CategoricalArch arch = hwnas::categorical_arch_from_json(v, space);
  CHECK(arch[0] == 0);
  CHECK(arch[1] == 8);
  CHECK(arch[4] == 4);
  const auto back = hwnas::categorical_arch_to_json(arch, space);
  CHECK(back[1] == "skip");
  CHECK(back[4] == "k5_e1");
  CHECK(hwnas::categorical_arch_from_json(back, space) == arch);
  v[3] = "k7_e6";
  CHECK_THROWS_WITH_AS(hwnas::categorical_arch_from_json(v, space, "a.json"),
                       doctest::Contains("a.json: decision 'op3' (index 3): \"k7_e6\" is not one of its choices"),
                       FormatError);
  CHECK_THROWS_WITH_AS(hwnas::categorical_arch_from_json(nlohmann::json::array({1, 2}), space),
                       doctest::Contains("expected a list of 22 choices"), FormatError);
}
