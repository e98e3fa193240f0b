// io/json.hpp: the JSON forms of result types, in their documented key order,
// and dump_json's layout (arrays of scalars on one line).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "hwnas/io/json.hpp"

using namespace hwnas;

TEST_CASE("json: metrics keep the documented order and percentages in percent") {
  const std::vector<double> p{1.0, 2.0, 3.3, 4.0}, t{1.0, 2.1, 3.0, 4.0};
  const Json j = evaluate(p, t);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{"rmse", "rmse_pct", "mae", "mape", "median_ape", "max_error", "within5",
                                         "within10", "kendall", "spearman", "n"});
  // Rows 0 and 3 exact, row 1 off by 4.8 %, row 2 by 10 %: 3 of 4 within 5 %,
  // all 4 within 10 %, in percent like mape.
  CHECK(j["within5"].get<double>() == 75.0);
  CHECK(j["within10"].get<double>() == 100.0);
  CHECK(j["n"].get<std::size_t>() == 4);
}

TEST_CASE("json: dump_json puts arrays of scalars on one line, objects one key per line") {
  Json j{{"name", "x"}, {"row", {1, 2.5, 3}}, {"nested", Json::array({Json{{"a", 1}}, Json{{"b", {true, nullptr}}}})}};
  CHECK(dump_json(j) ==
        "{\n"
        "  \"name\": \"x\",\n"
        "  \"row\": [1, 2.5, 3],\n"
        "  \"nested\": [\n"
        "    {\n"
        "      \"a\": 1\n"
        "    },\n"
        "    {\n"
        "      \"b\": [true, null]\n"
        "    }\n"
        "  ]\n"
        "}");
  CHECK(dump_json(Json::object()) == "{}");
  CHECK(dump_json(Json::array()) == "[]");
  CHECK(dump_json(Json(std::numeric_limits<double>::quiet_NaN())) == "null");
  // Invalid UTF-8 is replaced, not thrown on.
  CHECK(dump_json(Json(std::string("a\xff"))) == "\"a\xEF\xBF\xBD\"");
}

TEST_CASE("json: architectures and fit reports") {
  const Architecture a{{3, 5}, {4, 6}, {2}, 224};
  CHECK(Json(a).dump() == R"({"ks":[3,5],"e":[4,6],"d":[2],"r":[224]})");
  FitReport r;
  r.epochs = 3;
  r.seconds = 1.5;
  CHECK(Json(r)["best_epoch"].is_null());  // no validation rows
  r.validation_rmse = {2.0, 1.0, 1.5};
  r.best_epoch = 1;
  r.best_validation_rmse = 1.0;
  const Json j = r;
  CHECK(j["best_epoch"].get<int>() == 2);  // 1-based, as the progress lines
  CHECK(j.begin().key() == "train_s");
}

TEST_CASE("json: a fine-tuned candidate, its base replaceable by a name in place") {
  TransferCandidate c;
  c.base = 2;
  c.line_fit_rmse = 0.5;
  c.validation_rmse = 0.25;
  c.kept = true;
  Json j = c;
  CHECK(j.dump() == R"({"base":2,"line_fit_rmse":0.5,"validation_rmse":0.25,"kept":true})");
  j["base"] = "v100.hwnas";  // ordered_json keeps the key where it was
  CHECK(j.begin().key() == "base");
  CHECK(j.begin().value() == "v100.hwnas");
}
