#include "cpu/cpu_backend.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/int4.h"
#include "core/parallel.h"
#include "cpu/ref/act_quant_ref.h"
#include "cpu/ref/gemm_ref.h"
#include "cpu/x86/act_quant_kernels.h"
#include "cpu/x86/gemm_kernels.h"
#include "cpu/x86/store_floats.h"
#include "cpu/x86/vnni_layout.h"
#include "w4a8/device.h"

namespace w4a8::cpu {

namespace {

struct KernelChoice {
  CpuGemmKernel kernel = nullptr;
  ActQuantKernel quantize = nullptr;  // null: the reference quantizer (the generic level)
  bool packs_tokens = false;          // the kernel reads q_packed (pack_tokens_for_vnni)
  std::string name;
  Status status;  // why the requested kernel cannot run, if it cannot
};

// Every level this build has, best first; `usable` says whether this CPU can run it.
struct Level {
  KernelChoice choice;
  bool usable;
};

const std::vector<Level>& levels() {
  static const std::vector<Level> all = [] {
    const CpuFeatures& f = cpu_features();
    const bool vnni = f.avx512f && f.avx512bw && f.avx512vl && f.avx512_vnni;
    const bool avx2 = f.avx2 && f.fma && f.f16c;
    return std::vector<Level>{
        {{gemm_avx512_vnni, quantize_rows_avx512, true, "avx512vnni", Status::ok()}, vnni},
        {{gemm_avx_vnni, quantize_rows_avx2, false, "avxvnni", Status::ok()}, avx2 && f.avx_vnni},
        {{gemm_avx2, quantize_rows_avx2, false, "avx2", Status::ok()}, avx2},
        {{gemm_generic, nullptr, false, "generic", Status::ok()}, true},
    };
  }();
  return all;
}

// The choice for a level name: the level, or why it cannot run here.
KernelChoice choice_for(const std::string& want) {
  for (const Level& l : levels()) {
    if (l.choice.name != want) continue;
    if (l.usable) return l.choice;
    const char* needs = want == "avx2"      ? "avx2/fma/f16c"
                        : want == "avxvnni" ? "avx_vnni/avx2/fma/f16c"
                                            : "avx512f/bw/vl/vnni";
    return {nullptr, nullptr, false, want,
            Status(StatusCode::unavailable, "CPU kernel " + want + " was asked for, but this CPU lacks " + needs)};
  }
  return {nullptr, nullptr, false, want,
          Status(StatusCode::unavailable, "CPU kernel '" + want + "' is not a kernel (avx512vnni, avxvnni, avx2, generic)")};
}

KernelChoice best_choice() {
  for (const Level& l : levels())
    if (l.usable) return l.choice;
  return levels().back().choice;
}

// The current choice: W4A8_CPU_KERNEL at start-up, else the best level;
// set_cpu_kernel() replaces it. Choices are never freed (a few, small), so a
// forward that read the old one stays valid.
std::atomic<const KernelChoice*>& current_choice() {
  static std::atomic<const KernelChoice*> current{[] {
    const char* env = std::getenv("W4A8_CPU_KERNEL");
    return new KernelChoice(env && *env ? choice_for(env) : best_choice());
  }()};
  return current;
}

const KernelChoice& kernel_choice() { return *current_choice().load(); }

struct CpuWeight final : PreparedWeight {
  int64_t n = 0, n_pad = 0, k = 0, group_size = 0, groups = 0;
  std::vector<uint8_t> w;
  std::vector<float> scales;    // [tiles][groups][16]
  std::vector<uint8_t> zp;      // [tiles][groups][16], or empty (8)
  std::vector<float> bias;      // [n] or empty
  std::vector<int32_t> perm;    // [k] or empty
  detail::ActQuantScheme act;
  std::vector<float> row_sums;  // [n] when act has a zero point (QuantizedWeight::row_sums), else empty
};

// Quantized activations in GEMM column order, with their group sums, and the
// fp32 result: one set per calling thread, kept between calls so that a
// forward allocates (and page-faults) nothing once warm.
struct Workspace {
  std::vector<int8_t> q, q_packed;
  std::vector<float> scale;
  std::vector<int32_t> zp;  // of the stored (signed) q, when the activations have zero points
  std::vector<int32_t> gsum;
  std::vector<float> y;
  void size_for(int64_t m, int64_t k, int64_t groups, int64_t n) {
    q.resize(static_cast<size_t>(m * k));
    scale.resize(static_cast<size_t>(m));
    zp.resize(static_cast<size_t>(m));
    gsum.resize(static_cast<size_t>(m * groups));
    y.resize(static_cast<size_t>(m * n));
  }
};

Workspace& workspace() {
  thread_local Workspace ws;
  return ws;
}

// Group sums (and the act-order gather) for activations quantized elsewhere.
void gather_and_sum(const CpuWeight& w, int64_t m, Workspace& a) {
  if (!w.perm.empty()) {
    std::vector<int8_t> g(static_cast<size_t>(m * w.k));
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < w.k; ++j) g[r * w.k + j] = a.q[r * w.k + w.perm[j]];
    std::copy(g.begin(), g.end(), a.q.begin());
  }
  std::fill(a.gsum.begin(), a.gsum.end(), 0);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < w.k; ++j) a.gsum[r * w.groups + j / w.group_size] += a.q[r * w.k + j];
}

// Uint8 activations (0..255) as the kernels store them: q - 128, and their
// zero points moved by the same 128, so every product (q - z) is unchanged.
void to_signed_storage(int8_t* q, int64_t count, int32_t* zp, int64_t rows) {
  for (int64_t i = 0; i < count; ++i) q[i] = static_cast<int8_t>(static_cast<uint8_t>(q[i]) ^ 0x80u);
  for (int64_t r = 0; r < rows; ++r) zp[r] -= 128;
}

// The layer's activation quantization into the workspace, in GEMM column order.
Status quantize(const CpuWeight& w, const TensorView& x, Workspace& a) {
  const int64_t m = x.size(0);
  const KernelChoice& kc = kernel_choice();
  if (kc.quantize) {
    ActQuantParams p;
    p.x = x.data();
    p.dtype = x.dtype();
    p.m = m;
    p.k = w.k;
    p.group_size = w.group_size;
    p.perm = w.perm.empty() ? nullptr : w.perm.data();
    p.q = a.q.data();
    p.scheme = w.act;
    p.scale = a.scale.data();
    p.zp = a.zp.data();
    p.gsum = a.gsum.data();
    std::atomic<bool> finite{true};
    detail::parallel_for(m, std::max<int64_t>(1, 8192 / w.k), [&](int64_t b, int64_t e) {
      if (!kc.quantize(p, b, e)) finite = false;
    });
    if (finite) return Status::ok();
    // A NaN or Inf (or an unfit zero point): the reference below names it.
  }
  const bool unsigned_q = !w.act.is_static && !w.act.symmetric;
  W4A8_RETURN_IF_ERROR(ref::quantize_rows(x, w.act, w.k, TensorView(a.q.data(), unsigned_q ? DType::u8 : DType::i8, {m, w.k}),
                                          TensorView(a.scale.data(), DType::f32, {m}),
                                          TensorView(a.zp.data(), DType::i32, {m}), {}));
  if (unsigned_q) to_signed_storage(a.q.data(), m * w.k, a.zp.data(), m);
  gather_and_sum(w, m, a);
  return Status::ok();
}

Status run(const CpuWeight& w, Workspace& a, int64_t m, const TensorView& out) {
  const KernelChoice& kc = kernel_choice();
  W4A8_RETURN_IF_ERROR(kc.status);
  CpuGemmParams p;
  p.w = w.w.data();
  p.n = w.n;
  p.n_pad = w.n_pad;
  p.k = w.k;
  p.group_size = w.group_size;
  p.groups = w.groups;
  p.w_scale = w.scales.data();
  p.w_zp = w.zp.empty() ? nullptr : w.zp.data();
  p.bias = w.bias.empty() ? nullptr : w.bias.data();
  p.q = a.q.data();
  if (kc.packs_tokens) {
    a.q_packed.resize(a.q.size());
    pack_tokens_for_vnni(a.q.data(), m, w.k, a.q_packed.data());
    p.q_packed = a.q_packed.data();
  }
  p.m = m;
  p.a_scale = a.scale.data();
  if (!w.row_sums.empty()) {
    p.a_zp = a.zp.data();
    p.row_sums = w.row_sums.data();
  }
  p.gsum = a.gsum.data();
  p.y = a.y.data();
  // Work in pairs of tiles (the VNNI micro-kernel's width); each thread
  // narrows the columns it computed while they are still in its cache.
  const int64_t tiles = w.n_pad / kCpuTileChannels, pairs = (tiles + 1) / 2;
  const size_t elem = dtype_size(out.dtype());
  detail::parallel_for(pairs, 1, [&](int64_t b, int64_t e) {
    const int64_t t0 = 2 * b, t1 = std::min(tiles, 2 * e);
    kc.kernel(p, t0, t1);
    const int64_t c0 = t0 * kCpuTileChannels, c1 = std::min(w.n, t1 * kCpuTileChannels);
    for (int64_t r = 0; r < m; ++r)
      store_floats(p.y + r * w.n + c0, c1 - c0, out.dtype(),
                   static_cast<char*>(out.data()) + static_cast<size_t>(r * w.n + c0) * elem);
  });
  return Status::ok();
}

std::unique_ptr<CpuWeight> build(const detail::QuantizedWeight& qw) {
  auto w = std::make_unique<CpuWeight>();
  w->n = qw.n;
  w->k = qw.k;
  w->n_pad = (qw.n + kCpuTileChannels - 1) / kCpuTileChannels * kCpuTileChannels;
  w->group_size = qw.group_size;
  w->groups = qw.num_groups;
  w->w = repack_for_vnni(qw.packed.data_as<const int32_t>(), qw.n, qw.k);
  auto at = [&](int64_t g, int64_t c) { return tile_major_index(g, c, w->groups); };
  w->scales.assign(static_cast<size_t>(w->groups * w->n_pad), 0.0f);
  for (int64_t g = 0; g < w->groups; ++g)
    for (int64_t c = 0; c < qw.n; ++c) w->scales[at(g, c)] = qw.scales.data_as<const float>()[g * qw.n + c];
  if (qw.zero_points.defined()) {
    w->zp.assign(static_cast<size_t>(w->groups * w->n_pad), detail::kInt4Offset);
    for (int64_t g = 0; g < w->groups; ++g)
      for (int64_t c = 0; c < qw.n; ++c)
        w->zp[at(g, c)] = static_cast<uint8_t>(
            detail::nibble(qw.zero_points.data_as<const int32_t>()[g * (qw.n / 8) + c / 8], static_cast<int>(c % 8)));
  }
  if (qw.bias.defined()) w->bias.assign(qw.bias.data_as<const float>(), qw.bias.data_as<const float>() + qw.n);
  if (qw.perm.defined()) w->perm.assign(qw.perm.data_as<const int32_t>(), qw.perm.data_as<const int32_t>() + qw.k);
  w->act = qw.act;
  if (qw.row_sums.defined())
    w->row_sums.assign(qw.row_sums.data_as<const float>(), qw.row_sums.data_as<const float>() + qw.n);
  return w;
}

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  const char* description() const override {
    return "fast CPU kernels (AVX-512 VNNI, AVX-VNNI, AVX2 or generic, chosen at run time)";
  }
  Device device() const override { return Device::cpu(); }
  Status available() const override { return kernel_choice().status; }
  Status supports(const LinearConfig& c) const override { return can_implement(c); }

  Result<std::unique_ptr<PreparedWeight>> prepare(const detail::QuantizedWeight& qw, const LinearOptions&) const override {
    return std::unique_ptr<PreparedWeight>(build(qw));
  }

  Status forward(const PreparedWeight& pw, const TensorView& x, const TensorView& y, void*) const override {
    const auto& w = static_cast<const CpuWeight&>(pw);
    const int64_t m = x.size(0);
    Workspace& a = workspace();
    a.size_for(m, w.k, w.groups, w.n);
    W4A8_RETURN_IF_ERROR(quantize(w, x, a));
    return run(w, a, m, y);
  }

  // The op: weights repacked on every call. Uint8 activations are stored
  // signed (q - 128, zero point - 128) like the layer's.
  Status gemm(const detail::GemmArgs& g, void*) const override {
    detail::QuantizedWeight qw;
    qw.n = g.n;
    qw.k = g.k;
    qw.group_size = g.group_size;
    qw.num_groups = g.num_groups;
    qw.packed = Tensor(DType::i32, {g.n, g.k / 8});
    for (int64_t c = 0; c < g.n; ++c)
      for (int64_t j = 0; j < g.k / 8; ++j) qw.packed.data_as<int32_t>()[c * (g.k / 8) + j] = g.b_word(j, c);
    qw.scales = Tensor(DType::f32, {g.num_groups, g.n});
    for (int64_t i = 0; i < g.num_groups * g.n; ++i) qw.scales.data_as<float>()[i] = load_as_float(g.b_scale, i);
    if (g.b_zp_packed.defined()) {
      qw.zero_points = Tensor(DType::i32, {g.num_groups, g.n / 8});
      std::memcpy(qw.zero_points.data(), g.b_zp_packed.data(), qw.zero_points.nbytes());
    } else if (g.b_zp_const != detail::kInt4Offset) {
      qw.zero_points = Tensor(DType::i32, {g.num_groups, g.n / 8});
      uint8_t u[8];
      for (auto& v : u) v = static_cast<uint8_t>(g.b_zp_const);
      for (int64_t i = 0; i < qw.zero_points.numel(); ++i) qw.zero_points.data_as<int32_t>()[i] = detail::pack_nibbles(u);
    }
    if (g.bias.defined()) {
      qw.bias = Tensor(DType::f32, {g.n});
      for (int64_t i = 0; i < g.n; ++i) qw.bias.data_as<float>()[i] = load_as_float(g.bias, i);
    }
    if (g.perm.defined()) {
      qw.perm = Tensor(DType::i32, {g.k});
      for (int64_t i = 0; i < g.k; ++i) qw.perm.data_as<int32_t>()[i] = static_cast<int32_t>(g.perm_at(i));
    }
    if (g.a_zp.defined()) qw.row_sums = detail::dequantized_row_sums(qw);
    const auto w = build(qw);
    Workspace& a = workspace();
    a.size_for(g.m, g.k, g.num_groups, g.n);
    std::copy(g.a.data_as<const int8_t>(), g.a.data_as<const int8_t>() + g.m * g.k, a.q.begin());
    for (int64_t r = 0; r < g.m; ++r) {
      a.scale[r] = g.a_scale_at(r);
      a.zp[r] = g.a_zp_at(r);
    }
    if (g.a.dtype() == DType::u8) to_signed_storage(a.q.data(), g.m * g.k, a.zp.data(), g.m);
    gather_and_sum(*w, g.m, a);
    return run(*w, a, g.m, g.out);
  }
};

}  // namespace

Status quantize_activations(const TensorView& x, const detail::ActQuantScheme& scheme, const TensorView& q,
                            const TensorView& scale, const TensorView& zero_point, const TensorView& group_sums,
                            int64_t group_size) {
  const KernelChoice& kc = kernel_choice();
  const int64_t m = x.size(0), k = x.size(1);
  const bool unsigned_q = q.dtype() == DType::u8;
  // Outputs the caller did not ask for (a static scheme's scale and zero point) go to scratch.
  std::vector<float> scale_f32(static_cast<size_t>(m));
  std::vector<int32_t> zp(static_cast<size_t>(m)), sums;
  const TensorView scale_out = scale.defined() ? scale : TensorView(scale_f32.data(), DType::f32, {m});
  const TensorView zp_out = zero_point.defined() ? zero_point : TensorView(zp.data(), DType::i32, {m});
  if (!kc.quantize || m == 0 || k == 0)
    return ref::quantize_rows(x, scheme, group_size, q, scale_out, zp_out, group_sums);
  ActQuantParams p;
  p.x = x.data();
  p.dtype = x.dtype();
  p.m = m;
  p.k = k;
  p.group_size = group_size;
  p.scheme = scheme;
  p.q = static_cast<int8_t*>(q.data());
  p.scale = scale_f32.data();
  p.zp = zp.data();
  if (group_sums.defined()) {
    p.gsum = group_sums.data_as<int32_t>();
  } else {
    sums.resize(static_cast<size_t>(m * (k / group_size)));
    p.gsum = sums.data();
  }
  std::atomic<bool> finite{true};
  detail::parallel_for(m, std::max<int64_t>(1, 8192 / k), [&](int64_t b, int64_t e) {
    if (!kc.quantize(p, b, e)) finite = false;
  });
  if (!finite) return ref::quantize_rows(x, scheme, group_size, q, scale_out, zp_out, group_sums);
  if (unsigned_q) {  // the kernels store q - 128 (act_quant_kernels.h): back to 0..255
    for (int64_t i = 0; i < m * k; ++i) p.q[i] = static_cast<int8_t>(static_cast<uint8_t>(p.q[i]) ^ 0x80u);
    for (int64_t r = 0; r < m; ++r) zp[r] += 128;
    if (group_sums.defined())
      for (int64_t i = 0; i < m * (k / group_size); ++i) p.gsum[i] += 128 * static_cast<int32_t>(group_size);
  }
  for (int64_t r = 0; r < m; ++r) {
    if (scale.defined()) store_from_float(scale, r, scale_f32[r]);  // exact: dynamic scales are already rounded
    if (zero_point.defined()) zero_point.data_as<int32_t>()[r] = zp[r];
  }
  return Status::ok();
}

std::vector<std::string> kernels_available() {
  std::vector<std::string> out;
  for (const Level& l : levels())
    if (l.usable) out.push_back(l.choice.name);
  return out;
}

const Backend& cpu_backend() {
  static const CpuBackend backend;
  return backend;
}

}  // namespace w4a8::cpu

namespace w4a8 {

std::vector<std::string> cpu_kernels() { return cpu::kernels_available(); }

std::string cpu_kernel() { return cpu::kernel_choice().name; }

Status set_cpu_kernel(const std::string& name) {
  cpu::KernelChoice c = name.empty() ? cpu::best_choice() : cpu::choice_for(name);
  if (!c.status.is_ok()) return c.status;
  static std::mutex keep_mutex;
  static std::vector<std::unique_ptr<cpu::KernelChoice>> kept;  // see current_choice()
  std::lock_guard<std::mutex> lock(keep_mutex);
  kept.push_back(std::make_unique<cpu::KernelChoice>(std::move(c)));
  cpu::current_choice().store(kept.back().get());
  return Status::ok();
}

}  // namespace w4a8
