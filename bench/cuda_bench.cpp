// w4a8_cuda_bench: W4A8Linear on the GPU (activation quantization included)
// beside cuBLASLt fp16, int8 and FP8 in the same run, each timed as CUDA-graph
// replays of a chain of at least 32 back-to-back calls (a decode step's
// layers) that rotate through more weight memory than 4x the L2, so every
// contender streams its weights from HBM; the figures are per call. The
// floor is a plain kernel reading exactly the layer's weight and scale bytes,
// timed the same way (read_floor.h); also the device's copy bandwidth and
// the quantization kernel alone.
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "cuda/act_quant.cuh"
#include "cuda/gemm_dispatch.cuh"
#include "cuda_baselines.h"
#include "micro/stream_read.h"
#include "micro/wgmma_rate.h"
#include "read_floor.h"
#include "w4a8/w4a8.h"

using namespace w4a8;
using bench::Baseline;

namespace {

#define CHECK_CUDA(x)                                                                                 \
  do {                                                                                                \
    const cudaError_t e_ = (x);                                                                       \
    if (e_ != cudaSuccess) throw std::runtime_error(std::string(#x) + ": " + cudaGetErrorString(e_)); \
  } while (0)

struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t bytes) { CHECK_CUDA(cudaMalloc(&p, std::max<size_t>(bytes, 1))); }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

// Random non-zero data of each type (never zeros: they can run faster).
void fill_random(void* dst, size_t count, Baseline kind_or_fp16, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<uint8_t> host(count * bench::input_bytes(kind_or_fp16));
  for (size_t i = 0; i < count; ++i) {
    const float v = d(rng);
    switch (kind_or_fp16) {
      case Baseline::fp16: reinterpret_cast<uint16_t*>(host.data())[i] = float_to_half_bits(v); break;
      case Baseline::int8: host[i] = static_cast<uint8_t>(static_cast<int8_t>(v * 100)); break;
      case Baseline::fp8: {
        const __nv_fp8_e4m3 f(v * 4);
        host[i] = *reinterpret_cast<const uint8_t*>(&f);
        break;
      }
    }
  }
  CHECK_CUDA(cudaMemcpy(dst, host.data(), host.size(), cudaMemcpyHostToDevice));
}

// Time `calls` consecutive launches captured in one graph; the median of
// several replays, per call, in seconds.
double time_graph(const std::function<void(int, cudaStream_t)>& call, int calls, cudaStream_t s) {
  cudaGraph_t graph;
  CHECK_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  for (int i = 0; i < calls; ++i) call(i, s);
  CHECK_CUDA(cudaStreamEndCapture(s, &graph));
  cudaGraphExec_t exec;
  CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  CHECK_CUDA(cudaGraphLaunch(exec, s));  // warm-up
  CHECK_CUDA(cudaStreamSynchronize(s));
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  std::vector<double> samples;
  for (int rep = 0; rep < 7; ++rep) {
    CHECK_CUDA(cudaEventRecord(a, s));
    CHECK_CUDA(cudaGraphLaunch(exec, s));
    CHECK_CUDA(cudaEventRecord(b, s));
    CHECK_CUDA(cudaEventSynchronize(b));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, a, b));
    samples.push_back(ms * 1e-3 / calls);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

double copy_bandwidth(cudaStream_t s) {
  const size_t bytes = size_t{1} << 30;
  DeviceBuffer a(bytes), b(bytes);
  CHECK_CUDA(cudaMemset(a.p, 1, bytes));
  const double t = time_graph([&](int, cudaStream_t st) { CHECK_CUDA(cudaMemcpyAsync(b.p, a.p, bytes, cudaMemcpyDeviceToDevice, st)); }, 4, s);
  return 2.0 * bytes / t;  // bytes read + bytes written
}

std::vector<int64_t> parse_ints(const std::string& s) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) v.push_back(std::stoll(t));
  return v;
}

// The layer of an N x K shape with each extension of the seed's scheme, and
// the activation scheme's values (kept alive with the views).
struct ExtensionLayer {
  std::vector<int8_t> values, zero_points;
  std::vector<int32_t> g_idx;
  Tensor scales;
  float input_scale = 0.02f;
  int32_t input_zero_point = -17;
  LinearWeights weights(const std::string& variant) const {
    LinearWeights lw;
    const int64_t n = scales.shape()[0], groups = scales.shape()[1], k = static_cast<int64_t>(g_idx.size());
    lw.values = TensorView(const_cast<int8_t*>(values.data()), DType::i8, {n, k});
    lw.scales = scales.view();
    lw.group_size = k / groups;
    if (variant == "zp") lw.zero_points = TensorView(const_cast<int8_t*>(zero_points.data()), DType::i8, {n, groups});
    if (variant == "g_idx") lw.g_idx = TensorView(const_cast<int32_t*>(g_idx.data()), DType::i32, {k});
    if (variant == "a_asym") lw.act_symmetric = false;
    if (variant == "static" || variant == "static_zp")
      lw.input_scale = TensorView(const_cast<float*>(&input_scale), DType::f32, {1});
    if (variant == "static_zp") {
      lw.act_symmetric = false;
      lw.input_zero_point = TensorView(const_cast<int32_t*>(&input_zero_point), DType::i32, {1});
    }
    return lw;
  }
};

// Issue 8's measure: each extension's forward time over the seed's scheme
// (dynamic symmetric activations, symmetric weights), same shape, same M, same
// run, weights rotated like the main table. Two interleaved rounds; the
// faster of each variant's two medians counts.
void run_extension_costs(const std::string& shapes, const std::vector<int64_t>& ms, int64_t group,
                         size_t rotate_bytes, cudaStream_t s, nlohmann::json& out) {
  const std::vector<std::string> variants = {"sym", "zp", "g_idx", "a_asym", "static", "static_zp"};
  fmt::print("\nExtension costs (group {}): forward time, and its ratio to the seed's scheme (sym)\n", group);
  fmt::print("{:>6} {:>6} {:>5}", "N", "K", "M");
  for (const auto& v : variants) fmt::print(" {:>16}", v);
  fmt::print("\n");
  std::stringstream ss(shapes);
  for (std::string item; std::getline(ss, item, ',');) {
    const int64_t n = std::stoll(item.substr(0, item.find('x'))), k = std::stoll(item.substr(item.find('x') + 1));
    const int64_t g = group == -1 ? k : group, groups = k / g;
    ExtensionLayer e;
    std::mt19937 rng(static_cast<uint32_t>(n * 17 + k));
    std::uniform_int_distribution<int> di(-8, 7);
    e.values.resize(size_t(n) * k);
    for (auto& v : e.values) v = static_cast<int8_t>(di(rng));
    e.zero_points.resize(size_t(n) * groups);
    for (auto& v : e.zero_points) v = static_cast<int8_t>(di(rng));
    e.scales = Tensor(DType::f16, {n, groups});
    for (int64_t i = 0; i < n * groups; ++i) store_from_float(e.scales.view(), i, 0.001f + 0.0001f * (i % 17));
    for (int64_t i = 0; i < k; ++i) e.g_idx.push_back(static_cast<int32_t>(i / g));
    std::shuffle(e.g_idx.begin(), e.g_idx.end(), rng);
    const double bytes = n * k / 2.0 + n * groups * 2.0;
    const int copies = static_cast<int>(std::clamp<double>(std::ceil(rotate_bytes / bytes), 1, 64));
    const int64_t max_m = *std::max_element(ms.begin(), ms.end());
    std::map<std::string, std::vector<W4A8Linear>> layers;
    for (const auto& v : variants)
      for (int i = 0; i < copies; ++i) {
        LinearOptions o;
        o.backend = "cuda";
        o.max_tokens = std::max<int64_t>(max_m, 1);
        layers[v].push_back(W4A8Linear::create(e.weights(v), o).value());
      }
    for (int64_t m : ms) {
      DeviceBuffer x16(size_t(m) * k * 2), y(size_t(m) * n * 2);
      fill_random(x16.p, size_t(m) * k, Baseline::fp16, 9);
      const TensorView xv(x16.p, DType::f16, {m, k}, Device::cuda(0));
      const TensorView yv(y.p, DType::f16, {m, n}, Device::cuda(0));
      std::map<std::string, double> best;
      for (int round = 0; round < 2; ++round)
        for (const auto& v : variants) {
          auto& ls = layers[v];
          const double t = time_graph([&](int i, cudaStream_t st) {
            ForwardOptions fo;
            fo.stream = st;
            throw_if_error(ls[i % copies].forward(xv, yv, fo));
          }, std::max(copies, 8), s);
          best[v] = round == 0 ? t : std::min(best[v], t);
        }
      for (const auto& v : variants) throw_if_error(layers[v][0].poll_errors(s));
      fmt::print("{:>6} {:>6} {:>5}", n, k, m);
      nlohmann::json row = {{"n", n}, {"k", k}, {"group", group}, {"m", m}};
      for (const auto& v : variants) {
        fmt::print(" {:>8.1f} {:>6.3f}x", best[v] * 1e6, best[v] / best["sym"]);
        row[v + "_us"] = best[v] * 1e6;
      }
      fmt::print("\n");
      out["extensions"].push_back(row);
    }
  }
}

// The weight-stream read patterns (micro/stream_read.h) on each shape's
// weight bytes (N/16 tiles of K/64 chunks), beside the read floor of the
// same bytes; each timed like the layers (graph chain, rotated copies).
void run_stream_patterns(const std::string& shapes, size_t rotate_bytes, cudaStream_t s, nlohmann::json& out) {
  DeviceBuffer sink(4);
  const auto patterns = bench::stream_patterns();
  fmt::print("\nWeight-stream read patterns: us, and the read floor of the same bytes over it\n");
  fmt::print("{:>6} {:>6} {:>9}", "N", "K", "floor us");
  for (const auto& p : patterns) fmt::print("  {}", p.name);
  fmt::print("\n");
  for (const auto& p : patterns) fmt::print("  {}: {} blocks/SM\n", p.name, bench::stream_pattern_blocks_per_sm(p));
  std::stringstream ss(shapes);
  for (std::string item; std::getline(ss, item, ',');) {
    const int64_t n = std::stoll(item.substr(0, item.find('x'))), k = std::stoll(item.substr(item.find('x') + 1));
    const int tiles = static_cast<int>((n + 15) / 16), chunks = static_cast<int>((k + 63) / 64);
    const size_t bytes = static_cast<size_t>(tiles) * chunks * 512;
    const int copies = static_cast<int>(std::clamp<double>(std::ceil(double(rotate_bytes) / bytes), 1, 64));
    std::vector<std::unique_ptr<DeviceBuffer>> bufs;
    for (int i = 0; i < copies; ++i) {
      bufs.push_back(std::make_unique<DeviceBuffer>(bytes));
      CHECK_CUDA(cudaMemset(bufs.back()->p, 0x5A + i, bytes));
    }
    // The token row and the group-128 scales the `work` patterns read (one
    // copy of each: the row stays in L2 as it does for small_m; the scales,
    // 1/16 of the weight bytes, are read once per call like the layer's).
    DeviceBuffer q(static_cast<size_t>(chunks) * 64), scales(static_cast<size_t>((chunks + 1) / 2) * tiles * 16 * 4);
    CHECK_CUDA(cudaMemset(q.p, 0x03, static_cast<size_t>(chunks) * 64));
    CHECK_CUDA(cudaMemset(scales.p, 0x3C, static_cast<size_t>((chunks + 1) / 2) * tiles * 16 * 4));
    bench::StreamExtras extras;
    extras.q = static_cast<const int8_t*>(q.p);
    extras.scales = static_cast<const float*>(scales.p);
    DeviceBuffer outputs(static_cast<size_t>(tiles) * 16 * 4);
    extras.out = static_cast<float*>(outputs.p);
    const int calls = std::max(copies, 32);
    auto* sk = static_cast<unsigned*>(sink.p);
    const double floor_t = time_graph([&](int i, cudaStream_t st) {
      CHECK_CUDA(bench::launch_read_floor(bufs[i % copies]->p, bytes, sk, st));
    }, calls, s);
    fmt::print("{:>6} {:>6} {:>9.1f}", n, k, floor_t * 1e6);
    nlohmann::json row = {{"n", n}, {"k", k}, {"floor_us", floor_t * 1e6}};
    for (const auto& p : patterns) {
      double t = 0;
      if (bench::stream_pattern_blocks_per_sm(p) > 0 &&
          bench::launch_stream_read(p, bufs[0]->p, tiles, chunks, sk, s, extras) == cudaSuccess) {
        t = time_graph([&](int i, cudaStream_t st) {
          CHECK_CUDA(bench::launch_stream_read(p, bufs[i % copies]->p, tiles, chunks, sk, st, extras));
        }, calls, s);
      }
      (void)cudaGetLastError();
      fmt::print("  {:.1f} ({:.2f}x)", t * 1e6, t / floor_t);
      row[p.name] = t * 1e6;
    }
    fmt::print("\n");
    out["stream_patterns"].push_back(row);
  }
}

// The Hopper kernel's budget (micro/wgmma_rate.h): one block per SM, each
// consumer warpgroup running `stages` stages of four m64nNk32 int8 wgmmas;
// per case the rate (2 * 64 * N * 128 operations a stage and warpgroup)
// and the time one warpgroup spends per stage.
void run_wgmma_rates(int sms, cudaStream_t s, nlohmann::json& out) {
  DeviceBuffer sink(4);
  constexpr int kStages = 4096;
  fmt::print("\nwgmma int8 rate, A from registers, {} blocks (one per SM), {} stages a warpgroup\n", sms, kStages);
  fmt::print("{:<28} {:>10} {:>14}\n", "case", "TOPS", "ns per stage");
  for (const auto& c : bench::wgmma_rate_cases()) {
    if (bench::launch_wgmma_rate(c, sms, 2, static_cast<unsigned*>(sink.p), s) != cudaSuccess) {
      (void)cudaGetLastError();
      fmt::print("{:<28} {:>10}\n", c.name, "n/a");
      continue;
    }
    const double t = time_graph([&](int, cudaStream_t st) {
      CHECK_CUDA(bench::launch_wgmma_rate(c, sms, kStages, static_cast<unsigned*>(sink.p), st));
    }, 4, s);
    const double ops = 2.0 * 64 * c.tokens * 128 * kStages * c.consumers * sms;
    fmt::print("{:<28} {:>10.0f} {:>14.1f}\n", c.name, ops / t / 1e12, t / kStages * 1e9);
    out["wgmma_rate"].push_back({{"case", c.name}, {"tops", ops / t / 1e12}, {"ns_per_stage", t / kStages * 1e9}});
  }
}

// The op path against the prepared layer, same shapes and run: the op
// (int4_gemm_w4a8 with device tensors) prepares its weights on the GPU in
// every call; the layer did that once. The op takes int8 activations, the
// layer fp16 ones (it quantizes them itself), as each is used.
void run_op_path(const std::string& shapes, const std::vector<int64_t>& ms, cudaStream_t s, nlohmann::json& out) {
  fmt::print("\nOp path (int4_gemm_w4a8 on device tensors, operands prepared per call) against the prepared layer\n");
  fmt::print("{:>6} {:>6} {:>5} {:>10} {:>10} {:>8}\n", "N", "K", "M", "op us", "layer us", "op/layer");
  std::stringstream ss(shapes);
  for (std::string item; std::getline(ss, item, ',');) {
    const int64_t n = std::stoll(item.substr(0, item.find('x'))), k = std::stoll(item.substr(item.find('x') + 1));
    const int64_t group = 128, groups = k / group;
    std::mt19937 rng(static_cast<uint32_t>(n + k));
    std::uniform_int_distribution<int> di(-8, 7);
    std::vector<int8_t> values(size_t(n) * k);
    for (auto& v : values) v = static_cast<int8_t>(di(rng));
    Tensor scales(DType::f16, {n, groups}), scales_gn(DType::f16, {groups, n}), packed(DType::i32, {n, k / 8});
    for (int64_t i = 0; i < n * groups; ++i) store_from_float(scales.view(), i, 0.001f + 0.0001f * (i % 17));
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t c = 0; c < n; ++c) store_from_float(scales_gn.view(), g * n + c, load_as_float(scales.view(), c * groups + g));
    throw_if_error(pack_int4(TensorView(values.data(), DType::i8, {n, k}), packed.view()));
    LinearWeights lw;
    lw.values = TensorView(values.data(), DType::i8, {n, k});
    lw.scales = scales.view();
    lw.group_size = group;
    LinearOptions lo;
    lo.backend = "cuda";
    W4A8Linear layer = W4A8Linear::create(lw, lo).value();
    const Tensor b_dev = packed.to(Device::cuda(0)).value(), s_dev = scales_gn.to(Device::cuda(0)).value();
    const int8_t eight = 8;
    for (int64_t m : ms) {
      DeviceBuffer x16(size_t(m) * k * 2), a8(size_t(m) * k), as(size_t(m) * 4), y(size_t(m) * n * 2);
      fill_random(x16.p, size_t(m) * k, Baseline::fp16, 5);
      fill_random(a8.p, size_t(m) * k, Baseline::int8, 6);
      std::vector<float> ones(m, 0.01f);
      CHECK_CUDA(cudaMemcpy(as.p, ones.data(), ones.size() * 4, cudaMemcpyHostToDevice));
      const TensorView A(a8.p, DType::i8, {m, k}, Device::cuda(0)), AS(as.p, DType::f32, {m}, Device::cuda(0));
      const TensorView B(b_dev.data(), DType::i32, {k / 8, n}, {1, k / 8}, Device::cuda(0));
      const TensorView Y(y.p, DType::f16, {m, n}, Device::cuda(0)), X(x16.p, DType::f16, {m, k}, Device::cuda(0));
      const double op = time_graph([&](int, cudaStream_t st) {
        GemmOptions o;
        o.backend = "cuda";
        o.stream = st;
        throw_if_error(int4_gemm_w4a8(A, AS, {}, B, s_dev.view(), TensorView(const_cast<int8_t*>(&eight), DType::i8, {1}),
                                      group, {}, {}, Y, o));
      }, 8, s);
      const double lin = time_graph([&](int, cudaStream_t st) {
        ForwardOptions fo;
        fo.stream = st;
        throw_if_error(layer.forward(X, Y, fo));
      }, 8, s);
      fmt::print("{:>6} {:>6} {:>5} {:>10.1f} {:>10.1f} {:>7.2f}x\n", n, k, m, op * 1e6, lin * 1e6, op / lin);
      out["op_path"].push_back({{"n", n}, {"k", k}, {"m", m}, {"op_us", op * 1e6}, {"layer_us", lin * 1e6}});
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GPU benchmark of w4a8 against cuBLASLt (fp16, int8, fp8) in the same run"};
  std::string shapes = "6144x4096,4096x4096,28672x4096,4096x14336,10240x8192,8192x28672";
  std::string ms = "1,4,16,32,64,128,256,512,1024,4096", groups = "128,-1", json_path;
  double rotate_l2_multiple = 4.0;
  bool extensions = false, no_baselines = false, op_path = false;
  app.add_option("--shapes", shapes, "NxK list")->capture_default_str();
  app.add_option("--m", ms, "token counts")->capture_default_str();
  app.add_option("--groups", groups, "group sizes (-1: per channel)")->capture_default_str();
  app.add_option("--json", json_path, "write results as JSON");
  app.add_option("--rotate", rotate_l2_multiple, "weights rotate through this many L2 sizes")->capture_default_str();
  auto* op_flag = app.add_flag("--op-path", op_path, "instead of the baselines: the op with device operands against the prepared layer");
  app.add_flag("--no-baselines", no_baselines, "w4a8 and the read floor only (for sweeps of forced kernels)");
  bool micro_stream = false, micro_wgmma = false;
  auto* wgmma_flag = app.add_flag("--micro-wgmma", micro_wgmma, "instead of the baselines: the int8 wgmma rate and its chain's costs (sm_90)");
  auto* stream_flag = app.add_flag("--micro-stream", micro_stream,
               "instead of the baselines: the weight-stream read patterns of bench/micro on --shapes");
  auto* ext_flag = app.add_flag("--extensions", extensions,
               "instead of the baselines: each extension's time over the seed's scheme (first group of --groups)");
  // One mode a run: each is its own table and JSON.
  op_flag->excludes(wgmma_flag)->excludes(stream_flag)->excludes(ext_flag);
  wgmma_flag->excludes(stream_flag)->excludes(ext_flag);
  stream_flag->excludes(ext_flag);
  CLI11_PARSE(app, argc, argv);
  try {
    cudaDeviceProp prop{};
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    cudaStream_t s;
    CHECK_CUDA(cudaStreamCreate(&s));
    const double bw = copy_bandwidth(s);
    const size_t rotate_bytes = static_cast<size_t>(rotate_l2_multiple * prop.l2CacheSize);
    fmt::print("device: {} ({} SMs, L2 {:.0f} MiB); copy bandwidth {:.0f} GB/s (read+write)\n", prop.name,
               prop.multiProcessorCount, prop.l2CacheSize / 1048576.0, bw / 1e9);
    nlohmann::json out = {{"device", prop.name}, {"copy_gb_per_s", bw / 1e9}, {"results", nlohmann::json::array()}};
    // The modes that replace the baseline comparison: one runs, its JSON is written.
    if (micro_wgmma || micro_stream || op_path || extensions) {
      if (micro_wgmma) {
        run_wgmma_rates(prop.multiProcessorCount, s, out);
      } else if (micro_stream) {
        run_stream_patterns(shapes, rotate_bytes, s, out);
      } else if (op_path) {
        run_op_path(shapes, parse_ints(ms), s, out);
      } else {
        run_extension_costs(shapes, parse_ints(ms), parse_ints(groups).front(), rotate_bytes, s, out);
      }
      if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
      return 0;
    }

    cublasLtHandle_t lt;
    if (cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS) throw std::runtime_error("cublasLtCreate failed");
    const size_t ws_bytes = size_t{32} << 20;
    DeviceBuffer ws(ws_bytes);

    // The activation quantization kernel alone, as a fraction of copy bandwidth.
    // Decode rows too (one block per row: latency, not bandwidth).
    for (auto [m, k] : {std::pair<int, int>{4096, 4096}, {4096, 8192}, {4096, 14336}, {16384, 4096}, {1, 4096},
                        {1, 14336}, {1, 28672}, {8, 28672}, {32, 14336}}) {
      DeviceBuffer x(size_t(m) * k * 2), q(size_t(m) * k), sc(m * 4), gs(size_t(m) * (k / 128) * 4), flag(4);
      fill_random(x.p, size_t(m) * k, Baseline::fp16, 3);
      CHECK_CUDA(cudaMemset(flag.p, 0, 4));
      cuda::ActQuantParams a;
      a.x = x.p, a.dtype = DType::f16, a.m = m, a.k = k, a.group_size = 128, a.groups = k / 128;
      a.q = static_cast<int8_t*>(q.p), a.ldq = k, a.scale = static_cast<float*>(sc.p);
      a.gsum = static_cast<int32_t*>(gs.p), a.error_flag = static_cast<int*>(flag.p);
      const double t = time_graph([&](int, cudaStream_t st) { CHECK_CUDA(cuda::launch_act_quant(a, st)); }, 8, s);
      const double bytes = double(m) * k * 3;  // read fp16, write int8
      fmt::print("act_quant {}x{}: {:.1f} us, {:.0f} GB/s = {:.0f}% of copy bandwidth\n", m, k, t * 1e6, bytes / t / 1e9,
                 100 * bytes / t / bw);
      out["act_quant"].push_back({{"m", m}, {"k", k}, {"us", t * 1e6}, {"fraction_of_copy", bytes / t / bw}});
    }

    DeviceBuffer sink(4);
    fmt::print("\n{:>6} {:>6} {:>5} {:>5} {:>9} {:>7} {:>8} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7}  {}\n", "N", "K", "group",
               "M", "w4a8 us", "x floor", "floor us", "fp16 us", "int8 us", "fp8 us", "vs fp16", "vs int8", "vs fp8",
               "kernel");
    std::stringstream ss(shapes);
    for (std::string item; std::getline(ss, item, ',');) {
      const int64_t n = std::stoll(item.substr(0, item.find('x'))), k = std::stoll(item.substr(item.find('x') + 1));
      for (int64_t group : parse_ints(groups)) {
        // Our layers: int4 values + fp16 scales, as a checkpoint gives them.
        const int64_t G = group == -1 ? 1 : k / group;
        std::mt19937 rng(static_cast<uint32_t>(n * 31 + k));
        std::uniform_int_distribution<int> di(-8, 7);
        std::vector<int8_t> values(size_t(n) * k);
        for (auto& v : values) v = static_cast<int8_t>(di(rng));
        Tensor scales(DType::f16, {n, G});
        for (int64_t i = 0; i < n * G; ++i) store_from_float(scales.view(), i, 0.001f + 0.0001f * (i % 17));
        LinearWeights lw;
        lw.values = TensorView(values.data(), DType::i8, {n, k});
        lw.scales = scales.view();
        lw.group_size = group;
        const double our_bytes = n * k / 2.0 + n * G * 2.0;
        const int copies = static_cast<int>(std::clamp<double>(std::ceil(rotate_bytes / our_bytes), 1, 64));
        const int64_t max_m = parse_ints(ms).back();
        std::vector<W4A8Linear> layers;
        for (int i = 0; i < copies; ++i) {
          LinearOptions o;
          o.backend = "cuda";
          o.max_tokens = std::max<int64_t>(max_m, 1);
          layers.push_back(W4A8Linear::create(lw, o).value());
        }
        // Baseline weights, rotated the same way.
        std::vector<std::unique_ptr<DeviceBuffer>> bw16, bw8, bwf8;
        auto make = [&](std::vector<std::unique_ptr<DeviceBuffer>>& v, Baseline b) {
          const size_t bytes = size_t(n) * k * bench::input_bytes(b);
          const int c = static_cast<int>(std::clamp<double>(std::ceil(double(rotate_bytes) / bytes), 1, 64));
          for (int i = 0; i < c; ++i) {
            v.push_back(std::make_unique<DeviceBuffer>(bytes));
            fill_random(v.back()->p, size_t(n) * k, b, 100 + i);
          }
        };
        if (!no_baselines && group == parse_ints(groups).front()) make(bw16, Baseline::fp16), make(bw8, Baseline::int8), make(bwf8, Baseline::fp8);
        // A chain of this many calls per graph: the per-call time includes
        // what a decode step's back-to-back layers pay (launch, overlap).
        const int calls = std::max(copies, 32);
        // The same-size read floor: the weight and scale bytes, rotated alike.
        const size_t floor_bytes = (static_cast<size_t>(our_bytes) + 15) / 16 * 16;
        std::vector<std::unique_ptr<DeviceBuffer>> floor_bufs;
        for (int i = 0; i < copies; ++i) {
          floor_bufs.push_back(std::make_unique<DeviceBuffer>(floor_bytes));
          CHECK_CUDA(cudaMemset(floor_bufs.back()->p, 0x5A + i, floor_bytes));
        }
        const double read_floor = time_graph([&](int i, cudaStream_t st) {
          CHECK_CUDA(bench::launch_read_floor(floor_bufs[i % copies]->p, floor_bytes, static_cast<unsigned*>(sink.p), st));
        }, calls, s);

        for (int64_t m : parse_ints(ms)) {
          DeviceBuffer x16(size_t(m) * k * 2), x8(size_t(m) * k), y(size_t(m) * n * 4);
          fill_random(x16.p, size_t(m) * k, Baseline::fp16, 7);
          fill_random(x8.p, size_t(m) * k, Baseline::int8, 8);
          const TensorView xv(x16.p, DType::f16, {m, k}, Device::cuda(0));
          const TensorView yv(y.p, DType::f16, {m, n}, Device::cuda(0));
          const double ours = time_graph([&](int i, cudaStream_t st) {
            ForwardOptions fo;
            fo.stream = st;
            throw_if_error(layers[i % copies].forward(xv, yv, fo));
          }, calls, s);
          cuda::GemmParams kp;
          kp.m = static_cast<int>(m);
          kp.n_pad = static_cast<int>((n + 15) / 16 * 16);
          kp.k_pad = static_cast<int>((k + 63) / 64 * 64);
          kp.groups = static_cast<int>(G);
          kp.group_size = static_cast<int>(k / G);
          const std::string kernel = cuda::gemm_kernel_name(kp);
          const double copy_floor = our_bytes / bw;  // weight + scale bytes / large-copy bandwidth
          nlohmann::json row = {{"n", n}, {"k", k}, {"group", group}, {"m", m}, {"w4a8_us", ours * 1e6},
                                {"floor_us", read_floor * 1e6}, {"copy_floor_us", copy_floor * 1e6},
                                {"chain_calls", calls}, {"kernel", kernel}};
          double base[3] = {0, 0, 0};
          if (!bw16.empty()) {
            const Baseline kinds[3] = {Baseline::fp16, Baseline::int8, Baseline::fp8};
            std::vector<std::unique_ptr<DeviceBuffer>>* bufs[3] = {&bw16, &bw8, &bwf8};
            for (int b = 0; b < 3; ++b) {
              bench::LtGemm g(lt, kinds[b], static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), ws.p, ws_bytes);
              if (!g.ok()) continue;
              const void* xin = kinds[b] == Baseline::fp16 ? x16.p : x8.p;
              auto& wv = *bufs[b];
              base[b] = time_graph([&](int i, cudaStream_t st) { CHECK_CUDA(g.run(xin, wv[i % wv.size()]->p, y.p, st)); },
                                   std::max<int>(static_cast<int>(wv.size()), 32), s);
              row[std::string(bench::baseline_name(kinds[b]))] = base[b] * 1e6;
            }
          }
          auto ratio = [&](double b) { return b > 0 ? fmt::format("{:.2f}x", b / ours) : std::string("n/a"); };
          auto us = [&](double b) { return b > 0 ? fmt::format("{:.1f}", b * 1e6) : std::string("-"); };
          fmt::print("{:>6} {:>6} {:>5} {:>5} {:>9.1f} {:>7.2f} {:>8.1f} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7}  {}\n", n, k,
                     group, m, ours * 1e6, ours / read_floor, read_floor * 1e6, us(base[0]), us(base[1]), us(base[2]),
                     ratio(base[0]), ratio(base[1]), ratio(base[2]), kernel);
          out["results"].push_back(row);
        }
      }
    }
    if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  } catch (const std::exception& e) {
    fmt::print(stderr, "w4a8_cuda_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
