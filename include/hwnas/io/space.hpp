// Categorical space definitions as JSON files (docs/spaces.md), what the
// program's `--space @file.json` reads:
//   {"name": "my-space",
//    "decisions": [{"name": "width", "choices": [32, 64, 128]},
//                  {"name": "op", "repeat": 12, "labels": ["conv3", "conv5", "skip"]}]}
// "choices" are numbers (default: 0, 1, ... for the labels); "labels" name
// them; "repeat": n makes n decisions op0..op{n-1} of the same choices.
// Architectures of such a space as JSON: a list of choice labels or values
// per architecture. Needs nlohmann-json: link hwnas::io.
#pragma once

#include <algorithm>
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
    if (key != "name" && key != "decisions") fail(key, "unknown field (expected name, decisions)");
  }
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
      if (key != "name" && key != "choices" && key != "labels" && key != "repeat") {
        fail(at + "." + key, "unknown field (expected name, choices, labels, repeat)");
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
    std::size_t repeat = 0;  // 0: one decision of that name
    if (d.contains("repeat")) {
      const auto& r = d["repeat"];
      if (!r.is_number_integer() || r.get<std::int64_t>() < 1 || r.get<std::int64_t>() > 100000) {
        fail(at + ".repeat", "expected an integer in [1, 100000], found " + detail::json_brief(r));
      }
      repeat = r.get<std::size_t>();
    }
    if (repeat == 0) {
      decisions.push_back(std::move(one));
    } else {
      for (std::size_t k = 0; k < repeat; ++k) {
        Decision copy = one;
        copy.name += std::to_string(k);
        decisions.push_back(std::move(copy));
      }
    }
  }
  try {
    return CategoricalSpace(std::move(decisions), std::move(name));
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
  nlohmann::ordered_json out;
  out["name"] = space.name();
  out["decisions"] = std::move(decisions);
  return out;
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
