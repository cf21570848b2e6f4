// The `kiln` subcommands. Each add_*_command registers its options on `app`;
// when the subcommand is chosen on the command line, parsing stores in
// `action` the function that runs it and returns the process exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace kiln::cli {

using CommandAction = std::function<int()>;

void add_run_command(CLI::App& app, CommandAction& action);
void add_bench_command(CLI::App& app, CommandAction& action);
void add_inspect_command(CLI::App& app, CommandAction& action);
void add_build_command(CLI::App& app, CommandAction& action);
void add_serve_command(CLI::App& app, CommandAction& action);

}  // namespace kiln::cli
