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

TEST_CASE("space io: a definition with repeat and labels is FBNet") {
  const CategoricalSpace space = hwnas::parse_space_json(R"({
    "name": "fbnet",
    "decisions": [{"name": "op", "repeat": 22,
                   "labels": ["k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip"]}]
  })");
  CHECK(space == hwnas::fbnet_space());
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
  auto error = [](const std::string& text) {
    try {
      hwnas::parse_space_json(text, "s.json");
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
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
