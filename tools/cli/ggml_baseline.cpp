#include "cli/ggml_baseline.h"

#include <fmt/format.h>
#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <ggml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace w4a8::cli {

namespace {
// The repack buffer type of the CPU backend, found the way llama.cpp finds
// it: through the device's "extra buffer types".
// ggml's log: its "repack tensor ... with q4_0_8x8" line names the kernel the
// weights were repacked for; it is kept for the bench's description and not
// printed once per copy. Warnings and errors still reach stderr.
std::string g_repack_kernel;
void ggml_log(ggml_log_level level, const char* text, void*) {
  const std::string line(text ? text : "");
  const size_t at = line.find("repack tensor");
  if (at != std::string::npos) {
    const size_t with = line.find(" with ", at);
    if (with != std::string::npos) {
      g_repack_kernel = line.substr(with + 6);
      while (!g_repack_kernel.empty() && g_repack_kernel.back() == '\n') g_repack_kernel.pop_back();
    }
    return;
  }
  if (level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

ggml_backend_buffer_type_t repack_buffer_type(ggml_backend_t backend) {
  ggml_backend_dev_t dev = ggml_backend_get_device(backend);
  auto get_extra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
      ggml_backend_reg_get_proc_address(ggml_backend_dev_backend_reg(dev), "ggml_backend_dev_get_extra_bufts"));
  if (!get_extra) return nullptr;
  for (ggml_backend_buffer_type_t* b = get_extra(dev); b && *b; ++b)
    if (std::strcmp(ggml_backend_buft_name(*b), "CPU_REPACK") == 0) return *b;
  return nullptr;
}
}  // namespace

struct GgmlQ4Matmul::Impl {
  ggml_backend_t backend = nullptr;
  ggml_threadpool* pool = nullptr;
  std::vector<ggml_context*> contexts;
  std::vector<ggml_backend_buffer_t> buffers;
  std::vector<ggml_cgraph*> graphs;
  std::vector<ggml_tensor*> outputs;
  size_t weight_bytes = 0;
  std::string description;

  ~Impl() {
    for (ggml_backend_buffer_t b : buffers) ggml_backend_buffer_free(b);
    for (ggml_context* c : contexts) ggml_free(c);
    if (backend) ggml_backend_free(backend);
    if (pool) ggml_threadpool_free(pool);
  }
  ggml_context* context(size_t tensors, size_t graph_nodes) {
    ggml_init_params p{ggml_tensor_overhead() * tensors + ggml_graph_overhead_custom(graph_nodes, false) + 4096,
                       nullptr, /*no_alloc=*/true};
    contexts.push_back(ggml_init(p));
    if (!contexts.back()) throw std::runtime_error("ggml_init failed");
    return contexts.back();
  }
};

GgmlQ4Matmul::GgmlQ4Matmul(const std::vector<float>& w, int64_t n, int64_t k, const std::vector<float>& x, int64_t m,
                           size_t copies, int threads)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  if (k % 32 != 0) throw std::runtime_error("ggml baseline: q4_0 needs K to be a multiple of 32");
  ggml_log_set(ggml_log, nullptr);
  g_repack_kernel.clear();
  ggml_cpu_init();
  s.backend = ggml_backend_cpu_init();
  if (!s.backend) throw std::runtime_error("ggml baseline: ggml_backend_cpu_init failed");
  // A persistent pool, as llama.cpp's tools attach one; without it every
  // graph run would start and join its threads.
  ggml_threadpool_params tp = ggml_threadpool_params_default(threads);
  s.pool = ggml_threadpool_new(&tp);
  if (!s.pool) throw std::runtime_error("ggml baseline: ggml_threadpool_new failed");
  ggml_backend_cpu_set_n_threads(s.backend, threads);
  ggml_backend_cpu_set_threadpool(s.backend, s.pool);
  ggml_backend_buffer_type_t repack = repack_buffer_type(s.backend);
  if (!repack) throw std::runtime_error("ggml baseline: this ggml has no CPU_REPACK buffer type (built without GGML_CPU_REPACK?)");

  // q4_0 blocks of the float weights (ggml's own quantizer).
  s.weight_bytes = ggml_row_size(GGML_TYPE_Q4_0, k) * static_cast<size_t>(n);
  std::vector<uint8_t> q4(s.weight_bytes);
  ggml_quantize_chunk(GGML_TYPE_Q4_0, w.data(), q4.data(), 0, n, k, nullptr);

  // Weights: one context and one repack buffer per copy; setting the tensor
  // repacks it.
  std::vector<ggml_tensor*> weights;
  for (size_t c = 0; c < copies; ++c) {
    ggml_context* ctx = s.context(1, 0);
    ggml_tensor* t = ggml_new_tensor_2d(ctx, GGML_TYPE_Q4_0, k, n);
    ggml_backend_buffer_t buf = ggml_backend_alloc_ctx_tensors_from_buft(ctx, repack);
    if (!buf) throw std::runtime_error("ggml baseline: cannot allocate the repack buffer");
    s.buffers.push_back(buf);
    if (!t->extra)
      throw std::runtime_error(fmt::format("ggml baseline: ggml does not repack a {}x{} q4_0 tensor on this CPU", n, k));
    ggml_backend_tensor_set(t, q4.data(), 0, s.weight_bytes);
    weights.push_back(t);
  }
  const std::string buffer_name = ggml_backend_buffer_name(weights[0]->buffer);

  // Activations (f32, [M, K]) and one graph y = w[c] x per copy.
  ggml_context* ctx = s.context(1 + 2 * copies, copies * 4);
  ggml_tensor* xt = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, k, m);
  for (size_t c = 0; c < copies; ++c) {
    ggml_tensor* y = ggml_mul_mat(ctx, weights[c], xt);
    ggml_cgraph* g = ggml_new_graph_custom(ctx, 4, false);
    ggml_build_forward_expand(g, y);
    s.graphs.push_back(g);
    s.outputs.push_back(y);
  }
  ggml_backend_buffer_t act = ggml_backend_alloc_ctx_tensors(ctx, s.backend);
  if (!act) throw std::runtime_error("ggml baseline: cannot allocate the activation buffer");
  s.buffers.push_back(act);
  ggml_backend_tensor_set(xt, x.data(), 0, x.size() * sizeof(float));

  // Check once that the repacked kernel computes the q4_0 x q8_0 product:
  // ggml's own dequantized weight blocks times its own q8_0 rounding of x,
  // summed in double.
  run(0);
  std::vector<float> y(static_cast<size_t>(m * n));
  ggml_backend_tensor_get(s.outputs[0], y.data(), 0, y.size() * sizeof(float));
  std::vector<float> wd(static_cast<size_t>(n * k)), xd(static_cast<size_t>(m * k));
  ggml_get_type_traits(GGML_TYPE_Q4_0)->to_float(q4.data(), wd.data(), n * k);
  std::vector<uint8_t> q8(ggml_row_size(GGML_TYPE_Q8_0, k) * static_cast<size_t>(m));
  ggml_quantize_chunk(GGML_TYPE_Q8_0, x.data(), q8.data(), 0, m, k, nullptr);
  ggml_get_type_traits(GGML_TYPE_Q8_0)->to_float(q8.data(), xd.data(), m * k);
  // Up to 4 token rows x 256 output channels spread over N: the whole
  // product in double would cost seconds on the large shapes.
  double err = 0, ref = 0;
  const int64_t row_step = std::max<int64_t>(1, m / 4), col_step = std::max<int64_t>(1, n / 256);
  for (int64_t i = 0; i < m; i += row_step)
    for (int64_t j = 0; j < n; j += col_step) {
      double acc = 0;
      for (int64_t l = 0; l < k; ++l) acc += static_cast<double>(xd[i * k + l]) * wd[j * k + l];
      const double d = y[i * n + j] - acc;
      err += d * d, ref += acc * acc;
    }
  const double rel = ref > 0 ? std::sqrt(err / ref) : 0;
  // fp16 block scales and f32 sums: ~1e-6; a q8_0 rounding that differs at
  // a tie moves one product by one step, far below this bound.
  if (!(rel < 1e-3))
    throw std::runtime_error(fmt::format("ggml baseline: result differs from q4_0 x q8_0 in double (relative {:.3g})", rel));
  s.description = fmt::format("ggml {} q4_0 weights in buffer {} (repacked: {}), f32 activations -> q8_0, {} thread(s) "
                              "of its own pool; result = q4_0 x q8_0 product (relative {:.1e})",
                              ggml_version(), buffer_name, g_repack_kernel.empty() ? std::string("yes") : g_repack_kernel, threads, rel);
}

GgmlQ4Matmul::~GgmlQ4Matmul() = default;

void GgmlQ4Matmul::run(size_t copy) {
  Impl& s = *impl_;
  if (ggml_backend_graph_compute(s.backend, s.graphs[copy % s.graphs.size()]) != GGML_STATUS_SUCCESS)
    throw std::runtime_error("ggml baseline: graph compute failed");
}

void GgmlQ4Matmul::idle() { ggml_threadpool_pause(impl_->pool); }

size_t GgmlQ4Matmul::weight_bytes() const { return impl_->weight_bytes; }
std::string GgmlQ4Matmul::description() const { return impl_->description; }

bool ggml_baseline_available() { return true; }
const char* ggml_baseline_name() { return "llama.cpp ggml q4_0 (CPU_REPACK) x q8_0"; }
const char* ggml_baseline_missing_reason() { return ""; }

}  // namespace w4a8::cli
