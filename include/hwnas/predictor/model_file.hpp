// Model files of the learned latency models, one codec per kind in the
// container of detail/model_container.hpp (docs/model-file.md):
// `latency-mlp` (a LatencyPredictor with everything needed to rebuild it:
// search space, encoder, network shape, target scaling, weights),
// `latency-ensemble` (a PredictorEnsemble: its members' fields) and
// `latency-devices` (a DevicePredictor: device records, reference
// architectures, members).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "hwnas/detail/file_io.hpp"
#include "hwnas/detail/model_container.hpp"
#include "hwnas/error.hpp"
#include "hwnas/predictor/device_predictor.hpp"
#include "hwnas/predictor/encoding.hpp"
#include "hwnas/predictor/ensemble.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/predictor/npy.hpp"
#include "hwnas/space/categorical_space.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas {

/// The bytes of a model file for `predictor` (what save_predictor writes).
/// Deterministic: equal predictors give equal bytes.
template <class Scalar, class Space>
std::string predictor_to_bytes(const LatencyPredictor<Scalar, Space>& predictor);

/// Writes `predictor` to `path` atomically (a temp file in the same folder,
/// then a rename): readers see the old file or the whole new one.
template <class Scalar, class Space>
void save_predictor(const LatencyPredictor<Scalar, Space>& predictor, const std::filesystem::path& path);

/// Rebuilds a predictor from model-file bytes; `source` names them in errors.
/// A float64 file loads into LatencyPredictor<float> by rounding each weight
/// to nearest, a float32 file into <double> exactly; saving writes the
/// predictor's own Scalar. FormatError ("source: ...") for a file that is not
/// a model file, is truncated or damaged, comes from a newer format version,
/// or whose settings and sizes do not fit together, and for a file of
/// another kind of space than `Space` (model_space_family says which).
template <class Scalar = float, class Space = MbConvSpace>
LatencyPredictor<Scalar, Space> predictor_from_bytes(std::string_view bytes, const std::string& source = "<input>");

/// predictor_from_bytes on the content of `path`; IoError when unreadable.
template <class Scalar = float, class Space = MbConvSpace>
LatencyPredictor<Scalar, Space> load_predictor(const std::filesystem::path& path);

/// The bytes of a model file holding `ensemble` (kind `latency-ensemble`:
/// the member count, then each member's predictor fields under the key
/// prefix `member<i>.`; a weighted ensemble adds `weights` and `offset`).
/// Deterministic.
template <class Scalar, class Space>
std::string ensemble_to_bytes(const PredictorEnsemble<Scalar, Space>& ensemble);

/// Writes `ensemble` to `path` atomically.
template <class Scalar, class Space>
void save_ensemble(const PredictorEnsemble<Scalar, Space>& ensemble, const std::filesystem::path& path);

/// Rebuilds an ensemble from model-file bytes. Reads both kinds: an ensemble
/// file, and a single predictor's file as an ensemble of one (whose
/// predictions equal the predictor's bit for bit), so a program that takes
/// "a latency model" loads it this way. FormatError as predictor_from_bytes.
template <class Scalar = float, class Space = MbConvSpace>
PredictorEnsemble<Scalar, Space> ensemble_from_bytes(std::string_view bytes, const std::string& source = "<input>");

/// ensemble_from_bytes on the content of `path`; IoError when unreadable.
template <class Scalar = float, class Space = MbConvSpace>
PredictorEnsemble<Scalar, Space> load_ensemble(const std::filesystem::path& path);

/// The family of the space a model file holds (an ensemble's or
/// multi-device model's first member's): "mobilenet-v3" or "proxyless" (an MbConvSpace), "categorical"
/// (a CategoricalSpace). What a program checks before choosing `Space`.
inline std::string model_space_family(const std::filesystem::path& path);

/// The bytes of a model file holding a DevicePredictor (kind
/// `latency-devices`: its mode, reference architectures, device records,
/// conditioning features and models).
template <class Scalar, class Space>
std::string device_predictor_to_bytes(const DevicePredictor<Scalar, Space>& model);
/// device_predictor_to_bytes() written atomically to `path`.
template <class Scalar, class Space>
void save_device_predictor(const DevicePredictor<Scalar, Space>& model, const std::filesystem::path& path);
/// Rebuilds a DevicePredictor; FormatError naming the source and the field.
template <class Scalar = float, class Space = MbConvSpace>
DevicePredictor<Scalar, Space> device_predictor_from_bytes(std::string_view bytes,
                                                           const std::string& source = "<input>");
template <class Scalar = float, class Space = MbConvSpace>
DevicePredictor<Scalar, Space> load_device_predictor(const std::filesystem::path& path);

// ---------------------------------------------------------------------------

namespace detail {

inline std::string_view model_family_name(Family f) noexcept {
  return f == Family::mobilenet_v3 ? "mobilenet-v3" : "proxyless";
}

inline constexpr std::string_view kCategoricalFamily = "categorical";

// A Layer as numbers in the model file, in this order.
inline constexpr std::size_t kLayerInts = 16;
inline std::array<std::int64_t, kLayerInts> layer_ints(const Layer& l) {
  return {static_cast<std::int64_t>(l.kind), l.in_size, l.out_size, l.in_channels, l.out_channels, l.kernel,
          l.stride, l.expand_ratio, l.mid_channels, l.se_channels, l.groups, static_cast<std::int64_t>(l.act),
          l.use_bn, l.bias, l.shortcut, l.always_expand};
}
// The inverse, or "" and the field's problem for numbers no Layer has.
inline std::string layer_from_ints(std::span<const std::int64_t> v, Layer& l) {
  for (std::size_t i = 0; i < kLayerInts; ++i) {
    if (v[i] < 0 || v[i] > (1 << 20)) return "value " + std::to_string(v[i]) + " outside [0, 2^20]";
  }
  if (v[0] > static_cast<std::int64_t>(LayerKind::conv)) return "layer kind " + std::to_string(v[0]) + " unknown";
  if (v[11] > static_cast<std::int64_t>(Activation::tanh)) return "activation " + std::to_string(v[11]) + " unknown";
  for (std::size_t i : {12, 13, 14, 15}) {
    if (v[i] > 1) return "a flag is " + std::to_string(v[i]) + "; expected 0 or 1";
  }
  auto i = [&](std::size_t k) { return static_cast<int>(v[k]); };
  l.kind = static_cast<LayerKind>(v[0]);
  l.in_size = i(1);
  l.out_size = i(2);
  l.in_channels = i(3);
  l.out_channels = i(4);
  l.kernel = i(5);
  l.stride = i(6);
  l.expand_ratio = i(7);
  l.mid_channels = i(8);
  l.se_channels = i(9);
  l.groups = i(10);
  l.act = static_cast<Activation>(v[11]);
  l.use_bn = v[12] != 0;
  l.bias = v[13] != 0;
  l.shortcut = v[14] != 0;
  l.always_expand = v[15] != 0;
  return "";
}

// The space's fields: an MbConvSpace's options, or a CategoricalSpace's
// decisions (names, choice counts, the choice values in one array, label
// counts (0 or the choice count) and the labels).
inline void write_space_fields(ModelWriter& w, const MbConvSpace& space, const std::string& prefix) {
  const auto& so = space.options();
  auto k = [&prefix](std::string_view name) { return prefix + std::string(name); };
  std::vector<int> depth_expand;
  for (auto [d, e] : so.depth_expand) {
    depth_expand.push_back(d);
    depth_expand.push_back(e);
  }
  w.string(k("space.name"), so.name);
  w.string(k("space.family"), model_family_name(so.family));
  w.float64(k("space.width"), so.width);
  w.int64_list<int>(k("space.kernel_choices"), so.kernel_choices);
  w.int64_list<int>(k("space.expand_choices"), so.expand_choices);
  w.int64_list<int>(k("space.depth_choices"), so.depth_choices);
  w.int64_list<int>(k("space.stage_kernels"), so.stage_kernels);
  w.int64_list<int>(k("space.depth_expand"), depth_expand);
  w.int64_list<int>(k("space.resolutions"), so.resolutions);
  w.int64(k("space.num_classes"), so.num_classes);
}

inline void write_space_fields(ModelWriter& w, const CategoricalSpace& space, const std::string& prefix) {
  std::vector<std::string> names, labels;
  std::vector<int> counts, label_counts;
  std::vector<double> choices;
  for (const Decision& d : space.decisions()) {
    names.push_back(d.name);
    counts.push_back(static_cast<int>(d.choices.size()));
    choices.insert(choices.end(), d.choices.begin(), d.choices.end());
    label_counts.push_back(static_cast<int>(d.labels.size()));
    labels.insert(labels.end(), d.labels.begin(), d.labels.end());
  }
  w.string(prefix + "space.name", space.name());
  w.string(prefix + "space.family", kCategoricalFamily);
  w.names(prefix + "space.decisions", names);
  w.int64_list<int>(prefix + "space.choice_counts", counts);
  w.array<double>(prefix + "space.choices", choices);
  w.int64_list<int>(prefix + "space.label_counts", label_counts);
  w.names(prefix + "space.labels", labels);
  if (!space.has_layers()) return;  // files of spaces without layers stay as they were
  // The layers: their counts (stem, each decision's choices, head) and
  // kLayerInts numbers per layer.
  const SpaceLayers& sl = space.space_layers();
  std::vector<int> counts_out{static_cast<int>(sl.stem.size())};
  std::vector<std::int64_t> numbers;
  auto add = [&](const std::vector<Layer>& list) {
    for (const Layer& l : list) {
      const auto v = layer_ints(l);
      numbers.insert(numbers.end(), v.begin(), v.end());
    }
  };
  add(sl.stem);
  for (const auto& per_choice : sl.choices) {
    for (const auto& list : per_choice) {
      counts_out.push_back(static_cast<int>(list.size()));
      add(list);
    }
  }
  counts_out.push_back(static_cast<int>(sl.head.size()));
  add(sl.head);
  w.int64_list<int>(prefix + "space.layer_counts", counts_out);
  w.int64_list<std::int64_t>(prefix + "space.layers", numbers);
}

// A predictor's fields, every key prefixed (an ensemble's member i: "member<i>.").
template <class Scalar, class Space>
void write_predictor_fields(ModelWriter& w, const LatencyPredictor<Scalar, Space>& predictor,
                            const std::string& prefix) {
  const auto& eo = predictor.encoder().options();
  const auto& po = predictor.options();
  const auto& net = predictor.network();
  auto k = [&prefix](std::string_view name) { return prefix + std::string(name); };
  w.string(k("scalar"), model_scalar_name<Scalar>());
  write_space_fields(w, predictor.space(), prefix);
  // The encoder's effective settings (its resolution list filled in from the
  // space), so the file never depends on a library default.
  w.string(k("encoder.resolution"), to_string(eo.resolution));
  w.int64_list<int>(k("encoder.resolutions"), eo.resolutions);
  w.int64(k("encoder.hardware_features"), static_cast<std::int64_t>(eo.hardware_features));
  w.int64_list<std::size_t>(k("hidden"), po.hidden);
  w.string(k("target.transform"), to_string(predictor.target_transform()));
  w.float64(k("target.mean"), predictor.target_mean());
  w.float64(k("target.scale"), predictor.target_scale());
  w.int64_list<std::size_t>(k("layer_sizes"), net.sizes());
  w.array<Scalar>(k("parameters"), std::span<const Scalar>(net.parameters().data(), net.num_parameters()));
  const auto& linear = predictor.linear_weights();
  w.array<Scalar>(k("linear"), std::span<const Scalar>(linear.data(), static_cast<std::size_t>(linear.size())));
}

// Reading a predictor's fields in two steps, so that a file's unknown fields
// are reported (check_all_used) before its settings are judged: read_fields
// takes the values, build checks them and makes the predictor.
class PredictorFieldReader {
 public:
  PredictorFieldReader(ModelReader& r, std::string prefix) : r_(r), prefix_(std::move(prefix)) { read_fields(); }

  template <class Scalar, class Space = MbConvSpace>
  LatencyPredictor<Scalar, Space> build() {
    try {
      eo_.resolution = resolution_encoding_from_string(resolution_);
    } catch (const InvalidArgument& e) {
      r_.fail("field '" + k("encoder.resolution") + "': " + e.what());
    }
    // Construct through the public constructors so the file gets exactly the
    // checks that hand-built options get. The sizes are checked before the
    // network is allocated, so a crafted file cannot ask for more memory than
    // its own parameters take.
    auto invalid = [this](const Error& e) { r_.fail(std::string("invalid settings: ") + e.what()); };
    const bool categorical = !decisions_.empty();
    if (categorical != std::is_same_v<Space, CategoricalSpace>) {
      r_.fail("field '" + k("space.family") + "': the file holds a predictor of the " +
              (categorical ? "categorical space '" + so_.name + "'; load it with Space = CategoricalSpace"
                           : "MBConv space '" + so_.name + "'; load it with Space = MbConvSpace"));
    }
    std::optional<Space> space;
    std::size_t input_dim = 0, layer_dim = 0;
    try {
      if constexpr (std::is_same_v<Space, CategoricalSpace>) {
        space.emplace(std::move(decisions_), so_.name, std::move(layers_));
      } else {
        space.emplace(std::move(so_));
      }
      const encoder_for<Space> encoder(*space, eo_);
      input_dim = encoder.dim();
      layer_dim = encoder.layer_dim();
    } catch (const InvalidArgument& e) {
      invalid(e);
    }
    std::vector<std::size_t> expected{input_dim};
    expected.insert(expected.end(), po_.hidden.begin(), po_.hidden.end());
    expected.push_back(1);
    if (layer_sizes_ != expected) {
      r_.fail("field '" + k("layer_sizes") + "' = " + npy_shape_string(layer_sizes_) + " but the encoder's " +
              std::to_string(input_dim) + " features and '" + k("hidden") + "' = " + npy_shape_string(po_.hidden) +
              " make " + npy_shape_string(expected));
    }
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
    std::size_t need = 0;
    bool overflow = false;
    for (std::size_t l = 0; l + 1 < expected.size() && !overflow; ++l) {
      const std::size_t in = expected[l], out = expected[l + 1];  // (in + 1) * out: weight and bias
      overflow = (out != 0 && in > (kMax - out) / out) || in * out + out > kMax - need;
      if (!overflow) need += in * out + out;
    }
    if (overflow || n_params_ != need) {
      r_.fail("field '" + k("parameters") + "' has " + std::to_string(n_params_) + " values but layer sizes " +
              npy_shape_string(expected) + " need " +
              (overflow ? "more than " + std::to_string(kMax) : std::to_string(need)));
    }
    if (n_linear_ != 0 && n_linear_ != input_dim + layer_dim + 1) {
      r_.fail("field '" + k("linear") + "' has " + std::to_string(n_linear_) + " values but the encoder's " +
              std::to_string(input_dim) + " features, " + std::to_string(layer_dim) +
              " layer features times pixels and the intercept need " + std::to_string(input_dim + layer_dim + 1) +
              " (or 0: no linear path)");
    }
    po_.encoding = std::move(eo_);
    std::optional<LatencyPredictor<Scalar, Space>> built;
    try {
      built.emplace(std::move(*space), std::move(po_));
    } catch (const InvalidArgument& e) {
      invalid(e);
    }
    LatencyPredictor<Scalar, Space>& p = *built;
    r_.template array_into<Scalar>(k("parameters"), p.network().parameters().data());
    std::vector<Scalar> linear(n_linear_);
    r_.template array_into<Scalar>(k("linear"), linear.data());
    p.set_linear_weights(linear);  // its size was checked above
    try {
      p.set_target_scaling(mean_, scale_);
    } catch (const InvalidArgument& e) {
      r_.fail("fields '" + k("target.mean") + "' and '" + k("target.scale") + "': " + e.what());
    }
    return std::move(p);
  }

 private:
  std::string k(std::string_view name) const { return prefix_ + std::string(name); }

  void read_fields() {
    ModelReader& r = r_;
    const std::string scalar = r.string(k("scalar"));
    const auto [param_type, n_params] = r.array_info(k("parameters"));
    const auto [linear_type, n_linear] = r.array_info(k("linear"));
    n_params_ = n_params;
    n_linear_ = n_linear;
    for (const auto& [key, type] : {std::pair<std::string, ModelFieldType>{k("parameters"), param_type},
                                    std::pair<std::string, ModelFieldType>{k("linear"), linear_type}}) {
      const std::string_view holds = type == ModelFieldType::float32_array ? "float32" : "float64";
      if (scalar != holds) {
        r.fail("field '" + k("scalar") + "' = '" + scalar + "' but '" + key + "' holds " + std::string(holds) +
               " values");
      }
    }
    so_.name = r.string(k("space.name"));
    const std::string family = r.string(k("space.family"));
    if (family == kCategoricalFamily) {
      read_categorical_space();
    } else {
      read_mbconv_space(family);
    }
    resolution_ = r.string(k("encoder.resolution"));
    eo_.resolutions = r.int_list(k("encoder.resolutions"));
    eo_.hardware_features = static_cast<std::size_t>(r.int64_in(k("encoder.hardware_features"), 0, 1 << 20));
    po_.hidden = r.size_list(k("hidden"));
    po_.linear = n_linear_ > 0;
    const std::string target = r.string(k("target.transform"));
    if (target == to_string(TargetTransform::standardize)) {
      po_.target = TargetTransform::standardize;
    } else if (target == to_string(TargetTransform::log_standardize)) {
      po_.target = TargetTransform::log_standardize;
    } else {
      r.fail("field '" + k("target.transform") + "' = '" + target + "'; expected standardize or log-standardize");
    }
    mean_ = r.float64(k("target.mean"));
    scale_ = r.float64(k("target.scale"));
    layer_sizes_ = r.size_list(k("layer_sizes"));
  }

  void read_categorical_space() {
    ModelReader& r = r_;
    const std::vector<std::string> names = r.names(k("space.decisions"));
    const std::vector<int> counts = r.int_list(k("space.choice_counts"));
    const std::vector<double> choices = r.float64_array(k("space.choices"));
    const std::vector<int> label_counts = r.int_list(k("space.label_counts"));
    const std::vector<std::string> labels = r.names(k("space.labels"));
    if (names.empty() || counts.size() != names.size() || label_counts.size() != names.size()) {
      r.fail("fields '" + k("space.decisions") + "', '" + k("space.choice_counts") + "' and '" +
             k("space.label_counts") + "' hold " + std::to_string(names.size()) + ", " +
             std::to_string(counts.size()) + " and " + std::to_string(label_counts.size()) +
             " entries; expected one per decision, at least one");
    }
    std::size_t next_choice = 0, next_label = 0;
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto n = static_cast<std::size_t>(std::max(counts[i], 0));
      const auto m = static_cast<std::size_t>(std::max(label_counts[i], 0));
      if (n > choices.size() - next_choice || m > labels.size() - next_label) {
        r.fail("field '" + k("space.choices") + "' or '" + k("space.labels") + "' ends before decision '" +
               names[i] + "'");
      }
      Decision d{names[i], {choices.begin() + static_cast<std::ptrdiff_t>(next_choice),
                            choices.begin() + static_cast<std::ptrdiff_t>(next_choice + n)},
                 {labels.begin() + static_cast<std::ptrdiff_t>(next_label),
                  labels.begin() + static_cast<std::ptrdiff_t>(next_label + m)}};
      next_choice += n;
      next_label += m;
      decisions_.push_back(std::move(d));
    }
    if (next_choice != choices.size() || next_label != labels.size()) {
      r.fail("fields '" + k("space.choices") + "' and '" + k("space.labels") + "' hold more values than '" +
             k("space.choice_counts") + "' and '" + k("space.label_counts") + "' count");
    }
    if (r.has(k("space.layer_counts"))) read_layers();
  }

  void read_layers() {
    ModelReader& r = r_;
    const std::vector<int> counts = r.int_list(k("space.layer_counts"));
    const std::vector<std::int64_t> numbers = r.int64_list(k("space.layers"));
    std::size_t expected_counts = 2;
    for (const Decision& d : decisions_) expected_counts += d.choices.size();
    if (counts.size() != expected_counts) {
      r.fail("field '" + k("space.layer_counts") + "' holds " + std::to_string(counts.size()) +
             " counts; the decisions' choices, the stem and the head need " + std::to_string(expected_counts));
    }
    std::size_t next = 0, c = 0;
    auto take = [&](std::vector<Layer>& list) {
      const int n = counts[c++];
      if (n < 0 || static_cast<std::size_t>(n) > (numbers.size() - next) / kLayerInts) {
        r.fail("field '" + k("space.layers") + "' ends before the layers that '" + k("space.layer_counts") +
               "' count");
      }
      for (int j = 0; j < n; ++j, next += kLayerInts) {
        Layer l;
        if (const auto problem = layer_from_ints(std::span(numbers).subspan(next, kLayerInts), l); !problem.empty()) {
          r.fail("field '" + k("space.layers") + "', layer " + std::to_string(next / kLayerInts) + ": " + problem);
        }
        list.push_back(l);
      }
    };
    take(layers_.stem);
    for (const Decision& d : decisions_) {
      auto& per_choice = layers_.choices.emplace_back(d.choices.size());
      for (auto& list : per_choice) take(list);
    }
    take(layers_.head);
    if (next != numbers.size()) {
      r.fail("field '" + k("space.layers") + "' holds more numbers than the layers '" + k("space.layer_counts") +
             "' count");
    }
  }

  void read_mbconv_space(const std::string& family) {
    ModelReader& r = r_;
    if (family == model_family_name(Family::mobilenet_v3)) {
      so_.family = Family::mobilenet_v3;
    } else if (family == model_family_name(Family::proxyless)) {
      so_.family = Family::proxyless;
    } else {
      r.fail("field '" + k("space.family") + "' = '" + family + "'; expected mobilenet-v3, proxyless or categorical");
    }
    so_.width = r.float64(k("space.width"));
    so_.kernel_choices = r.int_list(k("space.kernel_choices"));
    so_.expand_choices = r.int_list(k("space.expand_choices"));
    so_.depth_choices = r.int_list(k("space.depth_choices"));
    so_.stage_kernels = r.int_list(k("space.stage_kernels"));
    const std::vector<int> de = r.int_list(k("space.depth_expand"));
    if (de.size() % 2 != 0) {
      r.fail("field '" + k("space.depth_expand") + "' has " + std::to_string(de.size()) +
             " values; expected (depth, expand) pairs");
    }
    for (std::size_t i = 0; i < de.size(); i += 2) so_.depth_expand.emplace_back(de[i], de[i + 1]);
    so_.resolutions = r.int_list(k("space.resolutions"));
    so_.num_classes = static_cast<int>(r.int64_in(k("space.num_classes"), 1, std::numeric_limits<int>::max()));
  }

  ModelReader& r_;
  std::string prefix_;
  MbConvSpace::Options so_;  // the name, and for an MBConv space everything
  std::vector<Decision> decisions_;  // a categorical space's; empty otherwise
  SpaceLayers layers_;               // its layers, where the file has them
  Encoder::Options eo_;
  PredictorOptions po_;
  std::string resolution_;
  double mean_ = 0, scale_ = 1;
  std::vector<std::size_t> layer_sizes_;
  std::size_t n_params_ = 0, n_linear_ = 0;
};

// A multi-device model's reference architectures as integers: OFA's spec
// as ks, e, d, r; a categorical architecture as its choice indices.
inline void append_arch_ints(std::vector<std::int64_t>& out, const Architecture& a) {
  out.insert(out.end(), a.ks.begin(), a.ks.end());
  out.insert(out.end(), a.e.begin(), a.e.end());
  out.insert(out.end(), a.d.begin(), a.d.end());
  out.push_back(a.r);
}
inline void append_arch_ints(std::vector<std::int64_t>& out, const CategoricalArch& a) {
  out.insert(out.end(), a.begin(), a.end());
}
inline std::size_t arch_int_count(const MbConvSpace& s) { return 2 * s.num_slots() + s.num_stages() + 1; }
inline std::size_t arch_int_count(const CategoricalSpace& s) { return s.size(); }
inline Architecture arch_from_ints(const MbConvSpace& s, std::span<const std::int64_t> v) {
  const std::size_t slots = s.num_slots(), stages = s.num_stages();
  Architecture a;
  for (std::size_t j = 0; j < slots; ++j) a.ks.push_back(static_cast<int>(v[j]));
  for (std::size_t j = 0; j < slots; ++j) a.e.push_back(static_cast<int>(v[slots + j]));
  for (std::size_t j = 0; j < stages; ++j) a.d.push_back(static_cast<int>(v[2 * slots + j]));
  a.r = static_cast<int>(v.back());
  return a;
}
inline CategoricalArch arch_from_ints(const CategoricalSpace&, std::span<const std::int64_t> v) {
  return CategoricalArch(v.begin(), v.end());
}

inline constexpr std::string_view kPredictorKind = "latency-mlp";
inline constexpr std::string_view kEnsembleKind = "latency-ensemble";
inline constexpr std::string_view kDevicesKind = "latency-devices";
inline constexpr std::int64_t kMaxEnsembleMembers = 4096;

inline std::string member_prefix(std::size_t i) { return "member" + std::to_string(i) + "."; }
inline std::string device_prefix(std::size_t i) { return "device" + std::to_string(i) + "."; }

// `members`, then each member's fields under member<i>. (ensembles and
// multi-device models).
template <class Scalar, class Space>
void write_members(ModelWriter& w, std::span<const LatencyPredictor<Scalar, Space>> members) {
  w.int64("members", static_cast<std::int64_t>(members.size()));
  for (std::size_t i = 0; i < members.size(); ++i) write_predictor_fields(w, members[i], member_prefix(i));
}

// The file's kind: one of `accepted`, else FormatError naming what it is.
inline std::string read_kind(ModelReader& r, std::initializer_list<std::string_view> accepted) {
  const std::string kind = r.kind();
  if (std::find(accepted.begin(), accepted.end(), kind) != accepted.end()) return kind;
  if (kind == kEnsembleKind) {
    r.fail("field 'kind' = '" + kind + "': the file holds a predictor ensemble; load it with load_ensemble");
  }
  if (kind == kDevicesKind) {
    r.fail("field 'kind' = '" + kind + "': the file holds a multi-device model; load it with load_device_predictor");
  }
  r.fail("field 'kind' = '" + kind + "'; this hwnas reads 'latency-mlp', 'latency-ensemble' and 'latency-devices'");
}

}  // namespace detail

template <class Scalar, class Space>
std::string predictor_to_bytes(const LatencyPredictor<Scalar, Space>& predictor) {
  detail::ModelWriter w(detail::kPredictorKind);
  detail::write_predictor_fields(w, predictor, "");
  return std::move(w).finish();
}

template <class Scalar, class Space>
void save_predictor(const LatencyPredictor<Scalar, Space>& predictor, const std::filesystem::path& path) {
  detail::write_file_atomic(path, predictor_to_bytes(predictor));
}

template <class Scalar, class Space>
LatencyPredictor<Scalar, Space> predictor_from_bytes(std::string_view bytes, const std::string& source) {
  detail::ModelReader r(bytes, source);
  detail::read_kind(r, {detail::kPredictorKind});
  detail::PredictorFieldReader fields(r, "");
  r.check_all_used();
  return fields.template build<Scalar, Space>();
}

template <class Scalar, class Space>
std::string ensemble_to_bytes(const PredictorEnsemble<Scalar, Space>& ensemble) {
  detail::ModelWriter w(detail::kEnsembleKind);
  detail::write_members(w, ensemble.members());
  if (!ensemble.is_mean()) {
    w.array("weights", ensemble.weights());
    w.float64("offset", ensemble.offset());
  }
  return std::move(w).finish();
}

template <class Scalar, class Space>
void save_ensemble(const PredictorEnsemble<Scalar, Space>& ensemble, const std::filesystem::path& path) {
  detail::write_file_atomic(path, ensemble_to_bytes(ensemble));
}

template <class Scalar, class Space>
PredictorEnsemble<Scalar, Space> ensemble_from_bytes(std::string_view bytes, const std::string& source) {
  detail::ModelReader r(bytes, source);
  const bool single = detail::read_kind(r, {detail::kPredictorKind, detail::kEnsembleKind}) == detail::kPredictorKind;
  const auto n = single ? 1 : static_cast<std::size_t>(r.int64_in("members", 1, detail::kMaxEnsembleMembers));
  std::vector<detail::PredictorFieldReader> fields;
  fields.reserve(n);
  for (std::size_t i = 0; i < n; ++i) fields.emplace_back(r, single ? "" : detail::member_prefix(i));
  const bool weighted = !single && r.has("weights");
  const auto weights = weighted ? r.float64_array("weights") : std::vector<double>();
  const double offset = weighted ? r.float64("offset") : 0.0;
  r.check_all_used();
  std::vector<LatencyPredictor<Scalar, Space>> members;
  for (auto& f : fields) members.push_back(f.template build<Scalar, Space>());
  try {
    if (weighted) return PredictorEnsemble<Scalar, Space>(std::move(members), weights, offset);
    return PredictorEnsemble<Scalar, Space>(std::move(members));
  } catch (const InvalidArgument& e) {
    r.fail(std::string("invalid ensemble: ") + e.what());
  }
}

template <class Scalar, class Space>
PredictorEnsemble<Scalar, Space> load_ensemble(const std::filesystem::path& path) {
  return ensemble_from_bytes<Scalar, Space>(detail::read_file(path), path.string());
}


template <class Scalar, class Space>
std::string device_predictor_to_bytes(const DevicePredictor<Scalar, Space>& model) {
  detail::ModelWriter w(detail::kDevicesKind);
  w.string("mode", to_string(model.mode()));
  std::vector<std::int64_t> ref;
  for (const auto& a : model.reference()) detail::append_arch_ints(ref, a);
  w.int64("reference.count", static_cast<std::int64_t>(model.reference().size()));
  w.int64_list("reference.archs", std::span<const std::int64_t>(ref));
  w.int64("devices", static_cast<std::int64_t>(model.devices().size()));
  for (std::size_t i = 0; i < model.devices().size(); ++i) {
    const auto& d = model.devices()[i];
    const std::string p = detail::device_prefix(i);
    w.string(p + "name", d.name);
    w.string(p + "kind", d.kind);
    w.int64(p + "batch", static_cast<std::int64_t>(d.batch));
    std::vector<std::string> names;
    std::vector<double> values;
    for (const auto& [k, v] : d.spec) names.push_back(k), values.push_back(v);
    w.names(p + "spec.names", names);
    w.array(p + "spec.values", std::span<const double>(values));
    w.array(p + "fingerprint", std::span<const double>(d.fingerprint));
  }
  w.names("features.spec_names", model.features().spec_names);
  w.array("features.mean", std::span<const double>(model.features().mean));
  w.array("features.scale", std::span<const double>(model.features().scale));
  detail::write_members(w, model.models());
  return std::move(w).finish();
}

template <class Scalar, class Space>
void save_device_predictor(const DevicePredictor<Scalar, Space>& model, const std::filesystem::path& path) {
  detail::write_file_atomic(path, device_predictor_to_bytes(model));
}

template <class Scalar, class Space>
DevicePredictor<Scalar, Space> device_predictor_from_bytes(std::string_view bytes, const std::string& source) {
  detail::ModelReader r(bytes, source);
  detail::read_kind(r, {detail::kDevicesKind});
  DescriptorMode mode{};
  try {
    mode = descriptor_mode_from_string(r.string("mode"));
  } catch (const InvalidArgument& e) {
    r.fail(std::string("field 'mode': ") + e.what());
  }
  const auto n_ref = static_cast<std::size_t>(r.int64_in("reference.count", 0, 1 << 20));
  const auto n_dev = static_cast<std::size_t>(r.int64_in("devices", 1, detail::kMaxEnsembleMembers));
  std::vector<DeviceDescriptor> devices(n_dev);
  for (std::size_t i = 0; i < n_dev; ++i) {
    const std::string p = detail::device_prefix(i);
    auto& d = devices[i];
    d.name = r.string(p + "name");
    d.kind = r.string(p + "kind");
    d.batch = static_cast<std::size_t>(r.int64_in(p + "batch", 1, std::int64_t{1} << 40));
    const auto names = r.names(p + "spec.names");
    const auto values = r.float64_array(p + "spec.values");
    if (names.size() != values.size()) {
      r.fail("field '" + p + "spec.values': " + std::to_string(values.size()) + " values for " +
             std::to_string(names.size()) + " names");
    }
    for (std::size_t k = 0; k < names.size(); ++k) d.spec.emplace_back(names[k], values[k]);
    d.fingerprint = r.float64_array(p + "fingerprint");
  }
  DeviceFeatures features;
  features.spec_names = r.names("features.spec_names");
  features.mean = r.float64_array("features.mean");
  features.scale = r.float64_array("features.scale");
  const auto n_models = static_cast<std::size_t>(r.int64_in("members", 1, detail::kMaxEnsembleMembers));
  std::vector<detail::PredictorFieldReader> fields;
  fields.reserve(n_models);
  for (std::size_t i = 0; i < n_models; ++i) fields.emplace_back(r, detail::member_prefix(i));
  const auto ref = r.int64_list("reference.archs");
  r.check_all_used();
  std::vector<LatencyPredictor<Scalar, Space>> models;
  for (auto& f : fields) models.push_back(f.template build<Scalar, Space>());
  const std::size_t per = detail::arch_int_count(models.front().space());
  if (ref.size() != n_ref * per) {
    r.fail("field 'reference.archs': " + std::to_string(ref.size()) + " values for " + std::to_string(n_ref) +
           " architectures of " + std::to_string(per));
  }
  std::vector<typename Space::arch_type> reference;
  for (std::size_t k = 0; k < n_ref; ++k) {
    const auto values = std::span<const std::int64_t>(ref).subspan(k * per, per);
    for (std::size_t j = 0; j < per; ++j) {
      if (values[j] < 0 || values[j] > 1 << 20) {
        r.fail("field 'reference.archs'[" + std::to_string(k * per + j) + "] = " + std::to_string(values[j]));
      }
    }
    reference.push_back(detail::arch_from_ints(models.front().space(), values));
  }
  try {
    return DevicePredictor<Scalar, Space>(mode, std::move(reference), std::move(devices), std::move(features),
                                          std::move(models));
  } catch (const InvalidArgument& e) {
    r.fail(std::string("invalid multi-device model: ") + e.what());
  }
}

template <class Scalar, class Space>
DevicePredictor<Scalar, Space> load_device_predictor(const std::filesystem::path& path) {
  return device_predictor_from_bytes<Scalar, Space>(detail::read_file(path), path.string());
}

/// The kind of a model file: "latency-mlp", "latency-ensemble" or
/// "latency-devices" (the container is checked; the fields are not).
inline std::string read_model_kind(const std::filesystem::path& path) {
  const std::string bytes = detail::read_file(path);
  detail::ModelReader r(bytes, path.string());
  return r.kind();
}

template <class Scalar, class Space>
LatencyPredictor<Scalar, Space> load_predictor(const std::filesystem::path& path) {
  return predictor_from_bytes<Scalar, Space>(detail::read_file(path), path.string());
}

inline std::string model_space_family(const std::filesystem::path& path) {
  const std::string bytes = detail::read_file(path);
  detail::ModelReader r(bytes, path.string());
  const std::string kind = detail::read_kind(r, {detail::kPredictorKind, detail::kEnsembleKind, detail::kDevicesKind});
  return r.string(kind == detail::kPredictorKind ? "space.family" : detail::member_prefix(0) + "space.family");
}

}  // namespace hwnas
