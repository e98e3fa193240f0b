// A user's files keep loading across releases: tests/golden/model-v1/ holds
// small files of every kind hwnas writes (a predictor of an MBConv space
// with the linear path, one of a categorical space, an ensemble, a
// multi-device model, a device file), written by format version 1, with the
// predictions they gave when written (expected.json). Each must load in this
// hwnas and predict the same. A new format version adds its own folder (set
// HWNAS_WRITE_GOLDEN to that folder to write it); old folders never change.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "hwnas/detail/file_io.hpp"
#include "hwnas/io/arch.hpp"
#include "hwnas/io/device.hpp"
#include "hwnas/predictor/model_file.hpp"
#include "hwnas/space/fbnet_space.hpp"

using namespace hwnas;
namespace fs = std::filesystem;

namespace {

const fs::path kGolden = fs::path(HWNAS_SOURCE_DIR) / "tests" / "golden" / "model-v1";

// Untrained but seeded networks: loading is what is tested, not accuracy.
template <class Space>
LatencyPredictor<float, Space> seeded(const Space& space, std::uint64_t seed, bool linear, bool log_target) {
  PredictorOptions po;
  po.hidden = {6, 4};
  po.linear = linear;
  po.target = log_target ? TargetTransform::log_standardize : TargetTransform::standardize;
  LatencyPredictor<float, Space> p(space, po);
  Rng rng(seed);
  p.network().init(rng);
  p.set_target_scaling(1.5, 0.25);
  if (linear) {
    std::vector<float> w;
    for (std::size_t i = 0; i < p.linear_size(); ++i) w.push_back(static_cast<float>(rng.uniform01() - 0.5) / 8);
    p.set_linear_weights(w);
  }
  return p;
}

template <class Space>
std::vector<typename Space::arch_type> archs_of(const Space& space) {
  Rng rng(3);
  std::vector<typename Space::arch_type> out;
  for (int i = 0; i < 4; ++i) out.push_back(space.sample(rng));
  return out;
}

MbConvSpace ofa() { return MbConvSpace::compofa(CompofaKernel::elastic).with_resolutions({160, 192, 224}); }

std::vector<DeviceDescriptor> devices(std::size_t fingerprint_size) {
  std::vector<DeviceDescriptor> out{{"gpu_a", "gpu", 64, {{"cores", 4352}, {"memory_gb", 11}}, {}},
                                    {"phone_b", "mobile", 1, {{"cores", 8}, {"memory_gb", 4}}, {}}};
  for (std::size_t i = 0; i < fingerprint_size; ++i) {
    out[0].fingerprint.push_back(1.0 + 0.25 * static_cast<double>(i));
    out[1].fingerprint.push_back(20.0 + 3.0 * static_cast<double>(i));
  }
  return out;
}

DevicePredictor<float> device_model() {
  const auto space = ofa();
  const auto reference = archs_of(space);
  std::vector<LatencyPredictor<float>> bases{seeded(space, 21, true, true), seeded(space, 22, true, true)};
  return DevicePredictor<float>(DescriptorMode::fingerprint, reference, devices(reference.size()), {},
                                std::move(bases));
}

std::vector<double> as_doubles(const nlohmann::json& v) { return v.get<std::vector<double>>(); }

void check_close(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5));  // float32 networks; other flags round otherwise
  }
}

/// What each file predicts: the values expected.json records.
nlohmann::json predictions() {
  nlohmann::json out;
  const auto space = ofa();
  const auto archs = archs_of(space);
  out["mlp-mbconv.hwnas"] = load_predictor<float>(kGolden / "mlp-mbconv.hwnas").predict(archs);
  const auto fbnet = fbnet_space();
  out["mlp-fbnet.hwnas"] =
      load_predictor<float, CategoricalSpace>(kGolden / "mlp-fbnet.hwnas").predict(archs_of(fbnet));
  out["ensemble.hwnas"] = load_ensemble<float>(kGolden / "ensemble.hwnas").predict(archs);
  const auto multi = load_device_predictor<float>(kGolden / "devices.hwnas");
  for (const auto& d : multi.devices()) out["devices.hwnas"][d.name] = multi.predict(d, archs);
  const auto read = read_device_file(kGolden / "devices.json");
  out["devices.json"] = multi.predict(read.at(1), archs);
  return out;
}

// The models of the golden files, as this hwnas builds them.
struct Golden {
  LatencyPredictor<float> mbconv = seeded(ofa(), 11, true, true);
  LatencyPredictor<float, CategoricalSpace> fbnet = seeded(fbnet_space(), 12, false, false);
  PredictorEnsemble<float> ensemble{{seeded(ofa(), 13, true, true), seeded(ofa(), 14, false, true)}};
  DevicePredictor<float> multi = device_model();
};

void write_golden(const fs::path& dir) {
  fs::create_directories(dir);
  const Golden g;
  save_predictor(g.mbconv, dir / "mlp-mbconv.hwnas");
  save_predictor(g.fbnet, dir / "mlp-fbnet.hwnas");
  save_ensemble(g.ensemble, dir / "ensemble.hwnas");
  save_device_predictor(g.multi, dir / "devices.hwnas");
  write_device_file(dir / "devices.json", g.multi.devices());
}

}  // namespace

TEST_CASE("golden files: every kind written by format version 1 loads and predicts as when written") {
  if (const char* out = std::getenv("HWNAS_WRITE_GOLDEN")) {
    write_golden(out);
    MESSAGE("wrote the golden files into " << out << "; run again without HWNAS_WRITE_GOLDEN to record "
            "expected.json");
    return;
  }
  const fs::path expected_file = kGolden / "expected.json";
  if (!fs::exists(expected_file)) {
    // The first run after writing the files records what they predict.
    const auto json = predictions();
    detail::write_file_atomic(expected_file, json.dump(1) + "\n");
    FAIL("recorded " << expected_file << "; commit it with the files");
  }
  const auto expected = nlohmann::json::parse(detail::read_file(expected_file));
  const auto got = predictions();
  for (const auto& [file, values] : expected.items()) {
    CAPTURE(file);
    if (values.is_object()) {
      for (const auto& [device, v] : values.items()) {
        CAPTURE(device);
        check_close(as_doubles(got.at(file).at(device)), as_doubles(v));
      }
    } else {
      check_close(as_doubles(got.at(file)), as_doubles(values));
    }
  }
  // Nothing is lost in loading: each file, loaded and written again by this
  // hwnas, gives the bytes it writes for the same model.
  const Golden g;
  CHECK(predictor_to_bytes(load_predictor<float>(kGolden / "mlp-mbconv.hwnas")) == predictor_to_bytes(g.mbconv));
  CHECK(predictor_to_bytes(load_predictor<float, CategoricalSpace>(kGolden / "mlp-fbnet.hwnas")) ==
        predictor_to_bytes(g.fbnet));
  CHECK(ensemble_to_bytes(load_ensemble<float>(kGolden / "ensemble.hwnas")) == ensemble_to_bytes(g.ensemble));
  CHECK(device_predictor_to_bytes(load_device_predictor<float>(kGolden / "devices.hwnas")) ==
        device_predictor_to_bytes(g.multi));
  const auto read = read_device_file(kGolden / "devices.json");
  CHECK(std::equal(read.begin(), read.end(), g.multi.devices().begin(), g.multi.devices().end()));
}
