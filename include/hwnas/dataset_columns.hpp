// How an architecture is laid out in the columns of a dataset CSV, between
// the `id` column and the device columns: ArchColumns<Arch>, one
// specialisation per architecture type. OFA's spec (ks0.., e0.., d0.., r) is
// here; CategoricalSpace brings its own (one column per decision). A user's
// space brings a specialisation of the same shape.
#pragma once

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/error.hpp"

namespace hwnas {

/// One field of a CSV line: its trimmed text and its 1-based column.
struct CsvField {
  std::string_view text;
  std::size_t column;
};

/// The header's fields, from the first architecture column on: what
/// ArchColumns::read_header reads, taking one field at a time.
class CsvHeaderCursor {
 public:
  CsvHeaderCursor(const std::vector<CsvField>& fields, std::size_t pos, const std::string& source,
                  std::size_t line, std::size_t end_column)
      : fields_(fields), pos_(pos), source_(source), line_(line), end_column_(end_column) {}

  /// Whether the current field is `name`.
  bool at(std::string_view name) const { return pos_ < fields_.size() && fields_[pos_].text == name; }
  void next() { ++pos_; }
  std::size_t position() const noexcept { return pos_; }
  /// FormatError "header: expected column <what>, found '<field>'".
  [[noreturn]] void expected(const std::string& what) const {
    fail("expected column " + what + ", found " +
         (pos_ < fields_.size() ? "'" + std::string(fields_[pos_].text) + "'" : "the end of the header"));
  }
  /// FormatError "file:line:column: header: <what>" at the current field.
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(source_, line_, pos_ < fields_.size() ? fields_[pos_].column : end_column_,
                      "header: " + what);
  }

 private:
  const std::vector<CsvField>& fields_;
  std::size_t pos_;
  const std::string& source_;
  std::size_t line_, end_column_;
};

/// A data row's fields, from the first architecture column on: what
/// ArchColumns::read reads, one field at a time.
class CsvRowCursor {
 public:
  CsvRowCursor(const std::vector<CsvField>& fields, const std::vector<std::string>& names, std::size_t pos,
               const std::string& source, std::size_t line)
      : fields_(fields), names_(names), pos_(pos), source_(source), line_(line) {}

  std::string_view text() const { return fields_[pos_].text; }
  void next() { ++pos_; }
  /// FormatError "file:line:column: field '<name>': <what>" at the current field.
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(source_, line_, fields_[pos_].column, "field '" + names_[pos_] + "': " + what);
  }
  /// The current field as a non-negative int; then moves on.
  int non_negative_int() {
    const std::string_view s = text();
    int v = 0;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (res.ec == std::errc::result_out_of_range && res.ptr == s.data() + s.size()) {
      fail("integer out of range, found '" + std::string(s) + "'");
    }
    if (res.ec != std::errc() || res.ptr != s.data() + s.size() || s.empty()) {
      fail("expected an integer, found '" + std::string(s) + "'");
    }
    if (v < 0) fail("must be non-negative, found " + std::to_string(v));
    next();
    return v;
  }

 private:
  const std::vector<CsvField>& fields_;
  const std::vector<std::string>& names_;
  std::size_t pos_;
  const std::string& source_;
  std::size_t line_;
};

namespace detail {

/// Appends a number in its shortest round-trip form (std::to_chars).
template <class T>
void append_number(std::string& out, T value) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, res.ptr);
}

}  // namespace detail

/// How architectures of type Arch sit in a dataset's columns. Each
/// specialisation offers: known() (whether the columns are decided),
/// expected_header() (for the message about an empty file), read_header
/// (decides or checks the columns), read (one row's architecture),
/// write_header and write (comma first, for the CSV writer), check (add_row's
/// test of an architecture) and learn (decides the columns from a first row).
template <class Arch>
class ArchColumns;

/// OFA's spec: ks0..ks{n-1}, e0..e{n-1}, d0..d{s-1}, r. Default-constructed,
/// the counts are read from the header (or the first row added).
template <>
class ArchColumns<Architecture> {
 public:
  ArchColumns() = default;
  ArchColumns(std::size_t slots, std::size_t stages) : slots_(slots), stages_(stages) {}

  bool known() const noexcept { return slots_ != 0 && stages_ != 0; }
  std::size_t num_slots() const noexcept { return slots_; }
  std::size_t num_stages() const noexcept { return stages_; }
  static std::string expected_header() { return "'id,ks0,...,e0,...,d0,...,r,<devices>'"; }

  void read_header(CsvHeaderCursor& h) {
    // Names are appended piece by piece: GCC 12 warns (-Wrestrict, a false
    // positive) about "literal" + std::string temporaries inlined here.
    const auto name = [](const char* prefix, std::size_t i) { return std::string(prefix).append(std::to_string(i)); };
    const auto quoted = [](const std::string& text) { return std::string("'").append(text).append("'"); };
    std::size_t slots = 0;
    while (h.at(name("ks", slots))) ++slots, h.next();
    if (slots == 0) h.expected("'ks0'");
    for (std::size_t j = 0; j < slots; ++j, h.next()) {
      if (h.at(name("e", j))) continue;
      if (j == 0) h.expected(quoted(name("ks", slots)).append(" or 'e0'"));
      h.expected(quoted(name("e", j)).append(" (one e column per ks column: ").append(std::to_string(slots)).append(")"));
    }
    std::size_t stages = 0;
    while (h.at(name("d", stages))) ++stages, h.next();
    if (stages == 0) h.expected("'d0'");
    if (!h.at("r")) h.expected(quoted(name("d", stages)).append(" or 'r'"));
    h.next();
    if (known() && (slots != slots_ || stages != stages_)) {
      h.fail("the columns hold " + std::to_string(slots) + " ks/e slots and " + std::to_string(stages) +
             " stages; the space has " + std::to_string(slots_) + " and " + std::to_string(stages_));
    }
    slots_ = slots;
    stages_ = stages;
  }

  Architecture read(CsvRowCursor& row) const {
    Architecture arch;
    arch.ks.resize(slots_);
    arch.e.resize(slots_);
    arch.d.resize(stages_);
    for (auto& v : arch.ks) v = row.non_negative_int();
    for (auto& v : arch.e) v = row.non_negative_int();
    for (auto& v : arch.d) v = row.non_negative_int();
    arch.r = row.non_negative_int();
    return arch;
  }

  void write_header(std::string& out) const {
    for (std::size_t j = 0; j < slots_; ++j) out += ",ks" + std::to_string(j);
    for (std::size_t j = 0; j < slots_; ++j) out += ",e" + std::to_string(j);
    for (std::size_t j = 0; j < stages_; ++j) out += ",d" + std::to_string(j);
    out += ",r";
  }

  void write(const Architecture& a, std::string& out) const {
    for (const auto* part : {&a.ks, &a.e, &a.d}) {
      for (int v : *part) {
        out += ',';
        detail::append_number(out, v);
      }
    }
    out += ',';
    detail::append_number(out, a.r);
  }

  /// Values are not checked against a search space (that is the space's
  /// job), only the shape and the signs.
  void check(const Architecture& arch) const {
    if (arch.ks.size() != arch.e.size()) {
      throw InvalidArgument("dataset: architecture has " + std::to_string(arch.ks.size()) + " ks entries but " +
                            std::to_string(arch.e.size()) + " e entries");
    }
    if (arch.ks.empty() || arch.d.empty()) {
      throw InvalidArgument("dataset: architecture needs at least one ks/e slot and one stage, got " +
                            std::to_string(arch.ks.size()) + " slots and " + std::to_string(arch.d.size()) +
                            " stages");
    }
    if (known() && (arch.ks.size() != slots_ || arch.d.size() != stages_)) {
      throw InvalidArgument("dataset: architecture has " + std::to_string(arch.ks.size()) + " ks/e slots and " +
                            std::to_string(arch.d.size()) + " stages, but the dataset has " +
                            std::to_string(slots_) + " and " + std::to_string(stages_));
    }
    const auto non_negative = [](const std::vector<int>& values, const char* what) {
      for (std::size_t j = 0; j < values.size(); ++j) {
        if (values[j] < 0) {
          throw InvalidArgument("dataset: " + std::string(what) + std::to_string(j) +
                                " must be non-negative, found " + std::to_string(values[j]));
        }
      }
    };
    non_negative(arch.ks, "ks");
    non_negative(arch.e, "e");
    non_negative(arch.d, "d");
    if (arch.r < 0) throw InvalidArgument("dataset: r must be non-negative, found " + std::to_string(arch.r));
  }

  void learn(const Architecture& arch) noexcept {
    if (!known()) {
      slots_ = arch.ks.size();
      stages_ = arch.d.size();
    }
  }

  friend bool operator==(const ArchColumns&, const ArchColumns&) = default;

 private:
  std::size_t slots_ = 0, stages_ = 0;
};

}  // namespace hwnas
