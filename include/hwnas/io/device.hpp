// Device files (docs/generalisation.md): device records as JSON, one object,
// a list, or {"devices": [...]}:
//   {"name": "v100_64", "kind": "gpu", "batch": 64,
//    "spec": {"cores": 5120, "memory_gb": 16, "bandwidth_gbs": 900},
//    "fingerprint": [12.1, 9.8, ...]}
// Only "name" is required. Also: files of reference ids. Needs nlohmann-json:
// link hwnas::io.
#pragma once

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "hwnas/io/arch.hpp"
#include "hwnas/detail/file_io.hpp"
#include "hwnas/device.hpp"
#include "hwnas/error.hpp"

namespace hwnas {

/// One device record from parsed JSON; `path` names it in errors
/// ("devices[2]"). FormatError naming the source and the field.
inline DeviceDescriptor device_from_json(const nlohmann::json& v, const std::string& source,
                                         const std::string& path = "device") {
  auto fail = [&](const std::string& field, const std::string& what) -> void {
    throw FormatError(source, 0, 0, "field '" + path + (field.empty() ? "" : "." + field) + "': " + what);
  };
  if (!v.is_object()) fail("", "expected an object, found " + detail::json_brief(v));
  for (const auto& [key, value] : v.items()) {
    if (key != "name" && key != "kind" && key != "batch" && key != "spec" && key != "fingerprint") {
      fail(key, "unknown field (expected name, kind, batch, spec, fingerprint)");
    }
  }
  DeviceDescriptor d;
  if (!v.contains("name") || !v["name"].is_string() || v["name"].get<std::string>().empty()) {
    fail("name", v.contains("name") ? "expected a non-empty string, found " + detail::json_brief(v["name"]) : "missing");
  }
  d.name = v["name"].get<std::string>();
  if (v.contains("kind")) {
    if (!v["kind"].is_string()) fail("kind", "expected a string, found " + detail::json_brief(v["kind"]));
    d.kind = v["kind"].get<std::string>();
  }
  if (v.contains("batch")) {
    const int b = detail::json_int(v["batch"], source, path + ".batch");
    if (b < 1) fail("batch", "must be at least 1, found " + std::to_string(b));
    d.batch = static_cast<std::size_t>(b);
  }
  auto positive = [&](const nlohmann::json& x, const std::string& field) {
    if (!x.is_number() || !std::isfinite(x.get<double>()) || x.get<double>() <= 0) {
      fail(field, "expected a finite positive number, found " + detail::json_brief(x));
    }
    return x.get<double>();
  };
  if (v.contains("spec")) {
    if (!v["spec"].is_object()) fail("spec", "expected an object of numbers, found " + detail::json_brief(v["spec"]));
    for (const auto& [key, value] : v["spec"].items()) d.spec.emplace_back(key, positive(value, "spec." + key));
  }
  if (v.contains("fingerprint")) {
    const auto& f = v["fingerprint"];
    if (!f.is_array()) fail("fingerprint", "expected a list of latencies (ms), found " + detail::json_brief(f));
    for (std::size_t i = 0; i < f.size(); ++i) d.fingerprint.push_back(positive(f[i], "fingerprint[" + std::to_string(i) + "]"));
  }
  return d;
}

inline nlohmann::json device_to_json(const DeviceDescriptor& d) {
  nlohmann::json v{{"name", d.name}, {"kind", d.kind}, {"batch", d.batch}};
  nlohmann::json spec = nlohmann::json::object();
  for (const auto& [key, value] : d.spec) spec[key] = value;
  v["spec"] = spec;
  v["fingerprint"] = d.fingerprint;
  return v;
}

/// Every device in a JSON text: one record, a list of records, or an object
/// {"devices": [...]}. Names must be unique.
inline std::vector<DeviceDescriptor> parse_device_list(std::string_view text, const std::string& source = "<input>") {
  const nlohmann::json v = detail::parse_json(text, source);
  std::vector<DeviceDescriptor> out;
  if (v.is_object() && v.contains("devices")) {
    if (v.size() != 1) throw FormatError(source, 0, 0, "a device list holds only the field 'devices'");
    const auto& list = v["devices"];
    if (!list.is_array()) throw FormatError(source, 0, 0, "field 'devices': expected a list, found " + detail::json_brief(list));
    for (std::size_t i = 0; i < list.size(); ++i) out.push_back(device_from_json(list[i], source, "devices[" + std::to_string(i) + "]"));
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) out.push_back(device_from_json(v[i], source, "[" + std::to_string(i) + "]"));
  } else {
    out.push_back(device_from_json(v, source));
  }
  if (out.empty()) throw FormatError(source, 0, 0, "no devices");
  for (std::size_t i = 0; i < out.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (out[i].name == out[j].name) throw FormatError(source, 0, 0, "device '" + out[i].name + "' appears twice");
    }
  }
  return out;
}

inline std::vector<DeviceDescriptor> read_device_file(const std::filesystem::path& path) {
  return parse_device_list(detail::read_file(path), path.string());
}

/// Writes {"devices": [...]} atomically (temporary file, then rename).
inline void write_device_file(const std::filesystem::path& path, std::span<const DeviceDescriptor> devices) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& d : devices) list.push_back(device_to_json(d));
  detail::write_file_atomic(path, nlohmann::json{{"devices", list}}.dump(2) + "\n");
}

/// A file of dataset ids, one per line (blank lines skipped): which rows are
/// a fingerprint's reference architectures (HELP's reference_arch_ids.txt).
/// FormatError naming the file, line and column of a token that is not an
/// integer, or for a file without ids.
inline std::vector<std::int64_t> read_reference_ids(const std::filesystem::path& path) {
  const std::string text = detail::read_file(path);
  std::vector<std::int64_t> ids;
  std::size_t line = 1;
  for (std::size_t begin = 0; begin < text.size(); ++line) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string_view row(text.data() + begin, end - begin);
    const auto b = row.find_first_not_of(" \t\r"), e = row.find_last_not_of(" \t\r");
    if (b != std::string_view::npos) {
      const std::string_view t = row.substr(b, e - b + 1);
      std::int64_t id = 0;
      const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), id);
      if (ec != std::errc() || ptr != t.data() + t.size()) {
        throw FormatError(path.string(), line, b + 1, "expected a dataset id, found '" + std::string(t) + "'");
      }
      ids.push_back(id);
    }
    begin = end + 1;
  }
  if (ids.empty()) throw FormatError(path.string(), 0, 0, "no ids");
  return ids;
}

}  // namespace hwnas
