// Spaces and architectures: info, count, sample, macs, encode, validate.
#include <Eigen/Core>

#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <type_traits>
#include <variant>

#include "common.hpp"
#include "hwnas/io/arch.hpp"
#include "hwnas/predictor/encoding.hpp"
#include "hwnas/random.hpp"
#include "hwnas/version.hpp"

namespace hwnas_cli {

namespace {

std::string mmacs(std::int64_t macs) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(3) << macs / 1e6;
  return s.str();
}

// ----------------------------------------------------------------- info ----

struct InfoOptions {
  bool json = false;
};

int run_info(const InfoOptions& o) {
  Json spaces = Json::array();
  for (const auto& name : MbConvSpace::preset_names()) {
    const auto s = MbConvSpace::preset(name);
    spaces.push_back({{"name", name}, {"slots", s.num_slots()}, {"stages", s.num_stages()},
                      {"per_resolution", s.count_per_resolution().to_string()}});
  }
  const std::string eigen = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) +
                            "." + std::to_string(EIGEN_MINOR_VERSION);
  if (o.json) {
    print_json({{"version", hwnas::version_string},
                {"eigen", eigen},
                {"spaces", spaces},
                {"resolution_encodings", {"bins8", "one-hot", "numeric", "none"}}});
    return 0;
  }
  std::cout << "hwnas " << hwnas::version_string << " (Eigen " << eigen << ")\n"
            << "Hardware-aware neural architecture search: search spaces, encodings, latency datasets.\n\n"
            << "spaces (distinct networks per resolution):\n";
  for (const auto& s : spaces) {
    std::cout << "  " << std::left << std::setw(16) << s["name"].get<std::string>() << s["slots"] << " layer slots, "
              << s["stages"] << " stages, " << s["per_resolution"].get<std::string>() << "\n";
  }
  return 0;
}

// ---------------------------------------------------------------- count ----

struct CountOptions {
  SpaceArgs space;
  bool json = false;
};

int run_count(const CountOptions& o) {
  const auto any = o.space.make_any();
  if (const auto* c = std::get_if<CategoricalSpace>(&any)) {
    const auto total = c->count();
    if (o.json) {
      print_json({{"space", c->name()}, {"decisions", c->size()}, {"total", total.to_string()}});
      return 0;
    }
    std::cout << c->name() << ": " << total.to_string() << " architectures (" << c->size() << " decisions)\n";
    return 0;
  }
  const auto& space = std::get<MbConvSpace>(any);
  const auto per = space.count_per_resolution();
  const auto total = space.count();
  const auto n_res = space.options().resolutions.size();
  if (o.json) {
    // Counts are strings: they overflow 64-bit integers.
    print_json({{"space", space}, {"per_resolution", per.to_string()}, {"resolutions", n_res},
                {"total", total.to_string()}});
    return 0;
  }
  std::cout << space.name() << " (width " << o.space.width << "): " << per.to_string()
            << " architectures per resolution x " << n_res << " resolutions = " << total.to_string() << "\n";
  return 0;
}

// --------------------------------------------------------------- sample ----

struct SampleOptions {
  SpaceArgs space;
  std::size_t n = 10;
  std::uint64_t seed = 0;
  bool distinct = false;
  bool image_size = false;
  bool json = false;
};

int run_sample(const SampleOptions& o) {
  const auto any = o.space.make_any();
  hwnas::Rng rng(o.seed);
  Json archs = Json::array();
  if (const auto* c = std::get_if<CategoricalSpace>(&any)) {
    if (o.distinct || o.image_size) {
      throw hwnas::InvalidArgument(std::string(o.distinct ? "--distinct" : "--image-size") +
                                   ": for MBConv spaces; space " + c->name() + " is categorical");
    }
    for (std::size_t i = 0; i < o.n; ++i) {
      const Json a = arch_json(*c, c->sample(rng));
      if (o.json) {
        archs.push_back(a);
      } else {
        std::cout << a.dump() << '\n';
      }
    }
    if (o.json) print_json({{"space", c->name()}, {"seed", o.seed}, {"archs", archs}});
    return 0;
  }
  const auto& space = std::get<MbConvSpace>(any);
  const auto form = o.image_size ? hwnas::SpecForm::image_size : hwnas::SpecForm::r_list;
  for (std::size_t i = 0; i < o.n; ++i) {
    const auto a = o.distinct ? space.sample_distinct(rng) : space.sample(rng);
    if (o.json) {
      archs.push_back(Json::parse(hwnas::arch_to_json(a, form)));
    } else {
      std::cout << hwnas::arch_to_json(a, form) << '\n';
    }
  }
  if (o.json) print_json({{"space", space.name()}, {"seed", o.seed}, {"archs", archs}});
  return 0;
}

// ----------------------------------------------------------------- macs ----

struct MacsOptions {
  SpaceArgs space;
  ArchArgs arch;
  bool layers = false;
  bool json = false;
};

template <class Space>
int macs_in(const Space& space, const MacsOptions& o) {
  const auto archs = load_for_layers(o.arch, space).archs;
  Json results = Json::array();
  for (const auto& a : archs) {
    const auto list = space.layers(a);
    const auto cost = hwnas::network_cost(list);
    Json r = {{"arch", arch_json(space, a)}, {"macs", cost.macs}, {"params", cost.params}};
    if (o.layers) r["layers"] = list;
    if (!o.json) {
      std::string text;
      if constexpr (std::is_same_v<Space, CategoricalSpace>) {
        text = r["arch"].dump();
      } else {
        text = hwnas::arch_to_json(a);
      }
      std::cout << mmacs(cost.macs) << " M MACs, " << mmacs(cost.params) << " M params  " << text << '\n';
      if (o.layers) {
        for (const auto& l : list) {
          std::cout << "  " << std::left << std::setw(13) << hwnas::to_string(l.kind) << l.in_size << 'x'
                    << l.in_size << 'x' << l.in_channels << " -> " << l.out_size << 'x' << l.out_size << 'x'
                    << l.out_channels << "  k" << l.kernel << " s" << l.stride << " mid " << l.mid_channels
                    << " se " << l.se_channels << (l.groups > 1 ? " g" + std::to_string(l.groups) : "") << ' '
                    << hwnas::to_string(l.act) << (l.shortcut ? " +id" : "") << "  " << l.macs() << " MACs\n";
        }
      }
    }
    results.push_back(std::move(r));
  }
  if (o.json) print_json({{"space", space.name()}, {"results", results}});
  return 0;
}

int run_macs(const MacsOptions& o) {
  return std::visit([&](const auto& space) { return macs_in(space, o); }, o.space.make_with_layers("macs"));
}

// --------------------------------------------------------------- encode ----

struct EncodeOptions {
  SpaceArgs space;
  ArchArgs arch;
  std::string encoding;  ///< empty: bins8 (the method) for an MBConv space
  std::vector<double> hardware;
  bool json = false;
};

template <class Space>
int encode_in(const Space& space, const EncodeOptions& o) {
  hwnas::Encoder::Options eo;
  if constexpr (std::is_same_v<Space, MbConvSpace>) {
    eo.resolution = hwnas::resolution_encoding_from_string(o.encoding.empty() ? "bins8" : o.encoding);
  } else if (!o.encoding.empty()) {
    throw hwnas::InvalidArgument("--encoding: a resolution encoding; space " + space.name() + " has no resolution");
  }
  eo.hardware_features = o.hardware.size();
  const hwnas::encoder_for<Space> enc(space, eo);
  std::vector<typename Space::arch_type> archs;
  if constexpr (std::is_same_v<Space, MbConvSpace>) {
    archs = o.arch.load(space, false).archs;
    for (const auto& a : archs) space.validate(a);
  } else {
    archs = o.arch.load(space).archs;
  }
  const auto m = enc.template encode_batch<double>(archs, o.hardware);
  Json rows = Json::array();
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    std::vector<double> row(m.row(i).data(), m.row(i).data() + m.cols());
    if (o.json) {
      rows.push_back(row);
    } else {
      for (std::size_t j = 0; j < row.size(); ++j) std::cout << (j ? "," : "") << hwnas::detail::format_double(row[j]);
      std::cout << '\n';
    }
  }
  if (o.json) {
    Json j = {{"space", space.name()}};
    if constexpr (std::is_same_v<Space, MbConvSpace>) j["encoding"] = o.encoding.empty() ? "bins8" : o.encoding;
    j.update({{"dim", enc.dim()}, {"encodings", rows}});
    print_json(j);
  }
  return 0;
}

int run_encode(const EncodeOptions& o) {
  return std::visit([&](const auto& space) { return encode_in(space, o); }, o.space.make_any());
}

// ------------------------------------------------------------- validate ----

struct ValidateOptions {
  SpaceArgs space;
  std::string file;
  bool json = false;
};

int run_validate(const ValidateOptions& o) {
  return std::visit(
      [&](const auto& space) {
        const auto archs = read_archs(space, o.file);
        Json errors = Json::array();
        for (std::size_t i = 0; i < archs.size(); ++i) {
          try {
            space.validate(archs[i]);
          } catch (const hwnas::InvalidArgument& e) {
            errors.push_back({{"index", i}, {"message", e.what()}});
            if (!o.json) std::cerr << o.file << ": architecture " << i << ": " << e.what() << '\n';
          }
        }
        const std::size_t invalid = errors.size();
        if (o.json) {
          print_json({{"space", space.name()}, {"file", o.file}, {"valid", archs.size() - invalid},
                      {"invalid", invalid}, {"errors", errors}});
        } else {
          std::cout << o.file << ": " << archs.size() - invalid << " valid, " << invalid << " invalid ("
                    << space.name() << ")\n";
        }
        return invalid == 0 ? 0 : 1;
      },
      o.space.make_any());
}

}  // namespace

void add_space_commands(CLI::App& app, int& status) {
  {
    auto o = std::make_shared<InfoOptions>();
    auto* cmd = app.add_subcommand("info", "version and the preset spaces");
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_info(*o); });
  }
  {
    auto o = std::make_shared<CountOptions>();
    auto* cmd = app.add_subcommand("count", "exact number of architectures of a space");
    o->space.add_to(*cmd);
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_count(*o); });
  }
  {
    auto o = std::make_shared<SampleOptions>();
    auto* cmd = app.add_subcommand("sample", "random architectures, one OFA spec JSON per line");
    o->space.add_to(*cmd);
    cmd->add_option("--n", o->n, "number of architectures")->capture_default_str()->check(non_negative());
    cmd->add_option("--seed", o->seed, "random seed")->capture_default_str()->check(non_negative());
    cmd->add_flag("--distinct", o->distinct, "uniform over distinct networks instead of OFA's per-gene sampling");
    cmd->add_flag("--image-size", o->image_size, "write \"image_size\": R instead of \"r\": [R]");
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_sample(*o); });
  }
  {
    auto o = std::make_shared<MacsOptions>();
    auto* cmd = app.add_subcommand("macs", "MACs and parameters of architectures");
    o->space.add_to(*cmd);
    o->arch.add_to(*cmd);
    cmd->add_flag("--layers", o->layers, "print the layer list with shapes");
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_macs(*o); });
  }
  {
    auto o = std::make_shared<EncodeOptions>();
    auto* cmd = app.add_subcommand("encode", "feature vectors of architectures (one CSV row each)");
    o->space.add_to(*cmd);
    o->arch.add_to(*cmd);
    cmd->add_option("--encoding", o->encoding,
                    "resolution encoding of an MBConv space: bins8 (the method, the default), one-hot, numeric, none");
    add_list_option(*cmd, "--hardware", o->hardware, "hardware features appended to every row");
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_encode(*o); });
  }
  {
    auto o = std::make_shared<ValidateOptions>();
    auto* cmd = app.add_subcommand("validate", "check every architecture of a file against a space");
    o->space.add_to(*cmd);
    cmd->add_option("file", o->file, "JSON, JSON array, JSON lines or dataset CSV")->required();
    add_json_flag(*cmd, o->json);
    cmd->callback([o, &status] { status = run_validate(*o); });
  }
}

}  // namespace hwnas_cli
