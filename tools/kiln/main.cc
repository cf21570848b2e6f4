// kiln: build, run, measure and inspect ONNX models from the command line.
// Each subcommand lives in its own file (run_command.cc, bench_command.cc, ...).
#include <CLI/CLI.hpp>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln: run, measure and inspect ONNX models"};
  app.require_subcommand(1);
  kiln::cli::CommandAction action;
  kiln::cli::add_run_command(app, action);
  kiln::cli::add_bench_command(app, action);
  kiln::cli::add_inspect_command(app, action);
  CLI11_PARSE(app, argc, argv);
  return action ? action() : 0;
}
