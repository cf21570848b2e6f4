// kiln: build, run, measure and inspect ONNX models from the command line.
// Each subcommand lives in its own file (run_command.cc, bench_command.cc, ...).
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln: build, run, measure, inspect and serve ONNX models"};
  app.require_subcommand(1);
  kiln::cli::CommandAction action;
  kiln::cli::add_build_command(app, action);
  kiln::cli::add_run_command(app, action);
  kiln::cli::add_bench_command(app, action);
  kiln::cli::add_inspect_command(app, action);
  kiln::cli::add_serve_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a ParseError with exit code 0; every real usage error exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  // The library reports errors as values; this only turns an escaped exception
  // (std::bad_alloc from a container, say) into a message and exit code 1.
  try {
    return action ? action() : 0;
  } catch (const std::exception& e) {
    std::cerr << "kiln: error: " << e.what() << "\n";
    return 1;
  }
}
