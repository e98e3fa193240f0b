// Which rows of a dataset train, validate and test: a seeded random split,
// the project's benchmark split (by id), nested random subsets for learning
// curves, and the split grammar the program and the experiments share
// (`benchmark`, `all`, `random:SEED`, `ids:A-B,[C-D,]E-F`).
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hwnas/dataset.hpp"
#include "hwnas/detail/text.hpp"
#include "hwnas/error.hpp"
#include "hwnas/random.hpp"

namespace hwnas {

/// Row indices of a train / validation / test split.
struct Split {
  std::vector<std::size_t> train, validation, test;
};

/// Seeded random split of rows 0..n-1: shuffle 0..n-1 with Rng(seed)
/// (Rng::shuffle), then the first round(n*train) go to train, the next
/// round(n*validation) to validation, the rest to test (each part in shuffled
/// order). InvalidArgument unless train and validation lie in [0, 1] and
/// train + validation <= 1 (within 1e-9; test takes the remainder).
Split random_split(std::size_t n, std::uint64_t seed, double train = 0.70,
                   double validation = 0.15);

/// The project's benchmark split, defined by id alone so every language gets
/// the same rows: m = ((id % 20) + 20) % 20; m in {0,1,2} -> test, {3,4,5} ->
/// validation, the rest -> train. Each part in row order.
template <class Arch>
Split benchmark_split(const BasicDataset<Arch>& data);

/// `count` distinct entries of `rows`, chosen with Rng(seed) by a partial
/// Fisher-Yates shuffle, in the order drawn. With one seed, the result for
/// count k is a prefix of the result for count k + 1 (nested subsets for
/// learning curves). InvalidArgument when count > rows.size() or `rows`
/// holds a value twice.
std::vector<std::size_t> random_subset(std::span<const std::size_t> rows, std::size_t count,
                                       std::uint64_t seed);

/// A split by name, as the program's --split takes it:
/// - `benchmark`: benchmark_split (by id);
/// - `random:SEED`: random_split(n, SEED), 70/15/15;
/// - `ids:A-B,C-D` or `ids:A-B,C-D,E-F`: inclusive id ranges of train,
///   (validation,) test;
/// - `all`: every row is a test row (for evaluating a finished model).
struct SplitSpec {
  enum class Kind { benchmark, random, ids, all };
  Kind kind = Kind::benchmark;
  std::uint64_t seed = 0;
  /// ids: inclusive id ranges of train, validation (lo > hi: none) and test.
  std::array<std::pair<std::int64_t, std::int64_t>, 3> ranges{};
  std::string text = "benchmark";  ///< as given

  /// InvalidArgument naming the grammar for anything else.
  static SplitSpec parse(std::string_view text);
  /// The rows of `data` this spec selects.
  template <class Arch>
  Split apply(const BasicDataset<Arch>& data) const;
};

// ---------------------------------------------------------------------------
// Definitions

inline Split random_split(std::size_t n, std::uint64_t seed, double train, double validation) {
  const auto in_unit = [](double x) { return x >= 0.0 && x <= 1.0; };  // false for NaN
  if (!in_unit(train)) {
    throw InvalidArgument("random_split: train fraction must be in [0, 1], got " +
                          detail::format_double(train));
  }
  if (!in_unit(validation)) {
    throw InvalidArgument("random_split: validation fraction must be in [0, 1], got " +
                          detail::format_double(validation));
  }
  if (train + validation > 1.0 + 1e-9) {
    throw InvalidArgument(
        "random_split: train + validation must be at most 1 (test takes the "
        "rest), got " +
        detail::format_double(train + validation));
  }
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  Rng rng(seed);
  rng.shuffle(std::span<std::size_t>(order));
  const double nd = static_cast<double>(n);
  const std::size_t n_train = std::min(n, static_cast<std::size_t>(std::llround(nd * train)));
  const std::size_t n_val =
      std::min(n - n_train, static_cast<std::size_t>(std::llround(nd * validation)));
  Split s;
  const auto b = order.begin();
  const auto as_diff = [](std::size_t k) { return static_cast<std::ptrdiff_t>(k); };
  s.train.assign(b, b + as_diff(n_train));
  s.validation.assign(b + as_diff(n_train), b + as_diff(n_train + n_val));
  s.test.assign(b + as_diff(n_train + n_val), order.end());
  return s;
}

template <class Arch>
Split benchmark_split(const BasicDataset<Arch>& data) {
  Split s;
  const auto& ids = data.ids();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::int64_t m = ((ids[i] % 20) + 20) % 20;
    if (m <= 2) {
      s.test.push_back(i);
    } else if (m <= 5) {
      s.validation.push_back(i);
    } else {
      s.train.push_back(i);
    }
  }
  return s;
}

inline std::vector<std::size_t> random_subset(std::span<const std::size_t> rows, std::size_t count,
                                              std::uint64_t seed) {
  if (count > rows.size()) {
    throw InvalidArgument("random_subset: cannot choose " + std::to_string(count) +
                          " distinct rows from " + std::to_string(rows.size()));
  }
  std::vector<std::size_t> pool(rows.begin(), rows.end());
  {
    std::vector<std::size_t> sorted = pool;
    std::sort(sorted.begin(), sorted.end());
    if (const auto it = std::adjacent_find(sorted.begin(), sorted.end()); it != sorted.end()) {
      throw InvalidArgument("random_subset: row " + std::to_string(*it) +
                            " appears twice in the rows to choose from");
    }
  }
  // Forward partial Fisher-Yates: the first k draws do not depend on count,
  // which makes subsets of one seed nested.
  Rng rng(seed);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t j = i + static_cast<std::size_t>(rng.uniform_index(pool.size() - i));
    std::swap(pool[i], pool[j]);
  }
  pool.resize(count);
  return pool;
}

namespace detail {

// "A-B" (inclusive, A <= B) or nullopt.
inline std::optional<std::pair<std::int64_t, std::int64_t>> parse_id_range(std::string_view t) {
  const auto dash = t.find('-', 1);
  if (dash == std::string_view::npos) return std::nullopt;
  std::int64_t lo = 0, hi = 0;
  const auto a = std::from_chars(t.data(), t.data() + dash, lo);
  const auto b = std::from_chars(t.data() + dash + 1, t.data() + t.size(), hi);
  if (a.ec != std::errc() || a.ptr != t.data() + dash || b.ec != std::errc() || b.ptr != t.data() + t.size() ||
      lo > hi) {
    return std::nullopt;
  }
  return std::pair{lo, hi};
}

}  // namespace detail

inline SplitSpec SplitSpec::parse(std::string_view text) {
  SplitSpec c;
  c.text = std::string(text);
  if (text == "benchmark") return c;
  if (text == "all") {
    c.kind = Kind::all;
    return c;
  }
  if (text.starts_with("ids:")) {
    std::vector<std::pair<std::int64_t, std::int64_t>> parts;
    std::string_view rest = text.substr(4);
    bool ok = true;
    while (ok) {
      const auto comma = rest.find(',');
      const auto range = detail::parse_id_range(rest.substr(0, comma));
      ok = range.has_value();
      if (ok) parts.push_back(*range);
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    if (ok && (parts.size() == 2 || parts.size() == 3)) {
      c.kind = Kind::ids;
      c.ranges = {parts[0], parts.size() == 3 ? parts[1] : std::pair<std::int64_t, std::int64_t>{1, 0}, parts.back()};
      return c;
    }
  }
  if (text.starts_with("random:")) {
    const std::string_view digits = text.substr(7);
    const char* end = digits.data() + digits.size();
    const auto [ptr, ec] = std::from_chars(digits.data(), end, c.seed);
    if (!digits.empty() && ec == std::errc() && ptr == end) {
      c.kind = Kind::random;
      return c;
    }
  }
  throw InvalidArgument("split: expected benchmark, all, random:SEED or ids:A-B,[C-D,]E-F, found '" +
                        std::string(text) + "'");
}

template <class Arch>
Split SplitSpec::apply(const BasicDataset<Arch>& data) const {
  Split s;
  switch (kind) {
    case Kind::benchmark: return benchmark_split(data);
    case Kind::random: return random_split(data.size(), seed);
    case Kind::ids:
      for (std::size_t row = 0; row < data.size(); ++row) {
        const std::int64_t id = data.ids()[row];
        const auto in = [id](const std::pair<std::int64_t, std::int64_t>& r) { return r.first <= id && id <= r.second; };
        if (in(ranges[0])) s.train.push_back(row);
        if (in(ranges[1])) s.validation.push_back(row);
        if (in(ranges[2])) s.test.push_back(row);
      }
      return s;
    case Kind::all: break;
  }
  s.test.resize(data.size());
  std::iota(s.test.begin(), s.test.end(), std::size_t{0});
  return s;
}

}  // namespace hwnas
