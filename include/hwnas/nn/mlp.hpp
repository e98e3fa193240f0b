// A hand-written multilayer perceptron on Eigen: ReLU hidden layers, linear
// output. The network owns one flat parameter vector and each layer's weight
// and bias are views into it (mlpack's layout), so optimisers, freezing and
// serialisation work on contiguous slices.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "hwnas/error.hpp"
#include "hwnas/random.hpp"

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

  /// Per-thread buffers for forward and backward passes; reused across calls
  /// so training allocates only when the batch size grows.
  struct Workspace {
    std::vector<RowMatrix> activations;  // [0] unused (the input), [l] output of layer l-1 after ReLU
    std::vector<RowMatrix> deltas;       // gradient w.r.t. each layer's pre-activation
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

  /// Gradient of a loss w.r.t. the parameters, given the inputs of the last
  /// forward() on `ws` and dloss/doutput (rows x output_dim). Writes into
  /// `grad` (num_parameters() entries, overwritten).
  template <class Input>
  void backward(const Input& x, const Matrix& doutput, Workspace& ws, Eigen::Ref<Vector> grad) const;

 private:
  template <class Input>
  void check_input(const Input& x) const;
  // z = x W_0 + b_0, and dW_0 = x^T delta_0: dense and sparse inputs.
  template <class Derived, class Out>
  void first_layer(const Eigen::MatrixBase<Derived>& x, Out& z) const;
  template <class Out>
  void first_layer(const SparseRows<Scalar>& x, Out& z) const;
  template <class Derived, class Grad>
  void first_layer_gradient(const Eigen::MatrixBase<Derived>& x, const RowMatrix& delta, Grad& gw) const;
  template <class Grad>
  void first_layer_gradient(const SparseRows<Scalar>& x, const RowMatrix& delta, Grad& gw) const;

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
template <class Derived, class Out>
void Mlp<Scalar>::first_layer(const Eigen::MatrixBase<Derived>& x, Out& z) const {
  z.noalias() = x.template cast<Scalar>() * weight(0);
  z.rowwise() += bias(0);
}

template <class Scalar>
template <class Out>
void Mlp<Scalar>::first_layer(const SparseRows<Scalar>& x, Out& z) const {
  const auto w = weight(0);
  z.resize(x.rows(), w.cols());
  z.rowwise() = bias(0);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (std::size_t k = x.offsets[static_cast<std::size_t>(i)]; k < x.offsets[static_cast<std::size_t>(i) + 1]; ++k) {
      if (x.index[k] >= input_dim()) {
        throw ShapeMismatch("mlp: sparse input index " + std::to_string(x.index[k]) + " outside " +
                            std::to_string(input_dim()) + " columns");
      }
      z.row(i) += x.value[k] * w.row(x.index[k]);
    }
  }
}

template <class Scalar>
template <class Derived, class Grad>
void Mlp<Scalar>::first_layer_gradient(const Eigen::MatrixBase<Derived>& x, const RowMatrix& delta,
                                       Grad& gw) const {
  gw.noalias() = x.template cast<Scalar>().transpose() * delta;
}

template <class Scalar>
template <class Grad>
void Mlp<Scalar>::first_layer_gradient(const SparseRows<Scalar>& x, const RowMatrix& delta, Grad& gw) const {
  gw.setZero();
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (std::size_t k = x.offsets[static_cast<std::size_t>(i)]; k < x.offsets[static_cast<std::size_t>(i) + 1]; ++k) {
      gw.row(x.index[k]) += x.value[k] * delta.row(i);
    }
  }
}

template <class Scalar>
template <class Input>
auto Mlp<Scalar>::forward(const Input& x, Workspace& ws) const -> Matrix {
  check_input(x);
  const std::size_t n_layers = num_layers();
  ws.activations.resize(n_layers);
  Matrix out;
  if (n_layers == 1) {
    first_layer(x, out);
    return out;
  }
  first_layer(x, ws.activations[1]);
  ws.activations[1] = ws.activations[1].cwiseMax(Scalar(0));
  for (std::size_t l = 1; l < n_layers; ++l) {
    if (l + 1 < n_layers) {
      RowMatrix& z = ws.activations[l + 1];
      z.noalias() = ws.activations[l] * weight(l);
      z.rowwise() += bias(l);
      z = z.cwiseMax(Scalar(0));
    } else {
      out.noalias() = ws.activations[l] * weight(l);
      out.rowwise() += bias(l);
    }
  }
  return out;
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
  if (ws.activations.size() != n_layers ||
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
    if (l == 0) {
      first_layer_gradient(x, delta, gw);
    } else {
      gw.noalias() = ws.activations[l].transpose() * delta;
    }
    gb = delta.colwise().sum();
    if (l > 0) {
      RowMatrix& prev = ws.deltas[l - 1];
      prev.noalias() = delta * weight(l).transpose();
      // ReLU: the gradient passes where the activation was positive.
      prev = (ws.activations[l].array() > Scalar(0)).select(prev, Scalar(0));
    }
  }
}

}  // namespace hwnas
