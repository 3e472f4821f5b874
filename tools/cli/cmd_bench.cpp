// w4a8 bench: µs per forward (activation quantization included), effective
// weight bandwidth, GOPS and the ratio to the memory floor for each CPU
// backend (and each CPU kernel level asked for), printed beside OpenBLAS
// sgemm (fp32) and oneDNN's int8 matmul on the same shapes in the same run.
// Every contender's weights rotate through more memory than the last-level
// cache, as a model with many layers would stream them. Also measured in the
// run: the machine's memory read bandwidth and the activation quantizer's.
#include <fmt/core.h>

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/fp32_baseline.h"
#include "cli/ggml_baseline.h"
#include "cli/int8_baseline.h"
#include "cli/int8_peak.h"
#include "cli/layer_builder.h"
#include "cli/memory_bandwidth.h"
#include "cli/synthetic.h"
#include "cli/timer.h"
#include "w4a8/w4a8.h"

namespace w4a8::cli {

namespace {
std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}
std::vector<int64_t> parse_ints(const std::string& s, const char* what) {
  std::vector<int64_t> out;
  for (const std::string& item : split(s)) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || v <= 0)
      throw std::runtime_error(std::string(what) + " values must be positive integers, got '" + item + "'");
    out.push_back(v);
  }
  if (out.empty()) throw std::runtime_error(std::string(what) + " needs at least one value");
  return out;
}
std::vector<std::pair<int64_t, int64_t>> parse_shapes(const std::string& s) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const std::string& item : split(s)) {
    const auto x = item.find('x');
    if (x == std::string::npos) throw std::runtime_error("shape '" + item + "' is not NxK (e.g. 4096x4096)");
    out.emplace_back(parse_ints(item.substr(0, x), "--shapes")[0], parse_ints(item.substr(x + 1), "--shapes")[0]);
  }
  return out;
}
size_t copies_for(size_t bytes_per_copy, size_t rotate_bytes) {
  return std::clamp<size_t>((rotate_bytes + bytes_per_copy - 1) / bytes_per_copy, 1, 64);
}

// One row of the table: a backend (and CPU kernel level) at a thread count.
struct Contender {
  std::string backend, level, label;
};

struct Baselines {
  double sgemm_s = 0, int8_s = 0;
  bool has_sgemm = false, has_int8 = false;
};

// The activation quantizer on a tensor far larger than the cache, against
// reading as many bytes as it reads and writes, in interleaved rounds (this
// VM's bandwidth moves between minutes): {quantizer GB/s, read GB/s}.
std::pair<double, double> act_quant_vs_read_gbps(int64_t m, int64_t k, int threads, double min_time) {
  Tensor x(DType::f16, {m, k}), q(DType::i8, {m, k}), s(DType::f32, {m}), z(DType::i32, {m}),
      sums(DType::i32, {m, k / 128});
  const auto xv = llm_like_activations(1, k, 5);
  for (int64_t i = 0; i < m * k; ++i) store_from_float(x.view(), i, xv[static_cast<size_t>(i % k)] * (1 + i / k % 7));
  ActQuantOptions o;
  o.group_size = 128;
  const size_t bytes = x.nbytes() + q.nbytes() + s.nbytes() + z.nbytes() + sums.nbytes();
  ReadProbe probe(bytes, 1, threads);
  auto quantize = [&] { throw_if_error(quantize_per_token_int8(x.view(), q.view(), s.view(), z.view(), sums.view(), o)); };
  auto read = [&] { probe.run(0); };
  quantize(), read();  // warm-up
  std::vector<double> s_quant, s_read;
  for (int r = 0; r < 5; ++r) {
    add_samples(s_quant, quantize, min_time / 5, 1);
    add_samples(s_read, read, min_time / 5, 1);
  }
  return {static_cast<double>(bytes) / summarize(s_quant).median_s / 1e9,
          static_cast<double>(probe.bytes()) / summarize(s_read).median_s / 1e9};
}
}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "bench", "Time the CPU backends against OpenBLAS sgemm, oneDNN int8 and llama.cpp's ggml q4_0 on LLM shapes");
  static std::string backend = "all", shapes = "4096x4096", ms = "1,16,64", json_path, threads_arg, levels_arg;
  static std::string baselines_arg = "auto";
  static int64_t group = 128;
  static double min_time = 0.3;
  static int64_t rotate_mb = 512;
  static bool no_baselines = false;
  cmd->add_option("--backend", backend, "Backend name, or 'all' available backends")->capture_default_str();
  cmd->add_option("--shapes", shapes, "Comma-separated NxK weight shapes")->capture_default_str();
  cmd->add_option("--m", ms, "Comma-separated token counts M")->capture_default_str();
  cmd->add_option("--group", group, "Group size (-1: per channel)")->capture_default_str();
  cmd->add_option("--min-time", min_time, "Seconds to time each case for (at least 3 runs)")->capture_default_str();
  cmd->add_option("--rotate-mb", rotate_mb, "Rotate every contender's weights through at least this much memory")
      ->capture_default_str();
  cmd->add_option("--threads", threads_arg, "Comma-separated thread counts to run at (default: the current count)");
  cmd->add_option("--cpu-kernels", levels_arg,
                  "CPU kernel levels for the cpu backend: comma-separated, or 'all' this CPU runs (default: the current)");
  cmd->add_option("--baselines", baselines_arg,
                  "Comma-separated baselines to time beside ours: sgemm, onednn, ggml (llama.cpp), or 'none'; "
                  "'auto': those this build has")
      ->capture_default_str();
  cmd->add_flag("--no-baselines", no_baselines, "Same as --baselines none (ours only)");
  cmd->add_option("--json", json_path, "Also write the results as JSON to this file");
  cmd->callback([] {
    std::vector<Contender> contenders;
    const std::vector<std::string> levels =
        levels_arg == "all" ? cpu_kernels() : levels_arg.empty() ? std::vector<std::string>{cpu_kernel()} : split(levels_arg);
    for (const BackendInfo& b : list_backends()) {
      if (!b.available || b.device.type != DeviceType::cpu || (backend != "all" && backend != b.name)) continue;
      if (b.name != "cpu") {
        contenders.push_back({b.name, "", b.name});
        continue;
      }
      for (const std::string& l : levels) {
        const std::string before = cpu_kernel();
        throw_if_error(set_cpu_kernel(l));  // refuses, with the reason, a level this CPU lacks
        throw_if_error(set_cpu_kernel(before));
        contenders.push_back({b.name, l, "cpu/" + l});
      }
    }
    if (contenders.empty()) throw std::runtime_error("no available CPU backend named '" + backend + "'");
    const size_t rotate_bytes = static_cast<size_t>(rotate_mb) << 20;
    const auto shape_list = parse_shapes(shapes);
    const auto m_list = parse_ints(ms, "--m");
    const auto thread_list = threads_arg.empty() ? std::vector<int64_t>{num_threads()} : parse_ints(threads_arg, "--threads");
    for (auto [n, k] : shape_list) {  // every shape is checked before any work starts
      LinearConfig cfg;
      cfg.in_features = k;
      cfg.out_features = n;
      cfg.group_size = group;
      throw_if_error(can_implement(cfg));
    }
    bool sgemm_on = false, int8_on = false, ggml_on = false;
    if (no_baselines || baselines_arg == "none") {
    } else if (baselines_arg == "auto") {
      sgemm_on = fp32_baseline_available(), int8_on = int8_baseline_available(), ggml_on = ggml_baseline_available();
    } else {
      for (const std::string& b : split(baselines_arg)) {
        if (b == "sgemm") {
          if (!fp32_baseline_available()) throw std::runtime_error("--baselines sgemm: this build has no BLAS");
          sgemm_on = true;
        } else if (b == "onednn") {
          if (!int8_baseline_available()) throw std::runtime_error("--baselines onednn: this build has no oneDNN");
          int8_on = true;
        } else if (b == "ggml") {
          if (!ggml_baseline_available()) throw std::runtime_error(std::string("--baselines ggml: ") + ggml_baseline_missing_reason());
          ggml_on = true;
        } else {
          throw std::runtime_error("--baselines: unknown baseline '" + b + "' (sgemm, onednn, ggml, none, auto)");
        }
      }
    }
    const std::string level_before = cpu_kernel();
    const int threads_before = num_threads();
    fmt::print("CPU: {} ({})\nbaselines: {}; {}; {}\nweights rotate through >= {} MiB for every contender\n",
               cpu_features().brand, cpu_features().summary(), sgemm_on ? fp32_baseline_name() : "no sgemm",
               int8_on ? int8_baseline_name() : "no oneDNN", ggml_on ? ggml_baseline_name() : "no ggml", rotate_mb);
    // Each level's GEMM is read against the int8 peak of its own instructions.
    std::map<std::string, double> peaks;
    for (const Contender& c : contenders) {
      if (c.level.empty() || peaks.count(c.level)) continue;
      peaks[c.level] = int8_peak_gops_per_core(c.level);
      if (peaks[c.level] > 0)
        fmt::print("int8 peak of {}: {:.0f} GOPS per core ({})\n", c.level, peaks[c.level], int8_peak_method(c.level));
    }
    auto peak_of = [&](const Contender& c) { return c.level.empty() ? 0.0 : peaks[c.level]; };
    nlohmann::json rows = nlohmann::json::array(), machine = nlohmann::json::array();
    for (int64_t t : thread_list) {
      set_num_threads(static_cast<int>(t));
      throw_if_error(set_cpu_kernel(levels.front()));
      const auto [aq, read] = act_quant_vs_read_gbps(8192, 4096, static_cast<int>(t), min_time);
      fmt::print("{} thread(s): memory read {:.1f} GB/s; activation quantization ({}, 8192x4096 fp16 -> int8 + "
                 "sums) {:.1f} GB/s = {:.0f}% of read (the two timed in alternating rounds)\n",
                 t, read, levels.front(), aq, 100 * aq / read);
      machine.push_back({{"threads", t}, {"read_gb_per_s", read}, {"act_quant_gb_per_s", aq},
                         {"int8_peak_gops_per_core", peaks},
                         {"act_quant_level", levels.front()}});
    }
    fmt::print("\nxfloor: our time / the time to read the same weight + scale bytes (rotated alike), measured in "
               "the same rounds\n");
    if (!peaks.empty()) fmt::print("%peak: GOPS / (the level's int8 peak per core x threads)\n");
    fmt::print("\n{:<15} {:>3} {:>6} {:>6} {:>5} {:>10} {:>7} {:>8} {:>6} {:>7} {:>10} {:>8} {:>10} {:>9} {:>8} {:>10} {:>8}\n",
               "backend", "thr", "N", "K", "M", "us/call", "GB/s", "GOPS", "%peak", "xfloor", "sgemm us", "vs sgemm",
               "oneDNN us", "oDNN GOPS", "vs oDNN", "ggml us", "vs ggml");
    bool ggml_described = false;
    for (auto [n, k] : shape_list) {
      const auto w = heavy_tailed_weights(n, k, 42);
      std::vector<std::vector<float>> wf;
      std::vector<int8_t> w8;
      for (int64_t t : thread_list) {
        set_num_threads(static_cast<int>(t));
        set_fp32_baseline_threads(static_cast<int>(t));
        for (const Contender& c : contenders) {
          if (!c.level.empty()) throw_if_error(set_cpu_kernel(c.level));
          QuantizedLayer q = quantize_layer(w, n, k, group, c.backend);
          if (w8.empty()) w8.assign(q.values.data_as<const int8_t>(), q.values.data_as<const int8_t>() + n * k);
          std::vector<W4A8Linear> layers;
          const size_t q_copies = copies_for(q.weight_bytes(), rotate_bytes);
          while (layers.size() < q_copies) layers.push_back(q.another(c.backend));
          ReadProbe probe(q.weight_bytes(), copies_for(q.weight_bytes(), rotate_bytes), static_cast<int>(t));
          for (int64_t m : m_list) {
            Tensor x(DType::f16, {m, k});
            const auto xv = llm_like_activations(m, k, 7);
            for (int64_t i = 0; i < m * k; ++i) store_from_float(x.view(), i, xv[i]);
            Tensor y(DType::f16, {m, n});
            std::vector<float> xf(xv.begin(), xv.end()), yf(static_cast<size_t>(m * n));
            if (sgemm_on && wf.empty()) wf.assign(copies_for(static_cast<size_t>(n * k) * 4, rotate_bytes), w);
            std::unique_ptr<Int8Matmul> mm;
            if (int8_on)
              mm = std::make_unique<Int8Matmul>(w8, n, k, m, copies_for(static_cast<size_t>(n * k), rotate_bytes),
                                                static_cast<int>(t));
            std::unique_ptr<GgmlQ4Matmul> gg;
            if (ggml_on) {
              // q4_0: 18 bytes per 32 weights; as many copies as its own size needs.
              const size_t q4_bytes = static_cast<size_t>(n) * static_cast<size_t>(k / 32) * 18;
              gg = std::make_unique<GgmlQ4Matmul>(w, n, k, xf, m, copies_for(q4_bytes, rotate_bytes), static_cast<int>(t));
              if (!ggml_described) fmt::print("ggml: {}\n", gg->description()), ggml_described = true;
            }
            // Contenders take turns in short rounds, so that a change in the
            // machine's memory bandwidth (a shared VM's neighbours) falls on
            // all of them alike; each one's median is over all its rounds.
            size_t i_ours = 0, i_read = 0, i_sgemm = 0, i_int8 = 0, i_ggml = 0;
            auto f_ours = [&] { throw_if_error(layers[i_ours++ % layers.size()].forward(x.view(), y.view())); };
            auto f_read = [&] { probe.run(i_read++); };
            auto f_sgemm = [&] { sgemm_xwt(xf.data(), wf[i_sgemm++ % wf.size()].data(), yf.data(), m, n, k); };
            auto f_int8 = [&] { mm->run(i_int8++); };
            auto f_ggml = [&] { gg->run(i_ggml++); };
            f_ours(), f_read();  // warm-up
            if (sgemm_on) f_sgemm();
            if (int8_on) f_int8();
            if (ggml_on) f_ggml(), gg->idle();
            constexpr int kRounds = 5;
            std::vector<double> s_ours, s_read, s_sgemm, s_int8, s_ggml;
            for (int r = 0; r < kRounds; ++r) {
              add_samples(s_ours, f_ours, min_time / kRounds, 1);
              add_samples(s_read, f_read, min_time / kRounds / 2, 1);
              if (sgemm_on) add_samples(s_sgemm, f_sgemm, min_time / kRounds, 1);
              if (int8_on) add_samples(s_int8, f_int8, min_time / kRounds, 1);
              if (ggml_on) add_samples(s_ggml, f_ggml, min_time / kRounds, 1), gg->idle();
            }
            const Timing ours = summarize(s_ours), read = summarize(s_read);
            Baselines b;
            if (sgemm_on) b.sgemm_s = summarize(s_sgemm).median_s, b.has_sgemm = true;
            if (int8_on) b.int8_s = summarize(s_int8).median_s, b.has_int8 = true;
            const bool has_ggml = ggml_on;
            const double ggml_s = ggml_on ? summarize(s_ggml).median_s : 0;
            const double ops = 2.0 * m * n * k;
            const double gbs = q.weight_bytes() / ours.median_s / 1e9;
            const double floor_s = read.median_s;  // reading the same bytes, same rounds
            auto col = [](bool have, double v, const char* f) {
              return have ? fmt::format(fmt::runtime(f), v) : std::string("n/a");
            };
            const double gops = ops / ours.median_s / 1e9;
            fmt::print("{:<15} {:>3} {:>6} {:>6} {:>5} {:>10.1f} {:>7.2f} {:>8.1f} {:>6} {:>7.2f} {:>10} {:>8} {:>10} {:>9} {:>8} {:>10} {:>8}\n",
                       c.label, t, n, k, m, ours.median_s * 1e6, gbs, gops,
                       col(peak_of(c) > 0, 100 * gops / (peak_of(c) * static_cast<double>(t)), "{:.0f}"),
                       ours.median_s / floor_s, col(b.has_sgemm, b.sgemm_s * 1e6, "{:.1f}"),
                       col(b.has_sgemm, b.sgemm_s / ours.median_s, "{:.2f}x"), col(b.has_int8, b.int8_s * 1e6, "{:.1f}"),
                       col(b.has_int8, ops / b.int8_s / 1e9, "{:.1f}"), col(b.has_int8, b.int8_s / ours.median_s, "{:.2f}x"),
                       col(has_ggml, ggml_s * 1e6, "{:.1f}"), col(has_ggml, ggml_s / ours.median_s, "{:.2f}x"));
            nlohmann::json row = {{"backend", c.backend}, {"cpu_kernel", c.level}, {"threads", t}, {"n", n}, {"k", k},
                                  {"m", m}, {"group", group}, {"us_per_call", ours.median_s * 1e6},
                                  {"int8_peak_gops_per_core", peak_of(c)},
                                  {"weight_gb_per_s", gbs}, {"gops", ops / ours.median_s / 1e9},
                                  {"read_gb_per_s", q.weight_bytes() / floor_s / 1e9}, {"floor_us", floor_s * 1e6},
                                  {"time_over_floor", ours.median_s / floor_s}, {"iterations", ours.iterations}};
            if (b.has_sgemm) {
              row["sgemm_us"] = b.sgemm_s * 1e6;
              row["speedup_vs_sgemm"] = b.sgemm_s / ours.median_s;
            }
            if (b.has_int8) {
              row["onednn_int8_us"] = b.int8_s * 1e6;
              row["onednn_int8_gops"] = ops / b.int8_s / 1e9;
              row["speedup_vs_onednn_int8"] = b.int8_s / ours.median_s;
            }
            if (has_ggml) {
              row["ggml_q4_0_us"] = ggml_s * 1e6;
              row["ggml_q4_0_weight_bytes"] = gg->weight_bytes();
              row["speedup_vs_ggml_q4_0"] = ggml_s / ours.median_s;
            }
            rows.push_back(row);
          }
        }
      }
    }
    set_num_threads(threads_before);
    throw_if_error(set_cpu_kernel(level_before));
    if (!json_path.empty()) {
      std::ofstream out(json_path);
      out << nlohmann::json{{"machine", machine}, {"results", rows}}.dump(2) << "\n";
      if (!out.flush()) throw std::runtime_error("cannot write " + json_path);
    }
  });
}

}  // namespace w4a8::cli
