// The hwnas command-line program: one subcommand per workflow (spaces and
// architectures; training, evaluating, fine-tuning, tuning and using latency
// predictors; measuring; lookup tables; search). Each command group lives in
// its own file and each command owns its options; this file builds the
// parser and turns errors into messages and exit codes. With --json every
// subcommand prints exactly one JSON object on stdout; errors go to stderr
// with a non-zero exit code, progress of long runs goes to stderr.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"
#include "hwnas/error.hpp"
#include "hwnas/version.hpp"

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// The first option on the command line that its command does not have, as
/// a message with the closest option's name when one is close; empty when
/// every option is known. CLI11 checks the required options before it looks
/// for unknown ones, so a misspelt option would be reported as a missing one.
std::string unknown_option(const CLI::App& app, int argc, char** argv) {
  const CLI::App* cmd = &app;
  std::string path = "hwnas";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    std::string name;
    if (arg.size() > 2 && arg.starts_with("--")) {
      name = arg.substr(0, arg.find('='));
    } else if (arg.size() >= 2 && arg[0] == '-' && std::isalpha(static_cast<unsigned char>(arg[1]))) {
      name = arg.substr(0, 2);
    } else {
      const auto subs = cmd->get_subcommands([&arg](const CLI::App* s) { return s->check_name(arg); });
      if (!subs.empty()) {
        cmd = subs.front();
        path += " " + cmd->get_name();
      }
      continue;
    }
    if (const CLI::Option* opt = cmd->get_option_no_throw(name)) {
      if (opt->get_type_size() > 0 && name.size() == arg.size()) ++i;  // its value, which may start with '-'
      continue;
    }
    std::string message = path + ": unknown option " + name;
    std::string closest;
    std::size_t best = std::max<std::size_t>(2, name.size() / 4) + 1;
    for (const CLI::Option* opt : cmd->get_options()) {
      for (const auto& l : opt->get_lnames()) {
        if (const auto d = edit_distance(name, "--" + l); d < best) best = d, closest = "--" + l;
      }
    }
    if (!closest.empty()) message += "; did you mean " + closest + "?";
    return message;
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hwnas: hardware-aware neural architecture search"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(hwnas::version_string));

  int status = 0;
  hwnas_cli::add_space_commands(app, status);
  hwnas_cli::add_quickstart_command(app, status);
  hwnas_cli::add_predictor_commands(app, status);
  hwnas_cli::add_tune_command(app, status);
  hwnas_cli::add_device_commands(app, status);
  hwnas_cli::add_measure_commands(app, status);
  hwnas_cli::add_search_command(app, status);

  // The commands run as the parser's callbacks, after every option is read
  // and checked.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      if (const auto unknown = unknown_option(app, argc, argv); !unknown.empty()) {
        std::cerr << unknown << "\nRun with --help for more information.\n";
        return static_cast<int>(CLI::ExitCodes::ExtrasError);
      }
    }
    return app.exit(e);
  } catch (const hwnas::Error& e) {
    std::cerr << "hwnas: error: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "hwnas: unexpected error: " << e.what() << '\n';
    return 3;
  }
  return status;
}
