// Latency datasets: one row per measured architecture (an id, the
// architecture's columns, one latency column per device), read from and
// written to the CSV layout of HELP's ofa_gpu_latency.csv and fbnet CSVs
// (docs/dataset.md). BasicDataset<Arch> holds any architecture type whose
// columns ArchColumns<Arch> describes (dataset_columns.hpp); `Dataset` is
// OFA's. The splits of its rows are in split.hpp. The CSV reader is
// hand-written (no CSV library in the core) and reports every problem with
// file, line and column.
#pragma once

#include <algorithm>
#include <concepts>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/dataset_columns.hpp"
#include "hwnas/detail/file_io.hpp"
#include "hwnas/detail/text.hpp"
#include "hwnas/error.hpp"

namespace hwnas {

/// A table of architectures and their measured latencies (ms), one column per
/// device. Invariants: ids are unique; every architecture passes the
/// layout's check (for OFA's spec: the same number of ks/e slots and of
/// stages in every row, all values non-negative); every latency is finite
/// and non-negative. Values are not checked against a search space (that is
/// the space's job).
template <class Arch>
class BasicDataset {
 public:
  using arch_type = Arch;
  using Layout = ArchColumns<Arch>;

  /// The largest latency a dataset takes: 1e6 ms, about 17 minutes for
  /// one inference, far beyond any device; a larger value is a unit or
  /// export mistake (ns for ms, 1e300), refused with the row and column.
  static constexpr double max_latency_ms = 1e6;

  BasicDataset() = default;

  /// An empty dataset with the given device columns. InvalidArgument when a
  /// name is empty, repeated, has surrounding whitespace or contains a comma,
  /// a quote or a line break (the CSV writer does not quote).
  explicit BasicDataset(std::vector<std::string> columns, Layout layout = Layout());

  /// Reads a CSV file (layout in docs/dataset.md); the architecture columns
  /// are `layout`'s (a space's columns(); OFA's are read from the header when
  /// not given). Files of other tools are read too: RFC 4180 quoted fields,
  /// CRLF or CR-only line ends, a BOM, pandas' unnamed index column before
  /// `id` (skipped). IoError when it cannot be read, FormatError
  /// ("file:line:column: ...") when its content is wrong.
  static BasicDataset read_csv(const std::filesystem::path& path, Layout layout = Layout());

  /// Parses CSV text; `source_name` is used as the file name in errors.
  static BasicDataset parse_csv(std::string_view text, const std::string& source_name = "<input>",
                                Layout layout = Layout());

  /// The CSV text (LF line endings, no BOM). Doubles are written shortest
  /// round-trip (std::to_chars), so parse_csv(to_csv()) is bit-identical.
  /// InvalidArgument when the architecture columns are still unknown (a
  /// dataset built from device names that has no rows yet).
  std::string to_csv() const;

  /// Writes to_csv() atomically (temp file in the same folder, then rename).
  void write_csv(const std::filesystem::path& path) const;

  /// Appends one row. ShapeMismatch when latencies.size() != columns().size();
  /// InvalidArgument for a duplicate id, a non-finite, negative or
  /// impossible (> max_latency_ms) latency (naming its column), or an
  /// architecture the layout refuses (for OFA's
  /// spec: negative ks/e/d/r, ks.size() != e.size(), empty ks or d, or a
  /// shape differing from earlier rows). Strong guarantee.
  void add_row(std::int64_t id, Arch arch, std::span<const double> latencies);

  std::size_t size() const noexcept { return ids_.size(); }
  bool empty() const noexcept { return ids_.empty(); }

  /// Device column names, in file order.
  const std::vector<std::string>& columns() const noexcept { return columns_; }

  /// Position of a device column; InvalidArgument listing the available
  /// columns when there is none of that name.
  std::size_t column_index(std::string_view name) const;

  const std::vector<std::int64_t>& ids() const noexcept { return ids_; }
  const std::vector<Arch>& archs() const noexcept { return archs_; }
  /// How the architectures sit in the CSV columns.
  const Layout& layout() const noexcept { return layout_; }

  /// Row holding `id`; InvalidArgument when no row has it.
  std::size_t row_of_id(std::int64_t id) const;

  /// OFA's spec: ks/e entries per architecture and d entries per
  /// architecture; 0 while unknown (no rows yet and not read from a file).
  std::size_t num_slots() const noexcept requires std::same_as<Arch, Architecture> { return layout_.num_slots(); }
  std::size_t num_stages() const noexcept requires std::same_as<Arch, Architecture> { return layout_.num_stages(); }

  /// The latencies of one device, in row order.
  std::vector<double> column(std::string_view name) const;

  /// Latency of `row` on device `column` (indices); InvalidArgument when out
  /// of range.
  double latency(std::size_t row, std::size_t column) const;

  /// The given rows, in the given order. InvalidArgument when a row is out of
  /// range or given twice (ids must stay unique).
  BasicDataset subset(std::span<const std::size_t> rows) const;

  /// All rows with only the named device columns, in the given order.
  /// InvalidArgument for an unknown or repeated name.
  BasicDataset select_columns(std::span<const std::string> names) const;

 private:
  void reserve_rows(std::size_t rows) {
    ids_.reserve(rows);
    archs_.reserve(rows);
    latencies_.reserve(rows * columns_.size());
    row_of_id_.reserve(rows);
  }
  // Appends without validation; callers have checked everything.
  void push_row_unchecked(std::int64_t id, Arch&& arch, std::span<const double> lat) {
    row_of_id_.emplace(id, ids_.size());
    ids_.push_back(id);
    archs_.push_back(std::move(arch));
    latencies_.insert(latencies_.end(), lat.begin(), lat.end());
  }

  std::vector<std::string> columns_;
  std::vector<std::int64_t> ids_;
  std::vector<Arch> archs_;
  std::vector<double> latencies_;  // row-major: size() x columns_.size()
  std::unordered_map<std::int64_t, std::size_t> row_of_id_;
  Layout layout_;
};

/// OFA's latency table (ks/e/d/r columns).
using Dataset = BasicDataset<Architecture>;

// ---------------------------------------------------------------------------
// Definitions

namespace detail {

inline constexpr const char* kDatasetMaxLatencyText =
    "at most 1e6 ms (about 17 minutes for one inference); is the column in ms?";

/// Why `name` cannot be a device column name, or "" when it can.
inline std::string dataset_column_name_problem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.find(',') != std::string_view::npos) return "contains a comma";
  if (name.find('"') != std::string_view::npos) return "contains a quote";
  if (name.find('\r') != std::string_view::npos) {
    return "contains a carriage return (a line ending of another system inside the line?)";
  }
  if (name.find('\n') != std::string_view::npos) return "contains a line break";
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  if (is_space(name.front()) || is_space(name.back())) return "has leading or trailing whitespace";
  return {};
}

inline std::string_view dataset_trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

inline bool dataset_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

/// Splits one CSV line into `fields`: each field's text (trimmed of spaces
/// and tabs) and its 1-based column. A field may be quoted as RFC 4180 says
/// (Excel, csv.QUOTE_ALL): its text is what lies between the quotes, "" in it
/// a quote (such texts live in `storage`). FormatError for an unterminated
/// quote or text after a closing quote.
inline void split_csv_line(std::string_view line, std::vector<CsvField>& fields, std::deque<std::string>& storage,
                           const std::string& source, std::size_t line_no) {
  fields.clear();
  storage.clear();
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  std::size_t i = 0;
  while (true) {
    std::size_t j = i;
    while (j < line.size() && is_space(line[j])) ++j;
    if (j == line.size() || line[j] != '"') {
      const std::size_t comma = line.find(',', i);
      const std::size_t end = comma == std::string_view::npos ? line.size() : comma;
      fields.push_back({dataset_trim(line.substr(i, end - i)), i + 1});
      if (comma == std::string_view::npos) return;
      i = comma + 1;
      continue;
    }
    const std::size_t open = j;
    std::size_t close = open + 1;
    bool escaped = false;
    while (true) {
      close = line.find('"', close);
      if (close == std::string_view::npos) {
        throw FormatError(source, line_no, open + 1,
                          "a quoted field opens here and the line ends before its closing quote (a field cannot "
                          "span lines)");
      }
      if (close + 1 < line.size() && line[close + 1] == '"') {
        escaped = true;
        close += 2;
        continue;
      }
      break;
    }
    std::string_view text = line.substr(open + 1, close - open - 1);
    if (escaped) {
      std::string& unescaped = storage.emplace_back();
      for (std::size_t k = 0; k < text.size(); ++k) {
        unescaped.push_back(text[k]);
        if (text[k] == '"') ++k;  // "" stands for one quote
      }
      text = unescaped;
    }
    fields.push_back({text, open + 1});
    std::size_t after = close + 1;
    while (after < line.size() && is_space(line[after])) ++after;
    if (after == line.size()) return;
    if (line[after] != ',') {
      throw FormatError(source, line_no, after + 1, "text after the closing quote of a field (expected a comma)");
    }
    i = after + 1;
  }
}

}  // namespace detail

template <class Arch>
BasicDataset<Arch>::BasicDataset(std::vector<std::string> columns, Layout layout) : layout_(std::move(layout)) {
  std::unordered_map<std::string_view, std::size_t> seen;  // name -> position, for linear-time checks
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (auto problem = detail::dataset_column_name_problem(columns[i]); !problem.empty()) {
      throw InvalidArgument("dataset: device column " + std::to_string(i + 1) + " ('" + columns[i] +
                            "') " + problem);
    }
    if (auto [it, fresh] = seen.emplace(columns[i], i); !fresh) {
      throw InvalidArgument("dataset: duplicate device column '" + columns[i] + "' (columns " +
                            std::to_string(it->second + 1) + " and " + std::to_string(i + 1) + ")");
    }
  }
  columns_ = std::move(columns);
}

template <class Arch>
BasicDataset<Arch> BasicDataset<Arch>::read_csv(const std::filesystem::path& path, Layout layout) {
  return parse_csv(detail::read_file(path), path.string(), std::move(layout));
}

template <class Arch>
BasicDataset<Arch> BasicDataset<Arch>::parse_csv(std::string_view text, const std::string& source_name,
                                                 Layout layout) {
  constexpr std::string_view bom = "\xEF\xBB\xBF";
  if (text.substr(0, bom.size()) == bom) text.remove_prefix(bom.size());
  std::string cr_lines;  // an old Mac file, its lines ended by '\r' alone: read as '\n'
  if (text.find('\n') == std::string_view::npos && text.find('\r') != std::string_view::npos) {
    cr_lines.assign(text);
    std::replace(cr_lines.begin(), cr_lines.end(), '\r', '\n');
    text = cr_lines;
  }
  if (detail::dataset_blank(text)) {
    throw FormatError(source_name, 0, 0, "file is empty (expected a header line " + layout.expected_header() + ")");
  }

  std::vector<CsvField> fields;
  std::deque<std::string> unquoted;
  std::size_t line_no = 0;
  const auto split = [&](std::string_view line) {
    detail::split_csv_line(line, fields, unquoted, source_name, line_no);
  };

  std::size_t pos = 0;
  // Next physical line without its '\n' and '\r'; false at the end of text.
  const auto next_line = [&](std::string_view& line) {
    if (pos > text.size()) return false;
    const std::size_t nl = text.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    ++line_no;
    return true;
  };

  // --- header -------------------------------------------------------------
  std::string_view line;
  next_line(line);
  split(line);
  const std::size_t header_end_column = line.size() + 1;
  // pandas' to_csv() writes its index first, under an empty name: that column is skipped.
  const bool pandas_index = fields.size() > 1 && fields[0].text.empty() && fields[1].text == "id";
  const std::size_t n_fields = fields.size();
  if (pandas_index) {
    fields.erase(fields.begin());
  } else if (!fields.empty() && fields[0].text.empty() && fields.size() > 1) {
    throw FormatError(source_name, line_no, 1,
                      "header: the first column has no name, as pandas' to_csv() writes its index, and 'id' does "
                      "not follow it; give the ids a column 'id' (first, or right after the index), or write the "
                      "file with to_csv(path, index=False)");
  } else if (fields.empty() || fields[0].text != "id") {
    CsvHeaderCursor(fields, 0, source_name, line_no, header_end_column).expected("'id'");
  }
  CsvHeaderCursor header(fields, 1, source_name, line_no, header_end_column);
  layout.read_header(header);
  const std::size_t p = header.position();

  std::vector<std::string> devices;
  std::unordered_map<std::string_view, std::size_t> first_column;  // linear-time duplicate check
  for (std::size_t q = p; q < fields.size(); ++q) {
    const std::string name(fields[q].text);
    if (auto problem = detail::dataset_column_name_problem(name); !problem.empty()) {
      throw FormatError(source_name, line_no, fields[q].column,
                        "header: device column name '" + name + "' " + problem);
    }
    if (auto [it, fresh] = first_column.emplace(fields[q].text, fields[q].column); !fresh) {
      throw FormatError(source_name, line_no, fields[q].column,
                        "header: duplicate device column '" + name + "' (first at column " +
                            std::to_string(it->second) + ")");
    }
    devices.push_back(name);
  }
  // Field names for messages, in file order.
  std::vector<std::string> names;
  names.reserve(fields.size());
  for (const auto& f : fields) names.emplace_back(f.text);

  BasicDataset out(std::move(devices), std::move(layout));
  // The line count bounds the row count and keeps the vectors from regrowing.
  // So does the size: a row of n fields takes at least 2n bytes (n non-empty
  // fields, n - 1 commas, a line break). Without that bound a wide header
  // over many blank lines reserved lines x columns doubles, far beyond the
  // input (std::bad_alloc instead of a result).
  const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  out.reserve_rows(std::min(lines, text.size() / (2 * n_fields) + 1));

  // --- rows ---------------------------------------------------------------
  std::vector<double> lat(out.columns().size());
  const auto fail = [&](std::size_t f, const std::string& what) {
    throw FormatError(source_name, line_no, fields[f].column, "field '" + names[f] + "': " + what);
  };
  const auto integer = [&]<class Int>(std::size_t f, Int& value) {
    const std::string_view s = fields[f].text;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), value);
    if (res.ec == std::errc::result_out_of_range && res.ptr == s.data() + s.size()) {
      fail(f, "integer out of range, found '" + std::string(s) + "'");
    }
    if (res.ec != std::errc() || res.ptr != s.data() + s.size() || s.empty()) {
      fail(f, "expected an integer, found '" + std::string(s) + "'");
    }
  };

  while (next_line(line)) {
    if (detail::dataset_blank(line)) {
      // Blank lines may only end the file.
      if (detail::dataset_blank(text.substr(std::min(pos, text.size())))) break;
      throw FormatError(source_name, line_no, 0,
                        "empty line inside the data (only the end of the file may be blank)");
    }
    split(line);
    if (fields.size() != n_fields) {
      throw FormatError(source_name, line_no, 0,
                        "expected " + std::to_string(n_fields) + " fields (as in the header), found " +
                            std::to_string(fields.size()));
    }
    if (pandas_index) fields.erase(fields.begin());

    std::int64_t id = 0;
    integer(std::size_t{0}, id);
    if (const auto it = out.row_of_id_.find(id); it != out.row_of_id_.end()) {
      // Blank lines never precede data, so row k sits on line k + 2.
      fail(0, "duplicate id " + std::to_string(id) + " (first seen on line " +
                  std::to_string(it->second + 2) + ")");
    }
    CsvRowCursor cells(fields, names, 1, source_name, line_no);
    Arch arch = out.layout_.read(cells);
    std::size_t f = p;
    for (std::size_t c = 0; c < lat.size(); ++c, ++f) {
      const std::string_view s = fields[f].text;
      double v = 0.0;
      const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
      if (res.ec == std::errc::result_out_of_range && res.ptr == s.data() + s.size()) {
        fail(f, "latency out of the range of double, found " + std::string(s));
      }
      if (res.ec != std::errc() || res.ptr != s.data() + s.size() || s.empty()) {
        fail(f, "expected a number, found '" + std::string(s) + "'");
      }
      if (!std::isfinite(v) || v < 0.0) {
        fail(f, "latency must be finite and non-negative, found " + std::string(s));
      }
      if (v > max_latency_ms) {
        fail(f, "latency " + std::string(s) + " ms is beyond any device: " + detail::kDatasetMaxLatencyText);
      }
      lat[c] = v;
    }
    out.push_row_unchecked(id, std::move(arch), lat);
  }
  return out;
}

template <class Arch>
std::string BasicDataset<Arch>::to_csv() const {
  if (!layout_.known()) {
    throw InvalidArgument(
        "dataset: to_csv needs the architecture shape (for OFA's spec, the number of ks/e slots and "
        "stages), which is unknown until the first row is added");
  }
  std::string out = "id";
  layout_.write_header(out);
  for (const auto& c : columns_) out += "," + c;
  out += '\n';
  out.reserve(out.size() * (size() + 1));
  const std::size_t n_cols = columns_.size();
  for (std::size_t i = 0; i < size(); ++i) {
    detail::append_number(out, ids_[i]);
    layout_.write(archs_[i], out);
    for (std::size_t c = 0; c < n_cols; ++c) {
      out += ',';
      detail::append_number(out, latencies_[i * n_cols + c]);
    }
    out += '\n';
  }
  return out;
}

template <class Arch>
void BasicDataset<Arch>::write_csv(const std::filesystem::path& path) const {
  detail::write_file_atomic(path, to_csv());
}

template <class Arch>
void BasicDataset<Arch>::add_row(std::int64_t id, Arch arch, std::span<const double> latencies) {
  if (latencies.size() != columns_.size()) {
    throw ShapeMismatch("dataset: add_row got " + std::to_string(latencies.size()) +
                        " latencies for " + std::to_string(columns_.size()) + " device columns");
  }
  if (row_of_id_.count(id)) {
    throw InvalidArgument("dataset: duplicate id " + std::to_string(id) + " (already in row " +
                          std::to_string(row_of_id_.at(id)) + ")");
  }
  layout_.check(arch);
  for (std::size_t c = 0; c < latencies.size(); ++c) {
    if (!std::isfinite(latencies[c]) || latencies[c] < 0.0) {
      throw InvalidArgument("dataset: field '" + columns_[c] +
                            "': latency must be finite and non-negative, found " +
                            detail::format_double(latencies[c]));
    }
    if (latencies[c] > max_latency_ms) {
      throw InvalidArgument("dataset: field '" + columns_[c] + "': latency " + detail::format_double(latencies[c]) +
                            " ms is beyond any device: " + detail::kDatasetMaxLatencyText);
    }
  }
  // Reserve first so the pushes below cannot throw half-way (strong guarantee).
  ids_.reserve(ids_.size() + 1);
  archs_.reserve(archs_.size() + 1);
  latencies_.reserve(latencies_.size() + latencies.size());
  row_of_id_.reserve(row_of_id_.size() + 1);
  layout_.learn(arch);
  push_row_unchecked(id, std::move(arch), latencies);
}

template <class Arch>
std::size_t BasicDataset<Arch>::column_index(std::string_view name) const {
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    if (columns_[c] == name) return c;
  }
  std::string available;
  for (const auto& c : columns_) available += (available.empty() ? "" : ", ") + c;
  if (available.empty()) available = "(none)";
  throw InvalidArgument("dataset: unknown device column '" + std::string(name) +
                        "'; available: " + available);
}

template <class Arch>
std::size_t BasicDataset<Arch>::row_of_id(std::int64_t id) const {
  const auto it = row_of_id_.find(id);
  if (it == row_of_id_.end()) {
    throw InvalidArgument("dataset: no row has id " + std::to_string(id));
  }
  return it->second;
}

template <class Arch>
std::vector<double> BasicDataset<Arch>::column(std::string_view name) const {
  const std::size_t c = column_index(name);
  const std::size_t n_cols = columns_.size();
  std::vector<double> out(size());
  for (std::size_t i = 0; i < size(); ++i) out[i] = latencies_[i * n_cols + c];
  return out;
}

template <class Arch>
double BasicDataset<Arch>::latency(std::size_t row, std::size_t column) const {
  if (row >= size() || column >= columns_.size()) {
    throw InvalidArgument("dataset: latency(" + std::to_string(row) + ", " +
                          std::to_string(column) + ") out of range (" + std::to_string(size()) +
                          " rows, " + std::to_string(columns_.size()) + " columns)");
  }
  return latencies_[row * columns_.size() + column];
}

template <class Arch>
BasicDataset<Arch> BasicDataset<Arch>::subset(std::span<const std::size_t> rows) const {
  std::vector<char> taken(size(), 0);
  for (std::size_t row : rows) {
    if (row >= size()) {
      throw InvalidArgument("dataset: subset row " + std::to_string(row) + " out of range (" +
                            std::to_string(size()) + " rows)");
    }
    if (taken[row]) {
      throw InvalidArgument("dataset: subset row " + std::to_string(row) +
                            " given twice (ids must stay unique)");
    }
    taken[row] = 1;
  }
  BasicDataset out;
  out.columns_ = columns_;
  out.layout_ = layout_;
  out.reserve_rows(rows.size());
  const std::size_t n_cols = columns_.size();
  for (std::size_t row : rows) {
    Arch arch = archs_[row];
    out.push_row_unchecked(ids_[row], std::move(arch),
                           std::span<const double>(latencies_).subspan(row * n_cols, n_cols));
  }
  return out;
}

template <class Arch>
BasicDataset<Arch> BasicDataset<Arch>::select_columns(std::span<const std::string> names) const {
  std::vector<std::size_t> index;
  index.reserve(names.size());
  for (const auto& name : names) index.push_back(column_index(name));
  BasicDataset out(std::vector<std::string>(names.begin(), names.end()), layout_);  // rejects repeats
  out.ids_ = ids_;
  out.archs_ = archs_;
  out.row_of_id_ = row_of_id_;
  const std::size_t n_cols = columns_.size();
  out.latencies_.resize(size() * index.size());
  for (std::size_t i = 0; i < size(); ++i) {
    for (std::size_t c = 0; c < index.size(); ++c) {
      out.latencies_[i * index.size() + c] = latencies_[i * n_cols + index[c]];
    }
  }
  return out;
}

}  // namespace hwnas
