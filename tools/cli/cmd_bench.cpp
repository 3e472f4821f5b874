// w4a8 bench: µs per forward (activation quantization included), effective
// weight bandwidth and GOPS for each backend, printed beside OpenBLAS sgemm
// on the same shapes in the same run. Weights rotate through more memory than
// the last-level cache, as a model with many layers would stream them.
#include <fmt/core.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/fp32_baseline.h"
#include "cli/layer_builder.h"
#include "cli/synthetic.h"
#include "cli/timer.h"
#include "w4a8/w4a8.h"

namespace w4a8::cli {

namespace {
std::vector<int64_t> parse_ints(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stoll(item));
  return out;
}
std::vector<std::pair<int64_t, int64_t>> parse_shapes(const std::string& s) {
  std::vector<std::pair<int64_t, int64_t>> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    const auto x = item.find('x');
    if (x == std::string::npos) throw std::runtime_error("shape '" + item + "' is not NxK (e.g. 4096x4096)");
    out.emplace_back(std::stoll(item.substr(0, x)), std::stoll(item.substr(x + 1)));
  }
  return out;
}
size_t copies_for(size_t bytes_per_copy, size_t rotate_bytes) {
  return std::clamp<size_t>((rotate_bytes + bytes_per_copy - 1) / bytes_per_copy, 1, 64);
}
}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Time each backend against OpenBLAS sgemm on LLM shapes");
  static std::string backend = "all", shapes = "4096x4096", ms = "1,16,64", json_path;
  static int64_t group = 128;
  static double min_time = 0.3;
  static int64_t rotate_mb = 256;
  cmd->add_option("--backend", backend, "Backend name, or 'all' available backends")->capture_default_str();
  cmd->add_option("--shapes", shapes, "Comma-separated NxK weight shapes")->capture_default_str();
  cmd->add_option("--m", ms, "Comma-separated token counts M")->capture_default_str();
  cmd->add_option("--group", group, "Group size (-1: per channel)")->capture_default_str();
  cmd->add_option("--min-time", min_time, "Seconds to time each case for (at least 3 runs)")->capture_default_str();
  cmd->add_option("--rotate-mb", rotate_mb, "Rotate weights through at least this much memory")->capture_default_str();
  cmd->add_option("--json", json_path, "Also write the results as JSON to this file");
  cmd->callback([] {
    std::vector<std::string> backends;
    for (const BackendInfo& b : list_backends())
      if (b.available && b.device.type == DeviceType::cpu && (backend == "all" || backend == b.name))
        backends.push_back(b.name);
    if (backends.empty()) throw std::runtime_error("no available CPU backend named '" + backend + "'");
    const size_t rotate_bytes = static_cast<size_t>(rotate_mb) << 20;
    nlohmann::json rows = nlohmann::json::array();
    const auto shape_list = parse_shapes(shapes);
    const auto m_list = parse_ints(ms);
    for (auto [n, k] : shape_list) {  // every shape is checked before any work starts
      LinearConfig cfg;
      cfg.in_features = k;
      cfg.out_features = n;
      cfg.group_size = group;
      throw_if_error(can_implement(cfg));
    }
    for (int64_t m : m_list)
      if (m <= 0) throw std::runtime_error("--m values must be positive, got " + std::to_string(m));
    fmt::print("{} threads; baseline: {}; weights rotate through >= {} MiB\n", num_threads(), fp32_baseline_name(),
               rotate_mb);
    fmt::print("{:<10} {:>6} {:>6} {:>5} {:>12} {:>10} {:>9} {:>12} {:>10} {:>9}\n", "backend", "N", "K", "M",
               "us/call", "weight GB/s", "GOPS", "fp32 us", "fp32 GOPS", "speedup");
    for (auto [n, k] : shape_list) {
      const auto w = heavy_tailed_weights(n, k, 42);
      // fp32 baseline weights, several copies to defeat the cache.
      const size_t f32_copies = copies_for(static_cast<size_t>(n * k) * 4, rotate_bytes);
      std::vector<std::vector<float>> wf(fp32_baseline_available() ? f32_copies : 0, w);
      for (const std::string& b : backends) {
        QuantizedLayer q = quantize_layer(w, n, k, group, b);
        std::vector<W4A8Linear> layers;
        const size_t q_copies = copies_for(q.weight_bytes(), rotate_bytes);
        while (layers.size() < q_copies) layers.push_back(q.another(b));
        for (int64_t m : m_list) {
          Tensor x(DType::f16, {m, k});
          const auto xv = llm_like_activations(m, k, 7);
          for (int64_t i = 0; i < m * k; ++i) store_from_float(x.view(), i, xv[i]);
          Tensor y(DType::f16, {m, n});
          size_t next = 0;
          const Timing ours = time_it([&] {
            throw_if_error(layers[next++ % layers.size()].forward(x.view(), y.view()));
          }, min_time);
          std::vector<float> xf(xv.begin(), xv.end()), yf(static_cast<size_t>(m * n));
          next = 0;
          Timing base;
          if (fp32_baseline_available())
            base = time_it([&] { sgemm_xwt(xf.data(), wf[next++ % wf.size()].data(), yf.data(), m, n, k); }, min_time);
          const double ops = 2.0 * m * n * k;
          const double gbs = q.weight_bytes() / ours.median_s / 1e9;
          const bool has_base = fp32_baseline_available();
          auto base_col = [&](double v, const char* f) { return has_base ? fmt::format(fmt::runtime(f), v) : std::string("n/a"); };
          fmt::print("{:<10} {:>6} {:>6} {:>5} {:>12.1f} {:>10.2f} {:>9.2f} {:>12} {:>10} {:>9}\n", b, n, k, m,
                     ours.median_s * 1e6, gbs, ops / ours.median_s / 1e9, base_col(base.median_s * 1e6, "{:.1f}"),
                     base_col(ops / base.median_s / 1e9, "{:.2f}"), base_col(base.median_s / ours.median_s, "{:.2f}x"));
          nlohmann::json row = {{"backend", b}, {"n", n}, {"k", k}, {"m", m}, {"group", group},
                                {"us_per_call", ours.median_s * 1e6}, {"weight_gb_per_s", gbs},
                                {"gops", ops / ours.median_s / 1e9}, {"baseline", fp32_baseline_name()},
                                {"iterations", ours.iterations}};
          if (has_base) {
            row["baseline_us_per_call"] = base.median_s * 1e6;
            row["speedup_vs_baseline"] = base.median_s / ours.median_s;
          }
          rows.push_back(row);
        }
      }
    }
    if (!json_path.empty()) std::ofstream(json_path) << nlohmann::json{{"results", rows}}.dump(2) << "\n";
  });
}

}  // namespace w4a8::cli
