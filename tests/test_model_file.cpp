// Model files, .npy reading and the PyTorch import: OFA's accuracy predictor
// test vectors (ofa-reference.md §7.6), exact round trips, every rejection
// with its message, fuzzed truncations and byte flips, and no temp files
// left behind.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "hwnas/predictor/model_file.hpp"
#include "hwnas/predictor/torch_import.hpp"
#include "hwnas/predictor/npy.hpp"
#include "hwnas/space/fbnet_space.hpp"
#include "test_support.hpp"

// xtensor writes the .npy files of some cases, as an independent writer; the
// cases fall back to hand-made bytes without it.
#if __has_include(<xtensor/xnpy.hpp>)
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>
#define HWNAS_TEST_XTENSOR 1
#else
#define HWNAS_TEST_XTENSOR 0
#endif

using namespace hwnas;
namespace fs = std::filesystem;

namespace {

/// A fresh folder under the system temp folder, removed on destruction.
using hwnas_test::TempDir;

/// doctest::Contains for a std::string message.
doctest::Contains has(const std::string& text) { return doctest::Contains(text.c_str()); }

void write_bytes(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

template <class T>
std::string le_bytes(const std::vector<T>& values) {
  std::string out;
  for (T v : values) {
    const auto bits = std::bit_cast<std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>(v);
    for (std::size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>((bits >> (8 * i)) & 0xFFU);
  }
  return out;
}

/// A .npy file by hand: the header dict padded so that the whole header is a
/// multiple of `align` bytes (numpy: 64), then the data.
std::string npy_raw(std::string dict, std::string_view data, int major = 1, std::size_t align = 64) {
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  const std::size_t total = 8 + len_bytes + dict.size() + 1;
  dict.append((total + align - 1) / align * align - total, ' ');
  dict += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t i = 0; i < len_bytes; ++i) out += static_cast<char>((dict.size() >> (8 * i)) & 0xFFU);
  return out + dict + std::string(data);
}

std::string npy_dict(const std::string& descr, const std::vector<std::size_t>& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + npy_shape_string(shape) + ", }";
}

/// A float32 C-order .npy file.
std::string npy_f32(const std::vector<std::size_t>& shape, const std::vector<float>& values) {
  return npy_raw(npy_dict("<f4", shape), le_bytes(values));
}

std::uint64_t get_le(std::string_view b, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(b[at + i])} << (8 * i);
  return v;
}
void put_le(std::string& b, std::size_t at, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFFU);
}

/// Recomputes the CRC-32 of an edited model file, so that a test reaches
/// the checks behind the checksum.
void reseal(std::string& b) { put_le(b, b.size() - 4, detail::crc32(std::string_view(b).substr(0, b.size() - 4)), 4); }

/// Offset of the payload of field `key` in a model file.
std::size_t payload_of(const std::string& b, const std::string& key) {
  const std::string tag = static_cast<char>(key.size()) + key;
  const std::size_t at = b.find(tag, detail::kModelHeaderSize);
  REQUIRE(at != std::string::npos);
  return at + tag.size() + 1 + 8;
}

/// Appends one field to a model file and fixes the header and checksum.
void append_field(std::string& b, const std::string& key, detail::ModelFieldType type, std::string_view payload) {
  std::string field = static_cast<char>(key.size()) + key + static_cast<char>(type) + std::string(8, '\0');
  put_le(field, 1 + key.size() + 1, payload.size(), 8);
  field += payload;
  b.insert(b.size() - 4, field);
  put_le(b, 12, b.size(), 8);
  put_le(b, 20, get_le(b, 20, 4) + 1, 4);
  reseal(b);
}

Architecture uniform_arch(int ks, int e, int d, int r) {
  return Architecture{std::vector<int>(20, ks), std::vector<int>(20, e), std::vector<int>(5, d), r};
}

/// A small random predictor with every option away from its default.
template <class Scalar>
LatencyPredictor<Scalar> unusual_predictor() {
  PredictorOptions po;
  po.encoding.resolution = ResolutionEncoding::one_hot;
  po.encoding.resolutions = {160, 176, 192, 208, 224};
  po.encoding.hardware_features = 3;
  po.hidden = {24, 12};
  po.target = TargetTransform::log_standardize;
  po.linear = true;
  LatencyPredictor<Scalar> p(MbConvSpace::compofa(CompofaKernel::elastic).with_resolutions({160, 176, 192, 208, 224}), po);
  Rng rng(7);
  p.network().init(rng);
  p.set_target_scaling(1.25, 0.5);
  std::vector<Scalar> linear;
  for (std::size_t i = 0; i < p.linear_size(); ++i) linear.push_back(static_cast<Scalar>(rng.uniform01() - 0.5));
  p.set_linear_weights(linear);
  return p;
}

const std::vector<double> kHardware{0.3, 1.5, -2.0};

std::vector<Architecture> sample_archs(const MbConvSpace& space, std::size_t n) {
  Rng rng(11);
  std::vector<Architecture> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(space.sample(rng));
  return out;
}

template <class Scalar>
void check_same_predictions(const LatencyPredictor<Scalar>& a, const LatencyPredictor<Scalar>& b,
                            std::span<const double> hw) {
  const auto archs = sample_archs(a.space(), 30);
  for (const auto& arch : archs) CHECK(a.predict(arch, hw) == b.predict(arch, hw));
  CHECK(a.predict(archs, hw) == b.predict(archs, hw));
}

void check_same_space(const MbConvSpace::Options& a, const MbConvSpace::Options& b) {
  CHECK(a.name == b.name);
  CHECK(a.family == b.family);
  CHECK(a.width == b.width);
  CHECK(a.kernel_choices == b.kernel_choices);
  CHECK(a.expand_choices == b.expand_choices);
  CHECK(a.depth_choices == b.depth_choices);
  CHECK(a.stage_kernels == b.stage_kernels);
  CHECK(a.depth_expand == b.depth_expand);
  CHECK(a.resolutions == b.resolutions);
  CHECK(a.num_classes == b.num_classes);
}

/// A tiny PyTorch export for the 128-d OFA encoding: Linear(128, 4), ReLU,
/// Linear(4, 1), with known values.
struct TinyTorch {
  std::vector<float> w0, b0, w2, b2;
  TinyTorch() {
    for (int o = 0; o < 4; ++o) {
      for (int i = 0; i < 128; ++i) w0.push_back(static_cast<float>(((o * 131 + i * 17) % 23) - 11) / 64.0f);
      b0.push_back(0.25f * static_cast<float>(o) - 0.3f);
      w2.push_back(0.5f - 0.375f * static_cast<float>(o));
    }
    b2 = {0.125f};
  }
  void write(const TempDir& dir) const {
    write_bytes(dir / "0.weight.npy", npy_f32({4, 128}, w0));
    write_bytes(dir / "0.bias.npy", npy_f32({4}, b0));
    write_bytes(dir / "2.weight.npy", npy_f32({1, 4}, w2));
    write_bytes(dir / "2.bias.npy", npy_f32({1}, b2));
  }
  /// PyTorch's forward pass on the encoding of `arch`, in double.
  double forward(const Architecture& arch) const {
    const auto x = Encoder(MbConvSpace::ofa_mobilenet_v3()).encode_batch<double>(std::vector<Architecture>{arch});
    double y = b2[0];
    for (int o = 0; o < 4; ++o) {
      double h = b0[static_cast<std::size_t>(o)];
      for (int i = 0; i < 128; ++i) h += double(w0[static_cast<std::size_t>(o * 128 + i)]) * x(0, i);
      y += double(w2[static_cast<std::size_t>(o)]) * std::max(h, 0.0);
    }
    return y;
  }
};

}  // namespace

// ------------------------------------------------------------ test vectors --

TEST_CASE_TEMPLATE("model file: OFA accuracy predictor imported from .npy (ofa-reference.md 7.6)", Scalar, float,
                   double) {
  HWNAS_REQUIRE_DATA(dir, "ofa-acc-predictor");
  const auto p = import_torch_npy<Scalar>(dir, MbConvSpace::ofa_mobilenet_v3());
  CHECK(p.network().sizes() == std::vector<std::size_t>{128, 400, 400, 400, 1});
  CHECK(p.network().num_parameters() == 372801);
  CHECK(p.options().hidden == std::vector<std::size_t>{400, 400, 400});
  CHECK(p.target_mean() == 0.0);
  CHECK(p.target_scale() == 1.0);
  const auto big = uniform_arch(7, 6, 4, 224);
  const auto small = uniform_arch(3, 3, 2, 160);
  CHECK(std::abs(p.predict(big) - 0.83593) <= 1e-5);
  CHECK(std::abs(p.predict(small) - 0.75312) <= 1e-5);
  const auto batch = p.predict(std::vector<Architecture>{big, small});
  CHECK(std::abs(batch[0] - p.predict(big)) <= 1e-6);
  CHECK(std::abs(batch[1] - p.predict(small)) <= 1e-6);
}

TEST_CASE_TEMPLATE("model file: the imported OFA predictor round trips through a model file", Scalar, float, double) {
  HWNAS_REQUIRE_DATA(dir, "ofa-acc-predictor");
  const auto p = import_torch_npy<Scalar>(dir, MbConvSpace::ofa_mobilenet_v3());
  TempDir tmp;
  save_predictor(p, tmp / "ofa-acc.hwnas");
  const auto q = load_predictor<Scalar>(tmp / "ofa-acc.hwnas");
  CHECK(std::abs(q.predict(uniform_arch(7, 6, 4, 224)) - 0.83593) <= 1e-5);
  CHECK(q.network().parameters() == p.network().parameters());
  check_same_predictions(p, q, {});
  CHECK(predictor_to_bytes(q) == detail::read_file(tmp / "ofa-acc.hwnas"));
  CHECK(tmp.names() == std::vector<std::string>{"ofa-acc.hwnas"});
}

// ------------------------------------------------------------- round trips --

TEST_CASE_TEMPLATE("model file: save, load, save is exact", Scalar, float, double) {
  const auto p = unusual_predictor<Scalar>();
  TempDir tmp;
  const fs::path file = tmp / "model.hwnas";
  save_predictor(p, file);
  const std::string first = detail::read_file(file);
  CHECK(first == predictor_to_bytes(p));
  const auto q = load_predictor<Scalar>(file);
  save_predictor(q, file);  // overwrites atomically
  CHECK(detail::read_file(file) == first);
  CHECK(tmp.names() == std::vector<std::string>{"model.hwnas"});

  CHECK(q.network().sizes() == p.network().sizes());
  CHECK(q.network().parameters() == p.network().parameters());
  CHECK(q.target_mean() == p.target_mean());
  CHECK(q.target_scale() == p.target_scale());
  CHECK(q.options().target == TargetTransform::log_standardize);
  CHECK(q.options().hidden == p.options().hidden);
  CHECK(q.options().linear);
  CHECK(q.linear_weights() == p.linear_weights());
  CHECK(q.encoder().options().resolution == ResolutionEncoding::one_hot);
  CHECK(q.encoder().options().resolutions == p.encoder().options().resolutions);
  CHECK(q.encoder().options().hardware_features == 3);
  CHECK(q.encoder().dim() == p.encoder().dim());
  check_same_space(q.space().options(), p.space().options());
  check_same_predictions(p, q, kHardware);
}

TEST_CASE("model file: every preset space round trips") {
  for (const auto& name : MbConvSpace::preset_names()) {
    CAPTURE(name);
    PredictorOptions po;
    po.hidden = {5};
    LatencyPredictor<double> p(MbConvSpace::preset(name, 1.2), po);
    Rng rng(3);
    p.network().init(rng);
    p.set_target_scaling(12.5, 3.25);
    const std::string bytes = predictor_to_bytes(p);
    const auto q = predictor_from_bytes<double>(bytes, name);
    CHECK_FALSE(q.options().linear);  // an empty 'linear' field: no linear path
    check_same_space(q.space().options(), p.space().options());
    CHECK(predictor_to_bytes(q) == bytes);
    check_same_predictions(p, q, {});
  }
}

TEST_CASE("model file: a float64 file loads as float by rounding, a float32 file as double exactly") {
  const auto pd = unusual_predictor<double>();
  const auto as_float = predictor_from_bytes<float>(predictor_to_bytes(pd));
  CHECK(as_float.network().parameters() == pd.network().parameters().cast<float>());
  CHECK(as_float.linear_weights() == pd.linear_weights().cast<float>());
  const auto arch = sample_archs(pd.space(), 1).front();
  CHECK(as_float.predict(arch, kHardware) == doctest::Approx(pd.predict(arch, kHardware)).epsilon(1e-4));
  const std::string resaved = predictor_to_bytes(as_float);
  CHECK(resaved.find("float32") != std::string::npos);  // the predictor's own Scalar

  const auto pf = unusual_predictor<float>();
  const auto as_double = predictor_from_bytes<double>(predictor_to_bytes(pf));
  CHECK(as_double.network().parameters() == pf.network().parameters().cast<double>());
  CHECK(predictor_to_bytes(predictor_from_bytes<float>(predictor_to_bytes(as_double))) == predictor_to_bytes(pf));
}

TEST_CASE("model file: header layout and checksum (docs/model-file.md)") {
  CHECK(detail::crc32("123456789") == 0xCBF43926U);  // the CRC-32 check value
  CHECK(detail::crc32("") == 0U);
  const std::string b = predictor_to_bytes(unusual_predictor<float>());
  CHECK(b.substr(0, 8) == "HWNASMDL");
  CHECK(get_le(b, 8, 4) == kModelFileVersion);
  CHECK(get_le(b, 12, 8) == b.size());
  CHECK(get_le(b, 20, 4) == 23);  // fields
  CHECK(get_le(b, b.size() - 4, 4) == detail::crc32(std::string_view(b).substr(0, b.size() - 4)));
  // The first field: key "writer", type string.
  CHECK(b.substr(24, 7) == std::string("\x06writer", 7));
  CHECK(b[31] == static_cast<char>(detail::ModelFieldType::string));
  CHECK(b.substr(40, get_le(b, 32, 8)) == std::string("hwnas ") + version_string);
}

// -------------------------------------------------------------- ensembles --

TEST_CASE_TEMPLATE("model file: an ensemble saves, loads and saves exactly", Scalar, float, double) {
  auto second = unusual_predictor<Scalar>();
  Rng rng(21);
  second.network().init(rng);
  second.set_target_scaling(0.5, 2.0);
  const PredictorEnsemble<Scalar> e({unusual_predictor<Scalar>(), second});
  TempDir tmp;
  const fs::path file = tmp / "ensemble.hwnas";
  save_ensemble(e, file);
  const std::string first = detail::read_file(file);
  CHECK(first == ensemble_to_bytes(e));
  CHECK(get_le(first, 20, 4) == 3 + 2 * 21);  // writer, kind, members; 21 fields per member
  CHECK(first.find(std::string(1, '\x0e') + "member1.linear") != std::string::npos);  // key length, key
  const auto q = load_ensemble<Scalar>(file);
  REQUIRE(q.size() == 2);
  save_ensemble(q, file);
  CHECK(detail::read_file(file) == first);
  CHECK(tmp.names() == std::vector<std::string>{"ensemble.hwnas"});
  for (std::size_t i = 0; i < 2; ++i) check_same_predictions(e.members()[i], q.members()[i], kHardware);
  const auto archs = sample_archs(e.space(), 20);
  CHECK(q.predict(archs, kHardware) == e.predict(archs, kHardware));
}

TEST_CASE("model file: a single predictor's file loads as an ensemble of one; an ensemble's file is not a predictor") {
  const auto p = unusual_predictor<float>();
  const auto one = ensemble_from_bytes<float>(predictor_to_bytes(p), "p.hwnas");
  REQUIRE(one.size() == 1);
  CHECK(predictor_to_bytes(one.members()[0]) == predictor_to_bytes(p));
  const auto archs = sample_archs(p.space(), 20);
  CHECK(one.predict(archs, kHardware) == p.predict(archs, kHardware));
  for (const auto& a : archs) CHECK(one.predict(a, kHardware) == p.predict(a, kHardware));

  const std::string b = ensemble_to_bytes(PredictorEnsemble<float>({p}));
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "e.hwnas"),
                       "e.hwnas: field 'kind' = 'latency-ensemble': the file holds a predictor ensemble; load it "
                       "with load_ensemble",
                       FormatError);
}

TEST_CASE("model file: ensemble files with a wrong member count, stray fields or mixed spaces are rejected") {
  const auto p = unusual_predictor<float>();
  const std::string good = ensemble_to_bytes(PredictorEnsemble<float>({p, p}));
  auto with_members = [&](std::int64_t n) {
    std::string b = good;
    put_le(b, payload_of(b, "members"), static_cast<std::uint64_t>(n), 8);
    reseal(b);
    return b;
  };
  CHECK_THROWS_WITH_AS(ensemble_from_bytes<float>(with_members(0), "e"),
                       "e: field 'members': value 0 outside [1, 4096]", FormatError);
  CHECK_THROWS_WITH_AS(ensemble_from_bytes<float>(with_members(3), "e"), "e: missing field 'member2.scalar'",
                       FormatError);
  CHECK_THROWS_WITH_AS(ensemble_from_bytes<float>(with_members(1), "e"),
                       doctest::Contains("e: unknown field 'member1."), FormatError);
  std::string b = good;
  b.replace(payload_of(b, "member1.target.transform"), 3, "lug");
  reseal(b);
  CHECK_THROWS_WITH_AS(ensemble_from_bytes<float>(b, "e"),
                       "e: field 'member1.target.transform' = 'lug-standardize'; expected standardize or "
                       "log-standardize",
                       FormatError);
  // Members of different spaces: each is a valid predictor, the ensemble is not.
  PredictorOptions po;
  po.hidden = {4};
  detail::ModelWriter w("latency-ensemble");
  w.int64("members", 2);
  detail::write_predictor_fields(w, LatencyPredictor<float>(MbConvSpace::ofa_mobilenet_v3(), po), "member0.");
  detail::write_predictor_fields(w, LatencyPredictor<float>(MbConvSpace::ofa_proxyless(), po), "member1.");
  CHECK_THROWS_WITH_AS(ensemble_from_bytes<float>(std::move(w).finish(), "e"),
                       doctest::Contains("e: invalid ensemble: ensemble: member 1 searches space 'ofa-proxyless'"),
                       FormatError);
}

// -------------------------------------------------------------- rejections --

TEST_CASE("model file: a categorical space's layers are checked as they are read") {
  PredictorOptions po;
  po.hidden = {4};
  const std::string good = predictor_to_bytes(LatencyPredictor<float, CategoricalSpace>(fbnet_space(), po));
  auto load = [](const std::string& b) { return predictor_from_bytes<float, CategoricalSpace>(b, "m"); };
  CHECK(load(good).space() == fbnet_space());
  const std::size_t stem = payload_of(good, "space.layers");  // the stem's 16 numbers come first
  std::string b = good;
  put_le(b, stem, 99, 8);  // its kind
  reseal(b);
  CHECK_THROWS_WITH_AS(load(b), has("m: field 'space.layers', layer 0: layer kind 99 unknown"), FormatError);
  b = good;
  put_le(b, stem + 8, 31, 8);  // its in_size: the stored out_size 32 no longer follows
  reseal(b);
  CHECK_THROWS_WITH_AS(load(b),
                       has("m: invalid settings: categorical space 'fbnet': layers: stem: layer 0 (first_conv): "
                           "out_size = 32 but in_size 31 and stride 1 give 31"),
                       FormatError);
}

TEST_CASE("model file: rejects files that are not model files") {
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>("", "m.hwnas"),
                       has("m.hwnas: not an hwnas model file (the file is empty)"), FormatError);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(npy_f32({1}, {1.0f}), "w.npy"),
                       has("w.npy: not an hwnas model file (expected magic \"HWNASMDL\", found "
                           "\"\\x93NUMPY\\x01\\x00\")"),
                       FormatError);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>("HWNASMDX and more", "m"), has("not an hwnas model file"),
                       FormatError);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>("HWNA", "m"), has("m: truncated at byte 4"), FormatError);
  TempDir tmp;
  CHECK_THROWS_WITH_AS(load_predictor<float>(tmp / "absent.hwnas"), has("absent.hwnas"), IoError);
  CHECK_THROWS_AS(save_predictor(unusual_predictor<float>(), tmp / "no-such-folder" / "m.hwnas"), IoError);
  CHECK(tmp.names().empty());
}

TEST_CASE("model file: saving leaves no temp files behind, even when it fails") {
  fs::path where;
  {
    TempDir tmp;
    where = tmp.path();
    const auto p = unusual_predictor<float>();
    for (int i = 0; i < 3; ++i) save_predictor(p, tmp / "m.hwnas");
    fs::create_directory(tmp / "taken.hwnas");  // the final rename cannot replace a folder
    CHECK_THROWS_WITH_AS(save_predictor(p, tmp / "taken.hwnas"), has("taken.hwnas"), IoError);
    CHECK(tmp.names() == std::vector<std::string>{"m.hwnas", "taken.hwnas"});
    CHECK(fs::is_empty(tmp / "taken.hwnas"));
  }
  CHECK_FALSE(fs::exists(where));
}

TEST_CASE("model file: rejects truncated files, naming the byte") {
  const std::string b = predictor_to_bytes(unusual_predictor<float>());
  for (std::size_t n : {std::size_t{6}, std::size_t{10}, std::size_t{16}, std::size_t{23}, std::size_t{24},
                        std::size_t{100}, b.size() / 2, b.size() - 4, b.size() - 1}) {
    CAPTURE(n);
    CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b.substr(0, n), "m.hwnas"),
                         has("m.hwnas: truncated at byte " + std::to_string(n)), FormatError);
  }
  TempDir tmp;
  write_bytes(tmp / "cut.hwnas", b.substr(0, 1000));
  CHECK_THROWS_WITH_AS(
      load_predictor<float>(tmp / "cut.hwnas"),
      has("cut.hwnas: truncated at byte 1000 (the header declares " + std::to_string(b.size()) + " bytes)"),
      FormatError);
}

TEST_CASE("model file: rejects damaged files") {
  const std::string b = predictor_to_bytes(unusual_predictor<float>());
  std::string flipped = b;
  flipped[b.size() - 100] ^= 0x10;  // a weight
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(flipped, "m.hwnas"), has("m.hwnas: damaged: checksum mismatch"),
                       FormatError);
  flipped = b;
  flipped[b.size() - 2] ^= 0x01;  // the checksum itself
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(flipped, "m"), has("damaged: checksum mismatch"), FormatError);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b + "x", "m"),
                       has("damaged: 1 unexpected byte after byte " + std::to_string(b.size())), FormatError);

  // Every single-byte change of the file is caught, whatever it hits.
  std::size_t caught = 0;
  for (std::size_t i = 0; i < b.size(); i += (i < 600 ? 1 : 37)) {
    std::string damaged = b;
    damaged[i] = static_cast<char>(damaged[i] ^ (1 << (i % 8)));
    try {
      (void)predictor_from_bytes<float>(damaged, "m");
    } catch (const FormatError&) {
      ++caught;
      continue;
    }
    FAIL("byte " << i << " changed but the file loaded");
  }
  CHECK(caught > 600);
}

TEST_CASE("model file: rejects a format version it does not know") {
  std::string b = predictor_to_bytes(unusual_predictor<float>());
  put_le(b, 8, kModelFileVersion + 1, 4);
  reseal(b);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "new.hwnas"),
                       has("new.hwnas: unsupported format version 2; hwnas " + std::string(version_string) +
                           " reads versions 1 to 1 (the file is newer: "
                           "update hwnas)"),
                       FormatError);
  put_le(b, 8, 0, 4);
  reseal(b);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "m"), has("unsupported format version 0"), FormatError);
}

TEST_CASE("model file: rejects sizes that do not fit together") {
  const std::string good = predictor_to_bytes(unusual_predictor<float>());
  // layer_sizes (128, 24, 12, 1): 128 = 20 slots x (3 + 3) + 5 resolutions + 3 hardware.
  std::string b = good;
  put_le(b, payload_of(b, "layer_sizes"), 78, 8);
  reseal(b);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "m.hwnas"),
                       has("m.hwnas: field 'layer_sizes' = (78, 24, 12, 1) but the encoder's 128 "
                           "features and 'hidden' = (24, 12) make (128, 24, 12, 1)"),
                       FormatError);
  b = good;
  put_le(b, payload_of(b, "encoder.hardware_features"), 4, 8);
  reseal(b);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "m"),
                       has("field 'layer_sizes' = (128, 24, 12, 1) but the encoder's 129 features"), FormatError);
  b = good;
  put_le(b, payload_of(b, "hidden") + 8, 13, 8);
  put_le(b, payload_of(b, "layer_sizes") + 16, 13, 8);
  reseal(b);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "m"),
                       has("field 'parameters' has 3409 values but layer sizes (128, 24, 13, 1) need 3435"),
                       FormatError);
  // The linear path: the encoder's 128 features, the 120 layer bits times
  // pixels and the intercept, or none.
  b = good;
  const std::size_t linear_at = payload_of(b, "linear");
  put_le(b, linear_at - 8, 4 * 248, 8);
  b.erase(linear_at + 4 * 248, 4);
  put_le(b, 12, b.size(), 8);
  reseal(b);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "m"),
                       has("field 'linear' has 248 values but the encoder's 128 features, 120 layer features times "
                           "pixels and the intercept need 249 (or 0: no linear path)"),
                       FormatError);
  b = good;
  put_le(b, payload_of(b, "hidden") + 8, 13, 8);
  reseal(b);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "m"),
                       has("field 'layer_sizes' = (128, 24, 12, 1) but the encoder's 128 features and 'hidden' = "
                           "(24, 13) make (128, 24, 13, 1)"),
                       FormatError);
  // A crafted file (correct checksum) asking for a huge network is refused
  // before anything is allocated.
  for (std::uint64_t huge : {std::uint64_t{1} << 40, std::uint64_t{1} << 62}) {
    b = good;
    put_le(b, payload_of(b, "hidden"), huge, 8);
    put_le(b, payload_of(b, "layer_sizes") + 8, huge, 8);
    reseal(b);
    CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "m"), has("field 'parameters' has 3409 values but layer sizes"),
                         FormatError);
  }
}

TEST_CASE("model file: rejects fields that are missing, unknown, mistyped or invalid") {
  const std::string good = predictor_to_bytes(unusual_predictor<float>());
  auto edited = [&](const std::string& key, std::string_view text) {
    std::string b = good;
    b.replace(payload_of(b, key), text.size(), text);
    reseal(b);
    return b;
  };
  std::string b = good;
  b.replace(payload_of(b, "target.scale") - 9 - 5, 5, "scalf");  // rename the key
  reseal(b);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "m"), has("m: missing field 'target.scale'"), FormatError);
  b = good;
  append_field(b, "encoder.depth", detail::ModelFieldType::int64, std::string(8, '\0'));
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "m"),
                       has("m: unknown field 'encoder.depth' at byte " + std::to_string(good.size() - 4) +
                           " (written by hwnas " + version_string + "; this is hwnas " + version_string + ")"),
                       FormatError);
  b = good;
  append_field(b, "kind", detail::ModelFieldType::string, "x");
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "m"), has("malformed: field 'kind' appears twice"), FormatError);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(edited("kind", "accuracy-xx"), "m"),
                       has("field 'kind' = 'accuracy-xx'; this hwnas reads 'latency-mlp'"), FormatError);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(edited("scalar", "float64"), "m"),
                       has("field 'scalar' = 'float64' but 'parameters' holds float32 values"), FormatError);
  b = good;
  b[payload_of(b, "linear") - 9] = static_cast<char>(detail::ModelFieldType::float64_array);
  put_le(b, payload_of(b, "linear") - 8, 4 * 248, 8);  // 124 float64 values
  b.erase(payload_of(b, "linear") + 4 * 248, 4);
  put_le(b, 12, b.size(), 8);
  reseal(b);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "m"),
                       has("field 'scalar' = 'float32' but 'linear' holds float64 values"), FormatError);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(edited("space.family", "proxyles!"), "m"),
                       has("field 'space.family' = 'proxyles!-v3'"), FormatError);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(edited("target.transform", "log-standardise"), "m"),
                       has("field 'target.transform' = 'log-standardise'"), FormatError);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(edited("encoder.resolution", "one-hat"), "m"),
                       has("field 'encoder.resolution': encoding: unknown resolution encoding 'one-hat'"), FormatError);
  const double minus_one = -1.0;
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(edited("space.width", le_bytes(std::vector{minus_one})), "m"),
                       has("m: invalid settings: compofa-elastic: width"), FormatError);
  const double zero = 0.0;
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(edited("target.scale", le_bytes(std::vector{zero})), "m"),
                       has("fields 'target.mean' and 'target.scale'"), FormatError);
  b = good;
  b[payload_of(b, "space.num_classes") - 9] = static_cast<char>(detail::ModelFieldType::float64);
  reseal(b);
  CHECK_THROWS_WITH_AS(predictor_from_bytes<float>(b, "m"),
                       has("field 'space.num_classes': expected int64, found float64"), FormatError);
}

// --------------------------------------------------------------------- npy --

TEST_CASE("model file: npy reads float32 and float64 in C and Fortran order") {
  const std::string c = npy_raw(npy_dict("<f4", {2, 3}), le_bytes(std::vector<float>{1, 2, 3, 4, 5, 6}));
  const auto a = parse_npy<float>(c, "a.npy");
  CHECK(a.shape == std::vector<std::size_t>{2, 3});
  CHECK(a.values == std::vector<float>{1, 2, 3, 4, 5, 6});
  // Fortran order stores columns first; the reader returns C order.
  const std::string f = npy_raw(npy_dict("<f8", {2, 3}, true), le_bytes(std::vector<double>{1, 4, 2, 5, 3, 6}));
  CHECK(parse_npy<double>(f).values == std::vector<double>{1, 2, 3, 4, 5, 6});
  const std::string f3 =
      npy_raw(npy_dict("<f4", {2, 2, 2}, true), le_bytes(std::vector<float>{0, 4, 2, 6, 1, 5, 3, 7}));
  CHECK(parse_npy<float>(f3).values == std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7});
  // Big-endian, 0-d, empty, version 2.0 and 3.0, Python 2 long literals,
  // keys in another order, and a 182-byte header (numpy pads to 64 bytes).
  std::string be = npy_raw(npy_dict(">f4", {1}), "");
  be += std::string("\x3f\x80\x00\x00", 4);
  CHECK(parse_npy<float>(be).values == std::vector<float>{1.0f});
  CHECK(parse_npy<double>(npy_raw(npy_dict("<f8", {}), le_bytes(std::vector<double>{2.5}))).values ==
        std::vector<double>{2.5});
  CHECK(parse_npy<float>(npy_raw(npy_dict("<f4", {0, 7}), "")).shape == std::vector<std::size_t>{0, 7});
  CHECK(parse_npy<float>(npy_raw(npy_dict("<f4", {2}), le_bytes(std::vector<float>{1, 2}), 2)).values.size() == 2);
  CHECK(parse_npy<float>(npy_raw(npy_dict("<f4", {2}), le_bytes(std::vector<float>{1, 2}), 3)).values.size() == 2);
  CHECK(parse_npy<float>(npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }",
                                 le_bytes(std::vector<float>{1, 2})))
            .shape == std::vector<std::size_t>{2, 1});
  CHECK(parse_npy<float>(npy_raw("{\"shape\": (2,), \"descr\": \"<f4\", \"fortran_order\": False}",
                                 le_bytes(std::vector<float>{1, 2})))
            .values == std::vector<float>{1, 2});
  const std::string long_header = npy_raw(npy_dict("<f4", {3}), le_bytes(std::vector<float>{7, 8, 9}), 1, 192);
  CHECK(get_le(long_header, 8, 2) == 182);
  CHECK(parse_npy<float>(long_header).values == std::vector<float>{7, 8, 9});

#if HWNAS_TEST_XTENSOR
  TempDir tmp;
  const xt::xarray<float> x3 = {{{1, 2, 3}, {4, 5, 6}}, {{7, 8, 9}, {10, 11, 12}}};
  xt::dump_npy((tmp / "c.npy").string(), x3);
  const auto r3 = read_npy<float>(tmp / "c.npy");
  CHECK(r3.shape == std::vector<std::size_t>{2, 2, 3});
  CHECK(r3.values == std::vector<float>(x3.begin(), x3.end()));
  const xt::xarray<double, xt::layout_type::column_major> xf = {{1, 2, 3}, {4, 5, 6}};
  xt::dump_npy((tmp / "f.npy").string(), xf);
  CHECK(detail::read_file(tmp / "f.npy").find("'fortran_order': True") != std::string::npos);
  CHECK(read_npy<double>(tmp / "f.npy").values == std::vector<double>{1, 2, 3, 4, 5, 6});
#else
  MESSAGE("xtensor not found: the cross-check against xt::dump_npy is skipped");
#endif
}

TEST_CASE("model file: npy rejects bad files with the file's name") {
  const std::string good = npy_f32({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK_THROWS_WITH_AS(parse_npy<float>("HWNASMDL", "x.npy"), has("x.npy: not a .npy file (bad magic)"), FormatError);
  CHECK_THROWS_WITH_AS(parse_npy<float>("", "x.npy"), has("x.npy: empty file"), FormatError);
  CHECK_THROWS_WITH_AS(parse_npy<double>(good, "x.npy"), has("x.npy: dtype <f4 but float64 expected"), FormatError);
  CHECK_THROWS_WITH_AS(parse_npy<float>(npy_raw(npy_dict("<f8", {1}), le_bytes(std::vector<double>{1})), "y.npy"),
                       has("y.npy: dtype <f8 but float32 expected"), FormatError);
  CHECK_THROWS_WITH_AS(parse_npy<float>(npy_raw(npy_dict("<i8", {1}), std::string(8, '\0')), "y.npy"),
                       has("dtype <i8 but float32 expected"), FormatError);
  CHECK_THROWS_WITH_AS(parse_npy<float>(good + "zz", "x.npy"),
                       has("x.npy: 2 unexpected bytes after the data (shape (2, 3) <f4 needs 24)"), FormatError);
  std::string v = good;
  v[6] = 4;
  CHECK_THROWS_WITH_AS(parse_npy<float>(v, "x.npy"), has("unsupported .npy format version 4.0"), FormatError);
  auto header = [](const std::string& dict) { return parse_npy<float>(npy_raw(dict, ""), "h.npy"); };
  CHECK_THROWS_WITH_AS(header("{'descr': '<f4', 'shape': (0,), }"), has("header has no 'fortran_order'"), FormatError);
  CHECK_THROWS_WITH_AS(header("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), 'x': 1}"),
                       has("h.npy: malformed .npy header at byte 66: unexpected key 'x'"), FormatError);
  CHECK_THROWS_WITH_AS(header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (0,), }"),
                       has("structured dtypes"), FormatError);
  CHECK_THROWS_WITH_AS(header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (0,), }"),
                       has("expected True or False"), FormatError);
  CHECK_THROWS_WITH_AS(header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }"),
                       has("expected a non-negative integer in the shape"), FormatError);
  CHECK_THROWS_WITH_AS(header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }"),
                       has("shape dimension out of range"), FormatError);
  // Absurd shapes are refused before anything is allocated.
  CHECK_THROWS_WITH_AS(header("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }"),
                       has("has too many elements"), FormatError);
  CHECK_THROWS_WITH_AS(header("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }"),
                       has("truncated at byte 128 (shape (100000, 100000) <f4 needs 40000000000 data "
                           "bytes after byte 128, found 0)"),
                       FormatError);
  TempDir tmp;
  CHECK_THROWS_WITH_AS(read_npy<float>(tmp / "missing.npy"), has("missing.npy"), IoError);
}

TEST_CASE("model file: npy truncated anywhere, or with any header byte changed, never loads garbage") {
  const std::string good = npy_f32({2, 3}, {1, 2, 3, 4, 5, 6});
  for (std::size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    CHECK_THROWS_AS(parse_npy<float>(good.substr(0, n), "t.npy"), FormatError);
  }
  CHECK_THROWS_WITH_AS(parse_npy<float>(good.substr(0, 100), "t.npy"),
                       has("t.npy: truncated at byte 100 (the header needs 118 bytes after byte 10)"), FormatError);
  CHECK_THROWS_WITH_AS(parse_npy<float>(good.substr(0, 140), "t.npy"),
                       has("t.npy: truncated at byte 140 (shape (2, 3) <f4 needs 24 data bytes after "
                           "byte 128, found 12)"),
                       FormatError);
  for (std::size_t i = 0; i < 128; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string changed = good;
      changed[i] = static_cast<char>(changed[i] ^ (1 << bit));
      try {
        const auto a = parse_npy<float>(changed, "t.npy");
        CHECK(a.values.size() == 6);  // e.g. a changed pad byte: still the same array
      } catch (const FormatError&) {
      }
    }
  }
}

// ------------------------------------------------------------------ import --

TEST_CASE("model file: import transposes PyTorch's [out, in] weights") {
  TempDir tmp;
  const TinyTorch t;
  t.write(tmp);
  write_bytes(tmp / "README.txt", "not a tensor");
  write_bytes(tmp / "meta.npy", npy_f32({1}, {0}));  // no index: ignored
  const auto p = import_torch_npy<double>(tmp.path(), MbConvSpace::ofa_mobilenet_v3());
  CHECK(p.network().sizes() == std::vector<std::size_t>{128, 4, 1});
  CHECK(p.network().weight(0)(5, 2) == double(t.w0[2 * 128 + 5]));
  for (const auto& arch : sample_archs(p.space(), 20)) {
    CHECK(p.predict(arch) == doctest::Approx(t.forward(arch)).epsilon(1e-12));
  }
  const auto pf = import_torch_npy<float>(tmp.path(), MbConvSpace::ofa_mobilenet_v3());
  CHECK(pf.network().parameters() == p.network().parameters().cast<float>());
}

TEST_CASE("model file: import rejects bad exports, naming the file") {
  const auto space = MbConvSpace::ofa_mobilenet_v3();
  const TinyTorch t;
  {
    TempDir tmp;
    CHECK_THROWS_WITH_AS(import_torch_npy<float>(tmp.path(), space), has("no PyTorch Linear weights"), FormatError);
    CHECK_THROWS_WITH_AS(import_torch_npy<float>(tmp / "nope", space), has("does not exist"), IoError);
  }
  {
    TempDir tmp;
    t.write(tmp);
    fs::remove(tmp / "2.bias.npy");
    CHECK_THROWS_WITH_AS(import_torch_npy<float>(tmp.path(), space),
                         has((tmp / "2.bias.npy").string() + ": missing (layer 2 has a weight but no bias"),
                         FormatError);
  }
  {
    TempDir tmp;
    t.write(tmp);
#if HWNAS_TEST_XTENSOR
    const xt::xarray<double> bias64 = {0.125};
    xt::dump_npy((tmp / "2.bias.npy").string(), bias64);
#else
    write_bytes(tmp / "2.bias.npy", npy_raw(npy_dict("<f8", {1}), le_bytes(std::vector<double>{0.125})));
#endif
    CHECK_THROWS_WITH_AS(import_torch_npy<double>(tmp.path(), space),
                         has((tmp / "2.bias.npy").string() + ": dtype <f8 but float32 expected"), FormatError);
  }
  {
    TempDir tmp;
    t.write(tmp);
    write_bytes(tmp / "2.weight.npy", npy_f32({1, 5}, {1, 2, 3, 4, 5}));
    CHECK_THROWS_WITH_AS(
        import_torch_npy<float>(tmp.path(), space),
        has((tmp / "2.weight.npy").string() + ": shape (1, 5): 5 inputs but 0.weight.npy has 4 outputs"), FormatError);
  }
  {
    TempDir tmp;
    t.write(tmp);
    write_bytes(tmp / "0.weight.npy", npy_f32({4, 127}, std::vector<float>(4 * 127, 0.0f)));
    CHECK_THROWS_WITH_AS(import_torch_npy<float>(tmp.path(), space),
                         has("0.weight.npy: shape (4, 127): 127 inputs but the encoder of space "
                             "'ofa-mbv3' gives 128 features"),
                         FormatError);
    // The same folder fits an encoder with 127 features? No: 120 + 8 bins.
    Encoder::Options none;
    none.resolution = ResolutionEncoding::none;
    CHECK_THROWS_WITH_AS(import_torch_npy<float>(tmp.path(), space, none),
                         has("127 inputs but the encoder of space 'ofa-mbv3' gives 120 features"), FormatError);
  }
  {
    TempDir tmp;
    t.write(tmp);
    write_bytes(tmp / "2.weight.npy", npy_f32({2, 4}, std::vector<float>(8, 0.0f)));
    write_bytes(tmp / "2.bias.npy", npy_f32({2}, {0, 0}));
    CHECK_THROWS_WITH_AS(import_torch_npy<float>(tmp.path(), space),
                         has("2.weight.npy: the last layer has 2 outputs; a predictor has 1"), FormatError);
  }
  {
    TempDir tmp;
    t.write(tmp);
    write_bytes(tmp / "0.bias.npy", npy_f32({3}, {0, 0, 0}));
    CHECK_THROWS_WITH_AS(import_torch_npy<float>(tmp.path(), space),
                         has("0.bias.npy: shape (3,) but 0.weight.npy has 4 outputs"), FormatError);
    write_bytes(tmp / "0.bias.npy", npy_f32({4}, {0, 0, 0, 0}));
    write_bytes(tmp / "0.weight.npy", npy_f32({512}, std::vector<float>(512, 0.0f)));
    CHECK_THROWS_WITH_AS(import_torch_npy<float>(tmp.path(), space),
                         has("0.weight.npy: shape (512,) but a Linear weight is [out, in]"), FormatError);
  }
  {
    TempDir tmp;
    t.write(tmp);
    fs::rename(tmp / "2.weight.npy", tmp / "1.weight.npy");
    fs::rename(tmp / "2.bias.npy", tmp / "1.bias.npy");
    CHECK_THROWS_WITH_AS(import_torch_npy<float>(tmp.path(), space),
                         has("1.weight.npy: Linear layers 0 and 1 are adjacent"), FormatError);
  }
  {
    TempDir tmp;
    t.write(tmp);
    write_bytes(tmp / "1.running_mean.npy", npy_f32({4}, {0, 0, 0, 0}));
    CHECK_THROWS_WITH_AS(import_torch_npy<float>(tmp.path(), space),
                         has("1.running_mean.npy: unsupported tensor 'running_mean'"), FormatError);
  }
  {
    TempDir tmp;
    t.write(tmp);
    std::string cut = detail::read_file(tmp / "0.weight.npy");
    write_bytes(tmp / "0.weight.npy", cut.substr(0, cut.size() - 1));
    CHECK_THROWS_WITH_AS(import_torch_npy<float>(tmp.path(), space), has("0.weight.npy: truncated at byte 2175"),
                         FormatError);
  }
}
