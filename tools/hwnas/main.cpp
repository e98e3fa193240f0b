// The hwnas command-line program: one subcommand per workflow (spaces and
// architectures; training, evaluating, fine-tuning, tuning and using latency
// predictors; measuring; lookup tables; search). Each command group lives in
// its own file and each command owns its options; this file builds the
// parser and turns errors into messages and exit codes. With --json every
// subcommand prints exactly one JSON object on stdout; errors go to stderr
// with a non-zero exit code, progress of long runs goes to stderr.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <string>

#include "common.hpp"
#include "hwnas/error.hpp"
#include "hwnas/version.hpp"

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
