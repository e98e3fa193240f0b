// Stochastic gradient descent with momentum and weight decay, with PyTorch's
// semantics (torch.optim.SGD), learning-rate schedules, and freezing as a
// set of trainable slices of the flat parameter vector.
#pragma once

#include <cmath>
#include <cstddef>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "hwnas/error.hpp"

namespace hwnas {

/// A learning rate per epoch: constant, step decay or cosine annealing.
struct LearningRateSchedule {
  enum class Kind { constant, step, cosine };
  Kind kind = Kind::constant;
  std::size_t step_size = 30;  ///< step: multiply by gamma every step_size epochs
  double gamma = 0.1;          ///< step: decay factor
  std::size_t total_epochs = 100;  ///< cosine: epochs to anneal over (PyTorch's T_max)
  double min_factor = 0.0;     ///< cosine: final rate as a fraction of the base rate

  /// The rate for `epoch` (0-based) given the base rate.
  double rate(double base, std::size_t epoch) const {
    switch (kind) {
      case Kind::constant: return base;
      case Kind::step: return base * std::pow(gamma, static_cast<double>(epoch / step_size));
      case Kind::cosine: {
        const double t = std::min(1.0, static_cast<double>(epoch) / static_cast<double>(total_epochs));
        const double lo = base * min_factor;
        return lo + (base - lo) * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
      }
    }
    return base;
  }
};

/// A [begin, end) slice of a flat parameter vector.
using ParameterRange = std::pair<std::size_t, std::size_t>;

/// torch.optim.SGD: g = grad + weight_decay * p; buf = momentum * buf +
/// (1 - dampening) * g (buf = g on the first step); g = g + momentum * buf
/// with Nesterov, else g = buf; p -= lr * g. Options are validated once; the
/// momentum buffer is the run state (reset() clears it).
template <class Scalar = float>
class SgdMomentum {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  struct Options {
    double learning_rate = 0.01;
    double momentum = 0.9;
    double weight_decay = 0.0;
    double dampening = 0.0;
    bool nesterov = false;
  };

  SgdMomentum() : SgdMomentum(Options{}) {}
  explicit SgdMomentum(Options options) : options_(options) {
    auto check = [](double v, const char* name, bool allow_zero) {
      if (!std::isfinite(v) || v < 0 || (!allow_zero && v == 0)) {
        throw InvalidArgument(std::string("sgd: ") + name + " must be " +
                              (allow_zero ? "finite and >= 0" : "finite and > 0") + ", found " +
                              std::to_string(v));
      }
    };
    check(options_.learning_rate, "learning_rate", false);
    check(options_.momentum, "momentum", true);
    check(options_.weight_decay, "weight_decay", true);
    check(options_.dampening, "dampening", true);
    if (options_.nesterov && (options_.momentum <= 0 || options_.dampening != 0)) {
      throw InvalidArgument("sgd: Nesterov momentum needs momentum > 0 and dampening 0");
    }
  }

  const Options& options() const noexcept { return options_; }
  double learning_rate() const noexcept { return options_.learning_rate; }
  /// Schedules change the rate between epochs; it must stay positive.
  void set_learning_rate(double lr) {
    if (!(lr > 0) || !std::isfinite(lr)) {
      throw InvalidArgument("sgd: learning rate must be finite and > 0, found " + std::to_string(lr));
    }
    options_.learning_rate = lr;
  }
  void reset() {
    buffer_.resize(0);
    started_ = false;
  }

  /// One update of the whole vector.
  void step(Eigen::Ref<Vector> params, const Eigen::Ref<const Vector>& grad) {
    step(params, grad, {ParameterRange{0, static_cast<std::size_t>(params.size())}});
  }

  /// One update of the trainable slices only: the rest (frozen parameters)
  /// stays bit-identical and gets no weight decay.
  void step(Eigen::Ref<Vector> params, const Eigen::Ref<const Vector>& grad,
            const std::vector<ParameterRange>& trainable) {
    if (grad.size() != params.size()) {
      throw ShapeMismatch("sgd: gradient has " + std::to_string(grad.size()) + " entries, parameters " +
                          std::to_string(params.size()));
    }
    if (buffer_.size() != params.size()) {
      buffer_ = Vector::Zero(params.size());
      started_ = false;
    }
    const auto lr = static_cast<Scalar>(options_.learning_rate);
    const auto mu = static_cast<Scalar>(options_.momentum);
    const auto wd = static_cast<Scalar>(options_.weight_decay);
    const auto damp = static_cast<Scalar>(1.0 - options_.dampening);
    for (const auto& [begin, end] : trainable) {
      if (begin > end || end > static_cast<std::size_t>(params.size())) {
        throw InvalidArgument("sgd: trainable range [" + std::to_string(begin) + ", " + std::to_string(end) +
                              ") outside the " + std::to_string(params.size()) + " parameters");
      }
      // One fused pass per slice: the update is memory-bound, so each value
      // of p, buf and grad is read once.
      Scalar* p = params.data() + begin;
      Scalar* buf = buffer_.data() + begin;
      const Scalar* g = grad.data() + begin;
      const std::size_t n = end - begin;
      if (mu == Scalar(0)) {
        for (std::size_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
        continue;
      }
      const Scalar keep = started_ ? mu : Scalar(0);  // the first step sets buf = g
      const Scalar take = started_ ? damp : Scalar(1);
      // Nesterov steps along g + mu * buf, plain momentum along buf.
      const Scalar along_g = options_.nesterov ? lr : Scalar(0);
      const Scalar along_buf = options_.nesterov ? lr * mu : lr;
      for (std::size_t i = 0; i < n; ++i) {
        const Scalar gi = g[i] + wd * p[i];
        const Scalar bi = keep * buf[i] + take * gi;
        buf[i] = bi;
        p[i] -= along_g * gi + along_buf * bi;
      }
    }
    started_ = true;
  }

 private:
  Options options_;
  Vector buffer_;
  bool started_ = false;
};

}  // namespace hwnas
