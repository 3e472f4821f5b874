#include "cuda/cuda_backend.h"

#include <algorithm>
#include <mutex>
#include <vector>

#include "core/int4.h"
#include "cuda/act_quant.cuh"
#include "cuda/common/cuda_status.h"
#include "cuda/common/split_k.h"
#include "cuda/gemm_dispatch.cuh"
#include "cuda/weight_layout.h"
#include "w4a8/device.h"

namespace w4a8::cuda {

namespace {

constexpr int kMinComputeMajor = 8;  // mma.sync s8 m16n8k32
constexpr int64_t kMaxGroups = 2048;  // act_quant keeps the group sums of a row in shared memory

struct CudaWeight final : PreparedWeight {
  int64_t n = 0, k = 0, n_pad = 0, k_pad = 0, group_size = 0, groups = 0;
  Tensor w, scales, zero_points, bias, perm;  // on the GPU
  detail::ActQuantScheme act;
  Tensor row_sums;  // [n_pad] f32 on the GPU when the activations have zero points
  int64_t max_tokens = 0;
  Tensor q, a_scale, a_zp, gsum, error_flag;  // workspace, sized once (a_zp with row_sums)
  // Split-K scratch of the wgmma kernel (gemm_dispatch.cuh), where the shape can use it.
  int64_t splitk_tiles = 0;
  Tensor splitk_partials, splitk_counters;
};

template <typename T>
Result<Tensor> upload(const std::vector<T>& host, DType dtype, Device device) {
  Tensor h(dtype, {static_cast<int64_t>(host.size())});
  std::copy(host.begin(), host.end(), h.data_as<T>());
  return h.to(device);
}

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

GemmParams gemm_params(const CudaWeight& w) {
  GemmParams p;
  p.w = w.w.data();
  p.n = static_cast<int>(w.n);
  p.n_pad = static_cast<int>(w.n_pad);
  p.k_pad = static_cast<int>(w.k_pad);
  p.group_size = static_cast<int>(w.group_size);
  p.groups = static_cast<int>(w.groups);
  p.w_scale = w.scales.data_as<const float>();
  p.w_zp = w.zero_points.defined() ? w.zero_points.data_as<const uint8_t>() : nullptr;
  p.bias = w.bias.defined() ? w.bias.data_as<const float>() : nullptr;
  p.q = w.q.data_as<const int8_t>();
  p.ldq = static_cast<int>(w.k_pad);
  p.a_scale = w.a_scale.data_as<const float>();
  p.gsum = w.gsum.data_as<const int32_t>();
  if (w.row_sums.defined()) {
    p.a_zp = w.a_zp.data_as<const int32_t>();
    p.row_sums = w.row_sums.data_as<const float>();
  }
  if (w.splitk_tiles > 0) {
    p.splitk_partials = w.splitk_partials.data_as<uint32_t>();
    p.splitk_counters = w.splitk_counters.data_as<int>();
    p.splitk_capacity = static_cast<int>(w.splitk_tiles);
  }
  return p;
}

// Both activation-preparation kernels write into the layer's workspace.
template <typename Params>
void point_at_workspace(const CudaWeight& w, Params& a) {
  a.perm = w.perm.defined() ? w.perm.data_as<const int32_t>() : nullptr;
  a.group_size = static_cast<int>(w.group_size);
  a.groups = static_cast<int>(w.groups);
  a.q = w.q.data_as<int8_t>();
  a.ldq = static_cast<int>(w.k_pad);
  a.scale = w.a_scale.data_as<float>();
  a.gsum = w.gsum.data_as<int32_t>();
  a.zp = w.row_sums.defined() ? w.a_zp.data_as<int32_t>() : nullptr;
}

OutType out_type(DType t) { return t == DType::f16 ? OutType::f16 : t == DType::bf16 ? OutType::bf16 : OutType::f32; }

class CudaBackend final : public Backend {
 public:
  const char* name() const override { return "cuda"; }
  const char* description() const override { return "mma.sync s8 kernels, sm_80 and later; wgmma on sm_90 (NVIDIA GPU)"; }
  Device device() const override { return Device::cuda(0); }

  Status available() const override {
    std::string why;
    const auto gpus = list_gpus(&why);
    if (gpus.empty()) return Status(StatusCode::unavailable, why);
    for (const GpuInfo& g : gpus)
      if (g.compute_major >= kMinComputeMajor) return Status::ok();
    return Status(StatusCode::unavailable, "no GPU of compute capability 8.0 or newer");
  }

  Status supports(const LinearConfig& c) const override {
    W4A8_RETURN_IF_ERROR(can_implement(c));
    const int64_t g = c.group_size == -1 ? c.in_features : c.group_size;
    if (c.in_features / g > kMaxGroups)
      return unsupported("the CUDA backend handles at most " + std::to_string(kMaxGroups) + " groups per row");
    return Status::ok();
  }

  Result<std::unique_ptr<PreparedWeight>> prepare(const detail::QuantizedWeight& qw,
                                                  const LinearOptions& options) const override {
    int dev = 0;
    W4A8_CUDA_RETURN_IF_ERROR(cudaGetDevice(&dev));
    if (options.device.type == DeviceType::cuda) dev = options.device.index;
    const Device device = Device::cuda(dev);
    {
      static std::once_flag once;
      static cudaError_t configured = cudaSuccess;
      std::call_once(once, [] { configured = configure_gemm_kernels(); });
      W4A8_CUDA_RETURN_IF_ERROR(configured);
    }
    auto w = std::make_unique<CudaWeight>();
    w->device = device;
    w->n = qw.n;
    w->k = qw.k;
    w->n_pad = round_up(qw.n, kTileChannels);
    w->k_pad = round_up(qw.k, kChunkK);
    w->group_size = qw.group_size;
    w->groups = qw.num_groups;
    const int64_t G = w->groups, Np = w->n_pad;

    auto bytes = upload(repack_for_mma(qw.packed.data_as<const int32_t>(), qw.n, qw.k), DType::u8, device);
    W4A8_RETURN_IF_ERROR(bytes.status());
    w->w = std::move(bytes.value());

    std::vector<float> scales(static_cast<size_t>(G * Np), 0.0f);
    for (int64_t g = 0; g < G; ++g)
      for (int64_t c = 0; c < qw.n; ++c) scales[g * Np + c] = qw.scales.data_as<const float>()[g * qw.n + c];
    auto s = upload(scales, DType::f32, device);
    W4A8_RETURN_IF_ERROR(s.status());
    w->scales = std::move(s.value());

    if (qw.zero_points.defined()) {
      std::vector<uint8_t> zp(static_cast<size_t>(G * Np), detail::kInt4Offset);
      for (int64_t g = 0; g < G; ++g)
        for (int64_t c = 0; c < qw.n; ++c)
          zp[g * Np + c] = static_cast<uint8_t>(
              detail::nibble(qw.zero_points.data_as<const int32_t>()[g * (qw.n / 8) + c / 8], static_cast<int>(c % 8)));
      auto z = upload(zp, DType::u8, device);
      W4A8_RETURN_IF_ERROR(z.status());
      w->zero_points = std::move(z.value());
    }
    if (qw.bias.defined()) {
      auto b = qw.bias.to(device);
      W4A8_RETURN_IF_ERROR(b.status());
      w->bias = std::move(b.value());
    }
    if (qw.perm.defined()) {
      auto p = qw.perm.to(device);
      W4A8_RETURN_IF_ERROR(p.status());
      w->perm = std::move(p.value());
    }
    w->act = qw.act;
    if (qw.row_sums.defined()) {
      std::vector<float> sums(static_cast<size_t>(Np), 0.0f);
      std::copy_n(qw.row_sums.data_as<const float>(), qw.n, sums.begin());
      auto r = upload(sums, DType::f32, device);
      W4A8_RETURN_IF_ERROR(r.status());
      w->row_sums = std::move(r.value());
    }
    W4A8_RETURN_IF_ERROR(allocate_workspace(*w, options.max_tokens));
    return std::unique_ptr<PreparedWeight>(std::move(w));
  }

  Status forward(const PreparedWeight& pw, const TensorView& x, const TensorView& y, void* stream) const override {
    const auto& w = static_cast<const CudaWeight&>(pw);
    const int64_t m = x.size(0);
    const size_t x_row = static_cast<size_t>(w.k) * dtype_size(x.dtype());
    const size_t y_row = static_cast<size_t>(w.n) * dtype_size(y.dtype());
    for (int64_t m0 = 0; m0 < m; m0 += w.max_tokens) {
      const int64_t mc = std::min(w.max_tokens, m - m0);
      ActQuantParams a;
      a.x = static_cast<const uint8_t*>(x.data()) + m0 * x_row;
      a.dtype = x.dtype();
      a.mode = w.act.is_static ? ActMode::fixed : w.act.symmetric ? ActMode::symmetric : ActMode::asymmetric;
      a.fixed_scale = w.act.scale;
      a.fixed_zp = w.act.zero_point;
      a.m = static_cast<int>(mc);
      a.k = static_cast<int>(w.k);
      point_at_workspace(w, a);
      a.error_flag = w.error_flag.data_as<int>();
      GemmParams p = gemm_params(w);
      p.m = static_cast<int>(mc);
      p.out = static_cast<uint8_t*>(y.data()) + m0 * y_row;
      p.out_type = out_type(y.dtype());
      // Decode sizes: one kernel quantizes the tokens and multiplies.
      TokenInput in;
      in.x = a.x;
      in.dtype = a.dtype;
      in.mode = a.mode;
      in.fixed_scale = a.fixed_scale;
      in.fixed_zp = a.fixed_zp;
      in.perm = a.perm;
      in.error_flag = a.error_flag;
      if (gemm_quantizes_tokens(p, in)) {
        W4A8_CUDA_RETURN_IF_ERROR(launch_gemm_w4a8_quantizing(p, in, as_stream(stream)));
        continue;
      }
      p.wgmma_k_order = a.wgmma_k_order = gemm_wants_wgmma_k_order(p);
      W4A8_CUDA_RETURN_IF_ERROR(launch_act_quant(a, as_stream(stream)));
      W4A8_CUDA_RETURN_IF_ERROR(launch_gemm_w4a8(p, as_stream(stream)));
    }
    return Status::ok();
  }

  Status poll_errors(const PreparedWeight& pw, void* stream) const override {
    const auto& w = static_cast<const CudaWeight&>(pw);
    int flag = 0;
    W4A8_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(&flag, w.error_flag.data(), sizeof(int), cudaMemcpyDeviceToHost, as_stream(stream)));
    W4A8_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(as_stream(stream)));
    if (!flag) return Status::ok();
    W4A8_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(w.error_flag.data(), 0, sizeof(int), as_stream(stream)));
    W4A8_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(as_stream(stream)));
    return status_of_error_flag(flag, " of an earlier forward");
  }

  // The op path: operands on the GPU in the public layout. The weights are
  // repacked through the host on every call - correct, and meant for checks;
  // W4A8Linear (prepared once) is the fast path.
  Status gemm(const detail::GemmArgs& g, void* stream) const override {
    if (!g.a.is_contiguous()) return invalid_argument("A: must be contiguous");
    W4A8_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(as_stream(stream)));
    auto qw = host_weight_from_op(g);
    W4A8_RETURN_IF_ERROR(qw.status());
    if (g.a_zp.defined()) qw->row_sums = detail::dequantized_row_sums(*qw);
    LinearOptions opt;
    opt.device = g.a.device();
    opt.max_tokens = std::max<int64_t>(g.m, 1);
    auto prepared = prepare(*qw, opt);
    W4A8_RETURN_IF_ERROR(prepared.status());
    const auto& w = static_cast<const CudaWeight&>(**prepared);
    Int8PrepParams a;
    a.a = static_cast<const int8_t*>(g.a.data());
    a.a_unsigned = g.a.dtype() == DType::u8;
    a.a_zp = g.a_zp.defined() ? g.a_zp.data_as<const int32_t>() : nullptr;
    a.a_zp_numel = g.a_zp.defined() ? static_cast<int>(g.a_zp.numel()) : 1;
    a.m = static_cast<int>(g.m);
    a.k = static_cast<int>(g.k);
    a.a_scale = g.a_scale.data();
    a.a_scale_dtype = g.a_scale.dtype();
    a.a_scale_numel = static_cast<int>(g.a_scale.numel());
    point_at_workspace(w, a);
    GemmParams p = gemm_params(w);
    p.m = static_cast<int>(g.m);
    p.wgmma_k_order = a.wgmma_k_order = gemm_wants_wgmma_k_order(p);
    W4A8_CUDA_RETURN_IF_ERROR(launch_int8_prep(a, as_stream(stream)));
    p.out = g.out.data();
    p.out_type = out_type(g.out.dtype());
    W4A8_CUDA_RETURN_IF_ERROR(launch_gemm_w4a8(p, as_stream(stream)));
    // The temporaries die with `prepared`: finish before they are freed.
    W4A8_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(as_stream(stream)));
    return Status::ok();
  }

 private:
  static Status allocate_workspace(CudaWeight& w, int64_t max_tokens) {
    w.max_tokens = max_tokens;
    auto q = Tensor::empty(DType::i8, {max_tokens, w.k_pad}, w.device);
    auto s = Tensor::empty(DType::f32, {max_tokens}, w.device);
    auto g = Tensor::empty(DType::i32, {max_tokens, w.groups}, w.device);
    auto e = Tensor::empty(DType::i32, {1}, w.device);
    auto z = Tensor::empty(DType::i32, {w.row_sums.defined() ? max_tokens : 1}, w.device);
    for (auto* r : {&q, &s, &g, &e, &z}) W4A8_RETURN_IF_ERROR(r->status());
    w.q = std::move(q.value());
    w.a_zp = std::move(z.value());
    w.a_scale = std::move(s.value());
    w.gsum = std::move(g.value());
    w.error_flag = std::move(e.value());
    W4A8_CUDA_RETURN_IF_ERROR(cudaMemset(w.error_flag.data(), 0, sizeof(int)));
    GemmParams shape;
    shape.n_pad = static_cast<int>(w.n_pad);
    shape.k_pad = static_cast<int>(w.k_pad);
    shape.groups = static_cast<int>(w.groups);
    shape.group_size = static_cast<int>(w.group_size);
    w.splitk_tiles = gemm_splitk_scratch_tiles(shape);
    if (w.splitk_tiles > 0) {
      auto parts = Tensor::empty(DType::u8, {w.splitk_tiles * kSplitKPartialTileBytes}, w.device);
      auto counters = Tensor::empty(DType::i32, {w.splitk_tiles}, w.device);
      for (auto* r : {&parts, &counters}) W4A8_RETURN_IF_ERROR(r->status());
      w.splitk_partials = std::move(parts.value());
      w.splitk_counters = std::move(counters.value());
      W4A8_CUDA_RETURN_IF_ERROR(cudaMemset(w.splitk_counters.data(), 0, w.splitk_counters.nbytes()));
    }
    // The memsets run on the default stream; forward may run on a stream that
    // does not wait for it (cudaStreamNonBlocking): finish them here.
    W4A8_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(nullptr));
    return Status::ok();
  }

  // The op's device operands, copied to the host as a canonical weight.
  static Result<detail::QuantizedWeight> host_weight_from_op(const detail::GemmArgs& g) {
    detail::QuantizedWeight qw;
    qw.n = g.n;
    qw.k = g.k;
    qw.group_size = g.group_size;
    qw.num_groups = g.num_groups;
    const int64_t kw = g.k / 8;
    // B as [N, K/8]: the seed's w_packed.t() (strides 1, K/8) or a contiguous [K/8, N].
    Tensor b_host(DType::i32, {g.n, kw});
    if (g.b.stride(0) == 1 && g.b.stride(1) == kw) {
      W4A8_RETURN_IF_ERROR(copy_tensor(b_host.view(), TensorView(g.b.data(), DType::i32, {g.n, kw}, g.b.device())));
    } else if (g.b.is_contiguous()) {
      Tensor t(DType::i32, {kw, g.n});
      W4A8_RETURN_IF_ERROR(copy_tensor(t.view(), g.b));
      for (int64_t j = 0; j < kw; ++j)
        for (int64_t c = 0; c < g.n; ++c) b_host.data_as<int32_t>()[c * kw + j] = t.data_as<int32_t>()[j * g.n + c];
    } else {
      return unsupported("B: the CUDA backend takes w_packed.t() (strides 1, K/8) or a contiguous [K/8, N]");
    }
    qw.packed = std::move(b_host);
    Tensor scales(g.b_scale.dtype(), {g.num_groups, g.n});
    W4A8_RETURN_IF_ERROR(copy_tensor(scales.view(), g.b_scale));
    qw.scales = Tensor(DType::f32, {g.num_groups, g.n});
    for (int64_t i = 0; i < g.num_groups * g.n; ++i) qw.scales.data_as<float>()[i] = load_as_float(scales.view(), i);
    if (g.b_zp_packed.defined()) {
      qw.zero_points = Tensor(DType::i32, {g.num_groups, g.n / 8});
      W4A8_RETURN_IF_ERROR(copy_tensor(qw.zero_points.view(), g.b_zp_packed));
    } else if (g.b_zp_const != detail::kInt4Offset) {
      qw.zero_points = Tensor(DType::i32, {g.num_groups, g.n / 8});
      uint8_t u[8];
      std::fill(u, u + 8, static_cast<uint8_t>(g.b_zp_const));
      std::fill_n(qw.zero_points.data_as<int32_t>(), qw.zero_points.numel(), detail::pack_nibbles(u));
    }
    if (g.perm.defined()) {
      Tensor p(g.perm.dtype(), {g.k});
      W4A8_RETURN_IF_ERROR(copy_tensor(p.view(), g.perm));
      qw.perm = Tensor(DType::i32, {g.k});
      for (int64_t i = 0; i < g.k; ++i) {
        const int64_t v = p.dtype() == DType::i32 ? p.data_as<int32_t>()[i] : p.data_as<int64_t>()[i];
        if (v < 0 || v >= g.k) return invalid_argument("g_idx: entry " + std::to_string(i) + " is out of range");
        qw.perm.data_as<int32_t>()[i] = static_cast<int32_t>(v);
      }
    }
    if (g.bias.defined()) {
      Tensor b(g.bias.dtype(), {g.n});
      W4A8_RETURN_IF_ERROR(copy_tensor(b.view(), g.bias));
      qw.bias = Tensor(DType::f32, {g.n});
      for (int64_t i = 0; i < g.n; ++i) qw.bias.data_as<float>()[i] = load_as_float(b.view(), i);
    }
    return qw;
  }
};

}  // namespace

const Backend& cuda_backend() {
  static const CudaBackend backend;
  return backend;
}

}  // namespace w4a8::cuda
