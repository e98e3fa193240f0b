// Regression losses with their gradients: RMSE (the method's), MSE, and a
// relative loss for latencies that span an order of magnitude.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include <Eigen/Core>

#include "hwnas/error.hpp"

namespace hwnas {

enum class Loss {
  rmse,      ///< sqrt(mean((y - t)^2) + 1e-12), the method's loss
  mse,       ///< mean((y - t)^2)
  relative,  ///< mean(((y - t) / |t|)^2) on the original scale: squared percentage error
};

constexpr std::string_view to_string(Loss l) noexcept {
  switch (l) {
    case Loss::rmse: return "rmse";
    case Loss::mse: return "mse";
    case Loss::relative: return "relative";
  }
  return "?";
}

inline Loss loss_from_string(std::string_view s) {
  for (Loss l : {Loss::rmse, Loss::mse, Loss::relative}) {
    if (s == to_string(l)) return l;
  }
  throw InvalidArgument("loss: unknown loss '" + std::string(s) + "'; expected rmse, mse or relative");
}

/// The loss of predictions `y` against targets `t` (column vectors of one
/// batch); writes dloss/dy into `grad`. `weight` scales the relative loss per
/// row (1 / |t| on the original scale; ignored by rmse and mse).
template <class Scalar, class DY, class DT, class DW, class DG>
Scalar loss_and_gradient(Loss loss, const Eigen::MatrixBase<DY>& y, const Eigen::MatrixBase<DT>& t,
                         const Eigen::MatrixBase<DW>& weight, Eigen::MatrixBase<DG>& grad) {
  const auto n = static_cast<Scalar>(y.rows());
  if (y.rows() != t.rows() || y.rows() == 0) {
    throw ShapeMismatch("loss: " + std::to_string(y.rows()) + " predictions for " + std::to_string(t.rows()) +
                        " targets");
  }
  switch (loss) {
    case Loss::rmse: {
      const auto diff = (y - t).eval();
      const Scalar value = std::sqrt(diff.squaredNorm() / n + Scalar(1e-12));
      grad = diff / (n * value);
      return value;
    }
    case Loss::mse: {
      const auto diff = (y - t).eval();
      grad = Scalar(2) * diff / n;
      return diff.squaredNorm() / n;
    }
    case Loss::relative: {
      const auto scaled = ((y - t).cwiseProduct(weight)).eval();
      grad = Scalar(2) * scaled.cwiseProduct(weight) / n;
      return scaled.squaredNorm() / n;
    }
  }
  return Scalar(0);
}

}  // namespace hwnas
