// Printing for the checkpoint commands: progress, the layer table, one run.
#include "cli/checkpoint_report.h"

#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <cmath>

#include "cli/synthetic.h"
#include "cli/timer.h"
#include "w4a8/w4a8.h"

namespace w4a8::cli {

namespace {
std::string mib(uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

std::string shorten(const std::string& s, size_t width) {
  return s.size() <= width ? s : "..." + s.substr(s.size() - (width - 3));
}
}  // namespace

io::QuantizeSummary quantize_with_progress(const std::string& in, const std::string& out,
                                           const io::QuantizeModelOptions& options) {
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  int last_decile = -1;
  auto progress = [&](const io::QuantizeProgress& p) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double frac = p.bytes_total ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1.0;
    const int filled = static_cast<int>(frac * 30);
    const std::string bar = std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(30 - filled), '.');
    const std::string line = fmt::format("[{}] {:3.0f}%  {}/{} tensors  {} / {}  {:.1f} tensors/s  {}", bar, 100 * frac,
                                         p.tensors_done, p.tensors_total, mib(p.bytes_done), mib(p.bytes_total),
                                         s > 0 ? static_cast<double>(p.tensors_done) / s : 0.0, shorten(p.current, 40));
    if (tty) {
      fmt::print(stderr, "\r{:<130}", line);
      if (p.tensors_done == p.tensors_total) fmt::print(stderr, "\n");
    } else if (static_cast<int>(frac * 10) != last_decile) {  // logs get a line per 10%
      last_decile = static_cast<int>(frac * 10);
      fmt::print(stderr, "{}\n", line);
    }
  };
  auto summary = io::quantize_model(in, out, options, progress);
  if (!summary) throw Error(summary.status());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("quantized {} linear layers to int4 ({}, group {}, {}) in {:.2f} s; kept {} tensors as they were\n",
             summary->layers_quantized, options.format, options.group_size,
             options.symmetric ? "symmetric" : "asymmetric", s, summary->tensors_kept);
  fmt::print("size: {} -> {} ({:.2f}x smaller)\n", mib(summary->bytes_in), mib(summary->bytes_out),
             summary->bytes_out ? static_cast<double>(summary->bytes_in) / static_cast<double>(summary->bytes_out) : 0.0);
  if (summary->layers_quantized)
    fmt::print("relative weight error ||W - dq(W)|| / ||W||: mean {:.4f}, max {:.4f} ({})\n", summary->mean_rel_error,
               summary->max_rel_error, summary->worst_layer);
  for (const std::string& r : summary->not_quantized) fmt::print("kept dense: {}\n", r);
  for (const std::string& f : summary->files_copied) fmt::print("copied: {}\n", f);
  for (const std::string& f : summary->not_copied) fmt::print("not copied: {}\n", f);
  fmt::print("wrote {}\n", out);
  return *summary;
}

size_t print_layer_table(const io::Checkpoint& checkpoint) {
  const io::QuantizationConfig& q = checkpoint.quantization();
  fmt::print("{}: {} tensors in {} file{}; quantization: {}\n", checkpoint.files().dir(),
             checkpoint.files().tensor_names().size(), checkpoint.files().shard_names().size(),
             checkpoint.files().shard_names().size() == 1 ? "" : "s",
             q.quant_method.empty() ? "none" : q.quant_method + " (" + q.format + ")");
  fmt::print("{:<44} {:>13} {:<15} {:>4} {:>6} {:<5} {:<4} {:<5} {:<4} {:<11}  {}\n", "layer", "out x in", "format",
             "bits", "group", "scale", "zp", "g_idx", "bias", "activations", "runs here");
  size_t runnable = 0;
  for (const io::LayerInfo& l : checkpoint.layers()) {
    runnable += l.runnable.is_ok();
    // How the layer's activations are quantized: dynamic per token or static, symmetric or with zero points.
    const std::string acts = l.format == "dense" ? "-"
                             : std::string(l.act_static ? "static" : "dynamic") + (l.act_asymmetric ? "+zp" : "");
    fmt::print("{:<44} {:>13} {:<15} {:>4} {:>6} {:<5} {:<4} {:<5} {:<4} {:<11}  {}\n", shorten(l.name, 44),
               fmt::format("{}x{}", l.out_features, l.in_features), l.format, l.bits,
               l.format == "dense" ? "-" : (l.group_size > 0 ? std::to_string(l.group_size) : "chan"),
               l.scale_dtype.empty() ? "-" : l.scale_dtype, l.zero_points ? "yes" : "no", l.g_idx ? "yes" : "no",
               l.bias ? "yes" : "no", acts, l.runnable.is_ok() ? "yes" : "no: " + l.runnable.message());
  }
  fmt::print("{} of {} layers run on w4a8\n", runnable, checkpoint.layers().size());
  return runnable;
}

void run_checkpoint_layer(const io::Checkpoint& checkpoint, const std::string& name, int64_t tokens,
                          const std::string& backend) {
  if (tokens <= 0) throw std::runtime_error("--tokens must be positive");
  const io::LayerInfo* info = checkpoint.find_layer(name);
  if (!info) throw Error(invalid_argument(checkpoint.files().dir() + ": no linear layer named '" + name + "'"));
  throw_if_error(info->runnable);
  auto layer = checkpoint.load_layer(name);
  if (!layer) throw Error(layer.status());
  const DType act = layer->scales.dtype() == DType::bf16 ? DType::bf16 : DType::f16;
  LinearOptions opt;
  opt.backend = backend;
  opt.act_type = act;
  opt.max_tokens = std::max<int64_t>(tokens, 1);
  auto lin = W4A8Linear::create(layer->weights(), opt);
  if (!lin) throw Error(lin.status());
  const int64_t n = info->out_features, k = info->in_features;
  const auto xf = llm_like_activations(tokens, k, 5);
  Tensor x(act, {tokens, k}), y(act, {tokens, n});
  for (int64_t i = 0; i < tokens * k; ++i) store_from_float(x.view(), i, xf[i]);
  Tensor xd = x, yd = y;  // device copies when the backend is on a GPU
  if (lin->device() != Device::cpu()) {
    xd = x.to(lin->device()).value();
    yd = y.to(lin->device()).value();
  }
  const Timing t = time_it([&] { throw_if_error(lin->forward(xd.view(), yd.view())); }, 0.2);
  throw_if_error(lin->poll_errors());
  if (lin->device() != Device::cpu()) y = yd.to(Device::cpu()).value();

  // fp64 reference with the dequantized weights: what the layer means.
  const int64_t groups = layer->scales.shape()[1];
  std::vector<double> wd(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      const int64_t g = layer->g_idx.defined() ? layer->g_idx.data_as<int32_t>()[c]
                                               : (info->group_size > 0 ? c / info->group_size : 0);
      const double zp = layer->zero_points.defined() ? layer->zero_points.data_as<int8_t>()[r * groups + g] : 0;
      wd[r * k + c] = (layer->values.data_as<int8_t>()[r * k + c] - zp) * load_as_float(layer->scales.view(), r * groups + g);
    }
  double num = 0, den = 0;
  for (int64_t m = 0; m < tokens; ++m)
    for (int64_t c = 0; c < n; ++c) {
      double ref = layer->bias.defined() ? load_as_float(layer->bias.view(), c) : 0.0;
      for (int64_t i = 0; i < k; ++i) ref += static_cast<double>(load_as_float(x.view(), m * k + i)) * wd[c * k + i];
      const double got = load_as_float(y.view(), m * n + c);
      if (!std::isfinite(got)) throw std::runtime_error("the layer produced a non-finite output");
      num += (got - ref) * (got - ref);
      den += ref * ref;
    }
  fmt::print("{}: {}x{} {} layer on backend '{}', {} tokens of {}\n", name, n, k, info->format, lin->backend_name(),
             tokens, dtype_name(act));
  fmt::print("  forward: {:.1f} us (median of {} runs)\n", t.median_s * 1e6, t.iterations);
  fmt::print("  error vs fp64 x . dequant(W)^T: {:.4f} (the int8 activation rounding)\n",
             den > 0 ? std::sqrt(num / den) : std::sqrt(num));
}

}  // namespace w4a8::cli
