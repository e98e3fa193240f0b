// How far do MACs go as a latency estimate? Fits latency = a * MACs + b on the
// benchmark split of HELP's measured OFA latencies and scores it on the test
// rows, for each GPU column. Needs ../shared/data; skips when it is absent.
#include <hwnas/hwnas.hpp>

#include <filesystem>
#include <iomanip>
#include <iostream>

int main(int argc, char** argv) {
  const std::filesystem::path csv =
      argc > 1 ? std::filesystem::path(argv[1])
               : std::filesystem::path(HWNAS_SOURCE_DIR) / "../shared/data/help-ofa/ofa_gpu_latency.csv";
  if (!std::filesystem::exists(csv)) {
    std::cout << "skipped: " << csv.string() << " not found (pass the dataset CSV as the first argument)\n";
    return 0;
  }
  const auto data = hwnas::Dataset::read_csv(csv);
  // HELP's networks come from OFA's w1.2 supernet, at resolutions 128..224.
  const auto space = hwnas::MbConvSpace::ofa_mobilenet_v3(1.2);
  std::vector<double> macs;
  for (const auto& a : data.archs()) macs.push_back(static_cast<double>(space.cost(a).macs));
  const auto split = hwnas::benchmark_split(data);

  std::cout << std::fixed << std::setprecision(3) << "column        RMSE%   MAPE   Kendall  Spearman\n";
  for (const auto& column : data.columns()) {
    const auto y = data.column(column);
    // Least squares on the training rows.
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (auto i : split.train) {
      sx += macs[i], sy += y[i], sxx += macs[i] * macs[i], sxy += macs[i] * y[i];
    }
    const double n = static_cast<double>(split.train.size());
    const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    const double intercept = (sy - slope * sx) / n;
    std::vector<double> pred, target;
    for (auto i : split.test) {
      pred.push_back(slope * macs[i] + intercept);
      target.push_back(y[i]);
    }
    const auto m = hwnas::evaluate(pred, target);
    std::cout << std::left << std::setw(12) << column << std::right << std::setw(8) << m.rmse_pct
              << std::setw(7) << m.mape << std::setw(9) << m.kendall << std::setw(10) << m.spearman << '\n';
  }
  return 0;
}
