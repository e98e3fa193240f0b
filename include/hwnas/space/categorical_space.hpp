// A generic search space of N named decisions, each with its own list of
// choices (an operation per layer, width in {32, 64, 128}, ...), for spaces
// that the MBConv presets do not cover: FBNet (space/fbnet_space.hpp), a
// user's space from a JSON file (io/space.hpp). It offers the same verbs as
// MbConvSpace (sample, mutate, crossover, validate, count, enumerate,
// encode), its dataset columns (one per decision) and its feature encoding
// (one one-hot block per decision); both fulfil the SearchSpace concept
// (space/search_space.hpp).
#pragma once

#include <charconv>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <system_error>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "hwnas/big_uint.hpp"
#include "hwnas/dataset_columns.hpp"
#include "hwnas/detail/hash.hpp"
#include "hwnas/detail/text.hpp"
#include "hwnas/error.hpp"
#include "hwnas/random.hpp"
#include "hwnas/space/layer.hpp"

namespace hwnas {

/// One decision of a CategoricalSpace: a name, its choice values and,
/// optionally, a label per choice (FBNet's "k3_e1", ...: accepted in dataset
/// cells and architecture files, and used in feature names).
struct Decision {
  std::string name;
  std::vector<double> choices;
  std::vector<std::string> labels = {};

  friend bool operator==(const Decision&, const Decision&) = default;
};

/// The network a categorical space's architectures stand for, where the
/// space has one: fixed layers before (`stem`) and after (`head`) the
/// decisions, and `choices[i][j]`, the layers that choice j of decision i
/// puts in its place (none: the identity). With it the space has a layer
/// list, so MACs, parameters, LUT keys and the CPU executor apply.
struct SpaceLayers {
  std::vector<Layer> stem;
  std::vector<std::vector<std::vector<Layer>>> choices;
  std::vector<Layer> head;

  bool empty() const noexcept { return stem.empty() && choices.empty() && head.empty(); }
  friend bool operator==(const SpaceLayers&, const SpaceLayers&) = default;
};

/// An architecture of a CategoricalSpace: one choice *index* per decision.
using CategoricalArch = std::vector<int>;

/// N decisions with finitely many choices each. Immutable after
/// construction; every method is const and thread-safe (each thread passes
/// its own Rng).
class CategoricalSpace {
 public:
  using arch_type = CategoricalArch;

  struct MutationOptions {
    /// Per decision, the probability of redrawing it uniformly among *all*
    /// its choices (OFA's semantics: a redraw may keep the same choice).
    double probability = 0.1;
  };

  /// Throws InvalidArgument, naming the decision, for an empty list, an empty
  /// or repeated name, a decision without choices, a repeated or non-finite
  /// choice value, or labels that are not one distinct, non-empty name per
  /// choice; and for a space name that is empty or not a plain word. Given
  /// `layers`, also for a layer list per choice missing, a layer whose
  /// numbers are wrong (layer_problem) or that does not take the shape
  /// before it, and choices of one decision that give different shapes.
  explicit CategoricalSpace(std::vector<Decision> decisions, std::string name = "categorical",
                            SpaceLayers layers = {});

  /// The space's name (model files and messages say which space they hold).
  const std::string& name() const noexcept { return name_; }
  /// Number of decisions (the length of every architecture).
  std::size_t size() const noexcept { return decisions_.size(); }
  const std::vector<Decision>& decisions() const noexcept { return decisions_; }
  /// Equal names, decisions (choices and labels) and layers.
  friend bool operator==(const CategoricalSpace& a, const CategoricalSpace& b) {
    return a.name_ == b.name_ && a.decisions_ == b.decisions_ && a.layers_ == b.layers_;
  }

  /// Whether the space describes its network (SpaceLayers).
  bool has_layers() const noexcept { return !layers_.empty(); }
  const SpaceLayers& space_layers() const noexcept { return layers_; }
  /// The network of `arch`: the stem, each decision's chosen layers, the
  /// head. Validates `arch`; InvalidArgument when the space has no layers.
  [[nodiscard]] std::vector<Layer> layers(const CategoricalArch& arch) const;
  [[nodiscard]] NetworkCost cost(const CategoricalArch& arch) const { return network_cost(layers(arch)); }

  /// Each decision drawn uniformly and independently.
  CategoricalArch sample(Rng& rng) const;
  /// A copy of `arch` where each decision is redrawn with
  /// `options.probability` (in [0, 1]). Validates `arch` first.
  CategoricalArch mutate(const CategoricalArch& arch, Rng& rng,
                         const MutationOptions& options) const;
  /// mutate() with the default MutationOptions. (An overload, not a `= {}`
  /// default argument: GCC rejects that for a nested struct with default
  /// member initialisers inside its own enclosing class.)
  CategoricalArch mutate(const CategoricalArch& arch, Rng& rng) const {
    return mutate(arch, rng, MutationOptions{});
  }
  /// Uniform crossover: each decision taken from `a` or `b` with probability
  /// 1/2. Validates both parents first.
  CategoricalArch crossover(const CategoricalArch& a, const CategoricalArch& b, Rng& rng) const;
  /// Throws InvalidArgument for a wrong length or an index outside a
  /// decision's choices, e.g. "categorical space: decision 'lr' (index 2):
  /// choice index 5 outside [0, 3)".
  void validate(const CategoricalArch& arch) const { check(arch, ""); }

  /// Exact number of architectures (the product of the choice counts).
  BigUint count() const;
  /// Every architecture in lexicographic order (the last decision varies
  /// fastest). Throws InvalidArgument when count() > limit.
  std::vector<CategoricalArch> enumerate(std::uint64_t limit = 1'000'000) const;
  /// FNV-1a over the indices: the same value in every run and on every
  /// 64-bit platform. Does not validate; any vector of ints hashes.
  [[nodiscard]] std::uint64_t hash(const CategoricalArch& arch) const noexcept;

  /// The chosen value of each decision. Validates `arch` first.
  std::vector<double> values(const CategoricalArch& arch) const;
  /// Inverse of values(): matches each value exactly (==) against the
  /// choices. Throws InvalidArgument, naming the decision, when a value is
  /// not one of its choices, or for a wrong length.
  CategoricalArch from_values(std::span<const double> values) const;

  /// Choice `j` of decision `i` as text: its label, or its value.
  std::string choice_text(std::size_t i, std::size_t j) const {
    const Decision& d = decisions_.at(i);
    return d.labels.empty() ? detail::format_double(d.choices.at(j)) : d.labels.at(j);
  }
  /// Decision i's choices as text, "{k3_e1, k3_e1_g2, ...}" (for messages).
  std::string choices_text(std::size_t i) const {
    std::string out = "{";
    for (std::size_t j = 0; j < decisions_.at(i).choices.size(); ++j) out += (j ? ", " : "") + choice_text(i, j);
    return out + "}";
  }
  /// The index of `text` among decision i's choices: a label, or a number
  /// equal to a choice value; -1 when neither.
  int choice_index(std::size_t i, std::string_view text) const;

  /// How its architectures sit in dataset columns: one column per decision,
  /// named after it, holding the choice value (a label is also read).
  ArchColumns<CategoricalArch> columns() const;

  /// Length of the encoding: one one-hot block per decision, concatenated
  /// in decision order, so the sum of the choice counts.
  std::size_t encoding_dim() const noexcept { return offsets_.back(); }
  /// "<decision>=<choice text>" for every feature, in encoding order.
  std::vector<std::string> feature_names() const;
  /// Calls visit(index, 1.0) for the one bit set in each decision's block, in
  /// increasing index order, without allocating. Validates `arch`.
  template <class Visit>
  void for_each_feature(const CategoricalArch& arch, Visit&& visit) const {
    check(arch, "encode: ");
    for (std::size_t i = 0; i < arch.size(); ++i) visit(offsets_[i] + static_cast<std::size_t>(arch[i]), 1.0);
  }
  /// Writes the one-hot encoding of `arch` into `out` (a row vector, or a row
  /// of a row-major matrix). Validates `arch`; throws ShapeMismatch unless
  /// out.size() == encoding_dim(). Allocates nothing unless it throws.
  /// `Scalar` is not deduced from `out`: write encode<double>(...) for double.
  template <class Scalar = float>
  void encode(const CategoricalArch& arch,
              std::type_identity_t<Eigen::Ref<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>>> out) const;
  /// One encoded row per architecture.
  template <class Scalar = float>
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> encode_batch(
      std::span<const CategoricalArch> archs) const;

 private:
  static std::string describe(std::size_t i, const Decision& d) {
    return "decision '" + d.name + "' (index " + std::to_string(i) + ")";
  }
  static std::string format_choices(const std::vector<double>& choices) {
    std::string out = "{";
    for (std::size_t j = 0; j < choices.size(); ++j) {
      out += (j ? ", " : "") + detail::format_double(choices[j]);
    }
    return out + "}";
  }

  bool is_valid(const CategoricalArch& arch) const noexcept;
  void check_layers() const;
  // `context` (e.g. "crossover: second parent: ") goes after the prefix.
  void check(const CategoricalArch& arch, std::string_view context) const;

  std::vector<Decision> decisions_;
  std::string name_;
  SpaceLayers layers_;
  std::vector<std::size_t> offsets_;  // start of each one-hot block; back() == encoding_dim()
};

/// A CategoricalSpace's dataset columns: one per decision, in order, named
/// after it; a cell holds the choice value (written shortest round-trip) or,
/// when reading, its label.
template <>
class ArchColumns<CategoricalArch> {
 public:
  /// Unknown columns: reading needs the space's (CategoricalSpace::columns()).
  ArchColumns() = default;
  explicit ArchColumns(CategoricalSpace space) : space_(std::move(space)) {}

  bool known() const noexcept { return space_.has_value(); }
  std::string expected_header() const {
    return known() ? "'id," + space_->decisions().front().name + ",...,<devices>'"
                   : "'id,<one column per decision>,<devices>' (read with the space's columns())";
  }

  void read_header(CsvHeaderCursor& h) const {
    if (!known()) h.fail("the columns of a categorical space are unknown; read with the space's columns()");
    for (const Decision& d : space_->decisions()) {
      if (!h.at(d.name)) h.expected("'" + d.name + "' (the decisions of space '" + space_->name() + "', in order)");
      h.next();
    }
  }

  CategoricalArch read(CsvRowCursor& row) const {
    CategoricalArch arch(space_->size());
    for (std::size_t i = 0; i < arch.size(); ++i, row.next()) {
      arch[i] = space_->choice_index(i, row.text());
      if (arch[i] < 0) row.fail("'" + std::string(row.text()) + "' is not one of its choices " + space_->choices_text(i));
    }
    return arch;
  }

  void write_header(std::string& out) const {
    for (const Decision& d : space_->decisions()) out += "," + d.name;
  }

  void write(const CategoricalArch& arch, std::string& out) const {
    for (std::size_t i = 0; i < arch.size(); ++i) {
      out += ',';
      detail::append_number(out, space_->decisions()[i].choices[static_cast<std::size_t>(arch[i])]);
    }
  }

  void check(const CategoricalArch& arch) const {
    if (!known()) throw InvalidArgument("dataset: the columns of a categorical space are unknown");
    space_->validate(arch);
  }
  void learn(const CategoricalArch&) const noexcept {}

  const CategoricalSpace& space() const { return *space_; }

 private:
  std::optional<CategoricalSpace> space_;
};

// ---------------------------------------------------------------------------

inline CategoricalSpace::CategoricalSpace(std::vector<Decision> decisions, std::string name, SpaceLayers layers)
    : decisions_(std::move(decisions)), name_(std::move(name)), layers_(std::move(layers)) {
  const std::string prefix = "categorical space: ";
  if (!detail::is_plain_name(name_)) {
    throw InvalidArgument(prefix + "name '" + name_ +
                          "': expected a non-empty name of letters, digits, '_', '-' and '.'");
  }
  if (decisions_.empty()) {
    throw InvalidArgument(prefix + "expected at least one decision, got an empty list");
  }
  offsets_.reserve(decisions_.size() + 1);
  offsets_.push_back(0);
  for (std::size_t i = 0; i < decisions_.size(); ++i) {
    const Decision& d = decisions_[i];
    if (d.name.empty()) {
      throw InvalidArgument(prefix + "decision at index " + std::to_string(i) +
                            " has an empty name; expected a non-empty, unique name");
    }
    for (std::size_t k = 0; k < i; ++k) {
      if (decisions_[k].name == d.name) {
        throw InvalidArgument(prefix + describe(i, d) + ": the name is already used by index " +
                              std::to_string(k) + "; expected unique names");
      }
    }
    if (d.choices.empty()) {
      throw InvalidArgument(prefix + describe(i, d) + ": expected at least one choice, got none");
    }
    // Architectures store indices as int.
    if (d.choices.size() > static_cast<std::size_t>(INT_MAX)) {
      throw InvalidArgument(prefix + describe(i, d) + ": too many choices (" +
                            std::to_string(d.choices.size()) + "), at most INT_MAX");
    }
    for (std::size_t j = 0; j < d.choices.size(); ++j) {
      if (!std::isfinite(d.choices[j])) {
        throw InvalidArgument(prefix + describe(i, d) + ": choice " + std::to_string(j) +
                              " is " + detail::format_double(d.choices[j]) + "; expected a finite value");
      }
      for (std::size_t k = 0; k < j; ++k) {
        if (d.choices[k] == d.choices[j]) {
          throw InvalidArgument(prefix + describe(i, d) + ": choice value " +
                                detail::format_double(d.choices[j]) + " appears twice (choices " +
                                std::to_string(k) + " and " + std::to_string(j) +
                                "); expected distinct values");
        }
      }
    }
    if (!d.labels.empty() && d.labels.size() != d.choices.size()) {
      throw InvalidArgument(prefix + describe(i, d) + ": " + std::to_string(d.labels.size()) + " labels for " +
                            std::to_string(d.choices.size()) + " choices; expected one per choice, or none");
    }
    for (std::size_t j = 0; j < d.labels.size(); ++j) {
      if (!detail::is_plain_name(d.labels[j])) {
        throw InvalidArgument(prefix + describe(i, d) + ": label '" + d.labels[j] +
                              "': expected a non-empty name of letters, digits, '_', '-' and '.'");
      }
      for (std::size_t k = 0; k < j; ++k) {
        if (d.labels[k] == d.labels[j]) {
          throw InvalidArgument(prefix + describe(i, d) + ": label '" + d.labels[j] + "' appears twice (choices " +
                                std::to_string(k) + " and " + std::to_string(j) + ")");
        }
      }
    }
    if (!detail::is_plain_name(d.name)) {
      throw InvalidArgument(prefix + describe(i, d) +
                            ": expected a name of letters, digits, '_', '-' and '.' (it names a dataset column)");
    }
    offsets_.push_back(offsets_.back() + d.choices.size());
  }
  if (has_layers()) check_layers();
}

inline void CategoricalSpace::check_layers() const {
  const std::string prefix = "categorical space '" + name_ + "': layers: ";
  if (layers_.choices.size() != decisions_.size()) {
    throw InvalidArgument(prefix + std::to_string(layers_.choices.size()) +
                          " decisions have layer lists, the space has " + std::to_string(decisions_.size()) +
                          "; expected one list of choices per decision");
  }
  struct Shape {
    int size = 0, channels = 0;
    bool operator==(const Shape&) const = default;
    std::string text() const {
      return std::to_string(size) + "x" + std::to_string(size) + "x" + std::to_string(channels);
    }
  };
  // Runs `list` from `in` (unknown before the first layer), returns the shape it gives.
  auto run = [&](const std::vector<Layer>& list, std::optional<Shape> in, const std::string& where) {
    for (std::size_t k = 0; k < list.size(); ++k) {
      const Layer& l = list[k];
      const std::string at = where + "layer " + std::to_string(k) + " (" + std::string(to_string(l.kind)) + "): ";
      if (const std::string p = layer_problem(l); !p.empty()) throw InvalidArgument(prefix + at + p);
      const Shape takes{l.in_size, l.in_channels};
      if (in && !(*in == takes)) {
        throw InvalidArgument(prefix + at + "takes " + takes.text() + " but the layers before it give " + in->text());
      }
      in = Shape{l.out_size, l.out_channels};
    }
    return in;
  };
  std::optional<Shape> shape = run(layers_.stem, std::nullopt, "stem: ");
  for (std::size_t i = 0; i < decisions_.size(); ++i) {
    const Decision& d = decisions_[i];
    const auto& per_choice = layers_.choices[i];
    if (per_choice.size() != d.choices.size()) {
      throw InvalidArgument(prefix + describe(i, d) + ": " + std::to_string(per_choice.size()) +
                            " layer lists for " + std::to_string(d.choices.size()) +
                            " choices; expected one per choice (an empty one for the identity)");
    }
    std::optional<Shape> out;
    for (std::size_t j = 0; j < per_choice.size(); ++j) {
      const std::string where = describe(i, d) + ", choice " + choice_text(i, j) + ": ";
      const auto gives = run(per_choice[j], shape, where);
      if (!gives) {
        throw InvalidArgument(prefix + where + "the identity, but no layer before it fixes the shape; give the "
                              "layers before the first decision as the stem");
      }
      if (out && !(*out == *gives)) {
        throw InvalidArgument(prefix + where + "gives " + gives->text() + ", choice " + choice_text(i, 0) +
                              " gives " + out->text() + "; every choice of a decision must give the same shape");
      }
      out = gives;
    }
    shape = out;
  }
  run(layers_.head, shape, "head: ");
}

inline std::vector<Layer> CategoricalSpace::layers(const CategoricalArch& arch) const {
  if (!has_layers()) {
    throw InvalidArgument("categorical space '" + name_ + "' has no layer list (its definition gives no layers)");
  }
  check(arch, "layers: ");
  std::vector<Layer> out = layers_.stem;
  for (std::size_t i = 0; i < arch.size(); ++i) {
    const auto& chosen = layers_.choices[i][static_cast<std::size_t>(arch[i])];
    out.insert(out.end(), chosen.begin(), chosen.end());
  }
  out.insert(out.end(), layers_.head.begin(), layers_.head.end());
  return out;
}

inline int CategoricalSpace::choice_index(std::size_t i, std::string_view text) const {
  const Decision& d = decisions_.at(i);
  for (std::size_t j = 0; j < d.labels.size(); ++j) {
    if (d.labels[j] == text) return static_cast<int>(j);
  }
  double v = 0;
  const auto res = std::from_chars(text.data(), text.data() + text.size(), v);
  if (res.ec != std::errc() || res.ptr != text.data() + text.size() || text.empty()) return -1;
  for (std::size_t j = 0; j < d.choices.size(); ++j) {
    if (d.choices[j] == v) return static_cast<int>(j);
  }
  return -1;
}

inline ArchColumns<CategoricalArch> CategoricalSpace::columns() const { return ArchColumns<CategoricalArch>(*this); }

inline std::vector<std::string> CategoricalSpace::feature_names() const {
  std::vector<std::string> out;
  out.reserve(encoding_dim());
  for (std::size_t i = 0; i < decisions_.size(); ++i) {
    for (std::size_t j = 0; j < decisions_[i].choices.size(); ++j) {
      out.push_back(decisions_[i].name + "=" + choice_text(i, j));
    }
  }
  return out;
}

inline bool CategoricalSpace::is_valid(const CategoricalArch& arch) const noexcept {
  if (arch.size() != decisions_.size()) return false;
  for (std::size_t i = 0; i < arch.size(); ++i) {
    if (arch[i] < 0 || static_cast<std::size_t>(arch[i]) >= decisions_[i].choices.size()) {
      return false;
    }
  }
  return true;
}

inline void CategoricalSpace::check(const CategoricalArch& arch, std::string_view context) const {
  if (is_valid(arch)) return;  // the common path builds no strings
  const std::string prefix = "categorical space: " + std::string(context);
  if (arch.size() != decisions_.size()) {
    throw InvalidArgument(prefix + "architecture has " + std::to_string(arch.size()) +
                          " choice indices, expected " + std::to_string(decisions_.size()) +
                          " (one per decision)");
  }
  for (std::size_t i = 0; i < arch.size(); ++i) {
    const std::size_t n = decisions_[i].choices.size();
    if (arch[i] < 0 || static_cast<std::size_t>(arch[i]) >= n) {
      throw InvalidArgument(prefix + describe(i, decisions_[i]) + ": choice index " +
                            std::to_string(arch[i]) + " outside [0, " + std::to_string(n) + ")");
    }
  }
}

inline CategoricalArch CategoricalSpace::sample(Rng& rng) const {
  CategoricalArch arch(decisions_.size());
  for (std::size_t i = 0; i < arch.size(); ++i) {
    arch[i] = static_cast<int>(rng.uniform_index(decisions_[i].choices.size()));
  }
  return arch;
}

inline CategoricalArch CategoricalSpace::mutate(const CategoricalArch& arch, Rng& rng,
                                                const MutationOptions& options) const {
  if (!(options.probability >= 0.0 && options.probability <= 1.0)) {  // also rejects NaN
    throw InvalidArgument("categorical space: mutate: expected a probability in [0, 1], got " +
                          detail::format_double(options.probability));
  }
  check(arch, "mutate: ");
  CategoricalArch out = arch;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (rng.bernoulli(options.probability)) {
      out[i] = static_cast<int>(rng.uniform_index(decisions_[i].choices.size()));
    }
  }
  return out;
}

inline CategoricalArch CategoricalSpace::crossover(const CategoricalArch& a,
                                                   const CategoricalArch& b, Rng& rng) const {
  check(a, "crossover: first parent: ");
  check(b, "crossover: second parent: ");
  CategoricalArch out(a.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = rng.bernoulli(0.5) ? a[i] : b[i];
  return out;
}

inline BigUint CategoricalSpace::count() const {
  BigUint n(1);
  for (const Decision& d : decisions_) n *= d.choices.size();
  return n;
}

inline std::vector<CategoricalArch> CategoricalSpace::enumerate(std::uint64_t limit) const {
  const BigUint n = count();
  if (n > BigUint(limit)) {
    throw InvalidArgument("categorical space: enumerate: the space has " + n.to_string() +
                          " architectures, more than the limit " + std::to_string(limit));
  }
  std::vector<CategoricalArch> out;
  out.reserve(static_cast<std::size_t>(*n.to_uint64()));
  CategoricalArch arch(decisions_.size(), 0);
  while (true) {
    out.push_back(arch);
    // Odometer: advance the last decision, carrying to the left.
    std::size_t i = arch.size();
    while (i > 0 && static_cast<std::size_t>(++arch[i - 1]) == decisions_[i - 1].choices.size()) {
      arch[--i] = 0;
    }
    if (i == 0) return out;
  }
}

inline std::uint64_t CategoricalSpace::hash(const CategoricalArch& arch) const noexcept {
  detail::Fnv1a h;
  for (const int index : arch) h.mix(static_cast<std::uint32_t>(index));
  return h.value();
}

inline std::vector<double> CategoricalSpace::values(const CategoricalArch& arch) const {
  check(arch, "values: ");
  std::vector<double> out(arch.size());
  for (std::size_t i = 0; i < arch.size(); ++i) {
    out[i] = decisions_[i].choices[static_cast<std::size_t>(arch[i])];
  }
  return out;
}

inline CategoricalArch CategoricalSpace::from_values(std::span<const double> values) const {
  if (values.size() != decisions_.size()) {
    throw InvalidArgument("categorical space: from_values: got " + std::to_string(values.size()) +
                          " values, expected " + std::to_string(decisions_.size()) +
                          " (one per decision)");
  }
  CategoricalArch out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::vector<double>& choices = decisions_[i].choices;
    std::size_t j = 0;
    while (j < choices.size() && !(choices[j] == values[i])) ++j;
    if (j == choices.size()) {
      throw InvalidArgument("categorical space: from_values: " + describe(i, decisions_[i]) +
                            ": value " + detail::format_double(values[i]) +
                            " is not one of its choices " + format_choices(choices));
    }
    out[i] = static_cast<int>(j);
  }
  return out;
}

template <class Scalar>
void CategoricalSpace::encode(
    const CategoricalArch& arch,
    std::type_identity_t<Eigen::Ref<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>>> out) const {
  check(arch, "encode: ");
  if (static_cast<std::size_t>(out.size()) != encoding_dim()) {
    throw ShapeMismatch("categorical space: encode: output has " + std::to_string(out.size()) +
                        " entries, expected encoding_dim() = " + std::to_string(encoding_dim()));
  }
  out.setZero();
  for (std::size_t i = 0; i < arch.size(); ++i) {
    out(static_cast<Eigen::Index>(offsets_[i] + static_cast<std::size_t>(arch[i]))) = Scalar(1);
  }
}

template <class Scalar>
Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>
CategoricalSpace::encode_batch(std::span<const CategoricalArch> archs) const {
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> out(
      static_cast<Eigen::Index>(archs.size()), static_cast<Eigen::Index>(encoding_dim()));
  for (std::size_t r = 0; r < archs.size(); ++r) {
    if (!is_valid(archs[r])) check(archs[r], "encode_batch: architecture " + std::to_string(r) + ": ");
    encode<Scalar>(archs[r], out.row(static_cast<Eigen::Index>(r)));
  }
  return out;
}

}  // namespace hwnas
