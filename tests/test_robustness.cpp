// Robustness: deterministic mutation fuzzing of every parser (dataset CSV,
// spec JSON and spec lists, net.config). Whatever the input, a parser either
// succeeds or throws an exception derived from hwnas::Error; anything else
// (a nlohmann exception, std::out_of_range, std::bad_alloc, a crash) is a
// bug. Successful parses must survive a load-save-load round trip, and what
// the space accepts must go through layers() and the encoder. Seeds are
// fixed, so a failure reproduces; the input is printed with it.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "hwnas/io/arch.hpp"
#include "hwnas/dataset.hpp"
#include "hwnas/predictor/encoding.hpp"
#include "hwnas/random.hpp"
#include "hwnas/space/mbconv_space.hpp"
#include "test_support.hpp"

using namespace hwnas;

namespace {

// ---------------------------------------------------------------- mutator ----

std::size_t below(Rng& rng, std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng.uniform_index(n)); }

template <class T, std::size_t N>
const T& pick(Rng& rng, const T (&items)[N]) {
  return items[below(rng, N)];
}

// Bytes and tokens that parsers treat specially.
constexpr char kBytes[] = {'0', '1', '9', '-', '+', '.', 'e', 'E', ',', ':', '[', ']', '{', '}',
                           '"', '\\', ' ', '\t', '\r', '\n', '\0', '\x7f', '\x80', '\xef', '\xff'};
constexpr const char* kTokens[] = {"null", "true", "false", "[", "]", "{", "}", "\"", ",", ":", "[]",
                                   "{}", "\"\"", "0", "-", "1.5", "\n", "\r\n", "\xEF\xBB\xBF", ""};
// Numbers at and beyond the edges of int, int64, double and the parsers' limits.
constexpr const char* kNumbers[] = {"0",          "-0",         "-1",        "3.5",         "1e9",
                                    "1e400",      "-1e400",     "1e-400",    "2147483647",  "2147483648",
                                    "-2147483649", "9223372036854775807",    "9223372036854775808",
                                    "18446744073709551616",     "99999999999999999999999", "1000000001",
                                    "nan",        "inf",        "0x10",      "1.",          ".5",
                                    "+3",         "3e",         "00",        "7"};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// One random edit: flip, insert or delete bytes, truncate, duplicate a
/// slice, replace a number or a token.
void mutate_once(std::string& s, Rng& rng) {
  const std::size_t n = s.size();
  switch (below(rng, 9)) {
    case 0:  // flip one bit
      if (n) s[below(rng, n)] ^= static_cast<char>(1u << below(rng, 8));
      break;
    case 1:  // overwrite a byte with a special one
      if (n) s[below(rng, n)] = pick(rng, kBytes);
      break;
    case 2:  // insert a special or random byte
      s.insert(below(rng, n + 1), 1, below(rng, 2) ? pick(rng, kBytes) : static_cast<char>(rng()));
      break;
    case 3: {  // delete a short range
      if (!n) break;
      const std::size_t at = below(rng, n);
      s.erase(at, 1 + below(rng, std::min<std::size_t>(8, n - at)));
      break;
    }
    case 4:  // truncate
      s.resize(below(rng, n + 1));
      break;
    case 5: {  // duplicate a slice somewhere else
      if (!n) break;
      const std::size_t from = below(rng, n);
      const std::string slice = s.substr(from, 1 + below(rng, std::min<std::size_t>(64, n - from)));
      s.insert(below(rng, n + 1), slice);
      break;
    }
    case 6: {  // replace a run of digits with an edge-case number
      if (!n) break;
      std::size_t at = below(rng, n);
      while (at < n && !is_digit(s[at])) ++at;
      if (at == n) break;
      std::size_t end = at;
      while (end < n && is_digit(s[end])) ++end;
      s.replace(at, end - at, pick(rng, kNumbers));
      break;
    }
    case 7: {  // replace a token with another one
      const std::string_view from = pick(rng, kTokens);
      if (from.empty()) break;
      const std::size_t at = s.find(from, below(rng, n + 1));
      if (at != std::string::npos) s.replace(at, from.size(), pick(rng, kTokens));
      break;
    }
    default: {  // swap two lines
      std::vector<std::string> lines;
      std::istringstream in(s);
      for (std::string line; std::getline(in, line);) lines.push_back(line);
      if (lines.size() < 2) break;
      std::swap(lines[below(rng, lines.size())], lines[below(rng, lines.size())]);
      s.clear();
      for (const auto& line : lines) s += line + '\n';
      break;
    }
  }
}

/// JSON pointers to every value of `j` (objects and arrays included).
void collect_pointers(const nlohmann::json& j, const nlohmann::json::json_pointer& at,
                      std::vector<nlohmann::json::json_pointer>& out) {
  out.push_back(at);
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) collect_pointers(value, at / key, out);
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) collect_pointers(j[i], at / i, out);
  }
}

/// One structural edit of a JSON document: a value replaced by one of
/// another type or by a copy of another value, or removed. Byte edits
/// rarely get past the JSON syntax; these reach the parsers' field checks.
void mutate_tree(nlohmann::json& doc, Rng& rng) {
  using nlohmann::json;
  std::vector<json::json_pointer> nodes;
  collect_pointers(doc, json::json_pointer(), nodes);
  const auto target = nodes[below(rng, nodes.size())];
  static const json kValues[] = {nullptr, 0, -1, 5, 3.5, 1e9, 2147483648LL, "x", "MBConvLayer", "IdentityLayer",
                                 "ZeroLayer", true, json::array(), json::object(), json::array({1}),
                                 json::array({16}), json{{"name", "ZeroLayer"}}};
  switch (below(rng, 3)) {
    case 0:
      doc[target] = pick(rng, kValues);
      break;
    case 1: {
      const json copy = doc[nodes[below(rng, nodes.size())]];
      doc[target] = copy;
      break;
    }
    default:
      if (target.empty()) break;
      if (auto& parent = doc[target.parent_pointer()]; parent.is_object()) {
        parent.erase(target.back());
      } else {
        parent.erase(static_cast<std::size_t>(std::stoul(target.back())));
      }
      break;
  }
}

/// A mutant of one of the seeds (or, a quarter of the time, of the last
/// mutant that parsed, to get deeper than one edit from the seeds). With
/// `json_aware`, half the mutants of single JSON documents are made by
/// structural edits.
class Mutator {
 public:
  Mutator(std::vector<std::string> seeds, std::uint64_t seed, bool json_aware = false)
      : seeds_(std::move(seeds)), rng_(seed), json_aware_(json_aware) {}

  std::string next() {
    std::string s = (!last_good_.empty() && below(rng_, 4) == 0) ? last_good_ : seeds_[below(rng_, seeds_.size())];
    if (json_aware_ && below(rng_, 2) == 0) {
      auto doc = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
      if (!doc.is_discarded()) {
        for (std::size_t k = 1 + below(rng_, 3); k > 0; --k) mutate_tree(doc, rng_);
        return doc.dump(below(rng_, 2) ? -1 : 2);
      }
    }
    for (std::size_t k = 1 + below(rng_, 4); k > 0; --k) mutate_once(s, rng_);
    return s;
  }
  void parsed(const std::string& s) { last_good_ = s; }
  Rng& rng() { return rng_; }

 private:
  std::vector<std::string> seeds_;
  std::string last_good_;
  Rng rng_;
  bool json_aware_;
};

/// The input with control and non-ASCII bytes escaped, cut at 3000 bytes.
std::string shown(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < 3000; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || (c >= 0x20 && c < 0x7f)) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (s.size() > 3000) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

/// Runs `parse`: its result, nullopt when it threw an hwnas::Error, and a
/// test failure naming the exception and the input for anything else.
/// (doctest prints a const char* as a pointer, hence the std::string texts.)
template <class F>
auto parse_or_error(const char* parser, const std::string& input, F&& parse) -> std::optional<decltype(parse())> {
  try {
    return parse();
  } catch (const Error&) {
    return std::nullopt;
  } catch (const std::exception& e) {
    FAIL_CHECK((std::string(parser) + " threw " + typeid(e).name() + " (not derived from hwnas::Error): " +
               e.what() + "\n--- input\n" + shown(input)));
  } catch (...) {
    FAIL_CHECK((std::string(parser) + " threw a non-std exception\n--- input\n" + shown(input)));
  }
  return std::nullopt;
}

// ------------------------------------------------------ shared checkers ----

/// What a parsed architecture must survive: both spec forms round trip, and
/// the space either accepts it (then layers, cost, canonical form and the
/// encoder work) or rejects it with InvalidArgument. The encoder checks on
/// its own, so it may see unvalidated input too.
struct ArchChecker {
  MbConvSpace space = MbConvSpace::ofa_mobilenet_v3();
  Encoder encoder{space};
  RowVector<float> row = RowVector<float>(static_cast<Eigen::Index>(encoder.dim()));
  std::size_t valid = 0;

  /// `spec_round_trip`: `a` came from a spec, so arch_to_json must give it
  /// back (CSV allows integers beyond the spec parser's +-1e9).
  void check(const Architecture& a, const std::string& input, bool spec_round_trip) {
    for (auto form : {SpecForm::r_list, SpecForm::image_size}) {
      if (!spec_round_trip) continue;
      const std::string text = arch_to_json(a, form);
      const auto back = parse_or_error("parse_arch_json(arch_to_json)", text, [&] { return parse_arch_json(text); });
      CHECK_MESSAGE((back && *back == a), "round trip of " << text << "\n--- input\n" << shown(input));
    }
    bool ok = true;
    try {
      space.validate(a);
    } catch (const InvalidArgument&) {
      ok = false;
    } catch (const std::exception& e) {
      FAIL_CHECK((std::string("validate threw ") + typeid(e).name() + ": " + e.what() + "\n--- input\n" +
                 shown(input)));
      ok = false;
    }
    if (!ok) {
      parse_or_error("Encoder::encode (unvalidated)", input, [&] {
        encoder.encode<float>(a, row);
        return 0;
      });
      return;
    }
    ++valid;
    try {
      const auto layers = space.layers(a);
      CHECK(network_cost(layers).macs > 0);
      encoder.encode<float>(a, row);
      CHECK(row.sum() > 0.0f);
      CHECK(space.same_network(space.canonical(a), a));
    } catch (const std::exception& e) {
      FAIL_CHECK((std::string("a valid architecture failed: ") + typeid(e).name() + ": " + e.what() +
                 "\n--- input\n" + shown(input)));
    }
  }
};

/// Fuzzes Dataset::parse_csv from `seeds`; returns how many mutants parsed.
std::size_t fuzz_csv(std::vector<std::string> seeds, std::uint64_t seed, int iterations) {
  Mutator mutator(std::move(seeds), seed);
  ArchChecker archs;
  std::size_t parsed = 0;
  for (int it = 0; it < iterations; ++it) {
    const std::string input = mutator.next();
    const auto data = parse_or_error("Dataset::parse_csv", input, [&] { return Dataset::parse_csv(input); });
    if (!data) continue;
    ++parsed;
    mutator.parsed(input);
    const auto text = parse_or_error("Dataset::to_csv", input, [&] { return data->to_csv(); });
    REQUIRE_MESSAGE(text.has_value(), "to_csv failed\n--- input\n" << shown(input));
    const auto again = parse_or_error("Dataset::parse_csv(to_csv)", *text, [&] { return Dataset::parse_csv(*text); });
    REQUIRE_MESSAGE(again.has_value(), "to_csv output does not parse:\n" << shown(*text));
    INFO("input:\n" << shown(input));
    hwnas_test::check_same_dataset(*data, *again);
    CHECK(again->to_csv() == *text);
    for (const auto& a : data->archs()) archs.check(a, input, false);
  }
  return parsed;
}

// --------------------------------------------------------------- seeds ----

std::string small_csv() {
  std::string h = "id";
  for (int j = 0; j < 20; ++j) h += ",ks" + std::to_string(j);
  for (int j = 0; j < 20; ++j) h += ",e" + std::to_string(j);
  for (int j = 0; j < 5; ++j) h += ",d" + std::to_string(j);
  h += ",r,gpu,cpu\n";
  Rng rng(11);
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  for (int i = 0; i < 3; ++i) {
    const auto a = space.sample(rng);
    h += std::to_string(i * 7 - 3);
    for (const auto* part : {&a.ks, &a.e, &a.d}) {
      for (int v : *part) {
        h += ',';
        h += std::to_string(v);
      }
    }
    h += "," + std::to_string(a.r) + "," + std::to_string(i + 1) + ".25,1e-3\n";
  }
  return h;
}

// A smaller layout (2 slots, 1 stage), so that mutations hit the header often.
constexpr const char* kTinyCsv =
    "id,ks0,ks1,e0,e1,d0,r,gpu\n"
    "7,3,5,4,6,2,224,1.5\n"
    "-2,7,0,3,0,1,160,0.125\n";

std::string first_lines(const std::filesystem::path& path, int n) {
  std::ifstream in(path, std::ios::binary);
  std::string out;
  std::string line;
  for (int i = 0; i < n && std::getline(in, line); ++i) out += line + '\n';
  return out;
}

std::vector<std::string> spec_seeds() {
  Rng rng(5);
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const auto a = space.sample(rng), b = space.sample(rng);
  const std::string ra = arch_to_json(a), ib = arch_to_json(b, SpecForm::image_size);
  return {
      ra,
      ib,
      R"({"wid": null, "ks": [3, 5, 7], "e": [3.0, 4, 6], "d": [2], "r": 160})",
      "[" + ra + ",\n " + ib + "]",
      ra + "\n" + ib + "\n",
      nlohmann::json::parse(ra).dump(2),
  };
}

// A small MobileNetV3 sub-network in the old dialect: stem, the fixed first
// block, one stride-2 block with SE, the tail.
constexpr const char* kTinyNetConfig = R"({
  "name": "MobileNetV3",
  "first_conv": {"name": "ConvLayer", "kernel_size": 3, "stride": 2, "in_channels": 3, "out_channels": 16,
                 "use_bn": true, "act_func": "h_swish", "bias": false},
  "blocks": [
    {"name": "MobileInvertedResidualBlock",
     "mobile_inverted_conv": {"name": "MBInvertedConvLayer", "in_channels": 16, "out_channels": 16,
                              "kernel_size": 3, "stride": 1, "expand_ratio": 1, "mid_channels": null,
                              "act_func": "relu", "use_se": false},
     "shortcut": {"name": "IdentityLayer", "in_channels": [16], "out_channels": [16]}},
    {"name": "MobileInvertedResidualBlock",
     "mobile_inverted_conv": {"name": "MBInvertedConvLayer", "in_channels": 16, "out_channels": 24,
                              "kernel_size": 5, "stride": 2, "expand_ratio": 3, "mid_channels": 48,
                              "act_func": "relu", "use_se": true},
     "shortcut": null}
  ],
  "final_expand_layer": {"name": "ConvLayer", "kernel_size": 1, "stride": 1, "in_channels": 24,
                         "out_channels": 144, "use_bn": true, "act_func": "h_swish"},
  "feature_mix_layer": {"name": "ConvLayer", "kernel_size": 1, "stride": 1, "in_channels": 144,
                        "out_channels": 256, "use_bn": false, "act_func": "h_swish"},
  "classifier": {"name": "LinearLayer", "in_features": 256, "out_features": 10, "bias": true}
})";

/// The same in the new dialect (ResidualBlock / conv / MBConvLayer).
std::string new_dialect(std::string s) {
  const std::pair<std::string, std::string> renames[] = {{"MobileInvertedResidualBlock", "ResidualBlock"},
                                                         {"mobile_inverted_conv", "conv"},
                                                         {"MBInvertedConvLayer", "MBConvLayer"}};
  for (const auto& [from, to] : renames) {
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
      s.replace(at, from.size(), to);
    }
  }
  return s;
}

/// Fuzzes parse_net_config from `seeds`; returns how many mutants parsed.
std::size_t fuzz_net_config(std::vector<std::string> seeds, std::uint64_t seed, int iterations) {
  Mutator mutator(std::move(seeds), seed, /*json_aware=*/true);
  const MbConvSpace spaces[] = {MbConvSpace::ofa_mobilenet_v3(), MbConvSpace::ofa_proxyless(1.3)};
  constexpr int kResolutions[] = {224, 152, 1, 0, -3, 2000};
  std::size_t parsed = 0;
  for (int it = 0; it < iterations; ++it) {
    const std::string input = mutator.next();
    const int r = below(mutator.rng(), 4) ? 224 : pick(mutator.rng(), kResolutions);
    const auto cfg = parse_or_error("parse_net_config", input, [&] { return parse_net_config(input, r); });
    if (!cfg) continue;
    ++parsed;
    mutator.parsed(input);
    CHECK(cfg->resolution == r);
    REQUIRE(!cfg->layers.empty());
    CHECK(cfg->layers.front().kind == LayerKind::first_conv);
    CHECK(cfg->layers.back().kind == LayerKind::classifier);
    // Each layer reads what the previous one wrote.
    for (std::size_t i = 1; i < cfg->layers.size(); ++i) {
      CHECK_MESSAGE(cfg->layers[i].in_channels == cfg->layers[i - 1].out_channels, shown(input));
    }
    for (const auto& space : spaces) {
      parse_or_error("match_net_config", input, [&] { return match_net_config(*cfg, space); });
    }
  }
  return parsed;
}

}  // namespace

// ---------------------------------------------------------------- tests ----

TEST_CASE("robustness: Dataset::parse_csv on mutated hand-written CSV") {
  const std::size_t parsed = fuzz_csv({small_csv(), kTinyCsv}, 1, 1500);
  // Enough mutants parse for the round trip to be exercised.
  CHECK(parsed > 50);
}

TEST_CASE("robustness: Dataset::parse_csv on mutated rows of the HELP OFA table") {
  HWNAS_REQUIRE_DATA(csv, "help-ofa/ofa_gpu_latency.csv");
  const std::string head = first_lines(csv, 30);
  REQUIRE(Dataset::parse_csv(head).size() == 29);
  CHECK(fuzz_csv({head}, 2, 400) > 20);
}

TEST_CASE("robustness: parse_arch_json and parse_arch_list on mutated specs") {
  Mutator mutator(spec_seeds(), 3, /*json_aware=*/true);
  ArchChecker checker;
  std::size_t parsed = 0;
  for (int it = 0; it < 2500; ++it) {
    const std::string input = mutator.next();
    if (const auto a = parse_or_error("parse_arch_json", input, [&] { return parse_arch_json(input); })) {
      ++parsed;
      mutator.parsed(input);
      checker.check(*a, input, true);
    }
    if (const auto list = parse_or_error("parse_arch_list", input, [&] { return parse_arch_list(input); })) {
      ++parsed;
      mutator.parsed(input);
      // Save as JSON lines and as an array, load again.
      std::string lines, array = "[";
      for (const auto& a : *list) {
        checker.check(a, input, true);
        lines += arch_to_json(a) + "\n";
        array += (array.size() > 1 ? ", " : "") + arch_to_json(a, SpecForm::image_size);
      }
      array += "]";
      if (!list->empty()) {
        const auto from_lines = parse_or_error("parse_arch_list(lines)", lines, [&] { return parse_arch_list(lines); });
        CHECK_MESSAGE((from_lines && *from_lines == *list), shown(input));
      }
      const auto from_array = parse_or_error("parse_arch_list(array)", array, [&] { return parse_arch_list(array); });
      CHECK_MESSAGE((from_array && *from_array == *list), shown(input));
    }
  }
  CHECK(parsed > 300);
  CHECK(checker.valid > 50);  // some mutants are still OFA networks
}

TEST_CASE("robustness: parse_net_config on mutated hand-written configs") {
  REQUIRE(parse_net_config(kTinyNetConfig, 224).layers.size() == 7);
  CHECK(fuzz_net_config({kTinyNetConfig, new_dialect(kTinyNetConfig)}, 4, 1500) > 50);
}

TEST_CASE("robustness: parse_net_config on a mutated real net.config") {
  HWNAS_REQUIRE_DATA(net, "net-configs/pixel1_lat@20ms_top1@71.4_finetune@25.net.json");
  const std::string text = detail::read_file(net);
  CHECK(fuzz_net_config({text, new_dialect(text)}, 5, 300) > 10);
}
