// Small text helpers shared by the error messages: value lists, shortest
// doubles, and checks of choice lists.
#pragma once

#include <algorithm>
#include <charconv>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hwnas/error.hpp"

namespace hwnas::detail {

inline std::string join_ints(std::span<const int> values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(values[i]);
  }
  return out + "}";
}

/// Shortest decimal form that reads back as the same double ("1.2", not
/// "1.200000").
inline std::string format_double(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

/// A non-empty word of ASCII letters, digits, '_', '-' and '.': safe as a
/// CSV column, a JSON key and a file-name part without quoting.
inline bool is_plain_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

inline bool contains(std::span<const int> values, int v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

inline void check_choice_list(const std::string& where, const char* field,
                              const std::vector<int>& values, int min_value) {
  if (values.empty()) throw InvalidArgument(where + field + " must not be empty");
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] < min_value) {
      throw InvalidArgument(where + field + "[" + std::to_string(i) + "] = " +
                            std::to_string(values[i]) + ", expected >= " + std::to_string(min_value));
    }
    if (i > 0 && values[i] <= values[i - 1]) {
      throw InvalidArgument(where + field + " must be strictly ascending, found " +
                            join_ints(values));
    }
  }
}

}  // namespace hwnas::detail
