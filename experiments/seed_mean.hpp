// The mean over seeds of a strategy's test metrics, as the curves of
// finetune_curve and generalisation report it: every field of
// hwnas::RegressionMetrics averaged, in the library's JSON form
// (hwnas/io/json.hpp), plus each seed's RMSE %.
#pragma once

#include <hwnas/io/json.hpp>
#include <hwnas/metrics.hpp>

#include <cstddef>
#include <vector>

namespace hwnas_experiment {

class SeedMean {
 public:
  void add(const hwnas::RegressionMetrics& m) { seeds_.push_back(m); }

  std::size_t count() const { return seeds_.size(); }

  /// Field by field; a NaN correlation of one seed makes its mean NaN
  /// (null in JSON), not a silently smaller average.
  hwnas::RegressionMetrics mean() const {
    hwnas::RegressionMetrics m;
    if (seeds_.empty()) return m;
    for (const auto& s : seeds_) {
      m.rmse += s.rmse, m.rmse_pct += s.rmse_pct, m.mae += s.mae, m.mape += s.mape;
      m.max_error += s.max_error, m.within5 += s.within5, m.within10 += s.within10;
      m.median_ape += s.median_ape, m.kendall += s.kendall, m.spearman += s.spearman;
    }
    const double k = static_cast<double>(seeds_.size());
    m.rmse /= k, m.rmse_pct /= k, m.mae /= k, m.mape /= k, m.max_error /= k, m.within5 /= k;
    m.within10 /= k, m.median_ape /= k, m.kendall /= k, m.spearman /= k;
    m.n = seeds_.front().n;  // every seed scores the same test rows
    return m;
  }

  /// The mean's JSON form and "rmse_pct_per_seed".
  hwnas::Json to_json() const {
    hwnas::Json j = mean();
    std::vector<double> per_seed;
    for (const auto& s : seeds_) per_seed.push_back(s.rmse_pct);
    j["rmse_pct_per_seed"] = per_seed;
    return j;
  }

 private:
  std::vector<hwnas::RegressionMetrics> seeds_;
};

}  // namespace hwnas_experiment
