// w4a8 quantize / inspect / run: checkpoints from the command line.
#include <fmt/core.h>

#include "cli/checkpoint_report.h"
#include "cli/commands.h"
#include "w4a8/w4a8.h"

namespace w4a8::cli {

void add_checkpoint_commands(CLI::App& app) {
  {
    auto* cmd = app.add_subcommand("quantize", "Quantize a dense fp16/bf16 safetensors model to a W4A8 checkpoint");
    static std::string in, out;
    static io::QuantizeModelOptions opt;
    static std::vector<std::string> ignore = {"lm_head"};
    static bool asymmetric = false;
    cmd->add_option("IN", in, "Model folder (or one .safetensors file)")->required();
    cmd->add_option("OUT", out, "Output folder (created; must be empty unless --overwrite)")->required();
    cmd->add_option("--group-size", opt.group_size, "Weights per scale along K; -1: one per output channel")
        ->capture_default_str();
    cmd->add_option("--format", opt.format, "int-quantized or pack-quantized")
        ->check(CLI::IsMember({"int-quantized", "pack-quantized"}))
        ->capture_default_str();
    cmd->add_option("--ignore", ignore, "Modules kept dense: names, or re:<regex>")->capture_default_str();
    cmd->add_flag("--asymmetric", asymmetric, "int4 zero points per group (uint4 range)");
    cmd->add_flag("--overwrite", opt.overwrite, "Replace files in a non-empty OUT");
    cmd->callback([] {
      opt.ignore = ignore;
      opt.symmetric = !asymmetric;
      quantize_with_progress(in, out, opt);
    });
  }
  {
    auto* cmd = app.add_subcommand("inspect", "List the layers of a checkpoint and whether w4a8 can run each");
    static std::string path;
    cmd->add_option("PATH", path, "Model folder or .safetensors file")->required();
    cmd->callback([] {
      auto ck = io::Checkpoint::open(path);
      if (!ck) throw Error(ck.status());
      print_layer_table(*ck);
    });
  }
  {
    auto* cmd = app.add_subcommand("run", "Load one layer of a checkpoint and run it forward");
    static std::string path, layer, backend = "auto";
    static int64_t tokens = 8;
    cmd->add_option("PATH", path, "Model folder or .safetensors file")->required();
    cmd->add_option("--layer", layer, "Layer name, as `w4a8 inspect` lists it")->required();
    cmd->add_option("--tokens", tokens, "Tokens per forward (M)")->capture_default_str();
    cmd->add_option("--backend", backend, "Backend (auto: the best available)")->capture_default_str();
    cmd->callback([] {
      auto ck = io::Checkpoint::open(path);
      if (!ck) throw Error(ck.status());
      run_checkpoint_layer(*ck, layer, tokens, backend);
    });
  }
}

}  // namespace w4a8::cli
