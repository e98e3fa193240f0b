// Reading NumPy .npy files (format versions 1.0, 2.0 and 3.0) into a shape
// and a C-order vector: how weights exported from PyTorch with numpy reach
// hwnas. Every header byte and the data size are checked before they are
// used, so a damaged file is a FormatError naming it, never a crash, garbage
// values or a huge allocation. (xtensor 0.24's loader accepts truncated data
// silently, overflows on absurd shapes and misreads header lengths whose low
// byte is >= 128, which numpy writes for long headers; so hwnas parses the
// format itself and the core stays Eigen-only.)
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "hwnas/detail/file_io.hpp"
#include "hwnas/error.hpp"

namespace hwnas {

/// An N-d array read from a .npy file.
template <class Scalar>
struct NpyArray {
  std::vector<std::size_t> shape;  ///< empty for a 0-d array
  std::vector<Scalar> values;      ///< row-major (C order), product of shape entries
};

/// Parses the bytes of a .npy file; `source` names them in errors. Scalar
/// float needs dtype float32 ('<f4' or '>f4'), double needs float64 ('<f8'
/// or '>f8'): values are never converted between dtypes. Fortran-order
/// arrays are returned in C order. FormatError ("source: ...") when the bytes
/// are not a well-formed .npy array of that dtype.
template <class Scalar = float>
NpyArray<Scalar> parse_npy(std::string_view bytes, const std::string& source = "<input>");

/// Reads a .npy file: parse_npy on its content; IoError when it cannot be read.
template <class Scalar = float>
NpyArray<Scalar> read_npy(const std::filesystem::path& path);

/// Python's spelling of a shape: "(400, 128)", "(400,)", "()".
inline std::string npy_shape_string(std::span<const std::size_t> shape);

// ---------------------------------------------------------------------------

namespace detail {

/// What the header of a .npy file says.
struct NpyHeader {
  int major = 0, minor = 0;  ///< format version
  std::string descr;         ///< dtype, e.g. "<f4"
  bool fortran_order = false;
  std::vector<std::size_t> shape;
  std::size_t count = 0;        ///< product of shape
  std::size_t data_offset = 0;  ///< first byte of the data
};

/// A recursive-descent reader of the header's Python dict literal
/// ({'descr': '<f4', 'fortran_order': False, 'shape': (400, 128), }).
class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, std::size_t offset, const std::string& source)
      : text_(text), offset_(offset), source_(source) {}

  void parse(NpyHeader& h) {
    bool has_descr = false, has_fortran = false, has_shape = false;
    skip_space();
    expect('{');
    skip_space();
    while (!at('}')) {
      const std::size_t key_at = pos_;
      const std::string key = string_literal();
      skip_space();
      expect(':');
      skip_space();
      auto once = [&](bool& seen) {
        if (seen) fail_at(key_at, "key '" + key + "' appears twice");
        seen = true;
      };
      if (key == "descr") {
        once(has_descr);
        if (at('[')) fail("structured dtypes (a list in 'descr') are not supported");
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        once(has_fortran);
        h.fortran_order = boolean();
      } else if (key == "shape") {
        once(has_shape);
        h.shape = tuple();
      } else {
        fail_at(key_at, "unexpected key '" + key + "' (expected descr, fortran_order and shape)");
      }
      skip_space();
      if (at(',')) {
        ++pos_;
        skip_space();
      } else if (!at('}')) {
        fail("expected ',' or '}'");
      }
    }
    ++pos_;  // '}'
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the header's closing '}'");
    if (!has_descr) fail_at(0, "header has no 'descr'");
    if (!has_fortran) fail_at(0, "header has no 'fortran_order'");
    if (!has_shape) fail_at(0, "header has no 'shape'");
  }

 private:
  [[noreturn]] void fail_at(std::size_t pos, const std::string& what) const {
    throw FormatError(source_, 0, 0, "malformed .npy header at byte " + std::to_string(offset_ + pos) + ": " + what);
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }
  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  void expect(char c) {
    if (!at(c)) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  std::string string_literal() {
    if (!at('\'') && !at('"')) fail("expected a quoted string");
    const char quote = text_[pos_++];
    const std::size_t begin = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') fail("escapes in header strings are not supported");
      ++pos_;
    }
    if (pos_ == text_.size()) fail_at(begin - 1, "unterminated string");
    return std::string(text_.substr(begin, pos_++ - begin));
  }
  bool boolean() {
    using Word = std::pair<std::string_view, bool>;
    for (auto [word, value] : {Word{"True", true}, Word{"False", false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    fail("expected True or False");
  }
  std::vector<std::size_t> tuple() {
    std::vector<std::size_t> dims;
    expect('(');
    skip_space();
    while (!at(')')) {
      dims.push_back(dimension());
      skip_space();
      if (at('L')) ++pos_;  // Python 2's long literals: (400L, 128L)
      skip_space();
      if (at(',')) {
        ++pos_;
        skip_space();
      } else if (!at(')')) {
        fail("expected ',' or ')' in the shape");
      }
    }
    ++pos_;  // ')'
    return dims;
  }
  std::size_t dimension() {
    const std::size_t begin = pos_;
    constexpr std::uint64_t kMax = std::numeric_limits<std::int64_t>::max();  // numpy's intp
    std::uint64_t v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
      if (v > (kMax - digit) / 10) fail_at(begin, "shape dimension out of range");
      v = v * 10 + digit;
      ++pos_;
    }
    if (pos_ == begin) fail("expected a non-negative integer in the shape");
    if (v > std::numeric_limits<std::size_t>::max()) fail_at(begin, "shape dimension out of range");
    return static_cast<std::size_t>(v);
  }

  std::string_view text_;
  std::size_t offset_;  // of text_ in the file, for messages
  const std::string& source_;
  std::size_t pos_ = 0;
};

inline std::uint64_t npy_read_le(std::string_view bytes, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
  return v;
}

/// Parses and checks everything but the dtype: magic, version, header,
/// shape. The data size is checked by the caller, which knows the item size.
inline NpyHeader parse_npy_header(std::string_view bytes, const std::string& source) {
  constexpr std::string_view kMagic("\x93NUMPY", 6);
  auto fail = [&](const std::string& what) -> FormatError { return FormatError(source, 0, 0, what); };
  if (bytes.empty()) throw fail("empty file, not a .npy file");
  if (bytes.substr(0, kMagic.size()) != kMagic.substr(0, bytes.size())) throw fail("not a .npy file (bad magic)");
  auto need = [&](std::size_t n, const char* what) {
    if (bytes.size() < n) {
      throw fail("truncated at byte " + std::to_string(bytes.size()) + " (in the " + what + ")");
    }
  };
  need(8, "magic and version");
  NpyHeader h;
  h.major = static_cast<unsigned char>(bytes[6]);
  h.minor = static_cast<unsigned char>(bytes[7]);
  std::size_t len_bytes = 0;
  if (h.major == 1 && h.minor == 0) {
    len_bytes = 2;
  } else if ((h.major == 2 || h.major == 3) && h.minor == 0) {
    len_bytes = 4;
  } else {
    throw fail("unsupported .npy format version " + std::to_string(h.major) + "." + std::to_string(h.minor) +
               " (expected 1.0, 2.0 or 3.0)");
  }
  need(8 + len_bytes, "header length");
  const std::size_t header_len = static_cast<std::size_t>(npy_read_le(bytes, 8, len_bytes));
  const std::size_t header_at = 8 + len_bytes;
  if (bytes.size() - header_at < header_len) {
    throw fail("truncated at byte " + std::to_string(bytes.size()) + " (the header needs " +
               std::to_string(header_len) + " bytes after byte " + std::to_string(header_at) + ")");
  }
  NpyHeaderParser(bytes.substr(header_at, header_len), header_at, source).parse(h);
  h.data_offset = header_at + header_len;
  h.count = 1;
  bool empty = false;
  for (std::size_t d : h.shape) empty = empty || d == 0;
  if (empty) {
    h.count = 0;
  } else {
    for (std::size_t d : h.shape) {
      if (h.count > std::numeric_limits<std::size_t>::max() / d) {
        throw fail("shape " + npy_shape_string(h.shape) + " has too many elements");
      }
      h.count *= d;
    }
  }
  return h;
}

template <class Scalar>
constexpr std::string_view npy_dtype_name() {
  return std::is_same_v<Scalar, float> ? "float32" : "float64";
}

}  // namespace detail

inline std::string npy_shape_string(std::span<const std::size_t> shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

template <class Scalar>
NpyArray<Scalar> parse_npy(std::string_view bytes, const std::string& source) {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "hwnas::parse_npy / read_npy: Scalar must be float or double");
  static_assert(std::numeric_limits<Scalar>::is_iec559, "hwnas::parse_npy: needs IEEE-754 float and double");
  using Bits = std::conditional_t<sizeof(Scalar) == 4, std::uint32_t, std::uint64_t>;
  constexpr std::size_t kSize = sizeof(Scalar);

  detail::NpyHeader h = detail::parse_npy_header(bytes, source);
  const std::string want = "f" + std::to_string(kSize);
  if (h.descr.size() != 3 || (h.descr[0] != '<' && h.descr[0] != '>') || h.descr.substr(1) != want) {
    throw FormatError(source, 0, 0,
                      "dtype " + h.descr + " but " + std::string(detail::npy_dtype_name<Scalar>()) + " expected");
  }
  const bool big_endian = h.descr[0] == '>';
  if (h.count > std::numeric_limits<std::size_t>::max() / kSize) {
    throw FormatError(source, 0, 0, "shape " + npy_shape_string(h.shape) + " has too many elements");
  }
  const std::size_t need = h.count * kSize;
  const std::size_t have = bytes.size() - h.data_offset;
  if (have < need) {
    throw FormatError(source, 0, 0,
                      "truncated at byte " + std::to_string(bytes.size()) + " (shape " + npy_shape_string(h.shape) +
                          " " + h.descr + " needs " + std::to_string(need) + " data bytes after byte " +
                          std::to_string(h.data_offset) + ", found " + std::to_string(have) + ")");
  }
  if (have > need) {
    throw FormatError(source, 0, 0,
                      std::to_string(have - need) + (have - need == 1 ? " unexpected byte" : " unexpected bytes") +
                          " after the data (shape " + npy_shape_string(h.shape) + " " + h.descr + " needs " +
                          std::to_string(need) + ")");
  }

  NpyArray<Scalar> out;
  out.shape = h.shape;
  out.values.resize(h.count);
  auto value = [&](std::size_t i) {
    const std::size_t at = h.data_offset + i * kSize;
    Bits bits = 0;
    for (std::size_t b = 0; b < kSize; ++b) {
      const std::size_t shift = 8 * (big_endian ? kSize - 1 - b : b);
      bits |= static_cast<Bits>(static_cast<Bits>(static_cast<unsigned char>(bytes[at + b])) << shift);
    }
    return std::bit_cast<Scalar>(bits);
  };
  const std::size_t nd = h.shape.size();
  if (!h.fortran_order || nd < 2) {
    for (std::size_t i = 0; i < h.count; ++i) out.values[i] = value(i);
    return out;
  }
  // Fortran order: walk the file (first axis fastest) and scatter to C order.
  std::vector<std::size_t> idx(nd, 0), stride(nd, 1);
  for (std::size_t k = nd - 1; k > 0; --k) stride[k - 1] = stride[k] * h.shape[k];
  std::size_t dst = 0;
  for (std::size_t src = 0; src < h.count; ++src) {
    out.values[dst] = value(src);
    for (std::size_t k = 0; k < nd; ++k) {
      ++idx[k];
      dst += stride[k];
      if (idx[k] < h.shape[k]) break;
      dst -= stride[k] * h.shape[k];
      idx[k] = 0;
    }
  }
  return out;
}

template <class Scalar>
NpyArray<Scalar> read_npy(const std::filesystem::path& path) {
  return parse_npy<Scalar>(detail::read_file(path), path.string());
}

}  // namespace hwnas
