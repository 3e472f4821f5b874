// w4a8: the command line front door. Library errors become a message on
// stderr and a non-zero exit code.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <exception>

#include "cli/commands.h"
#include "w4a8/version.h"

int main(int argc, char** argv) {
  CLI::App app{"w4a8 " W4A8_VERSION
               ": W4A8 integer linear layers (int4 weights, per-token int8 activations) for LLM inference"};
  app.require_subcommand(1);
  w4a8::cli::add_info_command(app);
  w4a8::cli::add_check_command(app);
  w4a8::cli::add_bench_command(app);
  w4a8::cli::add_demo_command(app);
  w4a8::cli::add_checkpoint_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    fmt::print(stderr, "w4a8: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
