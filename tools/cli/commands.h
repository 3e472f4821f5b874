// The subcommands of the `w4a8` tool, one file each.
#pragma once

#include <CLI/CLI.hpp>

namespace w4a8::cli {

void add_info_command(CLI::App& app);
void add_check_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_checkpoint_commands(CLI::App& app);  // quantize, inspect, run

}  // namespace w4a8::cli
