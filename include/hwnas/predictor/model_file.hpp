// Model files: a LatencyPredictor saved with everything needed to rebuild it
// (search space, encoder, network shape, target scaling, weights) in a
// versioned, self-describing, checksummed binary format (docs/model-file.md),
// a PredictorEnsemble and a DevicePredictor likewise, and the import of a PyTorch nn.Sequential MLP
// exported one .npy per tensor.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "hwnas/detail/file_io.hpp"
#include "hwnas/predictor/device_predictor.hpp"
#include "hwnas/predictor/encoding.hpp"
#include "hwnas/predictor/ensemble.hpp"
#include "hwnas/error.hpp"
#include "hwnas/predictor/npy.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/space/mbconv_space.hpp"
#include "hwnas/version.hpp"

namespace hwnas {

/// The model-file format version this hwnas writes, and the newest it reads.
inline constexpr std::uint32_t kModelFileVersion = 1;

/// The bytes of a model file for `predictor` (what save_predictor writes).
/// Deterministic: equal predictors give equal bytes.
template <class Scalar>
std::string predictor_to_bytes(const LatencyPredictor<Scalar>& predictor);

/// Writes `predictor` to `path` atomically (a temp file in the same folder,
/// then a rename): readers see the old file or the whole new one.
template <class Scalar>
void save_predictor(const LatencyPredictor<Scalar>& predictor, const std::filesystem::path& path);

/// Rebuilds a predictor from model-file bytes; `source` names them in errors.
/// A float64 file loads into LatencyPredictor<float> by rounding each weight
/// to nearest, a float32 file into <double> exactly; saving writes the
/// predictor's own Scalar. FormatError ("source: ...") for a file that is not
/// a model file, is truncated or damaged, comes from a newer format version,
/// or whose settings and sizes do not fit together.
template <class Scalar = float>
LatencyPredictor<Scalar> predictor_from_bytes(std::string_view bytes, const std::string& source = "<input>");

/// predictor_from_bytes on the content of `path`; IoError when unreadable.
template <class Scalar = float>
LatencyPredictor<Scalar> load_predictor(const std::filesystem::path& path);

/// The bytes of a model file holding `ensemble` (kind `latency-ensemble`:
/// the member count, then each member's predictor fields under the key
/// prefix `member<i>.`). Deterministic.
template <class Scalar>
std::string ensemble_to_bytes(const PredictorEnsemble<Scalar>& ensemble);

/// Writes `ensemble` to `path` atomically.
template <class Scalar>
void save_ensemble(const PredictorEnsemble<Scalar>& ensemble, const std::filesystem::path& path);

/// Rebuilds an ensemble from model-file bytes. Reads both kinds: an ensemble
/// file, and a single predictor's file as an ensemble of one (whose
/// predictions equal the predictor's bit for bit), so a program that takes
/// "a latency model" loads it this way. FormatError as predictor_from_bytes.
template <class Scalar = float>
PredictorEnsemble<Scalar> ensemble_from_bytes(std::string_view bytes, const std::string& source = "<input>");

/// ensemble_from_bytes on the content of `path`; IoError when unreadable.
template <class Scalar = float>
PredictorEnsemble<Scalar> load_ensemble(const std::filesystem::path& path);

/// The bytes of a model file holding a DevicePredictor (kind
/// `latency-devices`: its mode, reference architectures, device records,
/// conditioning features and models).
template <class Scalar>
std::string device_predictor_to_bytes(const DevicePredictor<Scalar>& model);
/// device_predictor_to_bytes() written atomically to `path`.
template <class Scalar>
void save_device_predictor(const DevicePredictor<Scalar>& model, const std::filesystem::path& path);
/// Rebuilds a DevicePredictor; FormatError naming the source and the field.
template <class Scalar = float>
DevicePredictor<Scalar> device_predictor_from_bytes(std::string_view bytes, const std::string& source = "<input>");
template <class Scalar = float>
DevicePredictor<Scalar> load_device_predictor(const std::filesystem::path& path);

/// Imports a PyTorch nn.Sequential of Linear layers with one module (a ReLU)
/// between consecutive ones, exported one float32 .npy per tensor:
/// `<idx>.weight.npy` ([out, in]) and `<idx>.bias.npy` ([out]) in `dir`,
/// taken in index order (OFA's accuracy predictor: 0, 2, 4, 6). Layer sizes
/// come from the arrays; the first layer's inputs must equal the encoder's
/// dim(), and the last layer has one output. Target scaling is the identity
/// (standardize, mean 0, scale 1), so predict() returns the network's output.
/// FormatError naming the offending file; IoError when `dir` is unreadable.
template <class Scalar = float>
LatencyPredictor<Scalar> import_torch_npy(const std::filesystem::path& dir, MbConvSpace space,
                                          Encoder::Options encoding = {});

// ---------------------------------------------------------------------------

namespace detail {

inline constexpr std::string_view kModelMagic = "HWNASMDL";
inline constexpr std::size_t kModelHeaderSize = 24;  // magic, version, size, field count
inline constexpr std::size_t kModelChecksumSize = 4;

enum class ModelFieldType : std::uint8_t {
  string = 1,         // UTF-8 bytes
  int64 = 2,          // one int64
  float64 = 3,        // one IEEE-754 binary64
  int64_list = 4,     // int64 values
  float32_array = 5,  // IEEE-754 binary32 values
  float64_array = 6,  // IEEE-754 binary64 values
};

constexpr std::string_view to_string(ModelFieldType t) noexcept {
  switch (t) {
    case ModelFieldType::string:
      return "string";
    case ModelFieldType::int64:
      return "int64";
    case ModelFieldType::float64:
      return "float64";
    case ModelFieldType::int64_list:
      return "int64 list";
    case ModelFieldType::float32_array:
      return "float32 array";
    case ModelFieldType::float64_array:
      return "float64 array";
  }
  return "?";
}

/// CRC-32 as in zlib, PNG and Python's zlib.crc32 (reflected 0xEDB88320).
inline std::uint32_t crc32(std::string_view bytes, std::uint32_t crc = 0) noexcept {
  static constexpr auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1U) ? 0xEDB88320U ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (char ch : bytes) crc = table[(crc ^ static_cast<unsigned char>(ch)) & 0xFFU] ^ (crc >> 8);
  return ~crc;
}

inline std::string model_hex32(std::uint32_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s += digits[(v >> shift) & 0xFU];
  return s;
}

/// Bytes as a C-like string literal: printable ASCII as is, others \xNN.
inline std::string model_escape_bytes(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "\"";
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      s += ch;
    } else {
      s += "\\x";
      s += digits[c >> 4];
      s += digits[c & 0xFU];
    }
  }
  return s + "\"";
}

inline std::string_view model_family_name(Family f) noexcept {
  return f == Family::mobilenet_v3 ? "mobilenet-v3" : "proxyless";
}

/// Appends fields to a model file and seals it (size, field count, CRC).
class ModelWriter {
 public:
  ModelWriter() {
    out_.append(kModelMagic);
    put(kModelFileVersion, 4);
    put(0, 8);  // total size, patched by finish()
    put(0, 4);  // field count, patched by finish()
  }

  void string(std::string_view key, std::string_view value) {
    begin(key, ModelFieldType::string, value.size());
    out_.append(value);
  }
  void int64(std::string_view key, std::int64_t value) {
    begin(key, ModelFieldType::int64, 8);
    put(static_cast<std::uint64_t>(value), 8);
  }
  void float64(std::string_view key, double value) {
    begin(key, ModelFieldType::float64, 8);
    put(std::bit_cast<std::uint64_t>(value), 8);
  }
  template <class Int>
  void int64_list(std::string_view key, std::span<const Int> values) {
    begin(key, ModelFieldType::int64_list, 8 * values.size());
    for (Int v : values) put(static_cast<std::uint64_t>(static_cast<std::int64_t>(v)), 8);
  }
  template <class Scalar>
  void array(std::string_view key, std::span<const Scalar> values) {
    static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>);
    constexpr bool f32 = std::is_same_v<Scalar, float>;
    begin(key, f32 ? ModelFieldType::float32_array : ModelFieldType::float64_array, sizeof(Scalar) * values.size());
    out_.reserve(out_.size() + sizeof(Scalar) * values.size() + kModelChecksumSize);
    for (Scalar v : values) {
      if constexpr (f32) {
        put(std::bit_cast<std::uint32_t>(v), 4);
      } else {
        put(std::bit_cast<std::uint64_t>(v), 8);
      }
    }
  }

  /// The finished file: header patched, CRC-32 of everything appended.
  std::string finish() && {
    const std::uint64_t total = out_.size() + kModelChecksumSize;
    for (std::size_t i = 0; i < 8; ++i) out_[12 + i] = static_cast<char>((total >> (8 * i)) & 0xFFU);
    for (std::size_t i = 0; i < 4; ++i) out_[20 + i] = static_cast<char>((count_ >> (8 * i)) & 0xFFU);
    put(crc32(out_), 4);
    return std::move(out_);
  }

 private:
  void begin(std::string_view key, ModelFieldType type, std::size_t payload) {
    out_ += static_cast<char>(key.size());
    out_.append(key);
    out_ += static_cast<char>(type);
    put(payload, 8);
    ++count_;
  }
  void put(std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xFFU);
  }

  std::string out_;
  std::uint32_t count_ = 0;
};

/// Checks a model file's container (magic, version, size, CRC, field
/// framing) on construction, then hands out typed fields by key and reports
/// the keys nobody asked for.
class ModelReader {
 public:
  ModelReader(std::string_view bytes, std::string source) : bytes_(bytes), source_(std::move(source)) {
    check_container();
    read_fields();
  }

  [[noreturn]] void fail(const std::string& what) const { throw FormatError(source_, 0, 0, what); }

  std::string string(std::string_view key) { return std::string(get(key, ModelFieldType::string).payload); }
  std::int64_t int64(std::string_view key) {
    return static_cast<std::int64_t>(le(get(key, ModelFieldType::int64).payload, 0, 8));
  }
  double float64(std::string_view key) {
    return std::bit_cast<double>(le(get(key, ModelFieldType::float64).payload, 0, 8));
  }
  std::vector<std::int64_t> int64_list(std::string_view key) {
    const auto p = get(key, ModelFieldType::int64_list).payload;
    std::vector<std::int64_t> out(p.size() / 8);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::int64_t>(le(p, 8 * i, 8));
    return out;
  }
  /// An int64 in [lo, hi].
  std::int64_t int64_in(std::string_view key, std::int64_t lo, std::int64_t hi) {
    const std::int64_t v = int64(key);
    check_range(key, v, lo, hi);
    return v;
  }
  std::vector<int> int_list(std::string_view key) {
    std::vector<int> out;
    for (auto v : int64_list(key)) {
      check_range(key, v, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
      out.push_back(static_cast<int>(v));
    }
    return out;
  }
  std::vector<std::size_t> size_list(std::string_view key) {
    std::vector<std::size_t> out;
    for (auto v : int64_list(key)) {
      check_range(key, v, 0, std::numeric_limits<std::int64_t>::max());
      out.push_back(static_cast<std::size_t>(v));
    }
    return out;
  }

  /// Type and element count of a float32 or float64 array field.
  std::pair<ModelFieldType, std::size_t> array_info(std::string_view key) {
    const ModelField& f = find(key);
    if (f.type != ModelFieldType::float32_array && f.type != ModelFieldType::float64_array) {
      fail("field '" + std::string(key) + "': expected a float32 or float64 array, found " +
           std::string(to_string(f.type)));
    }
    return {f.type, f.payload.size() / (f.type == ModelFieldType::float32_array ? 4 : 8)};
  }
  /// Copies an array field into out[0, n) (n = its element count), rounding
  /// float64 to float to nearest; FormatError when a finite value overflows.
  template <class Scalar>
  void array_into(std::string_view key, Scalar* out) {
    const auto [type, n] = array_info(key);
    const auto p = find(key).payload;
    for (std::size_t i = 0; i < n; ++i) {
      const double wide = type == ModelFieldType::float32_array
                              ? static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(le(p, 4 * i, 4))))
                              : std::bit_cast<double>(le(p, 8 * i, 8));
      out[i] = static_cast<Scalar>(wide);
      if (std::isfinite(wide) && !std::isfinite(out[i])) {
        fail("field '" + std::string(key) + "'[" + std::to_string(i) + "] = " + std::to_string(wide) +
             " does not fit float32");
      }
    }
  }

  /// FormatError for the first field that was never read: a field this
  /// version does not know could change the meaning of the others.
  void check_all_used() const {
    for (const auto& [key, f] : fields_) {
      if (!f.used) {
        fail("unknown field '" + key + "' at byte " + std::to_string(f.offset) + " (written by " + writer() +
             "; this is hwnas " + version_string + ")");
      }
    }
  }

 private:
  struct ModelField {
    ModelFieldType type;
    std::string_view payload;
    std::size_t offset;
    bool used = false;
  };

  static std::uint64_t le(std::string_view b, std::size_t at, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(b[at + i])} << (8 * i);
    return v;
  }

  void check_container() {
    const std::size_t size = bytes_.size();
    if (size == 0) fail("not an hwnas model file (the file is empty)");
    if (bytes_.substr(0, kModelMagic.size()) != kModelMagic.substr(0, size)) {
      fail("not an hwnas model file (expected magic " + model_escape_bytes(kModelMagic) + ", found " +
           model_escape_bytes(bytes_.substr(0, kModelMagic.size())) + ")");
    }
    auto need = [&](std::size_t n) {
      if (size < n) {
        fail("truncated at byte " + std::to_string(size) + " (in the " + std::to_string(kModelHeaderSize) +
             "-byte header)");
      }
    };
    need(12);
    const auto version = static_cast<std::uint32_t>(le(bytes_, 8, 4));
    if (version == 0 || version > kModelFileVersion) {
      fail("unsupported format version " + std::to_string(version) + "; hwnas " + version_string +
           " reads versions 1 to " + std::to_string(kModelFileVersion) +
           (version > kModelFileVersion ? " (the file is newer: update hwnas)" : ""));
    }
    need(kModelHeaderSize);
    const std::uint64_t declared = le(bytes_, 12, 8);
    if (declared < kModelHeaderSize + kModelChecksumSize) {
      fail("damaged: the header declares " + std::to_string(declared) + " bytes, fewer than an empty model's " +
           std::to_string(kModelHeaderSize + kModelChecksumSize));
    }
    if (size < declared) {
      fail("truncated at byte " + std::to_string(size) + " (the header declares " + std::to_string(declared) +
           " bytes)");
    }
    if (size > declared) {
      const std::uint64_t extra = size - declared;
      fail("damaged: " + std::to_string(extra) + (extra == 1 ? " unexpected byte" : " unexpected bytes") +
           " after byte " + std::to_string(declared) + ", the end the header declares");
    }
    const std::size_t body_end = size - kModelChecksumSize;
    const auto stored = static_cast<std::uint32_t>(le(bytes_, body_end, 4));
    const std::uint32_t computed = crc32(bytes_.substr(0, body_end));
    if (stored != computed) {
      fail("damaged: checksum mismatch (stored CRC-32 " + model_hex32(stored) + ", computed " + model_hex32(computed) +
           ")");
    }
  }

  // Only reached with a correct checksum, so a failure here is a writer's
  // bug or a crafted file, not transport damage: "malformed".
  void read_fields() {
    const std::size_t end = bytes_.size() - kModelChecksumSize;
    const auto count = static_cast<std::uint32_t>(le(bytes_, 20, 4));
    std::size_t pos = kModelHeaderSize;
    for (std::uint32_t i = 0; i < count; ++i) {
      const std::size_t at = pos;
      auto overrun = [&] {
        fail("malformed: field " + std::to_string(i) + " at byte " + std::to_string(at) +
             " runs past the end of the fields (byte " + std::to_string(end) + ")");
      };
      if (end - pos < 1) overrun();
      const std::size_t key_len = static_cast<unsigned char>(bytes_[pos++]);
      if (end - pos < key_len + 1 + 8) overrun();
      const std::string key(bytes_.substr(pos, key_len));
      pos += key_len;
      const bool key_ok = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
      });
      if (!key_ok) {
        fail("malformed: field " + std::to_string(i) + " at byte " + std::to_string(at) + " has key " +
             model_escape_bytes(key));
      }
      const auto type_byte = static_cast<unsigned char>(bytes_[pos++]);
      const std::uint64_t payload = le(bytes_, pos, 8);
      pos += 8;
      if (payload > end - pos) overrun();
      if (type_byte < 1 || type_byte > 6) {
        fail("malformed: field '" + key + "' at byte " + std::to_string(at) + " has unknown type tag " +
             std::to_string(type_byte));
      }
      const auto type = static_cast<ModelFieldType>(type_byte);
      const std::size_t unit = type == ModelFieldType::string ? 1 : type == ModelFieldType::float32_array ? 4 : 8;
      const bool fixed = type == ModelFieldType::int64 || type == ModelFieldType::float64;
      if ((fixed && payload != 8) || payload % unit != 0) {
        fail("malformed: field '" + key + "' at byte " + std::to_string(at) + ": " + std::to_string(payload) +
             " bytes do not hold a " + std::string(to_string(type)));
      }
      const auto [it, inserted] =
          fields_.emplace(key, ModelField{type, bytes_.substr(pos, static_cast<std::size_t>(payload)), at});
      if (!inserted) {
        fail("malformed: field '" + key + "' appears twice (bytes " + std::to_string(it->second.offset) + " and " +
             std::to_string(at) + ")");
      }
      pos += static_cast<std::size_t>(payload);
    }
    if (pos != end) {
      fail("malformed: " + std::to_string(end - pos) + " bytes after the last of " + std::to_string(count) + " fields");
    }
  }

  ModelField& find(std::string_view key) {
    const auto it = fields_.find(key);
    if (it == fields_.end()) fail("missing field '" + std::string(key) + "'");
    it->second.used = true;
    return it->second;
  }
  const ModelField& get(std::string_view key, ModelFieldType type) {
    const ModelField& f = find(key);
    if (f.type != type) {
      fail("field '" + std::string(key) + "': expected " + std::string(to_string(type)) + ", found " +
           std::string(to_string(f.type)));
    }
    return f;
  }
  void check_range(std::string_view key, std::int64_t v, std::int64_t lo, std::int64_t hi) const {
    if (v < lo || v > hi) {
      fail("field '" + std::string(key) + "': value " + std::to_string(v) + " outside [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "]");
    }
  }
  std::string writer() const {
    const auto it = fields_.find(std::string_view("writer"));
    if (it == fields_.end() || it->second.type != ModelFieldType::string) return "an unknown writer";
    return std::string(it->second.payload);
  }

  std::string_view bytes_;
  std::string source_;
  std::map<std::string, ModelField, std::less<>> fields_;
};

template <class Scalar>
constexpr std::string_view model_scalar_name() {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "hwnas model files: Scalar must be float or double");
  return std::is_same_v<Scalar, float> ? "float32" : "float64";
}

}  // namespace detail

namespace detail {

// A predictor's fields, every key prefixed (an ensemble's member i: "member<i>.").
template <class Scalar>
void write_predictor_fields(ModelWriter& w, const LatencyPredictor<Scalar>& predictor, const std::string& prefix) {
  const auto& so = predictor.space().options();
  const auto& eo = predictor.encoder().options();
  const auto& po = predictor.options();
  const auto& net = predictor.network();
  auto k = [&prefix](std::string_view name) { return prefix + std::string(name); };
  std::vector<int> depth_expand;
  for (auto [d, e] : so.depth_expand) {
    depth_expand.push_back(d);
    depth_expand.push_back(e);
  }
  w.string(k("scalar"), model_scalar_name<Scalar>());
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

  template <class Scalar>
  LatencyPredictor<Scalar> build() {
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
    std::optional<MbConvSpace> space;
    std::size_t input_dim = 0, layer_dim = 0;
    try {
      space.emplace(std::move(so_));
      const Encoder encoder(*space, eo_);
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
    std::optional<LatencyPredictor<Scalar>> built;
    try {
      built.emplace(std::move(*space), std::move(po_));
    } catch (const InvalidArgument& e) {
      invalid(e);
    }
    LatencyPredictor<Scalar>& p = *built;
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
    if (family == model_family_name(Family::mobilenet_v3)) {
      so_.family = Family::mobilenet_v3;
    } else if (family == model_family_name(Family::proxyless)) {
      so_.family = Family::proxyless;
    } else {
      r.fail("field '" + k("space.family") + "' = '" + family + "'; expected mobilenet-v3 or proxyless");
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

  ModelReader& r_;
  std::string prefix_;
  MbConvSpace::Options so_;
  Encoder::Options eo_;
  PredictorOptions po_;
  std::string resolution_;
  double mean_ = 0, scale_ = 1;
  std::vector<std::size_t> layer_sizes_;
  std::size_t n_params_ = 0, n_linear_ = 0;
};

inline constexpr std::string_view kPredictorKind = "latency-mlp";
inline constexpr std::string_view kEnsembleKind = "latency-ensemble";
inline constexpr std::string_view kDevicesKind = "latency-devices";
inline constexpr std::int64_t kMaxEnsembleMembers = 4096;

inline std::string member_prefix(std::size_t i) { return "member" + std::to_string(i) + "."; }

// `members`, then each member's fields under member<i>. (ensembles and
// multi-device models).
template <class Scalar>
void write_members(ModelWriter& w, std::span<const LatencyPredictor<Scalar>> members) {
  w.int64("members", static_cast<std::int64_t>(members.size()));
  for (std::size_t i = 0; i < members.size(); ++i) write_predictor_fields(w, members[i], member_prefix(i));
}

// The file's kind: one of `accepted`, else FormatError naming what it is.
inline std::string read_kind(ModelReader& r, std::initializer_list<std::string_view> accepted) {
  const std::string kind = r.string("kind");
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

template <class Scalar>
std::string predictor_to_bytes(const LatencyPredictor<Scalar>& predictor) {
  detail::ModelWriter w;
  w.string("writer", std::string("hwnas ") + version_string);
  w.string("kind", detail::kPredictorKind);
  detail::write_predictor_fields(w, predictor, "");
  return std::move(w).finish();
}

template <class Scalar>
void save_predictor(const LatencyPredictor<Scalar>& predictor, const std::filesystem::path& path) {
  detail::write_file_atomic(path, predictor_to_bytes(predictor));
}

template <class Scalar>
LatencyPredictor<Scalar> predictor_from_bytes(std::string_view bytes, const std::string& source) {
  detail::ModelReader r(bytes, source);
  (void)r.string("writer");
  detail::read_kind(r, {detail::kPredictorKind});
  detail::PredictorFieldReader fields(r, "");
  r.check_all_used();
  return fields.template build<Scalar>();
}

template <class Scalar>
std::string ensemble_to_bytes(const PredictorEnsemble<Scalar>& ensemble) {
  detail::ModelWriter w;
  w.string("writer", std::string("hwnas ") + version_string);
  w.string("kind", detail::kEnsembleKind);
  detail::write_members(w, ensemble.members());
  return std::move(w).finish();
}

template <class Scalar>
void save_ensemble(const PredictorEnsemble<Scalar>& ensemble, const std::filesystem::path& path) {
  detail::write_file_atomic(path, ensemble_to_bytes(ensemble));
}

template <class Scalar>
PredictorEnsemble<Scalar> ensemble_from_bytes(std::string_view bytes, const std::string& source) {
  detail::ModelReader r(bytes, source);
  (void)r.string("writer");
  const bool single = detail::read_kind(r, {detail::kPredictorKind, detail::kEnsembleKind}) == detail::kPredictorKind;
  const auto n = single ? 1 : static_cast<std::size_t>(r.int64_in("members", 1, detail::kMaxEnsembleMembers));
  std::vector<detail::PredictorFieldReader> fields;
  fields.reserve(n);
  for (std::size_t i = 0; i < n; ++i) fields.emplace_back(r, single ? "" : detail::member_prefix(i));
  r.check_all_used();
  std::vector<LatencyPredictor<Scalar>> members;
  for (auto& f : fields) members.push_back(f.template build<Scalar>());
  try {
    return PredictorEnsemble<Scalar>(std::move(members));
  } catch (const InvalidArgument& e) {
    r.fail(std::string("invalid ensemble: ") + e.what());
  }
}

template <class Scalar>
PredictorEnsemble<Scalar> load_ensemble(const std::filesystem::path& path) {
  return ensemble_from_bytes<Scalar>(detail::read_file(path), path.string());
}

namespace detail {

// Names listed in one string field, one per line (names hold no newline).
inline std::string join_names(std::span<const std::string> names) {
  std::string out;
  for (const auto& n : names) {
    if (n.find('\n') != std::string::npos) throw InvalidArgument("model file: the name '" + n + "' holds a newline");
    out += n;
    out += '\n';
  }
  return out;
}

inline std::vector<std::string> split_names(ModelReader& r, std::string_view key) {
  const std::string text = r.string(key);
  std::vector<std::string> out;
  std::size_t begin = 0;
  for (std::size_t end; (end = text.find('\n', begin)) != std::string::npos; begin = end + 1) {
    out.push_back(text.substr(begin, end - begin));
  }
  if (begin != text.size()) r.fail("field '" + std::string(key) + "': names must end with a newline");
  return out;
}

inline std::vector<double> float64_array(ModelReader& r, std::string_view key) {
  std::vector<double> out(r.array_info(key).second);
  r.array_into(key, out.data());
  return out;
}

inline std::string device_prefix(std::size_t i) { return "device" + std::to_string(i) + "."; }

}  // namespace detail

template <class Scalar>
std::string device_predictor_to_bytes(const DevicePredictor<Scalar>& model) {
  detail::ModelWriter w;
  w.string("writer", std::string("hwnas ") + version_string);
  w.string("kind", detail::kDevicesKind);
  w.string("mode", to_string(model.mode()));
  std::vector<std::int64_t> ref;
  for (const auto& a : model.reference()) {
    ref.insert(ref.end(), a.ks.begin(), a.ks.end());
    ref.insert(ref.end(), a.e.begin(), a.e.end());
    ref.insert(ref.end(), a.d.begin(), a.d.end());
    ref.push_back(a.r);
  }
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
    w.string(p + "spec.names", detail::join_names(names));
    w.array(p + "spec.values", std::span<const double>(values));
    w.array(p + "fingerprint", std::span<const double>(d.fingerprint));
  }
  w.string("features.spec_names", detail::join_names(model.features().spec_names));
  w.array("features.mean", std::span<const double>(model.features().mean));
  w.array("features.scale", std::span<const double>(model.features().scale));
  detail::write_members(w, model.models());
  return std::move(w).finish();
}

template <class Scalar>
void save_device_predictor(const DevicePredictor<Scalar>& model, const std::filesystem::path& path) {
  detail::write_file_atomic(path, device_predictor_to_bytes(model));
}

template <class Scalar>
DevicePredictor<Scalar> device_predictor_from_bytes(std::string_view bytes, const std::string& source) {
  detail::ModelReader r(bytes, source);
  (void)r.string("writer");
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
    const auto names = detail::split_names(r, p + "spec.names");
    const auto values = detail::float64_array(r, p + "spec.values");
    if (names.size() != values.size()) {
      r.fail("field '" + p + "spec.values': " + std::to_string(values.size()) + " values for " +
             std::to_string(names.size()) + " names");
    }
    for (std::size_t k = 0; k < names.size(); ++k) d.spec.emplace_back(names[k], values[k]);
    d.fingerprint = detail::float64_array(r, p + "fingerprint");
  }
  DeviceFeatures features;
  features.spec_names = detail::split_names(r, "features.spec_names");
  features.mean = detail::float64_array(r, "features.mean");
  features.scale = detail::float64_array(r, "features.scale");
  const auto n_models = static_cast<std::size_t>(r.int64_in("members", 1, detail::kMaxEnsembleMembers));
  std::vector<detail::PredictorFieldReader> fields;
  fields.reserve(n_models);
  for (std::size_t i = 0; i < n_models; ++i) fields.emplace_back(r, detail::member_prefix(i));
  const auto ref = r.int64_list("reference.archs");
  r.check_all_used();
  std::vector<LatencyPredictor<Scalar>> models;
  for (auto& f : fields) models.push_back(f.template build<Scalar>());
  const std::size_t slots = models.front().space().num_slots(), stages = models.front().space().num_stages();
  const std::size_t per = 2 * slots + stages + 1;
  if (ref.size() != n_ref * per) {
    r.fail("field 'reference.archs': " + std::to_string(ref.size()) + " values for " + std::to_string(n_ref) +
           " architectures of " + std::to_string(per));
  }
  std::vector<Architecture> reference(n_ref);
  for (std::size_t k = 0; k < n_ref; ++k) {
    auto at = [&](std::size_t j) {
      const std::int64_t v = ref[k * per + j];
      if (v < 0 || v > 1 << 20) r.fail("field 'reference.archs'[" + std::to_string(k * per + j) + "] = " + std::to_string(v));
      return static_cast<int>(v);
    };
    auto& a = reference[k];
    for (std::size_t j = 0; j < slots; ++j) a.ks.push_back(at(j));
    for (std::size_t j = 0; j < slots; ++j) a.e.push_back(at(slots + j));
    for (std::size_t j = 0; j < stages; ++j) a.d.push_back(at(2 * slots + j));
    a.r = at(per - 1);
  }
  try {
    return DevicePredictor<Scalar>(mode, std::move(reference), std::move(devices), std::move(features),
                                   std::move(models));
  } catch (const InvalidArgument& e) {
    r.fail(std::string("invalid multi-device model: ") + e.what());
  }
}

template <class Scalar>
DevicePredictor<Scalar> load_device_predictor(const std::filesystem::path& path) {
  return device_predictor_from_bytes<Scalar>(detail::read_file(path), path.string());
}

/// The kind of a model file: "latency-mlp", "latency-ensemble" or
/// "latency-devices" (the container is checked; the fields are not).
inline std::string read_model_kind(const std::filesystem::path& path) {
  const std::string bytes = detail::read_file(path);
  detail::ModelReader r(bytes, path.string());
  return r.string("kind");
}

template <class Scalar>
LatencyPredictor<Scalar> load_predictor(const std::filesystem::path& path) {
  return predictor_from_bytes<Scalar>(detail::read_file(path), path.string());
}

template <class Scalar>
LatencyPredictor<Scalar> import_torch_npy(const std::filesystem::path& dir, MbConvSpace space,
                                          Encoder::Options encoding) {
  namespace fs = std::filesystem;
  const std::string where = dir.string();
  // Tensors by Sequential index: which of weight and bias are present.
  std::map<std::size_t, std::pair<bool, bool>> found;
  try {
    if (!fs::is_directory(dir)) {
      throw IoError("import_torch_npy: '" + where + "' is not a folder" +
                    (fs::exists(dir) ? "" : " (it does not exist)"));
    }
    for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (name.size() <= 4 || name.substr(name.size() - 4) != ".npy") continue;
      const std::string stem = name.substr(0, name.size() - 4);
      const std::size_t dot = stem.find('.');
      const std::string index = stem.substr(0, dot);
      if (dot == std::string::npos || index.empty() || index.size() > 9 ||
          !std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        continue;  // not a tensor of an nn.Sequential
      }
      const std::string tensor = stem.substr(dot + 1);
      auto& slot = found[std::stoul(index)];
      if (tensor == "weight") {
        slot.first = true;
      } else if (tensor == "bias") {
        slot.second = true;
      } else {
        throw FormatError(entry.path().string(), 0, 0,
                          "unsupported tensor '" + tensor +
                              "': only Linear layers (<idx>.weight.npy, <idx>.bias.npy) can be imported");
      }
    }
  } catch (const fs::filesystem_error& e) {
    throw IoError("import_torch_npy: cannot list '" + where + "': " + e.code().message());
  }
  if (found.empty()) {
    throw FormatError(where, 0, 0,
                      "no PyTorch Linear weights found; expected files <idx>.weight.npy and <idx>.bias.npy "
                      "(0.weight.npy, 0.bias.npy, 2.weight.npy, ...)");
  }

  auto file = [&](std::size_t idx, const char* tensor) {
    return (dir / (std::to_string(idx) + "." + tensor + ".npy")).string();
  };
  const std::size_t input_dim = Encoder(space, encoding).dim();
  std::vector<NpyArray<float>> weights, biases;
  std::vector<std::size_t> sizes{input_dim};
  std::size_t prev_idx = 0;
  for (const auto& [idx, has] : found) {
    if (!has.first) {
      throw FormatError(file(idx, "weight"), 0, 0,
                        "missing (layer " + std::to_string(idx) + " has a bias but no weight)");
    }
    if (!has.second) {
      throw FormatError(
          file(idx, "bias"), 0, 0,
          "missing (layer " + std::to_string(idx) + " has a weight but no bias; hwnas's layers always have one)");
    }
    const std::string wname = file(idx, "weight");
    if (!weights.empty() && idx == prev_idx + 1) {
      throw FormatError(wname, 0, 0,
                        "Linear layers " + std::to_string(prev_idx) + " and " + std::to_string(idx) +
                            " are adjacent; hwnas's MLP applies a ReLU between Linear layers, so the Sequential "
                            "must have a module (the ReLU) between them");
    }
    NpyArray<float> w = read_npy<float>(wname);
    if (w.shape.size() != 2 || w.shape[0] == 0 || w.shape[1] == 0) {
      throw FormatError(wname, 0, 0, "shape " + npy_shape_string(w.shape) + " but a Linear weight is [out, in]");
    }
    const std::size_t out = w.shape[0], in = w.shape[1];
    if (in != sizes.back()) {
      const std::string from =
          weights.empty()
              ? "the encoder of space '" + space.name() + "' gives " + std::to_string(input_dim) + " features"
              : std::to_string(prev_idx) + ".weight.npy has " + std::to_string(sizes.back()) + " outputs";
      throw FormatError(wname, 0, 0,
                        "shape " + npy_shape_string(w.shape) + ": " + std::to_string(in) + " inputs but " + from);
    }
    NpyArray<float> b = read_npy<float>(file(idx, "bias"));
    if (b.shape.size() != 1 || b.shape[0] != out) {
      throw FormatError(file(idx, "bias"), 0, 0,
                        "shape " + npy_shape_string(b.shape) + " but " + std::to_string(idx) + ".weight.npy has " +
                            std::to_string(out) + " outputs, so the bias should be (" + std::to_string(out) + ",)");
    }
    sizes.push_back(out);
    weights.push_back(std::move(w));
    biases.push_back(std::move(b));
    prev_idx = idx;
  }
  if (sizes.back() != 1) {
    throw FormatError(file(prev_idx, "weight"), 0, 0,
                      "the last layer has " + std::to_string(sizes.back()) + " outputs; a predictor has 1");
  }

  PredictorOptions po;
  po.encoding = std::move(encoding);
  po.hidden.assign(sizes.begin() + 1, sizes.end() - 1);
  po.target = TargetTransform::standardize;
  LatencyPredictor<Scalar> p(std::move(space), std::move(po));
  auto& net = p.network();
  using TorchWeight = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  for (std::size_t l = 0; l < weights.size(); ++l) {
    const auto out = static_cast<Eigen::Index>(sizes[l + 1]), in = static_cast<Eigen::Index>(sizes[l]);
    // PyTorch's [out, in] row-major is the transpose of the Mlp's in x out.
    net.weight(l) =
        Eigen::Map<const TorchWeight>(weights[l].values.data(), out, in).transpose().template cast<Scalar>();
    net.bias(l) =
        Eigen::Map<const Eigen::Matrix<float, 1, Eigen::Dynamic>>(biases[l].values.data(), out).template cast<Scalar>();
  }
  p.set_target_scaling(0.0, 1.0);
  return p;
}

}  // namespace hwnas
