// w4a8 demo (the README's main job): a Llama-3-8B-sized MLP projection with
// heavy-tailed weights, quantized to W4A8 and run on the best backend, with
// its error against the float layer and its speed against OpenBLAS sgemm.
#include <fmt/core.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "cli/checkpoint_report.h"
#include "cli/commands.h"
#include "cli/fp32_baseline.h"
#include "cli/layer_builder.h"
#include "cli/synthetic.h"
#include "cli/synthetic_model.h"
#include "cli/timer.h"
#include "w4a8/w4a8.h"

namespace w4a8::cli {

namespace {
double rel_err(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += static_cast<double>(got[i] - want[i]) * (got[i] - want[i]);
    den += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(num / den);
}

// Part two: a small dense model through `w4a8 quantize`, `inspect` and `run`.
void checkpoint_part(const std::string& workdir, const std::string& backend) {
  std::string root = workdir;
  bool temporary = false;
  if (root.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "w4a8-demo-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary folder");
    root = tmpl;
    temporary = true;
  }
  const std::string dense = root + "/dense", quantized = root + "/w4a8";
  fmt::print("\n--- a checkpoint, end to end ---\n");
  fmt::print("[1/4] writing a small dense Llama-shaped bf16 model (2 shards + index) to {}\n", dense);
  std::filesystem::remove_all(dense);
  write_synthetic_model(dense, {}, 7);
  fmt::print("[2/4] w4a8 quantize {} {} --format pack-quantized --group-size 128\n", dense, quantized);
  io::QuantizeModelOptions opt;
  opt.overwrite = true;
  quantize_with_progress(dense, quantized, opt);
  fmt::print("[3/4] w4a8 inspect {}\n", quantized);
  auto ck = io::Checkpoint::open(quantized);
  if (!ck) throw Error(ck.status());
  print_layer_table(*ck);
  fmt::print("[4/4] w4a8 run {} --layer model.layers.0.mlp.up_proj --tokens 4\n", quantized);
  run_checkpoint_layer(*ck, "model.layers.0.mlp.up_proj", 4, backend);
  if (temporary) {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  } else {
    fmt::print("the checkpoints stay in {}\n", root);
  }
}

struct Stopwatch {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
};
}  // namespace

void add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Quantize a synthetic Llama-3-8B MLP projection and run it (the main job)");
  static int64_t n = 14336, k = 4096, m = 8, group = 128;
  static std::string backend = "auto", workdir;
  static bool skip_checkpoint = false;
  cmd->add_option("--n", n, "Output features (default: Llama-3-8B up_proj)")->capture_default_str();
  cmd->add_option("--k", k, "Input features")->capture_default_str();
  cmd->add_option("--tokens", m, "Tokens per forward (M)")->capture_default_str();
  cmd->add_option("--group", group, "Group size (-1: per channel)")->capture_default_str();
  cmd->add_option("--backend", backend, "Backend (auto: the best available)")->capture_default_str();
  cmd->add_option("--workdir", workdir,
                  "Folder for the demo checkpoints (kept); default: a temporary folder, removed afterwards");
  cmd->add_flag("--skip-checkpoint", skip_checkpoint, "Only the single-layer part");
  cmd->callback([] {
    LinearConfig cfg;
    cfg.in_features = k;
    cfg.out_features = n;
    cfg.group_size = group;
    throw_if_error(can_implement(cfg));
    if (m <= 0) throw std::runtime_error("--tokens must be positive");
    const bool llama = n == 14336 && k == 4096;
    fmt::print("w4a8 demo: {}x{} linear layer{}, {} tokens, group {}\n\n", n, k,
               llama ? " (Llama-3-8B MLP up_proj)" : "", m, group);

    Stopwatch t;
    fmt::print("[1/5] generating fp16 weights (Laplace, sparse 10x outliers) and activations (20x outlier channels)... ");
    std::fflush(stdout);
    const auto w = heavy_tailed_weights(n, k, 1);
    const auto x = llm_like_activations(m, k, 2);
    fmt::print("{:.2f} s\n", t.seconds());

    t = {};
    fmt::print("[2/5] quantizing weights to int4 (round-to-nearest, scale = amax/7.5) and preparing the layer... ");
    std::fflush(stdout);
    QuantizedLayer q = quantize_layer(w, n, k, group, backend);
    fmt::print("{:.2f} s, backend '{}'\n", t.seconds(), q.layer.backend_name());

    fmt::print("[3/5] running the W4A8 forward (per-token int8 activations, int32 group sums)...\n");
    Tensor x16(DType::f16, {m, k}), y16(DType::f16, {m, n});
    for (int64_t i = 0; i < m * k; ++i) store_from_float(x16.view(), i, x[i]);
    const Timing ours = time_it([&] { throw_if_error(q.layer.forward(x16.view(), y16.view())); }, 0.5);
    std::vector<float> y_w4a8(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m * n; ++i) y_w4a8[i] = load_as_float(y16.view(), i);

    fmt::print("[4/5] running the float layer with {}...\n", fp32_baseline_name());
    std::vector<float> w32(static_cast<size_t>(n * k)), x32(static_cast<size_t>(m * k)), y_float(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < n * k; ++i) w32[i] = half_bits_to_float(float_to_half_bits(w[i]));  // the fp16 checkpoint
    for (int64_t i = 0; i < m * k; ++i) x32[i] = load_as_float(x16.view(), i);
    const Timing base = time_it([&] { sgemm_xwt(x32.data(), w32.data(), y_float.data(), m, n, k); }, 0.5);

    fmt::print("[5/5] measuring the quantization error...\n\n");
    const std::vector<float> w_hat = q.dequantized();
    std::vector<float> y_w4a16(static_cast<size_t>(m * n));
    sgemm_xwt(x32.data(), w_hat.data(), y_w4a16.data(), m, n, k);  // weights quantized, activations float

    const double fp16_bytes = 2.0 * n * k;
    fmt::print("weights:     fp16 {:.1f} MiB -> W4A8 {:.1f} MiB ({:.2f}x smaller)\n", fp16_bytes / (1 << 20),
               q.weight_bytes() / double(1 << 20), fp16_bytes / q.weight_bytes());
    fmt::print("error vs the float layer (||y - y_float|| / ||y_float||):\n");
    fmt::print("  weight quantization alone (W4A16): {:.4f}\n", rel_err(y_w4a16, y_float));
    fmt::print("  W4A8 (int4 weights, int8 tokens):  {:.4f}\n", rel_err(y_w4a8, y_float));
    fmt::print("  relative weight error ||W - W_hat|| / ||W||: {:.4f}\n", rel_err(w_hat, w32));
    fmt::print("speed ({} threads, median of {} runs):\n", num_threads(), ours.iterations);
    fmt::print("  W4A8 forward on '{}': {:10.1f} us\n", q.layer.backend_name(), ours.median_s * 1e6);
    fmt::print("  {}:     {:10.1f} us   (W4A8 is {:.2f}x the speed of fp32)\n", fp32_baseline_name(),
               base.median_s * 1e6, base.median_s / ours.median_s);
    if (std::string(q.layer.backend_name()) == "reference")
      fmt::print("\nnote: only the plain reference backend exists in this build; it is written for clarity, not speed.\n");
    if (!skip_checkpoint) checkpoint_part(workdir, backend);
  });
}

}  // namespace w4a8::cli
