// The MLP, its optimiser and losses: gradients against central differences,
// SGD against a hand-computed two-step update, freezing, schedules.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

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
  // 20 units: the sparse hidden path (a layer of at least one 8-double
  // register) is tested as well as the dense one.
  Mlp<double> net({6, 20, 20, 2});
  Rng rng(3);
  net.init(rng);
  Eigen::MatrixXd x(9, 6), t(9, 2);
  for (Eigen::Index i = 0; i < x.size(); ++i) x(i) = 2 * rng.uniform01() - 1;
  for (Eigen::Index i = 0; i < t.size(); ++i) t(i) = 2 * rng.uniform01() - 1;
  Mlp<double>::Workspace ws;
  SUBCASE("dense hidden layers") { ws.sparse_density = 0; }
  SUBCASE("sparse hidden layers") { ws.sparse_density = 2; }
  const Eigen::MatrixXd y = net.forward(x, ws);
  CHECK((ws.active[1].rows() > 0) == (ws.sparse_density > 0));
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

namespace {

template <class Scalar>
Scalar relative_difference(const Eigen::Ref<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>>& a,
                           const Eigen::Ref<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>>& b) {
  return (a - b).cwiseAbs().maxCoeff() / std::max(a.cwiseAbs().maxCoeff(), Scalar(1e-30));
}

// One-hot rows like the architecture features: `hot` of `width` set per row.
template <class Scalar>
SparseRows<Scalar> one_hot_rows(std::size_t rows, std::size_t width, std::size_t hot, Rng& rng) {
  SparseRows<Scalar> x;
  x.width = width;
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t first = static_cast<std::size_t>(rng.uniform01() * static_cast<double>(width / hot));
    for (std::size_t k = 0; k < hot; ++k) x.push(first + k * (width / hot), Scalar(1));
    x.end_row();
  }
  return x;
}

}  // namespace

TEST_CASE_TEMPLATE("nn: the sparse positive-unit lists of hidden layers give the dense results", Scalar, float,
                   double) {
  // Widths with full 4-register passes, single registers and single columns
  // left over (90 floats = 64 + 16 + 10, 90 doubles = 2 x 32 + 2 x 8 + 10), an
  // output layer of one register and one of 2 columns (dense).
  using Net = Mlp<Scalar>;
  const Scalar tol = std::is_same_v<Scalar, float> ? Scalar(2e-6) : Scalar(1e-13);
  for (const std::vector<std::size_t>& sizes : {std::vector<std::size_t>{12, 90, 90, 2}, {12, 40, 16}}) {
    Net net(sizes);
    Rng rng(21);
    net.init(rng);
    typename Net::Matrix x = Net::Matrix::Random(9, 12);
    typename Net::Workspace dense, sparse;
    dense.sparse_density = 0;
    sparse.sparse_density = 2;
    const typename Net::Matrix yd = net.forward(x, dense), ys = net.forward(x, sparse);
    CHECK(dense.active[1].rows() == 0);
    REQUIRE(sparse.active[1].rows() == 9);
    CHECK(relative_difference<Scalar>(yd, ys) < tol);
    typename Net::Vector gd(static_cast<Eigen::Index>(net.num_parameters())), gs(gd.size());
    net.backward(x, yd, dense, gd);
    net.backward(x, yd, sparse, gs);
    CHECK(relative_difference<Scalar>(gd, gs) < tol);
  }
  // The default: sparse below kSparseDensity, in batches of at most
  // kSparseMaxRows rows.
  Net net({12, 90, 90, 1});
  Rng rng(22);
  net.init(rng);
  net.bias(0).array() -= Scalar(1);  // few positive units
  typename Net::Workspace ws;
  net.forward(typename Net::Matrix(Net::Matrix::Random(32, 12)), ws);
  CHECK(ws.active[1].rows() == 32);
  net.forward(typename Net::Matrix(Net::Matrix::Random(Net::kSparseMaxRows + 1, 12)), ws);
  CHECK(ws.active[1].rows() == 0);
  net.bias(0).array() += Scalar(3);  // most units positive
  net.forward(typename Net::Matrix(Net::Matrix::Random(32, 12)), ws);
  CHECK(ws.active[1].rows() == 0);
}

TEST_CASE_TEMPLATE("nn: training on sparse hidden layers follows dense training", Scalar, float, double) {
  // The paper recipe's shape, scaled down: one-hot inputs, batches of 32,
  // SGD with momentum; the two paths differ only in rounding.
  using Net = Mlp<Scalar>;
  Net dense({64, 80, 80, 1});
  Rng rng(23);
  dense.init(rng);
  Net sparse = dense;
  const typename Net::Vector initial = dense.parameters();
  SgdMomentum<Scalar> sgd_dense({.learning_rate = 0.03, .momentum = 0.9, .weight_decay = 1e-5});
  SgdMomentum<Scalar> sgd_sparse = sgd_dense;
  typename Net::Workspace wd, ws;
  wd.sparse_density = 0;
  ws.sparse_density = 2;
  typename Net::Vector gd(static_cast<Eigen::Index>(dense.num_parameters())), gs(gd.size());
  for (int step = 0; step < 30; ++step) {
    const auto x = one_hot_rows<Scalar>(32, 64, 8, rng);
    typename Net::Matrix t = Net::Matrix::Random(32, 1);
    const typename Net::Matrix yd = dense.forward(x, wd), ys = sparse.forward(x, ws);
    REQUIRE(ws.active[1].rows() == 32);
    dense.backward(x, (yd - t).eval(), wd, gd);
    sparse.backward(x, (ys - t).eval(), ws, gs);
    sgd_dense.step(dense.parameters(), gd);
    sgd_sparse.step(sparse.parameters(), gs);
  }
  const Scalar tol = std::is_same_v<Scalar, float> ? Scalar(1e-5) : Scalar(1e-12);
  CHECK(relative_difference<Scalar>(dense.parameters(), sparse.parameters()) < tol);
  CHECK(relative_difference<Scalar>(initial, dense.parameters()) > Scalar(0.01));  // it trained
}

TEST_CASE_TEMPLATE("nn: forward_one gives forward's results without allocating", Scalar, float, double) {
  using Net = Mlp<Scalar>;
  const Scalar tol = std::is_same_v<Scalar, float> ? Scalar(2e-6) : Scalar(1e-13);
  for (const std::vector<std::size_t>& sizes :
       {std::vector<std::size_t>{30, 90, 70, 1}, {30, 17}, {30, 48, 20, 3}}) {
    Net net(sizes);
    Rng rng(24);
    net.init(rng);
    const auto x = one_hot_rows<Scalar>(5, 30, 6, rng);
    typename Net::Workspace ws;
    ws.sparse_density = 2;
    const typename Net::Matrix y = net.forward(x, ws);
    typename Net::template RowScratch<128> s;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      for (std::size_t k = x.offsets[static_cast<std::size_t>(i)]; k < x.offsets[static_cast<std::size_t>(i) + 1];
           ++k) {
        s.index[s.nnz] = x.index[k];
        s.value[s.nnz++] = x.value[k];
      }
      const auto out = net.forward_one(s);
      REQUIRE(out.size() == net.output_dim());
      CHECK(s.nnz == 0);  // consumed: the scratch is ready for the next sample
      for (std::size_t o = 0; o < out.size(); ++o) {
        CHECK(std::abs(out[o] - y(i, static_cast<Eigen::Index>(o))) <= tol * (1 + std::abs(out[o])));
      }
    }
  }
  Net net({30, 90, 1});
  typename Net::template RowScratch<64> small;
  CHECK_THROWS_AS(net.forward_one(small), InvalidArgument);  // 90 units
  typename Net::template RowScratch<128> s;
  s.index[0] = 30;
  s.value[0] = 1;
  s.nnz = 1;
  CHECK_THROWS_AS(net.forward_one(s), ShapeMismatch);
}

TEST_CASE_TEMPLATE("nn: the lists of positive units", Scalar, float, double) {
  // 37 = 16 + 16 + 5: the 16-float steps (with AVX-512) and the rest.
  std::vector<Scalar> row(37);
  Rng rng(25);
  for (auto& v : row) v = static_cast<Scalar>(rng.uniform01() - 0.6);
  row[3] = Scalar(-0.0);
  row[4] = Scalar(0);
  row[20] = std::numeric_limits<Scalar>::quiet_NaN();
  row[36] = Scalar(1e-30);
  std::array<std::uint32_t, 37> index;
  std::array<Scalar, 37> value;
  const std::size_t n = detail::positive_entries(row.data(), row.size(), index.data(), value.data());
  std::size_t expect = 0;
  for (std::size_t c = 0; c < row.size(); ++c) {
    if (!(row[c] > Scalar(0))) continue;
    REQUIRE(expect < n);
    CHECK(index[expect] == c);
    CHECK(value[expect] == row[c]);
    ++expect;
  }
  CHECK(n == expect);
  CHECK(index[n - 1] == 36);
}
