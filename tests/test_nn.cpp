// The MLP, its optimiser and losses: gradients against central differences,
// SGD against a hand-computed two-step update, freezing, schedules.
#include <doctest/doctest.h>

#include "hwnas/nn/loss.hpp"
#include "hwnas/nn/mlp.hpp"
#include "hwnas/nn/sgd.hpp"

using namespace hwnas;

namespace {

// Loss = sum of 0.5 * (y - t)^2 over the batch, so dloss/dy = y - t.
template <class Scalar>
Scalar half_sse(const Mlp<Scalar>& net, const typename Mlp<Scalar>::Matrix& x,
                const typename Mlp<Scalar>::Matrix& t) {
  return Scalar(0.5) * (net.forward(x) - t).squaredNorm();
}

}  // namespace

TEST_CASE_TEMPLATE("nn: MLP layout, sizes and PyTorch-style init", Scalar, float, double) {
  Mlp<Scalar> net({128, 400, 400, 1});
  CHECK(net.num_layers() == 3);
  CHECK(net.num_parameters() == 128 * 400 + 400 + 400 * 400 + 400 + 400 + 1);
  CHECK(net.layer_begin(1) == 128 * 400 + 400);
  CHECK(net.parameters().isZero());
  Rng rng(0);
  net.init(rng);
  const double bound0 = 1.0 / std::sqrt(128.0), bound2 = 1.0 / 20.0;
  CHECK(net.weight(0).cwiseAbs().maxCoeff() <= Scalar(bound0));
  CHECK(net.weight(0).cwiseAbs().maxCoeff() > Scalar(0.95 * bound0));
  CHECK(net.bias(2).cwiseAbs().maxCoeff() <= Scalar(bound2));
  // Mean ~0, variance of U(-b, b) is b^2 / 3.
  const auto w = net.weight(1);
  const double mean = static_cast<double>(w.mean());
  const double var = static_cast<double>((w.array() - w.mean()).square().mean());
  CHECK(std::abs(mean) < 0.001);
  CHECK(var == doctest::Approx(bound2 * bound2 / 3).epsilon(0.02));
  // Views are into the flat vector.
  net.weight(1)(3, 5) = Scalar(42);
  CHECK(net.parameters()(static_cast<Eigen::Index>(net.layer_begin(1) + 3 * 400 + 5)) == Scalar(42));
  CHECK_THROWS_AS(Mlp<Scalar>({5}), InvalidArgument);
  CHECK_THROWS_AS(Mlp<Scalar>({5, 0, 1}), InvalidArgument);
}

TEST_CASE("nn: forward equals a hand computation") {
  Mlp<double> net({2, 2, 1});
  // Layer 0: W (in x out) = [[1, -1], [2, 0.5]], b = [0.5, -3]; layer 1: [2, 3]^T, b = 1.
  net.weight(0) << 1, -1, 2, 0.5;
  net.bias(0) << 0.5, -3;
  net.weight(1) << 2, 3;
  net.bias(1) << 1;
  Eigen::MatrixXd x(2, 2);
  x << 1, 1, -1, 4;
  // Row 1: z = [1+2+0.5, -1+0.5-3] = [3.5, -3.5] -> relu [3.5, 0] -> 7 + 1 = 8.
  // Row 2: z = [-1+8+0.5, 1+2-3] = [7.5, 0] -> [7.5, 0] -> 15 + 1 = 16.
  const auto y = net.forward(x);
  CHECK(y(0, 0) == doctest::Approx(8));
  CHECK(y(1, 0) == doctest::Approx(16));
  Eigen::MatrixXd bad(1, 3);
  CHECK_THROWS_WITH_AS(net.forward(bad), "mlp: input has 3 columns, expected 2", ShapeMismatch);
}

TEST_CASE("nn: backward matches central differences") {
  Mlp<double> net({6, 7, 5, 2});
  Rng rng(3);
  net.init(rng);
  Eigen::MatrixXd x(9, 6), t(9, 2);
  for (Eigen::Index i = 0; i < x.size(); ++i) x(i) = 2 * rng.uniform01() - 1;
  for (Eigen::Index i = 0; i < t.size(); ++i) t(i) = 2 * rng.uniform01() - 1;
  Mlp<double>::Workspace ws;
  const Eigen::MatrixXd y = net.forward(x, ws);
  Eigen::VectorXd grad(static_cast<Eigen::Index>(net.num_parameters()));
  net.backward(x, (y - t).eval(), ws, grad);
  const double h = 1e-6;
  double worst = 0;
  for (Eigen::Index i = 0; i < grad.size(); ++i) {
    const double saved = net.parameters()(i);
    net.parameters()(i) = saved + h;
    const double up = half_sse(net, x, t);
    net.parameters()(i) = saved - h;
    const double down = half_sse(net, x, t);
    net.parameters()(i) = saved;
    worst = std::max(worst, std::abs((up - down) / (2 * h) - grad(i)));
  }
  CHECK(worst < 1e-7);
}

TEST_CASE("nn: float backward agrees with double") {
  Mlp<double> d({4, 8, 1});
  Rng rng(5);
  d.init(rng);
  Mlp<float> f({4, 8, 1});
  f.parameters() = d.parameters().cast<float>();
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(5, 4);
  Mlp<double>::Workspace wd;
  Mlp<float>::Workspace wf;
  const Eigen::MatrixXd yd = d.forward(x, wd);
  const Eigen::MatrixXf yf = f.forward(x.cast<float>(), wf);
  CHECK((yd.cast<float>() - yf).cwiseAbs().maxCoeff() < 1e-5f);
  Eigen::VectorXd gd(static_cast<Eigen::Index>(d.num_parameters()));
  Eigen::VectorXf gf(static_cast<Eigen::Index>(f.num_parameters()));
  d.backward(x, yd, wd, gd);
  f.backward(x.cast<float>(), yf, wf, gf);
  CHECK((gd.cast<float>() - gf).cwiseAbs().maxCoeff() < 1e-4f);
}

TEST_CASE("nn: SGD with momentum and weight decay, two steps by hand") {
  // p = 1, grad 0.5 then 0.25, lr 0.1, momentum 0.9, wd 0.01.
  // Step 1: g = 0.5 + 0.01*1 = 0.51; buf = 0.51; p = 1 - 0.051 = 0.949.
  // Step 2: g = 0.25 + 0.01*0.949 = 0.25949; buf = 0.9*0.51 + 0.25949 = 0.71849;
  //         p = 0.949 - 0.071849 = 0.877151.
  SgdMomentum<double> sgd({.learning_rate = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  Eigen::VectorXd p(1), g(1);
  p << 1;
  g << 0.5;
  sgd.step(p, g);
  CHECK(p(0) == doctest::Approx(0.949).epsilon(1e-12));
  g << 0.25;
  sgd.step(p, g);
  CHECK(p(0) == doctest::Approx(0.877151).epsilon(1e-12));

  // Nesterov: step 1 g = 0.51 + 0.9*0.51 = 0.969; p = 1 - 0.0969 = 0.9031.
  SgdMomentum<double> nesterov({.learning_rate = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  p << 1;
  g << 0.5;
  nesterov.step(p, g);
  CHECK(p(0) == doctest::Approx(0.9031).epsilon(1e-12));

  // Dampening 0.5: step 2 buf = 0.9*0.51 + 0.5*0.25949.
  SgdMomentum<double> damped({.learning_rate = 0.1, .momentum = 0.9, .weight_decay = 0.01, .dampening = 0.5});
  p << 1;
  g << 0.5;
  damped.step(p, g);
  g << 0.25;
  damped.step(p, g);
  CHECK(p(0) == doctest::Approx(0.949 - 0.1 * (0.9 * 0.51 + 0.5 * 0.25949)).epsilon(1e-12));

  CHECK_THROWS_WITH_AS(SgdMomentum<float>({.learning_rate = 0}), doctest::Contains("learning_rate must be"),
                       InvalidArgument);
  CHECK_THROWS_AS(SgdMomentum<float>({.momentum = -1}), InvalidArgument);
  CHECK_THROWS_AS(SgdMomentum<float>({.momentum = 0, .nesterov = true}), InvalidArgument);
}

TEST_CASE_TEMPLATE("nn: frozen slices stay bit-identical and get no weight decay", Scalar, float, double) {
  Mlp<Scalar> net({5, 6, 6, 1});
  Rng rng(8);
  net.init(rng);
  const typename Mlp<Scalar>::Vector before = net.parameters();
  SgdMomentum<Scalar> sgd({.learning_rate = 0.05, .momentum = 0.9, .weight_decay = 0.1});
  // Freeze the first two layers: only layer 2 trains.
  const std::vector<ParameterRange> trainable{{net.layer_begin(2), net.layer_end(2)}};
  typename Mlp<Scalar>::Matrix x = Mlp<Scalar>::Matrix::Random(7, 5), t = Mlp<Scalar>::Matrix::Random(7, 1);
  typename Mlp<Scalar>::Workspace ws;
  typename Mlp<Scalar>::Vector grad(static_cast<Eigen::Index>(net.num_parameters()));
  for (int step = 0; step < 20; ++step) {
    const auto y = net.forward(x, ws);
    net.backward(x, (y - t).eval(), ws, grad);
    sgd.step(net.parameters(), grad, trainable);
  }
  const auto frozen = static_cast<Eigen::Index>(net.layer_begin(2));
  CHECK(net.parameters().head(frozen) == before.head(frozen));
  CHECK(net.parameters().tail(net.parameters().size() - frozen) != before.tail(before.size() - frozen));
  CHECK_THROWS_AS(sgd.step(net.parameters(), grad, {{0, net.num_parameters() + 1}}), InvalidArgument);
}

TEST_CASE("nn: learning-rate schedules") {
  LearningRateSchedule constant;
  CHECK(constant.rate(0.03, 77) == 0.03);
  LearningRateSchedule step{.kind = LearningRateSchedule::Kind::step, .step_size = 10, .gamma = 0.5};
  CHECK(step.rate(1.0, 9) == 1.0);
  CHECK(step.rate(1.0, 10) == 0.5);
  CHECK(step.rate(1.0, 25) == 0.25);
  LearningRateSchedule cosine{.kind = LearningRateSchedule::Kind::cosine, .total_epochs = 100, .min_factor = 0.1};
  CHECK(cosine.rate(1.0, 0) == doctest::Approx(1.0));
  CHECK(cosine.rate(1.0, 50) == doctest::Approx(0.55));  // 0.1 + 0.9 * 0.5
  CHECK(cosine.rate(1.0, 100) == doctest::Approx(0.1));
}

TEST_CASE("nn: losses and their gradients") {
  Eigen::VectorXd y(3), t(3), w(3), g(3);
  y << 1, 2, 4;
  t << 1, 1, 2;
  w << 1, 0.5, 0.25;
  // rmse = sqrt((0 + 1 + 4) / 3)
  const double rmse = loss_and_gradient<double>(Loss::rmse, y, t, w, g);
  CHECK(rmse == doctest::Approx(std::sqrt(5.0 / 3.0)));
  CHECK(g(2) == doctest::Approx(2.0 / (3.0 * rmse)));
  CHECK(loss_and_gradient<double>(Loss::mse, y, t, w, g) == doctest::Approx(5.0 / 3.0));
  CHECK(g(1) == doctest::Approx(2.0 / 3.0));
  // relative: ((0*1)^2 + (1*0.5)^2 + (2*0.25)^2) / 3 = 0.5 / 3
  CHECK(loss_and_gradient<double>(Loss::relative, y, t, w, g) == doctest::Approx(0.5 / 3.0));
  CHECK(g(2) == doctest::Approx(2.0 * 0.5 * 0.25 / 3.0));
  // Central differences for every loss.
  for (Loss loss : {Loss::rmse, Loss::mse, Loss::relative}) {
    loss_and_gradient<double>(loss, y, t, w, g);
    for (Eigen::Index i = 0; i < 3; ++i) {
      Eigen::VectorXd up = y, down = y, scratch(3);
      up(i) += 1e-6;
      down(i) -= 1e-6;
      const double num = (loss_and_gradient<double>(loss, up, t, w, scratch) -
                          loss_and_gradient<double>(loss, down, t, w, scratch)) / 2e-6;
      CHECK(num == doctest::Approx(g(i)).epsilon(1e-6));
    }
  }
  CHECK(loss_from_string("mse") == Loss::mse);
  CHECK_THROWS_AS(loss_from_string("huber"), InvalidArgument);
}

TEST_CASE("nn: sparse inputs give the dense results") {
  Mlp<double> net({6, 5, 4, 1});
  Rng rng(12);
  net.init(rng);
  Eigen::MatrixXd dense = Eigen::MatrixXd::Zero(4, 6);
  SparseRows<double> sparse;
  sparse.width = 6;
  const int hot[4][2] = {{0, 3}, {1, 5}, {2, 2}, {4, 0}};
  for (int i = 0; i < 4; ++i) {
    for (int j : hot[i]) {
      dense(i, j) += 1.5;
      sparse.push(static_cast<std::size_t>(j), 1.5);
    }
    sparse.end_row();
  }
  Mlp<double>::Workspace wd, wsp;
  const Eigen::MatrixXd yd = net.forward(dense, wd);
  const Eigen::MatrixXd ys = net.forward(sparse, wsp);
  CHECK((yd - ys).cwiseAbs().maxCoeff() < 1e-12);
  Eigen::VectorXd gd(static_cast<Eigen::Index>(net.num_parameters())), gs(gd.size());
  net.backward(dense, yd, wd, gd);
  net.backward(sparse, ys, wsp, gs);
  CHECK((gd - gs).cwiseAbs().maxCoeff() < 1e-12);
  sparse.index[0] = 6;
  CHECK_THROWS_AS(net.forward(sparse, wsp), ShapeMismatch);
}
