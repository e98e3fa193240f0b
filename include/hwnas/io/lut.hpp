// Lookup-table files: OFA's folder of `<r>_lookup_table.yaml` files (read
// with yaml-cpp, written the way PyYAML writes them, so OFA's own files come
// back byte for byte) and a single-file JSON form. Part of hwnas::io.
#pragma once

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <regex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "hwnas/io/arch.hpp"
#include "hwnas/detail/file_io.hpp"
#include "hwnas/error.hpp"
#include "hwnas/lut/lookup_table.hpp"
#include "hwnas/version.hpp"

namespace hwnas {

/// One table from OFA's YAML: a mapping of key -> {count, mean, std}.
/// FormatError with `source`, line and column for malformed YAML, a missing,
/// unknown or repeated field, a repeated key, or a bad value.
LookupTable parse_lut_yaml(std::string_view text, const std::string& source = "<input>");
LookupTable read_lut_yaml(const std::filesystem::path& path);
/// OFA's layout: keys in order, two-space indented count, mean, std, floats
/// as Python prints them.
std::string lut_to_yaml(const LookupTable& table);
/// Atomic (temp file, then rename).
void write_lut_yaml(const std::filesystem::path& path, const LookupTable& table);

/// Every `<r>_lookup_table.yaml` of a folder; IoError when there is none.
LookupTables read_lut_folder(const std::filesystem::path& dir);
/// One `<r>_lookup_table.yaml` per table (the folder is created if needed;
/// each file atomic).
void write_lut_folder(const std::filesystem::path& dir, const LookupTables& tables);

/// One file for all resolutions:
/// {"format": "hwnas-lut", "version": 1, "tables": {"<r>": {"<key>": {"count", "mean", "std"}}}}.
LookupTables parse_lut_json(std::string_view text, const std::string& source = "<input>");
LookupTables read_lut_json(const std::filesystem::path& path);
std::string lut_to_json(const LookupTables& tables);
void write_lut_json(const std::filesystem::path& path, const LookupTables& tables);

// ---------------------------------------------------------------------------

namespace detail {

/// A double as Python's repr() and then PyYAML print it: the shortest digits
/// that read back exactly, fixed notation for exponents -4..15, otherwise
/// d.ddde±XX; PyYAML adds ".0" where there is no point ("1.0e-05", "3.0").
inline std::string python_float(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string sci(buf, r.ptr);  // "-1.2345e-05"
  const auto e_pos = sci.find('e');
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  const bool negative = sci[0] == '-';
  std::string digits;
  for (std::size_t i = negative ? 1 : 0; i < e_pos; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
    } else {
      const auto int_digits = static_cast<std::size_t>(exponent) + 1;
      if (digits.size() <= int_digits) {
        out += digits + std::string(int_digits - digits.size(), '0') + ".0";
      } else {
        out += digits.substr(0, int_digits) + "." + digits.substr(int_digits);
      }
    }
    return out;
  }
  out += digits.substr(0, 1);
  out += digits.size() > 1 ? "." + digits.substr(1) : ".0";
  char exp[16];
  std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp;
}

/// A key PyYAML would print plain: OFA's keys are letters, digits and
/// `_:x-`; anything else is double-quoted.
inline std::string yaml_key(const std::string& key) {
  bool plain = !key.empty() && key.size() <= 128 && key.front() != '-' && key.back() != ':';
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == ':' || c == '-' || c == '.';
    plain = plain && ok;
  }
  if (plain && key.find(": ") == std::string::npos) return key;
  std::string out = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

[[noreturn]] inline void yaml_fail(const std::string& source, const YAML::Mark& mark, const std::string& what) {
  // yaml-cpp's marks are 0-based; a null mark is -1.
  const auto line = mark.line >= 0 ? static_cast<std::size_t>(mark.line) + 1 : 0;
  const auto column = mark.column >= 0 ? static_cast<std::size_t>(mark.column) + 1 : 0;
  throw FormatError(source, line, column, what);
}

template <class T>
T yaml_number(const YAML::Node& node, const std::string& source, const std::string& where) {
  if (!node.IsScalar()) yaml_fail(source, node.Mark(), where + ": expected a number");
  T value{};
  if (!YAML::convert<T>::decode(node, value)) {
    yaml_fail(source, node.Mark(), where + ": expected " + (std::is_integral_v<T> ? "an integer" : "a number") +
                                       ", found '" + node.Scalar() + "'");
  }
  return value;
}

inline int lut_resolution(std::string_view text, const std::string& source, const std::string& where) {
  int r = 0;
  const auto res = std::from_chars(text.data(), text.data() + text.size(), r);
  if (res.ec != std::errc() || res.ptr != text.data() + text.size() || r < 1 || r > 4096) {
    throw FormatError(source, 0, 0, where + ": the resolution must be an integer in [1, 4096], found '" +
                                        std::string(text) + "'");
  }
  return r;
}

}  // namespace detail

inline LookupTable parse_lut_yaml(std::string_view text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    detail::yaml_fail(source, e.mark, "malformed YAML: " + e.msg);
  }
  if (!root.IsMap()) {
    detail::yaml_fail(source, root.Mark(), root.IsNull() ? "empty lookup table" : "expected a mapping of layer keys");
  }
  LookupTable table(source);
  try {
    for (const auto& item : root) {
      if (!item.first.IsScalar()) detail::yaml_fail(source, item.first.Mark(), "a layer key must be a string");
      const std::string key = item.first.Scalar();
      if (table.find(key) != nullptr) detail::yaml_fail(source, item.first.Mark(), "repeated key '" + key + "'");
      const YAML::Node& fields = item.second;
      if (!fields.IsMap()) detail::yaml_fail(source, fields.Mark(), key + ": expected {count, mean, std}");
      LutEntry entry;
      bool seen[3] = {false, false, false};
      for (const auto& f : fields) {
        const std::string name = f.first.IsScalar() ? f.first.Scalar() : std::string();
        const std::string where = key + "." + name;
        int slot = name == "count" ? 0 : name == "mean" ? 1 : name == "std" ? 2 : -1;
        if (slot < 0) detail::yaml_fail(source, f.first.Mark(), key + ": unknown field '" + name + "' (expected count, mean, std)");
        if (seen[slot]) detail::yaml_fail(source, f.first.Mark(), key + ": repeated field '" + name + "'");
        seen[slot] = true;
        if (slot == 0) entry.count = detail::yaml_number<std::int64_t>(f.second, source, where);
        if (slot == 1) entry.mean = detail::yaml_number<double>(f.second, source, where);
        if (slot == 2) entry.std = detail::yaml_number<double>(f.second, source, where);
      }
      for (int slot = 0; slot < 3; ++slot) {
        if (!seen[slot]) {
          detail::yaml_fail(source, fields.Mark(),
                            key + ": missing field '" + (slot == 0 ? "count" : slot == 1 ? "mean" : "std") + "'");
        }
      }
      if (const auto problem = detail::lut_entry_problem(key, entry); !problem.empty()) {
        detail::yaml_fail(source, item.first.Mark(), problem);
      }
      table.set(key, entry);
    }
  } catch (const YAML::Exception& e) {
    detail::yaml_fail(source, e.mark, e.msg);
  }
  return table;
}

inline LookupTable read_lut_yaml(const std::filesystem::path& path) {
  return parse_lut_yaml(detail::read_file(path), path.string());
}

inline std::string lut_to_yaml(const LookupTable& table) {
  std::string out;
  for (const auto& [key, e] : table.entries()) {
    out += detail::yaml_key(key);
    out += ":\n  count: " + std::to_string(e.count);
    out += "\n  mean: " + detail::python_float(e.mean);
    out += "\n  std: " + detail::python_float(e.std) + "\n";
  }
  return out.empty() ? "{}\n" : out;
}

inline void write_lut_yaml(const std::filesystem::path& path, const LookupTable& table) {
  detail::write_file_atomic(path, lut_to_yaml(table));
}

inline LookupTables read_lut_folder(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw IoError("lut: '" + dir.string() + "' is not a folder");
  static const std::regex name_re("([0-9]+)_lookup_table\\.yaml");
  LookupTables tables;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    std::smatch m;
    if (!entry.is_regular_file() || !std::regex_match(name, m, name_re)) continue;
    const int r = detail::lut_resolution(m[1].str(), entry.path().string(), "file name");
    if (tables.count(r) != 0) {
      throw IoError("lut: two files for resolution " + std::to_string(r) + " in '" + dir.string() + "'");
    }
    tables.emplace(r, read_lut_yaml(entry.path()));
  }
  if (tables.empty()) throw IoError("lut: no <r>_lookup_table.yaml file in '" + dir.string() + "'");
  return tables;
}

inline void write_lut_folder(const std::filesystem::path& dir, const LookupTables& tables) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError("lut: cannot create folder '" + dir.string() + "': " + ec.message());
  for (const auto& [r, table] : tables) {
    write_lut_yaml(dir / (std::to_string(r) + "_lookup_table.yaml"), table);
  }
}

inline LookupTables parse_lut_json(std::string_view text, const std::string& source) {
  const nlohmann::json j = detail::parse_json(text, source);
  auto fail = [&](const std::string& what) -> void { throw FormatError(source, 0, 0, what); };
  if (!j.is_object()) fail("expected an object with format, version and tables");
  if (j.value("format", std::string()) != "hwnas-lut") fail("field 'format' must be \"hwnas-lut\"");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1) {
    fail("field 'version' must be 1 (this is hwnas " HWNAS_VERSION_STRING ")");
  }
  if (!j.contains("tables") || !j["tables"].is_object()) fail("field 'tables' must be an object");
  LookupTables tables;
  for (const auto& [r_text, entries] : j["tables"].items()) {
    const int r = detail::lut_resolution(r_text, source, "tables." + r_text);
    if (!entries.is_object()) fail("tables." + r_text + " must be an object of layer keys");
    LookupTable table(source + " (resolution " + r_text + ")");
    for (const auto& [key, fields] : entries.items()) {
      const std::string where = "tables." + r_text + "." + key;
      if (!fields.is_object() || fields.size() != 3 || !fields.contains("count") || !fields.contains("mean") ||
          !fields.contains("std")) {
        fail(where + " must be {\"count\", \"mean\", \"std\"}");
      }
      if (!fields["count"].is_number_integer()) fail(where + ".count must be an integer");
      if (!fields["mean"].is_number() || !fields["std"].is_number()) fail(where + ".mean and .std must be numbers");
      try {
        table.set(key, {fields["count"].get<std::int64_t>(), fields["mean"].get<double>(), fields["std"].get<double>()});
      } catch (const InvalidArgument& e) {
        fail(where + ": " + e.what());
      }
    }
    tables.emplace(r, std::move(table));
  }
  return tables;
}

inline LookupTables read_lut_json(const std::filesystem::path& path) {
  return parse_lut_json(detail::read_file(path), path.string());
}

inline std::string lut_to_json(const LookupTables& tables) {
  nlohmann::ordered_json j;
  j["format"] = "hwnas-lut";
  j["version"] = 1;
  j["tables"] = nlohmann::ordered_json::object();
  for (const auto& [r, table] : tables) {
    auto& t = j["tables"][std::to_string(r)] = nlohmann::ordered_json::object();
    for (const auto& [key, e] : table.entries()) t[key] = {{"count", e.count}, {"mean", e.mean}, {"std", e.std}};
  }
  return j.dump(1) + "\n";
}

inline void write_lut_json(const std::filesystem::path& path, const LookupTables& tables) {
  detail::write_file_atomic(path, lut_to_json(tables));
}

}  // namespace hwnas
