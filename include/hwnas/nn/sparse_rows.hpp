// Sparse rows: the compressed-row matrices the MLP multiplies instead of
// dense ones (one-hot architecture features, and the positive units of a
// hidden layer after ReLU), and the kernels that multiply them with a dense
// weight matrix in registers.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <Eigen/Core>

namespace hwnas {

/// Rows of a sparse input matrix in compressed-row form: row i holds the
/// (index[k], value[k]) pairs for k in [offsets[i], offsets[i + 1]). One-hot
/// architecture features have ~1/4 of their entries set, so the first layer
/// adds a few weight rows instead of multiplying a dense matrix.
template <class Scalar>
struct SparseRows {
  std::size_t width = 0;  ///< number of columns
  std::vector<std::size_t> offsets{0};
  std::vector<std::uint32_t> index;
  std::vector<Scalar> value;

  Eigen::Index rows() const noexcept { return static_cast<Eigen::Index>(offsets.size() - 1); }
  Eigen::Index cols() const noexcept { return static_cast<Eigen::Index>(width); }
  void clear() {
    offsets.assign(1, 0);
    index.clear();
    value.clear();
  }
  void push(std::size_t i, Scalar v) {
    index.push_back(static_cast<std::uint32_t>(i));
    value.push_back(v);
  }
  void end_row() { offsets.push_back(index.size()); }
};

namespace detail {

/// Columns per register tile of sparse_row_times: one cache line.
template <class Scalar>
constexpr int kSparseTile = 64 / static_cast<int>(sizeof(Scalar));

/// Columns [c, c + Tiles * Width) of sparse_row_times in registers of Width
/// columns, while the weight rows of the non-zeros stream by. At least 4
/// independent sums (fewer tiles split the non-zeros into several chains),
/// so that the latency of a multiply-add does not bound the loop.
template <int Width, std::size_t Tiles, class Scalar, class Weights>
void sparse_row_tiles(const std::uint32_t* index, const Scalar* value, std::size_t nnz, const Weights& w,
                      const Scalar* bias, Scalar* out, Eigen::Index c) {
  using Tile = Eigen::Matrix<Scalar, 1, Width>;
  constexpr std::size_t kChains = Tiles >= 4 ? 1 : 4 / Tiles;
  // Tile t starts at column c + t * Width.
  auto at = [c](std::size_t t) { return c + static_cast<Eigen::Index>(t) * Width; };
  std::array<Tile, Tiles * kChains> acc;
  for (std::size_t t = 0; t < acc.size(); ++t) {
    acc[t] = bias != nullptr && t < Tiles ? Tile(Eigen::Map<const Tile>(bias + at(t))) : Tile::Zero();
  }
  std::size_t k = 0;
  for (; k + kChains <= nnz; k += kChains) {
    for (std::size_t j = 0; j < kChains; ++j) {
      const auto row = w.row(index[k + j]);
      for (std::size_t t = 0; t < Tiles; ++t) acc[j * Tiles + t] += value[k + j] * row.template segment<Width>(at(t));
    }
  }
  for (; k < nnz; ++k) {
    for (std::size_t t = 0; t < Tiles; ++t) acc[t] += value[k] * w.row(index[k]).template segment<Width>(at(t));
  }
  for (std::size_t t = 0; t < Tiles; ++t) {
    for (std::size_t j = 1; j < kChains; ++j) acc[t] += acc[j * Tiles + t];
    Eigen::Map<Tile>(out + at(t)) = acc[t];
  }
}

/// out[c] = bias[c] + sum_k value[k] * w(index[k], c) for every column c of
/// the row-major `w` (no bias: 0). The product of one sparse row with a
/// weight matrix, as training, batch and one-sample prediction all need it:
/// passes of 4 registers (64 floats) over the non-zeros, then single
/// registers, then single columns (a 1-output layer: a dot over the
/// non-zeros). About 1.7x faster than adding whole weight rows to `out` in
/// memory (Eigen's row += v * w.row(i)).
template <class Scalar, class Weights>
void sparse_row_times(const std::uint32_t* index, const Scalar* value, std::size_t nnz, const Weights& w,
                      const Scalar* bias, Scalar* out) {
  constexpr int kTile = kSparseTile<Scalar>;
  const Eigen::Index width = w.cols();
  Eigen::Index c = 0;
  for (; c + 4 * kTile <= width; c += 4 * kTile) sparse_row_tiles<kTile, 4>(index, value, nnz, w, bias, out, c);
  for (; c + kTile <= width; c += kTile) sparse_row_tiles<kTile, 1>(index, value, nnz, w, bias, out, c);
  for (; c < width; ++c) sparse_row_tiles<1, 1>(index, value, nnz, w, bias, out, c);
}

/// out[j] = x . w.row(j) for each j = index[k], k < nnz (x has w.cols()
/// values): the back-propagated gradient at the units ReLU passed. Four
/// rows of w at a time share each load of x.
template <class Scalar, class Weights>
void sparse_row_dots(const Scalar* x, const std::uint32_t* index, std::size_t nnz, const Weights& w, Scalar* out) {
  constexpr int kTile = kSparseTile<Scalar>;
  using Tile = Eigen::Matrix<Scalar, 1, kTile>;
  const Eigen::Index width = w.cols();
  const Eigen::Map<const Eigen::Matrix<Scalar, 1, Eigen::Dynamic>> xs(x, width);
  std::size_t k = 0;
  for (; k + 4 <= nnz; k += 4) {
    std::array<Tile, 4> acc;
    for (auto& a : acc) a.setZero();
    Eigen::Index c = 0;
    for (; c + kTile <= width; c += kTile) {
      const Tile xt = xs.template segment<kTile>(c);
      for (std::size_t j = 0; j < 4; ++j) acc[j] += xt.cwiseProduct(w.row(index[k + j]).template segment<kTile>(c));
    }
    for (std::size_t j = 0; j < 4; ++j) {
      const auto row = w.row(index[k + j]);
      out[index[k + j]] = acc[j].sum() + xs.tail(width - c).dot(row.tail(width - c));
    }
  }
  for (; k < nnz; ++k) out[index[k]] = xs.dot(w.row(index[k]));
}

/// The positive entries of `row` (width entries) into index/value, which
/// need room for width entries; returns their number. Branch-free: which
/// units ReLU keeps is unpredictable, and a branch per unit mispredicts.
/// With AVX-512 (a build for such a CPU, e.g. -march=native), floats go 16 at
/// a time (about 2.8x faster; a one-architecture prediction makes two such
/// lists of 400 units).
template <class Scalar>
std::size_t positive_entries(const Scalar* row, std::size_t width, std::uint32_t* index, Scalar* value) {
  std::size_t n = 0, c = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<Scalar, float>) {
    __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; c + 16 <= width; c += 16) {
      const __m512 v = _mm512_loadu_ps(row + c);
      const __mmask16 keep = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
      // Whole-register stores (n <= c, so they stay within the room for
      // width entries): compressing straight to memory is slow on Zen 4.
      _mm512_storeu_ps(value + n, _mm512_maskz_compress_ps(keep, v));
      _mm512_storeu_si512(index + n, _mm512_maskz_compress_epi32(keep, lanes));
      n += static_cast<std::size_t>(std::popcount(static_cast<unsigned>(keep)));
      lanes = _mm512_add_epi32(lanes, _mm512_set1_epi32(16));
    }
  }
#endif
  for (; c < width; ++c) {
    index[n] = static_cast<std::uint32_t>(c);
    value[n] = row[c];
    n += row[c] > Scalar(0) ? 1 : 0;
  }
  return n;
}

/// Sparse rows (compressed-row form, as SparseRows) whose buffers only grow,
/// so that training reuses them batch after batch without allocating:
/// the positive activations of a hidden layer, or a transposed input.
template <class Scalar>
struct ActiveRows {
  std::vector<std::size_t> offsets{0};
  std::vector<std::uint32_t> index;
  std::vector<Scalar> value;

  Eigen::Index rows() const noexcept { return static_cast<Eigen::Index>(offsets.size() - 1); }
  void clear() { offsets.assign(1, 0); }
  /// The positive entries of each row of `a`.
  template <class Derived>
  void assign_positive(const Eigen::MatrixBase<Derived>& a) {
    const auto width = static_cast<std::size_t>(a.cols());
    grow(static_cast<std::size_t>(a.size()));
    offsets.resize(static_cast<std::size_t>(a.rows()) + 1);
    for (Eigen::Index i = 0; i < a.rows(); ++i) {
      const std::size_t begin = offsets[static_cast<std::size_t>(i)];
      offsets[static_cast<std::size_t>(i) + 1] =
          begin + positive_entries(&a(i, 0), width, index.data() + begin, value.data() + begin);
    }
  }
  /// The transpose of `x` (width columns): row j lists (i, x(i, j)) for
  /// increasing i. What the weight gradient x^T delta sums over.
  template <class Rows>
  void assign_transpose(const Rows& x, std::size_t width) {
    const auto n_rows = static_cast<std::size_t>(x.rows());
    const std::size_t nnz = x.offsets[n_rows];
    grow(nnz);
    offsets.assign(width + 1, 0);
    for (std::size_t k = 0; k < nnz; ++k) ++offsets[x.index[k] + 1];
    for (std::size_t j = 0; j < width; ++j) offsets[j + 1] += offsets[j];
    for (std::size_t i = 0; i < n_rows; ++i) {
      for (std::size_t k = x.offsets[i]; k < x.offsets[i + 1]; ++k) {
        const std::size_t at = offsets[x.index[k]]++;
        index[at] = static_cast<std::uint32_t>(i);
        value[at] = x.value[k];
      }
    }
    // The fill moved each offset to its row's end: shift back.
    for (std::size_t j = width; j > 0; --j) offsets[j] = offsets[j - 1];
    offsets[0] = 0;
  }

 private:
  void grow(std::size_t n) {
    if (index.size() < n) {
      index.resize(n);
      value.resize(n);
    }
  }
};

/// out = x w (+ bias): one sparse_row_times per row of x (SparseRows or
/// ActiveRows).
template <class Rows, class Weights, class Out>
void sparse_times(const Rows& x, const Weights& w, const typename Out::Scalar* bias, Out& out) {
  out.resize(x.rows(), w.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const std::size_t begin = x.offsets[static_cast<std::size_t>(i)];
    sparse_row_times(x.index.data() + begin, x.value.data() + begin, x.offsets[static_cast<std::size_t>(i) + 1] - begin,
                     w, bias, &out(i, 0));
  }
}

}  // namespace detail

}  // namespace hwnas
