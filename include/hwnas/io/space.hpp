// Categorical space definitions as JSON files (docs/spaces.md), what the
// program's `--space @file.json` reads:
//   {"name": "my-space",
//    "decisions": [{"name": "width", "choices": [32, 64, 128]},
//                  {"name": "op", "repeat": 12, "labels": ["conv3", "conv5", "skip"]}]}
// "choices" are numbers (default: 0, 1, ... for the labels); "labels" name
// them; "repeat": n makes n decisions op0..op{n-1} of the same choices.
// Optionally the network (SpaceLayers): "stem" and "head", lists of layers,
// and per decision "layers", one list of layers per choice, e.g.
//   {"kind": "mbconv", "in_size": 32, "in_channels": 16, "out_channels": 24,
//    "kernel": 3, "stride": 2, "expand_ratio": 6, "act": "relu"}
// Architectures of such a space as JSON: a list of choice labels or values
// per architecture. Needs nlohmann-json: link hwnas::io.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "hwnas/dataset.hpp"
#include "hwnas/detail/file_io.hpp"
#include "hwnas/error.hpp"
#include "hwnas/io/arch.hpp"
#include "hwnas/space/categorical_space.hpp"

namespace hwnas {

/// A space from its parsed JSON definition; FormatError naming `source` and
/// the field (e.g. "field 'decisions[2].choices'") for anything else.
inline CategoricalSpace categorical_space_from_json(const nlohmann::json& v, const std::string& source = "<input>");
/// The same from JSON text (malformed JSON: FormatError with line and column).
inline CategoricalSpace parse_space_json(std::string_view text, const std::string& source = "<input>");
/// The same from a file; IoError when it cannot be read.
inline CategoricalSpace read_space_file(const std::filesystem::path& path);
/// The definition as JSON (every decision written out, no "repeat"), which
/// parse_space_json reads back to an equal space.
inline nlohmann::ordered_json space_to_json(const CategoricalSpace& space);

/// A layer from JSON: "kind", "in_size", "in_channels" and "out_channels",
/// and where they differ from a Layer's defaults "kernel", "stride",
/// "expand_ratio" (mbconv: default 1), "mid_channels" (mbconv: default
/// in_channels x expand_ratio), "se_channels", "groups", "always_expand",
/// "act", "use_bn", "bias", "shortcut"; out_size follows from the kind,
/// in_size and stride. FormatError naming `path` and the field.
inline Layer layer_from_json(const nlohmann::json& v, const std::string& source, const std::string& path);
/// The inverse: the fields above that differ from their defaults.
inline nlohmann::ordered_json layer_to_json(const Layer& l);

/// An architecture from JSON: a list with one entry per decision, each a
/// label or a number equal to a choice value. FormatError naming the decision.
inline CategoricalArch categorical_arch_from_json(const nlohmann::json& v, const CategoricalSpace& space,
                                                  const std::string& source = "<input>");
/// The architecture as a JSON list of its choices' labels (or values).
inline nlohmann::ordered_json categorical_arch_to_json(const CategoricalArch& arch, const CategoricalSpace& space);

/// Architectures from text: one list of choices, a JSON array of such
/// lists, or JSON lines with one list each. FormatError naming the element
/// or line.
inline std::vector<CategoricalArch> parse_categorical_arch_list(std::string_view text, const CategoricalSpace& space,
                                                                const std::string& source = "<input>");
/// The same from a file; a .csv file is read as a dataset with the space's
/// columns.
inline std::vector<CategoricalArch> read_categorical_arch_file(const std::filesystem::path& path,
                                                               const CategoricalSpace& space);

// ---------------------------------------------------------------------------

inline CategoricalSpace categorical_space_from_json(const nlohmann::json& v, const std::string& source) {
  auto fail = [&](const std::string& field, const std::string& what) {
    throw FormatError(source, 0, 0, (field.empty() ? "" : "field '" + field + "': ") + what);
  };
  if (!v.is_object()) fail("", "expected a space definition {\"name\", \"decisions\"}, found " + detail::json_brief(v));
  for (const auto& [key, value] : v.items()) {
    if (key != "name" && key != "decisions" && key != "stem" && key != "head") {
      fail(key, "unknown field (expected name, decisions, stem, head)");
    }
  }
  SpaceLayers layers;
  bool has_layers = false;
  auto layer_list = [&](const nlohmann::json& list, const std::string& path) {
    if (!list.is_array()) fail(path, "expected a list of layers, found " + detail::json_brief(list));
    std::vector<Layer> out;
    for (std::size_t k = 0; k < list.size(); ++k) {
      out.push_back(layer_from_json(list[k], source, path + "[" + std::to_string(k) + "]"));
    }
    has_layers = true;
    return out;
  };
  if (v.contains("stem")) layers.stem = layer_list(v["stem"], "stem");
  if (v.contains("head")) layers.head = layer_list(v["head"], "head");
  std::string name = "categorical";
  if (v.contains("name")) {
    if (!v["name"].is_string()) fail("name", "expected a string, found " + detail::json_brief(v["name"]));
    name = v["name"].get<std::string>();
  }
  if (!v.contains("decisions")) fail("", "missing field 'decisions'");
  const auto& list = v["decisions"];
  if (!list.is_array() || list.empty()) {
    fail("decisions", "expected a non-empty list of decisions, found " + detail::json_brief(list));
  }
  std::vector<Decision> decisions;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& d = list[i];
    const std::string at = "decisions[" + std::to_string(i) + "]";
    if (!d.is_object()) fail(at, "expected an object {\"name\", \"choices\", \"labels\", \"repeat\"}");
    for (const auto& [key, value] : d.items()) {
      if (key != "name" && key != "choices" && key != "labels" && key != "repeat" && key != "layers") {
        fail(at + "." + key, "unknown field (expected name, choices, labels, repeat, layers)");
      }
    }
    if (!d.contains("name") || !d["name"].is_string()) fail(at + ".name", "expected a string");
    Decision one{d["name"].get<std::string>(), {}, {}};
    if (d.contains("labels")) {
      const auto& labels = d["labels"];
      if (!labels.is_array()) fail(at + ".labels", "expected a list of strings, found " + detail::json_brief(labels));
      for (std::size_t j = 0; j < labels.size(); ++j) {
        if (!labels[j].is_string()) {
          fail(at + ".labels[" + std::to_string(j) + "]", "expected a string, found " + detail::json_brief(labels[j]));
        }
        one.labels.push_back(labels[j].get<std::string>());
      }
    }
    if (d.contains("choices")) {
      const auto& choices = d["choices"];
      if (!choices.is_array()) fail(at + ".choices", "expected a list of numbers, found " + detail::json_brief(choices));
      for (std::size_t j = 0; j < choices.size(); ++j) {
        if (!choices[j].is_number()) {
          fail(at + ".choices[" + std::to_string(j) + "]", "expected a number, found " + detail::json_brief(choices[j]));
        }
        one.choices.push_back(choices[j].get<double>());
      }
    } else {
      if (one.labels.empty()) fail(at, "give 'choices', 'labels' or both");
      for (std::size_t j = 0; j < one.labels.size(); ++j) one.choices.push_back(static_cast<double>(j));
    }
    std::vector<std::vector<Layer>> per_choice;  // none given: checked below, once the space is known
    if (d.contains("layers")) {
      const auto& lists = d["layers"];
      if (!lists.is_array()) {
        fail(at + ".layers", "expected one list of layers per choice, found " + detail::json_brief(lists));
      }
      for (std::size_t j = 0; j < lists.size(); ++j) {
        per_choice.push_back(layer_list(lists[j], at + ".layers[" + std::to_string(j) + "]"));
      }
      has_layers = true;
    }
    std::size_t repeat = 0;  // 0: one decision of that name
    if (d.contains("repeat")) {
      const auto& r = d["repeat"];
      if (!r.is_number_integer() || r.get<std::int64_t>() < 1 || r.get<std::int64_t>() > 100000) {
        fail(at + ".repeat", "expected an integer in [1, 100000], found " + detail::json_brief(r));
      }
      repeat = r.get<std::size_t>();
    }
    for (std::size_t k = 0; k < std::max<std::size_t>(repeat, 1); ++k) {
      Decision copy = one;
      if (repeat > 0) copy.name += std::to_string(k);
      decisions.push_back(std::move(copy));
      layers.choices.push_back(per_choice);
    }
  }
  if (!has_layers) layers = {};
  try {
    return CategoricalSpace(std::move(decisions), std::move(name), std::move(layers));
  } catch (const InvalidArgument& e) {
    throw FormatError(source, 0, 0, e.what());
  }
}

inline CategoricalSpace parse_space_json(std::string_view text, const std::string& source) {
  return categorical_space_from_json(detail::parse_json(text, source), source);
}

inline CategoricalSpace read_space_file(const std::filesystem::path& path) {
  return parse_space_json(detail::read_file(path), path.string());
}

inline nlohmann::ordered_json space_to_json(const CategoricalSpace& space) {
  nlohmann::ordered_json decisions = nlohmann::ordered_json::array();
  for (const Decision& d : space.decisions()) {
    nlohmann::ordered_json one;
    one["name"] = d.name;
    one["choices"] = d.choices;
    if (!d.labels.empty()) one["labels"] = d.labels;
    decisions.push_back(std::move(one));
  }
  const SpaceLayers& sl = space.space_layers();
  auto list = [](const std::vector<Layer>& layers) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const Layer& l : layers) out.push_back(layer_to_json(l));
    return out;
  };
  nlohmann::ordered_json out;
  out["name"] = space.name();
  if (space.has_layers()) {
    out["stem"] = list(sl.stem);
    for (std::size_t i = 0; i < decisions.size(); ++i) {
      nlohmann::ordered_json per_choice = nlohmann::ordered_json::array();
      for (const auto& layers : sl.choices[i]) per_choice.push_back(list(layers));
      decisions[i]["layers"] = std::move(per_choice);
    }
  }
  out["decisions"] = std::move(decisions);
  if (space.has_layers()) out["head"] = list(sl.head);
  return out;
}

inline Layer layer_from_json(const nlohmann::json& v, const std::string& source, const std::string& path) {
  auto fail = [&](const std::string& field, const std::string& what) {
    throw FormatError(source, 0, 0, "field '" + path + (field.empty() ? "" : "." + field) + "': " + what);
  };
  static constexpr std::array<std::string_view, 15> kFields{
      "kind",         "in_size",     "in_channels", "out_channels", "kernel", "stride", "expand_ratio", "mid_channels",
      "se_channels", "groups",      "always_expand", "act",         "use_bn", "bias",   "shortcut"};
  if (!v.is_object()) {
    fail("", "expected a layer {\"kind\", \"in_size\", \"in_channels\", ...}, found " + detail::json_brief(v));
  }
  for (const auto& [key, value] : v.items()) {
    if (std::find(kFields.begin(), kFields.end(), key) == kFields.end()) {
      fail(key, "unknown field (expected kind, in_size, in_channels, out_channels, kernel, stride, expand_ratio, "
                "mid_channels, se_channels, groups, always_expand, act, use_bn, bias, shortcut)");
    }
  }
  Layer l;
  const auto& kind = detail::json_field(v, source, path, "kind");
  if (!kind.is_string()) fail("kind", "expected a string, found " + detail::json_brief(kind));
  try {
    l.kind = layer_kind_from_string(kind.get<std::string>());
  } catch (const InvalidArgument& e) {
    fail("kind", e.what());
  }
  if (v.contains("act")) {
    if (!v["act"].is_string()) fail("act", "expected a string, found " + detail::json_brief(v["act"]));
    try {
      l.act = activation_from_string(v["act"].get<std::string>());
    } catch (const InvalidArgument& e) {
      fail("act", e.what());
    }
  }
  auto optional_int = [&](const char* key, int fallback) {
    return v.contains(key) ? detail::json_int_field(v, source, path, key) : fallback;
  };
  const bool mbconv = l.kind == LayerKind::mbconv;
  l.in_size = detail::json_int_field(v, source, path, "in_size");
  l.in_channels = detail::json_int_field(v, source, path, "in_channels");
  l.out_channels = detail::json_int_field(v, source, path, "out_channels");
  l.kernel = optional_int("kernel", 1);
  l.stride = optional_int("stride", 1);
  l.expand_ratio = optional_int("expand_ratio", mbconv ? 1 : 0);
  l.mid_channels = optional_int("mid_channels", mbconv ? l.in_channels * l.expand_ratio : 0);
  l.se_channels = optional_int("se_channels", 0);
  l.groups = optional_int("groups", 1);
  l.always_expand = detail::json_bool_field(v, source, path, "always_expand", false);
  l.use_bn = detail::json_bool_field(v, source, path, "use_bn", false);
  l.bias = detail::json_bool_field(v, source, path, "bias", false);
  l.shortcut = detail::json_bool_field(v, source, path, "shortcut", false);
  const bool to_one = l.kind == LayerKind::pool || l.kind == LayerKind::classifier;
  l.out_size = to_one ? 1 : (l.in_size - 1) / std::max(l.stride, 1) + 1;
  if (const std::string p = layer_problem(l); !p.empty()) fail("", p);
  return l;
}

inline nlohmann::ordered_json layer_to_json(const Layer& l) {
  nlohmann::ordered_json o;
  o["kind"] = std::string(to_string(l.kind));
  o["in_size"] = l.in_size;
  o["in_channels"] = l.in_channels;
  o["out_channels"] = l.out_channels;
  if (l.kernel != 1) o["kernel"] = l.kernel;
  if (l.stride != 1) o["stride"] = l.stride;
  const bool mbconv = l.kind == LayerKind::mbconv;
  if (l.expand_ratio != (mbconv ? 1 : 0)) o["expand_ratio"] = l.expand_ratio;
  if (l.mid_channels != (mbconv ? l.in_channels * l.expand_ratio : 0)) o["mid_channels"] = l.mid_channels;
  if (l.se_channels != 0) o["se_channels"] = l.se_channels;
  if (l.groups != 1) o["groups"] = l.groups;
  if (l.always_expand) o["always_expand"] = true;
  if (l.act != Activation::none) o["act"] = std::string(to_string(l.act));
  if (l.use_bn) o["use_bn"] = true;
  if (l.bias) o["bias"] = true;
  if (l.shortcut) o["shortcut"] = true;
  return o;
}

inline CategoricalArch categorical_arch_from_json(const nlohmann::json& v, const CategoricalSpace& space,
                                                  const std::string& source) {
  if (!v.is_array() || v.size() != space.size()) {
    throw FormatError(source, 0, 0,
                      "expected a list of " + std::to_string(space.size()) + " choices (one per decision of space '" +
                          space.name() + "'), found " + detail::json_brief(v));
  }
  CategoricalArch arch(space.size());
  for (std::size_t i = 0; i < arch.size(); ++i) {
    const auto& cell = v[i];
    std::string text;
    if (cell.is_string()) {
      text = cell.get<std::string>();
    } else if (cell.is_number()) {
      text = detail::format_double(cell.get<double>());
    }
    arch[i] = text.empty() ? -1 : space.choice_index(i, text);
    if (arch[i] < 0) {
      throw FormatError(source, 0, 0,
                        "decision '" + space.decisions()[i].name + "' (index " + std::to_string(i) + "): " +
                            detail::json_brief(cell) + " is not one of its choices " + space.choices_text(i));
    }
  }
  return arch;
}

inline nlohmann::ordered_json categorical_arch_to_json(const CategoricalArch& arch, const CategoricalSpace& space) {
  space.validate(arch);
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < arch.size(); ++i) {
    const Decision& d = space.decisions()[i];
    const auto j = static_cast<std::size_t>(arch[i]);
    if (d.labels.empty()) {
      out.push_back(d.choices[j]);
    } else {
      out.push_back(d.labels[j]);
    }
  }
  return out;
}

inline std::vector<CategoricalArch> parse_categorical_arch_list(std::string_view text, const CategoricalSpace& space,
                                                                const std::string& source) {
  std::vector<CategoricalArch> out;
  detail::for_each_json_value(text, source, [&](const nlohmann::json& value) {
    if (!value.is_array() || value.empty() || !value[0].is_array()) {
      out.push_back(categorical_arch_from_json(value, space, source));
      return;
    }
    for (std::size_t i = 0; i < value.size(); ++i) {  // a list of architectures
      try {
        out.push_back(categorical_arch_from_json(value[i], space, source));
      } catch (const FormatError& e) {
        throw FormatError(source, 0, 0, "element " + std::to_string(i) + ": " + e.message());
      }
    }
  });
  return out;
}

inline std::vector<CategoricalArch> read_categorical_arch_file(const std::filesystem::path& path,
                                                               const CategoricalSpace& space) {
  if (path.extension() == ".csv") return BasicDataset<CategoricalArch>::read_csv(path, space.columns()).archs();
  return parse_categorical_arch_list(detail::read_file(path), space, path.string());
}

}  // namespace hwnas
