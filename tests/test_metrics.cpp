// Tests for hwnas/metrics.hpp: error metrics against values worked out by
// hand, Kendall's tau-b and Spearman's rho with ties against hand counts,
// scipy's documented values and naive O(n^2) references, and the bad-input
// messages.
#include "hwnas/metrics.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace {

using Vec = std::vector<double>;

// A 64-bit LCG (Knuth's MMIX constants): a deterministic data source that
// needs no RNG from the library under test.
struct Lcg {
  std::uint64_t state;
  std::uint64_t next() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;  // the high bits are the well-mixed ones
  }
  int below(int n) { return static_cast<int>(next() % static_cast<std::uint64_t>(n)); }
};

// Tau-b by enumerating every pair.
double naive_tau_b(const Vec& x, const Vec& y) {
  long long nc = 0, nd = 0, tx = 0, ty = 0, pairs = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    for (std::size_t j = i + 1; j < x.size(); ++j) {
      ++pairs;
      const double dx = x[i] - x[j];
      const double dy = y[i] - y[j];
      if (dx == 0) ++tx;
      if (dy == 0) ++ty;
      if (dx != 0 && dy != 0) (dx * dy > 0 ? nc : nd) += 1;
    }
  }
  return static_cast<double>(nc - nd) /
         std::sqrt(static_cast<double>(pairs - tx) * static_cast<double>(pairs - ty));
}

// Average ranks by counting: (number below) + (number equal, self included, + 1) / 2.
Vec naive_ranks(const Vec& v) {
  Vec r(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    double below = 0, equal = 0;
    for (double e : v) {
      if (e < v[i]) ++below;
      if (e == v[i]) ++equal;
    }
    r[i] = below + (equal + 1) / 2;
  }
  return r;
}

double naive_pearson(const Vec& x, const Vec& y) {
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
  }
  double sxx = 0, syy = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - sx / n) * (x[i] - sx / n);
    syy += (y[i] - sy / n) * (y[i] - sy / n);
    sxy += (x[i] - sx / n) * (y[i] - sy / n);
  }
  return sxy / std::sqrt(sxx * syy);
}

double naive_spearman(const Vec& x, const Vec& y) {
  return naive_pearson(naive_ranks(x), naive_ranks(y));
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("metrics: error metrics against hand computation") {
  // p = {1,2,3,4}, t = {2,2,2,6}: errors p - t = {-1, 0, 1, -2}.
  const Vec p{1, 2, 3, 4};
  const Vec t{2, 2, 2, 6};
  // rmse = sqrt((1 + 0 + 1 + 4) / 4) = sqrt(1.5)
  CHECK(hwnas::rmse(p, t) == doctest::Approx(std::sqrt(1.5)).epsilon(1e-15));
  // mean(t) = 12 / 4 = 3, so rmse_pct = sqrt(1.5) / 3 * 100
  CHECK(hwnas::rmse_pct(p, t) == doctest::Approx(std::sqrt(1.5) / 3 * 100).epsilon(1e-15));
  // mae = (1 + 0 + 1 + 2) / 4 = 1
  CHECK(hwnas::mae(p, t) == 1.0);
  // ape = {1/2, 0, 1/2, 2/6} * 100 = {50, 0, 50, 33.33..}; mean = 133.33.. / 4
  CHECK(hwnas::mape(p, t) == doctest::Approx(100.0 / 3).epsilon(1e-15));
  // median of sorted {0, 33.33.., 50, 50} = (33.33.. + 50) / 2 = 41.66..
  CHECK(hwnas::median_abs_pct_error(p, t) == doctest::Approx(125.0 / 3).epsilon(1e-15));
  CHECK(hwnas::max_abs_error(p, t) == 2.0);
  // within 5 %: only row 1 (error 0).
  CHECK(hwnas::within_pct(p, t, 5) == 25.0);
  // within 40 %: limits {0.8, 0.8, 0.8, 2.4}: rows 1 and 3.
  CHECK(hwnas::within_pct(p, t, 40) == 50.0);
  // within 50 %: limits {1, 1, 1, 3}: the boundary counts, so every row.
  CHECK(hwnas::within_pct(p, t, 50) == 100.0);
  CHECK(hwnas::within_pct(p, t, 0) == 25.0);
}

TEST_CASE("metrics: median_abs_pct_error with odd size and outlier") {
  // ape = {10, 1000, 20} percent: the median ignores the outlier, mape does not.
  const Vec p{11, 110, 12};
  const Vec t{10, 10, 10};
  CHECK(hwnas::median_abs_pct_error(p, t) == doctest::Approx(20.0));
  CHECK(hwnas::mape(p, t) == doctest::Approx(1030.0 / 3));
}

TEST_CASE("metrics: negative targets use |t|") {
  // errors {1, -1}; |t| = {4, 2}; ape = {25, 50}; mean(t) = -3.
  const Vec p{-3, -3};
  const Vec t{-4, -2};
  CHECK(hwnas::mape(p, t) == doctest::Approx(37.5));
  CHECK(hwnas::rmse_pct(p, t) == doctest::Approx(100.0 / 3));
  CHECK(hwnas::within_pct(p, t, 25) == 50.0);
}

TEST_CASE("metrics: within_pct with a zero target counts only exact hits") {
  const Vec p{0, 1e-12};
  const Vec t{0, 0};
  CHECK(hwnas::within_pct(p, t, 10) == 50.0);
}

TEST_CASE("metrics: kendall_tau_b with ties, by hand") {
  // x = {1,2,2,3}, y = {1,3,2,3}; the 6 pairs (i,j):
  //   (0,1) x 1<2, y 1<3: concordant
  //   (0,2) x 1<2, y 1<2: concordant
  //   (0,3) x 1<3, y 1<3: concordant
  //   (1,2) x 2=2        : tied in x only
  //   (1,3) x 2<3, y 3=3 : tied in y only
  //   (2,3) x 2<3, y 2<3: concordant
  // nc = 4, nd = 0, n0 = 6, n1 = 1, n2 = 1: tau_b = 4 / sqrt(5 * 5) = 0.8.
  const Vec x{1, 2, 2, 3};
  const Vec y{1, 3, 2, 3};
  CHECK(hwnas::kendall_tau_b(x, y) == doctest::Approx(0.8).epsilon(1e-15));
  CHECK(hwnas::kendall_tau_b(y, x) == doctest::Approx(0.8).epsilon(1e-15));

  // p = {1,2,3,4}, t = {2,2,2,6}: pairs among rows 0..2 are tied in t (3),
  // the 3 pairs with row 3 are concordant: tau_b = 3 / sqrt(6 * 3) = 1/sqrt(2).
  CHECK(hwnas::kendall_tau_b(Vec{1, 2, 3, 4}, Vec{2, 2, 2, 6}) ==
        doctest::Approx(1 / std::sqrt(2.0)).epsilon(1e-15));
}

TEST_CASE("metrics: kendall_tau_b matches scipy's documented example") {
  // scipy.stats.kendalltau([12,2,1,12,2], [1,4,7,1,0]) = -0.47140452079103173.
  // By hand, rows (12,1) (2,4) (1,7) (12,1) (2,0):
  //   D: (0,1) (0,2) (1,2) (1,3) (2,3) (2,4)       nd = 6
  //   C: (0,4) (3,4)                               nc = 2
  //   tied in both: (0,3); tied in x only: (1,4)
  // n0 = 10, n1 = 2 (x: 12,12 and 2,2), n2 = 1 (y: 1,1):
  // tau_b = (2 - 6) / sqrt(8 * 9) = -4 / sqrt(72).
  const Vec x{12, 2, 1, 12, 2};
  const Vec y{1, 4, 7, 1, 0};
  CHECK(hwnas::kendall_tau_b(x, y) == doctest::Approx(-0.47140452079103173).epsilon(1e-14));
  CHECK(hwnas::kendall_tau_b(x, y) == doctest::Approx(-4 / std::sqrt(72.0)).epsilon(1e-15));
}

TEST_CASE("metrics: kendall_tau_b extremes") {
  CHECK(hwnas::kendall_tau_b(Vec{1, 2, 3}, Vec{10, 20, 30}) == 1.0);
  CHECK(hwnas::kendall_tau_b(Vec{1, 2, 3}, Vec{30, 20, 10}) == -1.0);
  // Ties on both sides placed identically still give exactly 1.
  CHECK(hwnas::kendall_tau_b(Vec{1, 1, 2, 2, 3}, Vec{5, 5, 6, 6, 9}) == 1.0);
}

TEST_CASE("metrics: kendall_tau_b equals the naive O(n^2) tau-b on tied data") {
  Lcg rng{12345};
  for (int trial = 0; trial < 8; ++trial) {
    Vec x(500), y(500);
    for (std::size_t i = 0; i < x.size(); ++i) {
      switch (trial % 4) {
        case 0:  // correlated, 10 x levels
          x[i] = rng.below(10);
          y[i] = std::floor(x[i] / 2) + rng.below(4);
          break;
        case 1:  // independent, very heavy ties
          x[i] = rng.below(3);
          y[i] = rng.below(3);
          break;
        case 2:  // anti-correlated, fractional and negative values
          x[i] = 0.5 * (rng.below(11) - 5);
          y[i] = -x[i] + 0.25 * rng.below(3);
          break;
        default:  // mostly distinct x, tied y
          x[i] = rng.below(100000) * 1e-3;
          y[i] = rng.below(7);
          break;
      }
    }
    CAPTURE(trial);
    CHECK(hwnas::kendall_tau_b(x, y) == doctest::Approx(naive_tau_b(x, y)).epsilon(1e-12));
    CHECK(hwnas::spearman_rho(x, y) == doctest::Approx(naive_spearman(x, y)).epsilon(1e-12));
  }
}

TEST_CASE("metrics: kendall_tau_b on a million rows uses 64-bit counts") {
  const std::size_t n = 1000000;
  Vec x(n), y(n), rev(n), half(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = static_cast<double>(i);
    rev[i] = static_cast<double>(n - 1 - i);
    half[i] = static_cast<double>(i / 2);
  }
  // Fully reversed: nd = n(n-1)/2 = 499999500000 discordant pairs, far past
  // 2^31, and tau = -1.
  CHECK(hwnas::kendall_tau_b(x, rev) == -1.0);
  // x = {0,0,1,1,...} against y = identity: n/2 pairs tied in x, the rest
  // concordant: tau_b = (n0 - n1) / sqrt((n0 - n1) * n0) = sqrt((n0 - n1) / n0).
  const double n0 = 499999500000.0;
  const double n1 = 500000.0;
  CHECK(hwnas::kendall_tau_b(half, x) == doctest::Approx(std::sqrt((n0 - n1) / n0)));
}

TEST_CASE("metrics: spearman_rho with ties, by hand") {
  // x = {1,2,2,3} -> ranks {1, 2.5, 2.5, 4}; y = {1,3,2,3} -> ranks {1, 3.5, 2, 3.5}.
  // Both rank means are 2.5; deviations dx = {-1.5, 0, 0, 1.5}, dy = {-1.5, 1, -0.5, 1}.
  // sxy = 2.25 + 0 + 0 + 1.5 = 3.75, sxx = 4.5, syy = 2.25 + 1 + 0.25 + 1 = 4.5,
  // rho = 3.75 / 4.5 = 5/6.
  CHECK(hwnas::spearman_rho(Vec{1, 2, 2, 3}, Vec{1, 3, 2, 3}) ==
        doctest::Approx(5.0 / 6).epsilon(1e-15));

  // x = {12,2,1,12,2} -> ranks {4.5, 2.5, 1, 4.5, 2.5};
  // y = {1,4,7,1,0}   -> ranks {2.5, 4, 5, 2.5, 1}; means 3.
  // dx = {1.5, -0.5, -2, 1.5, -0.5}, dy = {-0.5, 1, 2, -0.5, -2}:
  // sxy = -0.75 - 0.5 - 4 - 0.75 + 1 = -5, sxx = 9, syy = 9.5,
  // rho = -5 / sqrt(85.5).
  CHECK(hwnas::spearman_rho(Vec{12, 2, 1, 12, 2}, Vec{1, 4, 7, 1, 0}) ==
        doctest::Approx(-5 / std::sqrt(85.5)).epsilon(1e-15));

  // Any strictly increasing transform has rho = 1.
  CHECK(hwnas::spearman_rho(Vec{1, 2, 3, 4}, Vec{1, 8, 27, 1000}) == doctest::Approx(1.0));
}

TEST_CASE("metrics: pearson_r by hand") {
  // x = {1,2,3,4}, y = {2,4,5,9}; means 2.5 and 5; dx = {-1.5,-0.5,0.5,1.5},
  // dy = {-3,-1,0,4}: sxy = 4.5 + 0.5 + 0 + 6 = 11, sxx = 5, syy = 26,
  // r = 11 / sqrt(130).
  CHECK(hwnas::pearson_r(Vec{1, 2, 3, 4}, Vec{2, 4, 5, 9}) ==
        doctest::Approx(11 / std::sqrt(130.0)).epsilon(1e-15));
  CHECK(hwnas::pearson_r(Vec{1, 2, 3}, Vec{-2, -4, -6}) == doctest::Approx(-1.0));
}

TEST_CASE("metrics: correlations of a constant variable are NaN") {
  const Vec constant{0.1, 0.1, 0.1};  // its mean in double is not exactly 0.1
  const Vec varying{1, 2, 3};
  CHECK(std::isnan(hwnas::kendall_tau_b(constant, varying)));
  CHECK(std::isnan(hwnas::kendall_tau_b(varying, constant)));
  CHECK(std::isnan(hwnas::spearman_rho(constant, varying)));
  CHECK(std::isnan(hwnas::spearman_rho(varying, constant)));
  CHECK(std::isnan(hwnas::pearson_r(constant, varying)));
  CHECK(std::isnan(hwnas::pearson_r(varying, constant)));
  // A single row has no pairs.
  CHECK(std::isnan(hwnas::kendall_tau_b(Vec{1}, Vec{2})));
  CHECK(std::isnan(hwnas::spearman_rho(Vec{1}, Vec{2})));
  CHECK(std::isnan(hwnas::pearson_r(Vec{1}, Vec{2})));
}

TEST_CASE("metrics: evaluate agrees with the single metrics") {
  const Vec p{1.09, 2.0, 2.9, 4.5, 5.2, 5.9};
  const Vec t{1.0, 2.1, 3.0, 4.0, 5.0, 6.0};
  const hwnas::RegressionMetrics m = hwnas::evaluate(p, t);
  CHECK(m.n == 6u);
  CHECK(m.rmse == hwnas::rmse(p, t));
  CHECK(m.rmse_pct == hwnas::rmse_pct(p, t));
  CHECK(m.mae == hwnas::mae(p, t));
  CHECK(m.mape == hwnas::mape(p, t));
  CHECK(m.max_error == hwnas::max_abs_error(p, t));
  CHECK(m.within5 == hwnas::within_pct(p, t, 5));
  CHECK(m.within10 == hwnas::within_pct(p, t, 10));
  CHECK(m.median_ape == hwnas::median_abs_pct_error(p, t));
  CHECK(m.kendall == hwnas::kendall_tau_b(p, t));
  CHECK(m.spearman == hwnas::spearman_rho(p, t));
  // Orders agree exactly, so both rank correlations are 1.
  CHECK(m.kendall == 1.0);
  CHECK(m.spearman == doctest::Approx(1.0));
  // ape: {9, 4.76.., 3.33.., 12.5, 4, 1.66..} percent (no row on a boundary).
  CHECK(m.within5 == doctest::Approx(100.0 * 4 / 6));  // percent, like mape
  CHECK(m.within10 == doctest::Approx(100.0 * 5 / 6));
}

TEST_CASE("metrics: float overloads match double") {
  const std::vector<float> pf{1, 2, 3, 4};
  const std::vector<float> tf{2, 2, 2, 6};
  const Vec p{1, 2, 3, 4};
  const Vec t{2, 2, 2, 6};
  CHECK(hwnas::rmse(pf, tf) == hwnas::rmse(p, t));
  CHECK(hwnas::rmse_pct(pf, tf) == hwnas::rmse_pct(p, t));
  CHECK(hwnas::mae(pf, tf) == hwnas::mae(p, t));
  CHECK(hwnas::mape(pf, tf) == hwnas::mape(p, t));
  CHECK(hwnas::max_abs_error(pf, tf) == hwnas::max_abs_error(p, t));
  CHECK(hwnas::within_pct(pf, tf, 40) == hwnas::within_pct(p, t, 40));
  CHECK(hwnas::median_abs_pct_error(pf, tf) == hwnas::median_abs_pct_error(p, t));
  CHECK(hwnas::kendall_tau_b(pf, tf) == hwnas::kendall_tau_b(p, t));
  CHECK(hwnas::spearman_rho(pf, tf) == hwnas::spearman_rho(p, t));
  CHECK(hwnas::pearson_r(pf, tf) == hwnas::pearson_r(p, t));
  CHECK(hwnas::evaluate(pf, tf).mape == hwnas::evaluate(p, t).mape);
  const std::vector<float> bad{1, std::numeric_limits<float>::quiet_NaN()};
  CHECK_THROWS_WITH_AS(hwnas::mae(bad, std::vector<float>{1, 2}),
                       doctest::Contains("metrics: prediction[1] is NaN"),
                       hwnas::InvalidArgument);
}

TEST_CASE("metrics: bad input is rejected with a clear message") {
  const Vec four{1, 2, 3, 4};
  const Vec three{1, 2, 3};
  CHECK_THROWS_WITH_AS(hwnas::rmse(four, three),
                       doctest::Contains("rmse got 4 prediction values and 3 target values"),
                       hwnas::ShapeMismatch);
  CHECK_THROWS_WITH_AS(hwnas::kendall_tau_b(three, four),
                       doctest::Contains("kendall_tau_b got 3 x values and 4 y values"),
                       hwnas::ShapeMismatch);
  CHECK_THROWS_WITH_AS(hwnas::evaluate(four, three), doctest::Contains("evaluate got 4"),
                       hwnas::ShapeMismatch);
  CHECK_THROWS_WITH_AS(hwnas::mae(Vec{}, Vec{}),
                       doctest::Contains("metrics: mae got empty input"),
                       hwnas::InvalidArgument);

  CHECK_THROWS_WITH_AS(hwnas::rmse(Vec{1, 2, 3, kNaN}, four),
                       doctest::Contains("metrics: prediction[3] is NaN; rmse needs finite"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(hwnas::mape(four, Vec{1, kInf, 3, 4}),
                       doctest::Contains("metrics: target[1] is inf"), hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(hwnas::evaluate(Vec{-kInf, 2, 3, 4}, four),
                       doctest::Contains("metrics: prediction[0] is -inf; evaluate"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(hwnas::spearman_rho(four, Vec{1, 2, kNaN, 4}),
                       doctest::Contains("metrics: y[2] is NaN"), hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(hwnas::pearson_r(Vec{kNaN, 2, 3, 4}, four),
                       doctest::Contains("metrics: x[0] is NaN"), hwnas::InvalidArgument);

  const Vec zero_target{1, 2, 0, 4};
  CHECK_THROWS_WITH_AS(hwnas::mape(four, zero_target),
                       doctest::Contains("metrics: target[2] is 0; mape"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(hwnas::median_abs_pct_error(four, zero_target),
                       doctest::Contains("target[2] is 0; median_abs_pct_error"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(hwnas::evaluate(four, zero_target),
                       doctest::Contains("target[2] is 0; evaluate"), hwnas::InvalidArgument);
  // Metrics that do not divide by the target accept zeros.
  CHECK(hwnas::mae(four, zero_target) == 0.75);

  CHECK_THROWS_WITH_AS(hwnas::rmse_pct(Vec{1, 1}, Vec{-1, 1}),
                       doctest::Contains("metrics: rmse_pct: the mean of the targets is 0"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(hwnas::within_pct(four, four, -1),
                       doctest::Contains("metrics: within_pct: pct must be finite and >= 0"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(hwnas::within_pct(four, four, kNaN),
                       doctest::Contains("pct must be finite"), hwnas::InvalidArgument);
  // Every failure is also an hwnas::Error.
  CHECK_THROWS_AS(hwnas::mae(four, three), hwnas::Error);
}
