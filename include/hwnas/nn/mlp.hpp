// A hand-written multilayer perceptron on Eigen: ReLU hidden layers, linear
// output. The network owns one flat parameter vector and each layer's weight
// and bias are views into it (mlpack's layout), so optimisers, freezing and
// serialisation work on contiguous slices. One-hot inputs and sparse ReLU
// outputs (a trained latency predictor keeps ~20 % of its units) are
// multiplied as lists of non-zeros: the weight rows of the zeros are skipped.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "hwnas/error.hpp"
#include "hwnas/nn/sparse_rows.hpp"
#include "hwnas/random.hpp"

namespace hwnas {

/// y = W_L relu(... relu(W_1 x + b_1) ...) + b_L, batched over rows.
///
/// Layer l maps sizes()[l] inputs to sizes()[l + 1] outputs. Its weight is
/// an in x out row-major matrix (the transpose of PyTorch's [out, in]), so
/// the weights leaving one input are contiguous: a one-hot input or a ReLU
/// zero then skips a whole row. The bias follows the weight. Inputs are one
/// row per sample. Scalar is float or double.
template <class Scalar = float>
class Mlp {
 public:
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using WeightMap = Eigen::Map<RowMatrix>;
  using ConstWeightMap = Eigen::Map<const RowMatrix>;
  using BiasMap = Eigen::Map<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>>;
  using ConstBiasMap = Eigen::Map<const Eigen::Matrix<Scalar, 1, Eigen::Dynamic>>;

  /// A hidden layer's output feeds the next layer as lists of its positive
  /// units (forward, weight gradient and back-propagated gradient skip the
  /// ReLU zeros) when fewer than this fraction of them are positive, the
  /// batch has at most kSparseMaxRows rows (the weight gradient then gathers
  /// rows of a batch that stays in cache) and the next layer has at least one
  /// register tile (16 floats) of outputs. The sparse path's cost grows with
  /// the density, the dense one's does not: for 400-unit layers and 32 to
  /// 256 rows they break even at about 50 % (forward + backward, AVX-512);
  /// trained latency predictors keep 15-30 %, freshly initialised ones ~45 %.
  static constexpr double kSparseDensity = 0.45;
  static constexpr Eigen::Index kSparseMaxRows = 512;

  /// Per-thread buffers for forward and backward passes; reused across calls
  /// so training allocates only when the batch size grows.
  struct Workspace {
    std::vector<RowMatrix> activations;  // [0] unused (the input), [l] output of layer l-1 after ReLU
    std::vector<RowMatrix> deltas;       // gradient w.r.t. each layer's pre-activation
    // [l]: the positive entries of activations[l] when layer l took them as
    // sparse rows; no rows when it multiplied the dense matrix.
    std::vector<detail::ActiveRows<Scalar>> active;
    detail::ActiveRows<Scalar> transposed;  // backward's scratch
    RowMatrix out;                          // forward's output, row by row
    /// The density below which hidden layers go sparse (kSparseDensity); 0
    /// keeps every hidden layer dense (tests compare the two paths).
    double sparse_density = kSparseDensity;
  };

  /// Buffers for forward_one(), for layers of up to N units: fixed size, so
  /// they can live on the stack.
  template <std::size_t N>
  struct RowScratch {
    std::size_t nnz = 0;  ///< the input's non-zeros are index/value[0, nnz)
    std::array<std::uint32_t, N> index;
    std::array<Scalar, N> value;
    std::array<Scalar, N> out;
  };

  Mlp() = default;
  /// Sizes [input, hidden..., output]; at least two entries, all positive.
  /// Parameters start at zero: call init() or load them.
  explicit Mlp(std::vector<std::size_t> sizes);

  /// PyTorch's default initialisation of nn.Linear: weights and biases
  /// uniform in [-1/sqrt(in), 1/sqrt(in)].
  void init(Rng& rng);

  const std::vector<std::size_t>& sizes() const noexcept { return sizes_; }
  std::size_t num_layers() const noexcept { return sizes_.empty() ? 0 : sizes_.size() - 1; }
  std::size_t input_dim() const noexcept { return sizes_.front(); }
  std::size_t output_dim() const noexcept { return sizes_.back(); }
  std::size_t num_parameters() const noexcept { return params_.size(); }

  /// The flat parameter vector (layer by layer: weight, then bias).
  Vector& parameters() noexcept { return params_; }
  const Vector& parameters() const noexcept { return params_; }
  /// [begin, end) of layer l's parameters in the flat vector.
  std::size_t layer_begin(std::size_t l) const { return offsets_.at(l); }
  std::size_t layer_end(std::size_t l) const { return offsets_.at(l + 1); }

  WeightMap weight(std::size_t l);
  ConstWeightMap weight(std::size_t l) const;
  BiasMap bias(std::size_t l);
  ConstBiasMap bias(std::size_t l) const;

  /// Outputs (rows x output_dim) for inputs (rows x input_dim): a dense
  /// Eigen matrix or SparseRows.
  template <class Input>
  Matrix forward(const Input& x, Workspace& ws) const;
  template <class Input>
  Matrix forward(const Input& x) const {
    Workspace ws;
    return forward(x, ws);
  }

  /// forward() of one sample, given as its non-zero inputs in s, without
  /// heap allocation; returns its outputs (a view into s.out) and sets
  /// s.nnz to 0. Every layer skips the inputs that are zero (the same
  /// products as forward()'s sparse path). InvalidArgument if a layer has
  /// more than N units or the input more than N non-zeros; ShapeMismatch for
  /// an input index outside input_dim().
  template <std::size_t N>
  std::span<const Scalar> forward_one(RowScratch<N>& s) const;

  /// Gradient of a loss w.r.t. the parameters, given the inputs of the last
  /// forward() on `ws` and dloss/doutput (rows x output_dim). Writes into
  /// `grad` (num_parameters() entries, overwritten).
  template <class Input>
  void backward(const Input& x, const Matrix& doutput, Workspace& ws, Eigen::Ref<Vector> grad) const;

 private:
  template <class Input>
  void check_input(const Input& x) const;
  // z = x W_0 + b_0, and dW_0 = x^T delta_0: dense and sparse inputs.
  template <class Derived>
  void first_layer(const Eigen::MatrixBase<Derived>& x, RowMatrix& z) const;
  void first_layer(const SparseRows<Scalar>& x, RowMatrix& z) const;
  template <class Derived, class Grad>
  void first_layer_gradient(const Eigen::MatrixBase<Derived>& x, const RowMatrix& delta, Grad& gw,
                            Workspace& ws) const;
  template <class Grad>
  void first_layer_gradient(const SparseRows<Scalar>& x, const RowMatrix& delta, Grad& gw, Workspace& ws) const;
  // dW = x^T delta for sparse rows x: row j of dW sums the delta rows where
  // column j of x is non-zero, so each row of dW is written once.
  template <class Rows, class Grad>
  void sparse_gradient(const Rows& x, const RowMatrix& delta, Grad& gw, Workspace& ws) const;

  std::vector<std::size_t> sizes_;
  std::vector<std::size_t> offsets_;  // layer l: [offsets_[l], offsets_[l+1])
  Vector params_;
};

// ---------------------------------------------------------------------------

template <class Scalar>
Mlp<Scalar>::Mlp(std::vector<std::size_t> sizes) : sizes_(std::move(sizes)) {
  if (sizes_.size() < 2) {
    throw InvalidArgument("mlp: needs at least an input and an output size, got " +
                          std::to_string(sizes_.size()) + " sizes");
  }
  offsets_.push_back(0);
  for (std::size_t l = 0; l + 1 < sizes_.size(); ++l) {
    if (sizes_[l] == 0 || sizes_[l + 1] == 0) {
      throw InvalidArgument("mlp: layer sizes must be positive (layer " + std::to_string(l) + ")");
    }
    offsets_.push_back(offsets_.back() + sizes_[l] * sizes_[l + 1] + sizes_[l + 1]);
  }
  params_ = Vector::Zero(static_cast<Eigen::Index>(offsets_.back()));
}

template <class Scalar>
void Mlp<Scalar>::init(Rng& rng) {
  for (std::size_t l = 0; l < num_layers(); ++l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(sizes_[l]));
    for (std::size_t i = offsets_[l]; i < offsets_[l + 1]; ++i) {
      params_(static_cast<Eigen::Index>(i)) = static_cast<Scalar>((2.0 * rng.uniform01() - 1.0) * bound);
    }
  }
}

template <class Scalar>
auto Mlp<Scalar>::weight(std::size_t l) -> WeightMap {
  return WeightMap(params_.data() + offsets_.at(l), static_cast<Eigen::Index>(sizes_[l]),
                   static_cast<Eigen::Index>(sizes_[l + 1]));
}

template <class Scalar>
auto Mlp<Scalar>::weight(std::size_t l) const -> ConstWeightMap {
  return ConstWeightMap(params_.data() + offsets_.at(l), static_cast<Eigen::Index>(sizes_[l]),
                        static_cast<Eigen::Index>(sizes_[l + 1]));
}

template <class Scalar>
auto Mlp<Scalar>::bias(std::size_t l) -> BiasMap {
  return BiasMap(params_.data() + offsets_.at(l) + sizes_[l] * sizes_[l + 1],
                 static_cast<Eigen::Index>(sizes_[l + 1]));
}

template <class Scalar>
auto Mlp<Scalar>::bias(std::size_t l) const -> ConstBiasMap {
  return ConstBiasMap(params_.data() + offsets_.at(l) + sizes_[l] * sizes_[l + 1],
                      static_cast<Eigen::Index>(sizes_[l + 1]));
}

template <class Scalar>
template <class Input>
void Mlp<Scalar>::check_input(const Input& x) const {
  if (sizes_.empty()) throw InvalidArgument("mlp: the network has no layers");
  if (static_cast<std::size_t>(x.cols()) != input_dim()) {
    throw ShapeMismatch("mlp: input has " + std::to_string(x.cols()) + " columns, expected " +
                        std::to_string(input_dim()));
  }
}

template <class Scalar>
template <class Derived>
void Mlp<Scalar>::first_layer(const Eigen::MatrixBase<Derived>& x, RowMatrix& z) const {
  z.noalias() = x.template cast<Scalar>() * weight(0);
  z.rowwise() += bias(0);
}

template <class Scalar>
void Mlp<Scalar>::first_layer(const SparseRows<Scalar>& x, RowMatrix& z) const {
  for (std::size_t k = 0; k < x.offsets.back(); ++k) {
    if (x.index[k] >= input_dim()) {
      throw ShapeMismatch("mlp: sparse input index " + std::to_string(x.index[k]) + " outside " +
                          std::to_string(input_dim()) + " columns");
    }
  }
  detail::sparse_times(x, weight(0), bias(0).data(), z);
}

template <class Scalar>
template <class Derived, class Grad>
void Mlp<Scalar>::first_layer_gradient(const Eigen::MatrixBase<Derived>& x, const RowMatrix& delta, Grad& gw,
                                       Workspace&) const {
  gw.noalias() = x.template cast<Scalar>().transpose() * delta;
}

template <class Scalar>
template <class Grad>
void Mlp<Scalar>::first_layer_gradient(const SparseRows<Scalar>& x, const RowMatrix& delta, Grad& gw,
                                       Workspace& ws) const {
  sparse_gradient(x, delta, gw, ws);
}

template <class Scalar>
template <class Rows, class Grad>
void Mlp<Scalar>::sparse_gradient(const Rows& x, const RowMatrix& delta, Grad& gw, Workspace& ws) const {
  ws.transposed.assign_transpose(x, static_cast<std::size_t>(gw.rows()));
  detail::sparse_times(ws.transposed, delta, nullptr, gw);
}

template <class Scalar>
template <class Input>
auto Mlp<Scalar>::forward(const Input& x, Workspace& ws) const -> Matrix {
  check_input(x);
  const std::size_t n_layers = num_layers();
  ws.activations.resize(n_layers);
  ws.active.resize(n_layers);
  for (std::size_t l = 0; l < n_layers; ++l) {
    RowMatrix& z = l + 1 < n_layers ? ws.activations[l + 1] : ws.out;
    if (l == 0) {
      first_layer(x, z);
    } else {
      const RowMatrix& a = ws.activations[l];
      detail::ActiveRows<Scalar>& active = ws.active[l];
      active.clear();
      const auto positive = static_cast<double>((a.array() > Scalar(0)).count());
      if (a.rows() <= kSparseMaxRows && static_cast<Eigen::Index>(sizes_[l + 1]) >= detail::kSparseTile<Scalar> &&
          positive < ws.sparse_density * static_cast<double>(a.size())) {
        active.assign_positive(a);
        detail::sparse_times(active, weight(l), bias(l).data(), z);
      } else {
        z.noalias() = a * weight(l);
        z.rowwise() += bias(l);
      }
    }
    if (l + 1 < n_layers) z = z.cwiseMax(Scalar(0));
  }
  return ws.out;
}

template <class Scalar>
template <std::size_t N>
auto Mlp<Scalar>::forward_one(RowScratch<N>& s) const -> std::span<const Scalar> {
  if (sizes_.empty()) throw InvalidArgument("mlp: the network has no layers");
  for (std::size_t l = 1; l < sizes_.size(); ++l) {
    if (sizes_[l] > N) {
      throw InvalidArgument("mlp: forward_one holds layers of up to " + std::to_string(N) + " units, layer " +
                            std::to_string(l - 1) + " has " + std::to_string(sizes_[l]));
    }
  }
  if (s.nnz > N) throw InvalidArgument("mlp: forward_one holds up to " + std::to_string(N) + " non-zero inputs");
  for (std::size_t k = 0; k < s.nnz; ++k) {
    if (s.index[k] >= input_dim()) {
      throw ShapeMismatch("mlp: input index " + std::to_string(s.index[k]) + " outside " +
                          std::to_string(input_dim()) + " columns");
    }
  }
  // Each layer multiplies the list of its positive inputs; the list of the
  // next layer's is then made from the outputs (ReLU).
  std::size_t nnz = s.nnz;
  for (std::size_t l = 0; l < num_layers(); ++l) {
    detail::sparse_row_times(s.index.data(), s.value.data(), nnz, weight(l), bias(l).data(), s.out.data());
    if (l + 1 < num_layers()) {
      nnz = detail::positive_entries(s.out.data(), sizes_[l + 1], s.index.data(), s.value.data());
    }
  }
  s.nnz = 0;  // consumed: s is ready for the next sample
  return {s.out.data(), output_dim()};
}

template <class Scalar>
template <class Input>
void Mlp<Scalar>::backward(const Input& x, const Matrix& doutput, Workspace& ws, Eigen::Ref<Vector> grad) const {
  check_input(x);
  const std::size_t n_layers = num_layers();
  if (doutput.rows() != x.rows() || static_cast<std::size_t>(doutput.cols()) != output_dim()) {
    throw ShapeMismatch("mlp: output gradient is " + std::to_string(doutput.rows()) + "x" +
                        std::to_string(doutput.cols()) + ", expected " + std::to_string(x.rows()) + "x" +
                        std::to_string(output_dim()));
  }
  if (static_cast<std::size_t>(grad.size()) != num_parameters()) {
    throw ShapeMismatch("mlp: gradient vector has " + std::to_string(grad.size()) + " entries, expected " +
                        std::to_string(num_parameters()));
  }
  if (ws.activations.size() != n_layers || ws.out.rows() != x.rows() ||
      (n_layers > 1 && ws.activations[1].rows() != x.rows())) {
    throw InvalidArgument("mlp: backward needs the workspace of a forward pass on the same inputs");
  }
  ws.deltas.resize(n_layers);
  ws.deltas[n_layers - 1] = doutput;
  for (std::size_t l = n_layers; l-- > 0;) {
    const RowMatrix& delta = ws.deltas[l];
    Eigen::Map<RowMatrix> gw(grad.data() + offsets_[l], static_cast<Eigen::Index>(sizes_[l]),
                             static_cast<Eigen::Index>(sizes_[l + 1]));
    Eigen::Map<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>> gb(grad.data() + offsets_[l] + sizes_[l] * sizes_[l + 1],
                                                           static_cast<Eigen::Index>(sizes_[l + 1]));
    const bool sparse = l > 0 && ws.active[l].rows() > 0;
    if (l == 0) {
      first_layer_gradient(x, delta, gw, ws);
    } else if (sparse) {
      sparse_gradient(ws.active[l], delta, gw, ws);
    } else {
      gw.noalias() = ws.activations[l].transpose() * delta;
    }
    gb = delta.colwise().sum();
    if (l == 0) continue;
    RowMatrix& prev = ws.deltas[l - 1];
    if (sparse) {
      // Only where ReLU passed: one dot per positive activation.
      const detail::ActiveRows<Scalar>& active = ws.active[l];
      prev.setZero(delta.rows(), static_cast<Eigen::Index>(sizes_[l]));
      for (Eigen::Index i = 0; i < delta.rows(); ++i) {
        const std::size_t begin = active.offsets[static_cast<std::size_t>(i)];
        detail::sparse_row_dots(&delta(i, 0), active.index.data() + begin,
                                active.offsets[static_cast<std::size_t>(i) + 1] - begin, weight(l), &prev(i, 0));
      }
    } else {
      prev.noalias() = delta * weight(l).transpose();
      // ReLU: the gradient passes where the activation was positive.
      prev = (ws.activations[l].array() > Scalar(0)).select(prev, Scalar(0));
    }
  }
}

}  // namespace hwnas
