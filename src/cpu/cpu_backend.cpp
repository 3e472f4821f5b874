#include "cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/int4.h"
#include "core/parallel.h"
#include "cpu/ref/act_quant_ref.h"
#include "cpu/ref/gemm_ref.h"
#include "cpu/x86/gemm_kernels.h"
#include "cpu/x86/vnni_layout.h"
#include "w4a8/device.h"

namespace w4a8::cpu {

namespace {

struct KernelChoice {
  CpuGemmKernel kernel = nullptr;
  std::string name;
  Status status;  // why the requested kernel cannot run, if it cannot
};

KernelChoice choose_kernel() {
  const CpuFeatures& f = cpu_features();
  const bool vnni = f.avx512f && f.avx512bw && f.avx512vl && f.avx512_vnni;
  const bool avx2 = f.avx2 && f.fma;
  const char* env = std::getenv("W4A8_CPU_KERNEL");
  const std::string want = env ? env : (vnni ? "avx512vnni" : avx2 ? "avx2" : "generic");
  if (want == "generic") return {gemm_generic, "generic", Status::ok()};
  if (want == "avx2") {
    if (avx2) return {gemm_avx2, "avx2", Status::ok()};
    return {nullptr, want, Status(StatusCode::unavailable, "W4A8_CPU_KERNEL=avx2, but this CPU lacks avx2/fma")};
  }
  if (want == "avx512vnni") {
    if (vnni) return {gemm_avx512_vnni, "avx512vnni", Status::ok()};
    return {nullptr, want, Status(StatusCode::unavailable, "W4A8_CPU_KERNEL=avx512vnni, but this CPU lacks avx512f/bw/vl/vnni")};
  }
  return {nullptr, want,
          Status(StatusCode::unavailable, "W4A8_CPU_KERNEL=" + want + " is not a kernel (generic, avx2, avx512vnni)")};
}

const KernelChoice& kernel_choice() {
  static const KernelChoice choice = choose_kernel();
  return choice;
}

struct CpuWeight final : PreparedWeight {
  int64_t n = 0, n_pad = 0, k = 0, group_size = 0, groups = 0;
  std::vector<uint8_t> w;
  std::vector<float> scales;    // [groups][n_pad]
  std::vector<uint8_t> zp;      // [groups][n_pad], or empty (8)
  std::vector<float> bias;      // [n] or empty
  std::vector<int32_t> perm;    // [k] or empty
};

// Quantized activations in GEMM column order, with their group sums.
struct Activations {
  std::vector<int8_t> q;
  std::vector<float> scale;
  std::vector<int32_t> gsum;
};

void gather_and_sum(const CpuWeight& w, int64_t m, Activations& a) {
  if (!w.perm.empty()) {
    std::vector<int8_t> g(a.q.size());
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < w.k; ++j) g[r * w.k + j] = a.q[r * w.k + w.perm[j]];
    a.q.swap(g);
  }
  a.gsum.assign(static_cast<size_t>(m * w.groups), 0);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < w.k; ++j) a.gsum[r * w.groups + j / w.group_size] += a.q[r * w.k + j];
}

Status run(const CpuWeight& w, const Activations& a, int64_t m, const TensorView& out) {
  const KernelChoice& kc = kernel_choice();
  W4A8_RETURN_IF_ERROR(kc.status);
  std::vector<float> y(static_cast<size_t>(m * w.n));
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
  p.m = m;
  p.a_scale = a.scale.data();
  p.gsum = a.gsum.data();
  p.y = y.data();
  detail::parallel_for(w.n_pad / kCpuTileChannels, 1, [&](int64_t b, int64_t e) { kc.kernel(p, b, e); });
  for (int64_t i = 0; i < m * w.n; ++i) store_from_float(out, i, y[i]);
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
  w->scales.assign(static_cast<size_t>(w->groups * w->n_pad), 0.0f);
  for (int64_t g = 0; g < w->groups; ++g)
    for (int64_t c = 0; c < qw.n; ++c) w->scales[g * w->n_pad + c] = qw.scales.data_as<const float>()[g * qw.n + c];
  if (qw.zero_points.defined()) {
    w->zp.assign(static_cast<size_t>(w->groups * w->n_pad), detail::kInt4Offset);
    for (int64_t g = 0; g < w->groups; ++g)
      for (int64_t c = 0; c < qw.n; ++c)
        w->zp[g * w->n_pad + c] = static_cast<uint8_t>(
            detail::nibble(qw.zero_points.data_as<const int32_t>()[g * (qw.n / 8) + c / 8], static_cast<int>(c % 8)));
  }
  if (qw.bias.defined()) w->bias.assign(qw.bias.data_as<const float>(), qw.bias.data_as<const float>() + qw.n);
  if (qw.perm.defined()) w->perm.assign(qw.perm.data_as<const int32_t>(), qw.perm.data_as<const int32_t>() + qw.k);
  return w;
}

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  const char* description() const override {
    static const std::string d = "fast CPU kernels, this machine: " + kernel_choice().name;
    return d.c_str();
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
    Activations a;
    a.q.resize(static_cast<size_t>(m * w.k));
    a.scale.resize(static_cast<size_t>(m));
    std::vector<int32_t> zp(static_cast<size_t>(m));
    W4A8_RETURN_IF_ERROR(ref::quantize_per_token(x, true, w.k, TensorView(a.q.data(), DType::i8, {m, w.k}),
                                                 TensorView(a.scale.data(), DType::f32, {m}),
                                                 TensorView(zp.data(), DType::i32, {m}), {}));
    gather_and_sum(w, m, a);
    return run(w, a, m, y);
  }

  // The op: weights repacked on every call. Asymmetric (uint8) activations do
  // not fit vpdpbusd's signed operand: those calls run the reference GEMM.
  Status gemm(const detail::GemmArgs& g, void*) const override {
    if (g.a.dtype() != DType::i8 || g.a_zp.defined()) {
      ref::gemm(g);
      return Status::ok();
    }
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
    const auto w = build(qw);
    Activations a;
    a.q.assign(g.a.data_as<const int8_t>(), g.a.data_as<const int8_t>() + g.m * g.k);
    a.scale.resize(static_cast<size_t>(g.m));
    for (int64_t r = 0; r < g.m; ++r) a.scale[r] = g.a_scale_at(r);
    gather_and_sum(*w, g.m, a);
    return run(*w, a, g.m, g.out);
  }
};

}  // namespace

const Backend& cpu_backend() {
  static const CpuBackend backend;
  return backend;
}

}  // namespace w4a8::cpu
