// The hwnas command-line program: one subcommand per workflow. With --json
// every subcommand prints exactly one JSON object on stdout; errors go to
// stderr with a non-zero exit code.
#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "hwnas/arch_io.hpp"
#include "hwnas/hwnas.hpp"

namespace {

using hwnas::Architecture;
using hwnas::MbConvSpace;
using nlohmann::json;

/// Options shared by the subcommands that work on a space.
struct SpaceArgs {
  std::string space = "ofa-mbv3";
  double width = 1.0;
  std::vector<int> resolutions;

  void add_to(CLI::App& cmd, bool required = true) {
    auto* opt = cmd.add_option("--space", space, "search space: ofa-mbv3, compofa-fixed, compofa-elastic, ofa-proxyless");
    if (required) opt->required();
    cmd.add_option("--width", width, "width multiplier of the supernet (OFA publishes 1.0 and 1.2 for MobileNetV3, 1.3 for ProxylessNAS)")
        ->capture_default_str();
    cmd.add_option("--resolutions", resolutions, "comma-separated resolution list (default: 128..224 step 4)")
        ->delimiter(',');
  }

  MbConvSpace make() const {
    auto s = MbConvSpace::preset(space, width);
    return resolutions.empty() ? s : s.with_resolutions(resolutions);
  }
};

/// `--arch JSON` or `--arch @FILE` (JSON, JSON array, JSON lines or dataset CSV).
std::vector<Architecture> load_archs(const std::string& arg) {
  if (!arg.empty() && arg[0] == '@') return hwnas::read_arch_file(arg.substr(1));
  return hwnas::parse_arch_list(arg, "--arch");
}

std::string mmacs(std::int64_t macs) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(3) << macs / 1e6;
  return s.str();
}

json space_json(const MbConvSpace& space) {
  const auto& o = space.options();
  return {{"name", space.name()},
          {"width", o.width},
          {"kernel_choices", o.kernel_choices},
          {"expand_choices", o.expand_choices},
          {"depth_choices", o.depth_choices},
          {"resolutions", o.resolutions},
          {"slots", space.num_slots()},
          {"stages", space.num_stages()}};
}

json layer_json(const hwnas::Layer& l) {
  return {{"kind", std::string(hwnas::to_string(l.kind))},
          {"in", {l.in_size, l.in_size, l.in_channels}},
          {"out", {l.out_size, l.out_size, l.out_channels}},
          {"kernel", l.kernel},
          {"stride", l.stride},
          {"expand", l.expand_ratio},
          {"mid", l.mid_channels},
          {"se", l.se_channels},
          {"act", std::string(hwnas::to_string(l.act))},
          {"shortcut", l.shortcut},
          {"macs", l.macs()},
          {"params", l.params()}};
}

void print(const json& j) { std::cout << j.dump(2) << '\n'; }

int cmd_info(bool as_json) {
  json spaces = json::array();
  for (const auto& name : MbConvSpace::preset_names()) {
    const auto s = MbConvSpace::preset(name);
    spaces.push_back({{"name", name}, {"slots", s.num_slots()}, {"stages", s.num_stages()},
                      {"per_resolution", s.count_per_resolution().to_string()}});
  }
  const std::string eigen = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) +
                            "." + std::to_string(EIGEN_MINOR_VERSION);
  if (as_json) {
    print({{"version", hwnas::version_string},
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

int cmd_count(const SpaceArgs& args, bool as_json) {
  const auto space = args.make();
  const auto per = space.count_per_resolution();
  const auto total = space.count();
  const auto n_res = space.options().resolutions.size();
  if (as_json) {
    // Counts are strings: they overflow 64-bit integers.
    print({{"space", space_json(space)},
           {"per_resolution", per.to_string()},
           {"resolutions", n_res},
           {"total", total.to_string()}});
    return 0;
  }
  std::cout << space.name() << " (width " << args.width << "): " << per.to_string()
            << " architectures per resolution x " << n_res << " resolutions = " << total.to_string() << "\n";
  return 0;
}

int cmd_sample(const SpaceArgs& args, std::size_t n, std::uint64_t seed, bool distinct, bool image_size,
               bool as_json) {
  const auto space = args.make();
  hwnas::Rng rng(seed);
  const auto form = image_size ? hwnas::SpecForm::image_size : hwnas::SpecForm::r_list;
  json archs = json::array();
  for (std::size_t i = 0; i < n; ++i) {
    const auto a = distinct ? space.sample_distinct(rng) : space.sample(rng);
    if (as_json) {
      archs.push_back(json::parse(hwnas::arch_to_json(a, form)));
    } else {
      std::cout << hwnas::arch_to_json(a, form) << '\n';
    }
  }
  if (as_json) print({{"space", space.name()}, {"seed", seed}, {"archs", archs}});
  return 0;
}

int cmd_macs(const SpaceArgs& args, const std::string& arch_arg, bool layers, bool as_json) {
  const auto space = args.make();
  json results = json::array();
  for (const auto& a : load_archs(arch_arg)) {
    const auto list = space.layers(a);
    const auto cost = hwnas::network_cost(list);
    json r = {{"arch", json::parse(hwnas::arch_to_json(a))}, {"macs", cost.macs}, {"params", cost.params}};
    if (layers) {
      r["layers"] = json::array();
      for (const auto& l : list) r["layers"].push_back(layer_json(l));
    }
    if (!as_json) {
      std::cout << mmacs(cost.macs) << " M MACs, " << mmacs(cost.params) << " M params  "
                << hwnas::arch_to_json(a) << '\n';
      if (layers) {
        for (const auto& l : list) {
          std::cout << "  " << std::left << std::setw(13) << hwnas::to_string(l.kind) << l.in_size << 'x'
                    << l.in_size << 'x' << l.in_channels << " -> " << l.out_size << 'x' << l.out_size << 'x'
                    << l.out_channels << "  k" << l.kernel << " s" << l.stride << " mid " << l.mid_channels
                    << " se " << l.se_channels << ' ' << hwnas::to_string(l.act) << (l.shortcut ? " +id" : "")
                    << "  " << l.macs() << " MACs\n";
        }
      }
    }
    results.push_back(std::move(r));
  }
  if (as_json) print({{"space", space.name()}, {"results", results}});
  return 0;
}

int cmd_encode(const SpaceArgs& args, const std::string& arch_arg, const std::string& encoding,
               const std::vector<double>& hardware, bool as_json) {
  const auto space = args.make();
  hwnas::Encoder::Options opts;
  opts.resolution = hwnas::resolution_encoding_from_string(encoding);
  opts.hardware_features = hardware.size();
  const hwnas::Encoder enc(space, opts);
  const auto archs = load_archs(arch_arg);
  for (const auto& a : archs) space.validate(a);
  const auto m = enc.encode_batch<double>(archs, hardware);
  json rows = json::array();
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    std::vector<double> row(m.row(i).data(), m.row(i).data() + m.cols());
    if (as_json) {
      rows.push_back(row);
    } else {
      for (std::size_t j = 0; j < row.size(); ++j) std::cout << (j ? "," : "") << row[j];
      std::cout << '\n';
    }
  }
  if (as_json) print({{"space", space.name()}, {"encoding", encoding}, {"dim", enc.dim()}, {"encodings", rows}});
  return 0;
}

int cmd_validate(const SpaceArgs& args, const std::string& file, bool as_json) {
  const auto space = args.make();
  const auto archs = hwnas::read_arch_file(file);
  json errors = json::array();
  for (std::size_t i = 0; i < archs.size(); ++i) {
    try {
      space.validate(archs[i]);
    } catch (const hwnas::InvalidArgument& e) {
      errors.push_back({{"index", i}, {"message", e.what()}});
      if (!as_json) std::cerr << file << ": architecture " << i << ": " << e.what() << '\n';
    }
  }
  const std::size_t invalid = errors.size();
  if (as_json) {
    print({{"space", space.name()}, {"file", file}, {"valid", archs.size() - invalid}, {"invalid", invalid},
           {"errors", errors}});
  } else {
    std::cout << file << ": " << archs.size() - invalid << " valid, " << invalid << " invalid ("
              << space.name() << ")\n";
  }
  return invalid == 0 ? 0 : 1;
}

/// The main job on an embedded default: every preset space, a few sampled
/// architectures with their MACs and encodings.
int cmd_quickstart(std::uint64_t seed, bool as_json) {
  json spaces = json::array();
  if (!as_json) std::cout << "hwnas " << hwnas::version_string << " quickstart (seed " << seed << ")\n";
  for (const auto& name : MbConvSpace::preset_names()) {
    for (double width : name == "ofa-proxyless" ? std::vector<double>{1.3} : std::vector<double>{1.0, 1.2}) {
      const auto space = MbConvSpace::preset(name, width);
      const hwnas::Encoder enc(space);
      hwnas::Rng rng(seed);
      json samples = json::array();
      if (!as_json) {
        std::cout << "\n" << name << " w" << std::fixed << std::setprecision(1) << width << std::defaultfloat << std::setprecision(6) << ": " << space.count_per_resolution().to_string()
                  << " architectures per resolution, " << space.count().to_string() << " with "
                  << space.options().resolutions.size() << " resolutions; encoding " << enc.dim() << "-d\n";
      }
      for (int i = 0; i < 3; ++i) {
        const auto a = space.sample(rng);
        const auto cost = space.cost(a);
        hwnas::RowVector<float> v(static_cast<Eigen::Index>(enc.dim()));
        enc.encode<float>(a, v);
        std::vector<int> hot;
        for (Eigen::Index j = 0; j < v.size(); ++j) {
          if (v(j) != 0.0f) hot.push_back(static_cast<int>(j));
        }
        samples.push_back({{"arch", json::parse(hwnas::arch_to_json(a))},
                           {"macs", cost.macs},
                           {"params", cost.params},
                           {"encoding_hot", hot}});
        if (!as_json) {
          std::cout << "  r=" << a.r << " d=[";
          for (std::size_t s = 0; s < a.d.size(); ++s) std::cout << (s ? "," : "") << a.d[s];
          std::cout << "]  " << mmacs(cost.macs) << " M MACs  " << mmacs(cost.params) << " M params  "
                    << hot.size() << " of " << enc.dim() << " encoding bits set\n";
        }
      }
      spaces.push_back({{"space", name},
                        {"width", width},
                        {"per_resolution", space.count_per_resolution().to_string()},
                        {"encoding_dim", enc.dim()},
                        {"samples", samples}});
    }
  }
  if (as_json) print({{"version", hwnas::version_string}, {"seed", seed}, {"spaces", spaces}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hwnas: hardware-aware neural architecture search"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(hwnas::version_string));

  bool as_json = false;
  auto json_flag = [&as_json](CLI::App* cmd) {
    cmd->add_flag("--json", as_json, "print one JSON object on stdout");
  };

  auto* info = app.add_subcommand("info", "version and the preset spaces");
  json_flag(info);

  SpaceArgs space_args;
  auto* count = app.add_subcommand("count", "exact number of architectures of a space");
  space_args.add_to(*count);
  json_flag(count);

  // CLI11 reads "-1" into an unsigned option as its wrapped value, so `--n -1`
  // would sample forever: negative counts and seeds are rejected before the
  // conversion (CLI::NonNegativeNumber would print DBL_MAX in full).
  const CLI::Validator non_negative(
      [](std::string& value) {
        const auto first = value.find_first_not_of(" \t");
        return first != std::string::npos && value[first] == '-' ? "must not be negative, found " + value
                                                                   : std::string();
      },
      "NON-NEGATIVE");

  std::size_t n = 10;
  std::uint64_t seed = 0;
  bool distinct = false, image_size = false;
  auto* sample = app.add_subcommand("sample", "random architectures, one OFA spec JSON per line");
  space_args.add_to(*sample);
  sample->add_option("--n", n, "number of architectures")->capture_default_str()->check(non_negative);
  sample->add_option("--seed", seed, "random seed")->capture_default_str()->check(non_negative);
  sample->add_flag("--distinct", distinct, "uniform over distinct networks instead of OFA's per-gene sampling");
  sample->add_flag("--image-size", image_size, "write \"image_size\": R instead of \"r\": [R]");
  json_flag(sample);

  std::string arch_arg;
  bool show_layers = false;
  auto* macs = app.add_subcommand("macs", "MACs and parameters of architectures");
  space_args.add_to(*macs);
  macs->add_option("--arch", arch_arg, "spec JSON, or @FILE (JSON, JSON array, JSON lines, dataset CSV)")->required();
  macs->add_flag("--layers", show_layers, "print the layer list with shapes");
  json_flag(macs);

  std::string encoding = "bins8";
  std::vector<double> hardware;
  auto* encode = app.add_subcommand("encode", "feature vectors of architectures (one CSV row each)");
  space_args.add_to(*encode);
  encode->add_option("--arch", arch_arg, "spec JSON, or @FILE")->required();
  encode->add_option("--encoding", encoding, "resolution encoding: bins8 (the method), one-hot, numeric, none")
      ->capture_default_str();
  encode->add_option("--hardware", hardware, "hardware features appended to every row, comma-separated")
      ->delimiter(',');
  json_flag(encode);

  std::string file;
  auto* validate = app.add_subcommand("validate", "check every architecture of a file against a space");
  space_args.add_to(*validate);
  validate->add_option("file", file, "JSON, JSON array, JSON lines or dataset CSV")->required();
  json_flag(validate);

  auto* quickstart = app.add_subcommand("quickstart", "the main job on an embedded default");
  quickstart->add_option("--seed", seed, "random seed")->capture_default_str()->check(non_negative);
  json_flag(quickstart);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*info) return cmd_info(as_json);
    if (*count) return cmd_count(space_args, as_json);
    if (*sample) return cmd_sample(space_args, n, seed, distinct, image_size, as_json);
    if (*macs) return cmd_macs(space_args, arch_arg, show_layers, as_json);
    if (*encode) return cmd_encode(space_args, arch_arg, encoding, hardware, as_json);
    if (*validate) return cmd_validate(space_args, file, as_json);
    if (*quickstart) return cmd_quickstart(seed, as_json);
  } catch (const hwnas::Error& e) {
    std::cerr << "hwnas: error: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "hwnas: unexpected error: " << e.what() << '\n';
    return 3;
  }
  return 0;
}
