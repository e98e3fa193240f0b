// The model-file container (docs/model-file.md): magic, format version,
// declared size, typed fields by key, CRC-32; ModelWriter writes one and
// ModelReader checks it (bounds checked before any allocation) and hands out
// its fields. What the fields mean is the codecs' business
// (predictor/model_file.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "hwnas/error.hpp"
#include "hwnas/version.hpp"

namespace hwnas {

/// The model-file format version this hwnas writes, and the newest it reads.
inline constexpr std::uint32_t kModelFileVersion = 1;

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

/// Appends fields to a model file and seals it (size, field count, CRC).
/// Every file starts with the fields `writer` ("hwnas <version>") and
/// `kind` (what the file holds).
class ModelWriter {
 public:
  explicit ModelWriter(std::string_view kind) {
    out_.append(kModelMagic);
    put(kModelFileVersion, 4);
    put(0, 8);  // total size, patched by finish()
    put(0, 4);  // field count, patched by finish()
    string("writer", std::string("hwnas ") + version_string);
    string("kind", kind);
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

  /// Names as one string field, one per line (InvalidArgument for a name
  /// holding a newline).
  void names(std::string_view key, std::span<const std::string> values) {
    std::string text;
    for (const auto& n : values) {
      if (n.find('\n') != std::string::npos) throw InvalidArgument("model file: the name '" + n + "' holds a newline");
      text += n;
      text += '\n';
    }
    string(key, text);
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
    (void)string("writer");
  }

  /// The `kind` field: what the file holds.
  std::string kind() { return string("kind"); }

  /// Whether the file has field `key` (an optional field).
  bool has(std::string_view key) const { return fields_.find(key) != fields_.end(); }

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

  /// A names field (ModelWriter::names).
  std::vector<std::string> names(std::string_view key) {
    const std::string text = string(key);
    std::vector<std::string> out;
    std::size_t begin = 0;
    for (std::size_t end; (end = text.find('\n', begin)) != std::string::npos; begin = end + 1) {
      out.push_back(text.substr(begin, end - begin));
    }
    if (begin != text.size()) fail("field '" + std::string(key) + "': names must end with a newline");
    return out;
  }
  /// A float32 or float64 array field as doubles.
  std::vector<double> float64_array(std::string_view key) {
    std::vector<double> out(array_info(key).second);
    array_into(key, out.data());
    return out;
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

}  // namespace hwnas
