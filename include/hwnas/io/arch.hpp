// Architecture files: OFA's spec JSON ({"ks","e","d","r": [R]} or
// "image_size": R), files of many specs, and OFA's net.config sub-network
// description in both dialects (ofa-reference.md §1.8, §8.3, §8.4).
// Needs nlohmann-json: link hwnas::io.
#pragma once

#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "hwnas/architecture.hpp"
#include "hwnas/dataset.hpp"
#include "hwnas/detail/file_io.hpp"
#include "hwnas/error.hpp"
#include "hwnas/space/layer.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas {

/// The two spellings of the resolution in OFA's spec dictionaries.
enum class SpecForm {
  r_list,      ///< tutorial and CompOFA: "r": [224]
  image_size,  ///< OFA's newer API and accuracy-dataset keys: "image_size": 224
};

/// Parses one spec JSON object. Accepts "r": [R], "r": R or "image_size": R,
/// and an ignored "wid" (OFA writes null). Errors name the source, and for
/// malformed JSON the line and column.
inline Architecture parse_arch_json(std::string_view text, const std::string& source = "<input>");
/// The same from an already parsed JSON value.
inline Architecture arch_from_json(const nlohmann::json& value, const std::string& source = "<input>");

/// One line of JSON with Python's json.dumps separators (", " and ": "), so
/// the image_size form is byte-identical to the keys of OFA's accuracy
/// dataset files.
inline std::string arch_to_json(const Architecture& arch, SpecForm form = SpecForm::r_list);

/// Every architecture in a file: a dataset CSV (by the .csv extension), one
/// JSON spec, a JSON array of specs, or JSON lines (one spec per line).
inline std::vector<Architecture> read_arch_file(const std::filesystem::path& path);
/// The same for text already in memory (JSON forms only).
inline std::vector<Architecture> parse_arch_list(std::string_view text, const std::string& source = "<input>");

/// A sub-network described by OFA's net.config.
struct NetConfig {
  std::string name;           ///< "MobileNetV3" or "ProxylessNASNets"
  int resolution = 0;         ///< input size the shapes were computed for
  std::vector<Layer> layers;  ///< exact shapes, as MbConvSpace::layers gives them
};

/// True when `text` is an OFA net.config: a JSON object with "first_conv"
/// and "blocks", which no spec JSON has. Tells a net.config from a spec
/// file by content, whatever its name.
inline bool is_net_config(std::string_view text);

/// Parses a net.config (old "MobileInvertedResidualBlock" / new
/// "ResidualBlock" dialect) for an input of `resolution` pixels.
inline NetConfig parse_net_config(std::string_view text, int resolution, const std::string& source = "<input>");
inline NetConfig read_net_config(const std::filesystem::path& path, int resolution);
/// The deployment resolution ("image_size") of an OFA run.config.
inline int read_run_config_image_size(const std::filesystem::path& path);

/// The architecture of `space` whose layer list equals the config's, or
/// nullopt when the config is not a sub-network of that space.
inline std::optional<Architecture> match_net_config(const NetConfig& config, const MbConvSpace& space);

// ---------------------------------------------------------------------------

namespace detail {

/// Line and column (1-based) of a byte offset in `text`.
inline std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

inline nlohmann::json parse_json(std::string_view text, const std::string& source,
                                 std::size_t first_line = 1) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann reports the byte just past the offending character.
    const std::size_t at = e.byte > 0 ? e.byte - 1 : 0;
    auto [line, column] = line_column(text, at);
    std::string what = e.what();
    if (auto pos = what.find("syntax error"); pos != std::string::npos) what = what.substr(pos);
    throw FormatError(source, line + first_line - 1, column, "malformed JSON: " + what);
  } catch (const nlohmann::json::exception& e) {
    // A number beyond double's range ("1e400") is an out_of_range (406) that
    // carries no position; the first occurrence of its token locates it.
    std::string what = e.what();
    if (auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
    std::size_t line = 0, column = 0;
    if (auto q = what.find('\''); q != std::string::npos && what.back() == '\'') {
      const std::string token = what.substr(q + 1, what.size() - q - 2);
      if (auto at = text.find(token); !token.empty() && at != std::string_view::npos) {
        const auto [l, c] = line_column(text, at);
        line = l + first_line - 1;
        column = c;
      }
    }
    throw FormatError(source, line, column, "malformed JSON: " + what);
  }
}

/// A value for an error message: lists and objects by their size only
/// (dump() recurses, and a deeply nested input must not overflow the stack),
/// long strings cut short.
/// Calls take(value) for the JSON value of `text` (one value, possibly
/// pretty-printed over many lines) or for each line of JSON lines: it is
/// JSON lines when the first non-blank line is a whole value on its own. A
/// FormatError that take throws for a line is given that line's number.
template <class Take>
void for_each_json_value(std::string_view text, const std::string& source, Take&& take) {
  const std::size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) throw FormatError(source, 0, 0, "file is empty");
  const std::size_t first_end = std::min(text.find('\n', start), text.size());
  const bool lines = nlohmann::json::accept(text.substr(start, first_end - start)) &&
                     text.find_first_not_of(" \t\r\n", first_end) != std::string_view::npos;
  if (!lines) {
    take(parse_json(text, source));
    return;
  }
  std::size_t line_no = 0, pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    ++line_no;
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
      const auto value = parse_json(line, source, line_no);
      try {
        take(value);
      } catch (const FormatError& e) {
        throw FormatError(source, line_no, 0, e.message());
      }
    }
    pos = end + 1;
  }
}

inline std::string json_brief(const nlohmann::json& v) {
  if (v.is_array()) return "a list of " + std::to_string(v.size()) + " values";
  if (v.is_object()) return "an object with " + std::to_string(v.size()) + " fields";
  std::string text = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

inline int json_int(const nlohmann::json& v, const std::string& source, const std::string& field) {
  if (!v.is_number_integer()) {
    // OFA writes numpy ints as plain ints; 3.0 is accepted, 3.5 is not.
    if (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() == std::floor(v.get<double>()) &&
        std::abs(v.get<double>()) < 1e9) {
      return static_cast<int>(v.get<double>());
    }
    throw FormatError(source, 0, 0, "field '" + field + "': expected an integer, found " + detail::json_brief(v));
  }
  const auto x = v.get<std::int64_t>();
  if (x < -1'000'000'000 || x > 1'000'000'000) {
    throw FormatError(source, 0, 0, "field '" + field + "': integer out of range: " + detail::json_brief(v));
  }
  return static_cast<int>(x);
}

inline std::vector<int> json_int_list(const nlohmann::json& obj, const std::string& source,
                                      const char* key) {
  if (!obj.contains(key)) throw FormatError(source, 0, 0, std::string("missing field '") + key + "'");
  const auto& v = obj.at(key);
  if (!v.is_array()) {
    throw FormatError(source, 0, 0, std::string("field '") + key + "': expected a list of integers, found " +
                                        detail::json_brief(v));
  }
  std::vector<int> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.push_back(json_int(v[i], source, std::string(key) + "[" + std::to_string(i) + "]"));
  }
  return out;
}

inline const nlohmann::json& json_field(const nlohmann::json& obj, const std::string& source,
                                        const std::string& path, const char* key) {
  if (!obj.is_object() || !obj.contains(key)) {
    throw FormatError(source, 0, 0, "missing field '" + path + (path.empty() ? "" : ".") + key + "'");
  }
  return obj.at(key);
}

inline int json_int_field(const nlohmann::json& obj, const std::string& source, const std::string& path,
                          const char* key) {
  const auto& v = json_field(obj, source, path, key);
  // Old OFA configs write some channel counts as one-element lists ([16]).
  if (v.is_array() && v.size() == 1) return json_int(v[0], source, path + "." + key);
  return json_int(v, source, path + "." + key);
}

inline bool json_bool_field(const nlohmann::json& obj, const std::string& source, const std::string& path,
                            const char* key, bool fallback) {
  if (!obj.contains(key) || obj.at(key).is_null()) return fallback;
  const auto& v = obj.at(key);
  if (!v.is_boolean()) {
    throw FormatError(source, 0, 0, "field '" + path + "." + key + "': expected true or false, found " + detail::json_brief(v));
  }
  return v.get<bool>();
}

/// obj["name"] when `obj` is an object whose "name" is a string, else "";
/// json::value would throw type_error for any other shape.
inline std::string json_name(const nlohmann::json& obj) {
  if (!obj.is_object()) return {};
  const auto it = obj.find("name");
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

inline Activation json_activation(const nlohmann::json& obj, const std::string& source, const std::string& path) {
  if (!obj.contains("act_func") || obj.at("act_func").is_null()) return Activation::none;
  const auto& v = obj.at("act_func");
  if (!v.is_string()) {
    throw FormatError(source, 0, 0, "field '" + path + ".act_func': expected a string, found " + detail::json_brief(v));
  }
  try {
    return activation_from_string(v.get<std::string>());
  } catch (const InvalidArgument& e) {
    throw FormatError(source, 0, 0, "field '" + path + ".act_func': " + e.what());
  }
}

}  // namespace detail

inline Architecture arch_from_json(const nlohmann::json& value, const std::string& source) {
  if (!value.is_object()) {
    throw FormatError(source, 0, 0, "expected a JSON object with ks, e, d and r, found " +
                                        std::string(value.type_name()));
  }
  for (const auto& [key, v] : value.items()) {
    if (key != "ks" && key != "e" && key != "d" && key != "r" && key != "image_size" && key != "wid") {
      throw FormatError(source, 0, 0, "unknown field '" + key + "'; expected ks, e, d, r or image_size (and wid)");
    }
  }
  Architecture a;
  a.ks = detail::json_int_list(value, source, "ks");
  a.e = detail::json_int_list(value, source, "e");
  a.d = detail::json_int_list(value, source, "d");
  const bool has_r = value.contains("r"), has_size = value.contains("image_size");
  if (!has_r && !has_size) throw FormatError(source, 0, 0, "missing field 'r' (or 'image_size')");
  if (has_r && has_size) throw FormatError(source, 0, 0, "both 'r' and 'image_size' given; use one");
  if (has_r) {
    const auto& r = value.at("r");
    if (r.is_array()) {
      if (r.size() != 1) {
        throw FormatError(source, 0, 0, "field 'r': expected one resolution, found " + detail::json_brief(r));
      }
      a.r = detail::json_int(r[0], source, "r[0]");
    } else {
      a.r = detail::json_int(r, source, "r");
    }
  } else {
    a.r = detail::json_int(value.at("image_size"), source, "image_size");
  }
  return a;
}

inline Architecture parse_arch_json(std::string_view text, const std::string& source) {
  return arch_from_json(detail::parse_json(text, source), source);
}

inline std::string arch_to_json(const Architecture& arch, SpecForm form) {
  auto list = [](const std::vector<int>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "]";
  };
  std::string out = "{\"ks\": " + list(arch.ks) + ", \"e\": " + list(arch.e) + ", \"d\": " + list(arch.d);
  if (form == SpecForm::r_list) return out + ", \"r\": [" + std::to_string(arch.r) + "]}";
  return out + ", \"image_size\": " + std::to_string(arch.r) + "}";
}

inline std::vector<Architecture> parse_arch_list(std::string_view text, const std::string& source) {
  std::size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) throw FormatError(source, 0, 0, "file is empty");
  std::vector<Architecture> out;
  if (text[start] == '[') {
    const auto value = detail::parse_json(text, source);
    for (std::size_t i = 0; i < value.size(); ++i) {
      try {
        out.push_back(arch_from_json(value[i], source));
      } catch (const FormatError& e) {
        throw FormatError(source, 0, 0, "element " + std::to_string(i) + ": " + e.message());
      }
    }
    return out;
  }
  detail::for_each_json_value(text, source, [&](const nlohmann::json& value) {
    out.push_back(arch_from_json(value, source));
  });
  return out;
}

inline std::vector<Architecture> read_arch_file(const std::filesystem::path& path) {
  if (path.extension() == ".csv") return Dataset::read_csv(path).archs();
  return parse_arch_list(detail::read_file(path), path.string());
}

inline bool is_net_config(std::string_view text) {
  const auto start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || text[start] != '{') return false;
  const auto value = nlohmann::json::parse(text, nullptr, false);
  return value.is_object() && value.contains("first_conv") && value.contains("blocks");
}

inline NetConfig parse_net_config(std::string_view text, int resolution, const std::string& source) {
  if (resolution < 1 || resolution > 4096) {
    throw InvalidArgument("net.config: resolution must be in [1, 4096], found " + std::to_string(resolution));
  }
  const auto cfg = detail::parse_json(text, source);
  using detail::json_field;
  using detail::json_int_field;
  NetConfig out;
  out.resolution = resolution;
  const auto& name = json_field(cfg, source, "", "name");
  out.name = name.is_string() ? name.get<std::string>() : "";
  if (out.name != "MobileNetV3" && out.name != "ProxylessNASNets") {
    throw FormatError(source, 0, 0, "field 'name': expected \"MobileNetV3\" or \"ProxylessNASNets\", found " +
                                        detail::json_brief(name));
  }
  const bool mbv3 = out.name == "MobileNetV3";
  int size = resolution, channels = 3;

  auto check_input = [&](const std::string& path, int in_channels) {
    if (in_channels != channels) {
      throw FormatError(source, 0, 0, "field '" + path + ".in_channels' = " + std::to_string(in_channels) +
                                          " does not match the previous layer's " + std::to_string(channels) +
                                          " output channels");
    }
  };
  // Bounds that keep every shape and MAC count far inside int and int64.
  auto check_shape = [&](const std::string& path, const Layer& l) {
    auto bound = [&](const char* field, int v, int hi) {
      if (v < 1 || v > hi) {
        throw FormatError(source, 0, 0, "field '" + path + "." + field + "' = " + std::to_string(v) +
                                            " outside [1, " + std::to_string(hi) + "]");
      }
    };
    bound("out_channels", l.out_channels, 1 << 20);
    bound("kernel_size", l.kernel, 64);
    bound("stride", l.stride, 64);
    if (l.kind == LayerKind::mbconv) bound("expand_ratio", l.expand_ratio, 64);
  };
  auto conv_layer = [&](const nlohmann::json& c, const std::string& path, LayerKind kind) {
    Layer l;
    l.kind = kind;
    l.in_channels = json_int_field(c, source, path, "in_channels");
    check_input(path, l.in_channels);
    l.out_channels = json_int_field(c, source, path, "out_channels");
    l.kernel = json_int_field(c, source, path, "kernel_size");
    l.stride = json_int_field(c, source, path, "stride");
    check_shape(path, l);
    l.act = detail::json_activation(c, source, path);
    l.use_bn = detail::json_bool_field(c, source, path, "use_bn", false);
    l.bias = detail::json_bool_field(c, source, path, "bias", false);
    l.in_size = size;
    l.out_size = (size - 1) / l.stride + 1;  // k//2 padding
    size = l.out_size;
    channels = l.out_channels;
    out.layers.push_back(l);
  };
  auto pool = [&] {
    out.layers.push_back(global_pool(size, channels));
    size = 1;
  };

  conv_layer(json_field(cfg, source, "", "first_conv"), "first_conv", LayerKind::first_conv);
  const auto& blocks = json_field(cfg, source, "", "blocks");
  if (!blocks.is_array() || blocks.empty()) {
    throw FormatError(source, 0, 0, "field 'blocks': expected a non-empty list of blocks");
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const std::string path = "blocks[" + std::to_string(i) + "]";
    const auto& b = blocks[i];
    const char* conv_key = b.contains("mobile_inverted_conv") ? "mobile_inverted_conv" : "conv";
    const auto& c = json_field(b, source, path, conv_key);
    const std::string cpath = path + "." + conv_key;
    const auto conv_name = detail::json_name(c);
    if (conv_name != "MBInvertedConvLayer" && conv_name != "MBConvLayer") {
      throw FormatError(source, 0, 0, "field '" + cpath + ".name': expected MBConvLayer or MBInvertedConvLayer, found '" +
                                          conv_name + "'");
    }
    Layer l;
    l.kind = LayerKind::mbconv;
    l.in_channels = json_int_field(c, source, cpath, "in_channels");
    check_input(cpath, l.in_channels);
    l.out_channels = json_int_field(c, source, cpath, "out_channels");
    l.kernel = json_int_field(c, source, cpath, "kernel_size");
    l.stride = json_int_field(c, source, cpath, "stride");
    l.expand_ratio = json_int_field(c, source, cpath, "expand_ratio");
    check_shape(cpath, l);
    // A config-built layer with mid_channels null uses round(in * e) without
    // make_divisible (ofa-reference.md §8.1).
    const bool mid_given = c.contains("mid_channels") && !c.at("mid_channels").is_null();
    l.mid_channels = mid_given ? json_int_field(c, source, cpath, "mid_channels")
                               : static_cast<int>(std::lround(l.in_channels * double(l.expand_ratio)));
    if (l.mid_channels < 1 || l.mid_channels > (1 << 22)) {
      throw FormatError(source, 0, 0, "field '" + cpath + ".mid_channels' = " + std::to_string(l.mid_channels) +
                                          " outside [1, " + std::to_string(1 << 22) + "]");
    }
    l.act = detail::json_activation(c, source, cpath);
    l.se_channels = detail::json_bool_field(c, source, cpath, "use_se", false)
                        ? make_divisible(l.mid_channels / 4)
                        : 0;
    l.use_bn = true;
    const auto& sc = json_field(b, source, path, "shortcut");
    if (sc.is_null()) {
      l.shortcut = false;
    } else {
      const auto sc_name = detail::json_name(sc);
      if (sc_name == "IdentityLayer") {
        l.shortcut = true;
      } else if (sc_name == "ZeroLayer") {
        l.shortcut = false;
      } else {
        throw FormatError(source, 0, 0, "field '" + path + ".shortcut': expected null or IdentityLayer, found '" +
                                            sc_name + "'");
      }
    }
    l.in_size = size;
    l.out_size = (size - 1) / l.stride + 1;
    size = l.out_size;
    channels = l.out_channels;
    out.layers.push_back(l);
  }
  if (mbv3) {
    conv_layer(json_field(cfg, source, "", "final_expand_layer"), "final_expand_layer", LayerKind::final_expand);
    pool();
    conv_layer(json_field(cfg, source, "", "feature_mix_layer"), "feature_mix_layer", LayerKind::feature_mix);
  } else {
    conv_layer(json_field(cfg, source, "", "feature_mix_layer"), "feature_mix_layer", LayerKind::feature_mix);
    pool();
  }
  const auto& fc = json_field(cfg, source, "", "classifier");
  Layer l;
  l.kind = LayerKind::classifier;
  l.in_size = l.out_size = 1;
  l.in_channels = json_int_field(fc, source, "classifier", "in_features");
  check_input("classifier", l.in_channels);
  l.out_channels = json_int_field(fc, source, "classifier", "out_features");
  l.bias = detail::json_bool_field(fc, source, "classifier", "bias", true);
  out.layers.push_back(l);
  return out;
}

inline NetConfig read_net_config(const std::filesystem::path& path, int resolution) {
  return parse_net_config(detail::read_file(path), resolution, path.string());
}

inline int read_run_config_image_size(const std::filesystem::path& path) {
  const std::string text = detail::read_file(path);
  const auto cfg = detail::parse_json(text, path.string());
  const int r = detail::json_int_field(cfg, path.string(), "", "image_size");
  if (r < 1 || r > 4096) {
    throw FormatError(path.string(), 0, 0, "field 'image_size' must be in [1, 4096], found " + std::to_string(r));
  }
  return r;
}

inline std::optional<Architecture> match_net_config(const NetConfig& config, const MbConvSpace& space) {
  const bool mbv3 = space.options().family == Family::mobilenet_v3;
  if (config.name != (mbv3 ? "MobileNetV3" : "ProxylessNASNets")) return std::nullopt;
  // Blocks after the fixed first one; each stage starts where the width changes.
  std::vector<const Layer*> blocks;
  for (const Layer& l : config.layers) {
    if (l.kind == LayerKind::mbconv) blocks.push_back(&l);
  }
  if (blocks.size() < 2) return std::nullopt;
  Architecture a;
  a.r = config.resolution;
  a.ks.assign(space.num_slots(), 0);
  a.e.assign(space.num_slots(), 0);
  std::size_t b = 1;
  for (const auto& stage : space.stages()) {
    int depth = 0;
    while (b < blocks.size() && blocks[b]->out_channels == stage.width &&
           (depth == 0 || blocks[b]->in_channels == stage.width)) {
      if (depth == stage.max_depth) return std::nullopt;
      const auto slot = static_cast<std::size_t>(stage.first_slot + depth);
      a.ks[slot] = blocks[b]->kernel;
      a.e[slot] = blocks[b]->expand_ratio;
      ++depth;
      ++b;
    }
    a.d.push_back(depth);
  }
  if (b != blocks.size()) return std::nullopt;
  try {
    if (space.layers(a) != config.layers) return std::nullopt;
  } catch (const InvalidArgument&) {
    return std::nullopt;  // depth, kernel, expand or resolution outside the space
  }
  return a;
}

}  // namespace hwnas
