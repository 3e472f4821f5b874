#include "cuda/cuda_backend.h"

#include <algorithm>
#include <mutex>
#include <vector>

#include "core/int4.h"
#include "cuda/act_quant.cuh"
#include "cuda/common/cuda_status.h"
#include "cuda/common/split_k.h"
#include "cuda/gemm_dispatch.cuh"
#include "cuda/op_prepare.cuh"
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

// The GEMM kernels' one-time set-up (shared-memory limits, SM count), before
// the first layer or op.
Status configured() {
  static std::once_flag once;
  static cudaError_t result = cudaSuccess;
  std::call_once(once, [] { result = configure_gemm_kernels(); });
  return cuda_status(result, "configure_gemm_kernels");
}

// Temporaries of one op call, allocated and freed in stream order
// (cudaMallocAsync / cudaFreeAsync, which CUDA graphs capture as memory
// nodes): nothing synchronises, and nothing is freed before the kernels that
// use it have run.
class StreamBuffers {
 public:
  explicit StreamBuffers(cudaStream_t s) : stream_(s) {}
  StreamBuffers(const StreamBuffers&) = delete;
  StreamBuffers& operator=(const StreamBuffers&) = delete;
  ~StreamBuffers() {
    for (void* p : ptrs_) cudaFreeAsync(p, stream_);
  }
  template <typename T>
  T* get(int64_t count) {
    void* p = nullptr;
    const cudaError_t e = cudaMallocAsync(&p, static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(T), stream_);
    if (e != cudaSuccess) {
      if (error_ == cudaSuccess) error_ = e;
      return nullptr;
    }
    ptrs_.push_back(p);
    return static_cast<T*>(p);
  }
  Status status() const { return cuda_status(error_, "cudaMallocAsync"); }

 private:
  cudaStream_t stream_;
  std::vector<void*> ptrs_;
  cudaError_t error_ = cudaSuccess;
};

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
    W4A8_RETURN_IF_ERROR(configured());
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

  // The op path: operands on the GPU in the public layout, prepared on the
  // GPU into stream-ordered temporaries (op_prepare.cuh) - no host round
  // trip and no synchronisation, so the op can be captured in a CUDA graph.
  // W4A8Linear (prepared once) is the fast path; docs/pytorch.md has the cost.
  Status gemm(const detail::GemmArgs& g, void* stream) const override {
    if (!g.a.is_contiguous()) return invalid_argument("A: must be contiguous");
    if (!(g.b.stride(0) == 1 && g.b.stride(1) == g.k / 8) && !g.b.is_contiguous())
      return unsupported("B: the CUDA backend takes w_packed.t() (strides 1, K/8) or a contiguous [K/8, N]");
    W4A8_RETURN_IF_ERROR(configured());
    const cudaStream_t s = as_stream(stream);
    StreamBuffers buf(s);
    const int64_t n_pad = round_up(g.n, kTileChannels), k_pad = round_up(g.k, kChunkK), G = g.num_groups;
    const int64_t m = std::max<int64_t>(g.m, 1);
    OpOperands o;
    o.b = g.b.data_as<const int32_t>();
    o.b_stride_n = g.b.stride(1);  // B is [K/8, N]: column c, word j at c * stride(1) + j * stride(0)
    o.b_stride_kw = g.b.stride(0);
    o.b_scale = g.b_scale.data();
    o.b_scale_dtype = g.b_scale.dtype();
    o.b_zp_packed = g.b_zp_packed.defined() ? g.b_zp_packed.data_as<const int32_t>() : nullptr;
    o.b_zp_const = g.b_zp_const;
    o.perm = g.perm.defined() ? g.perm.data() : nullptr;
    o.perm_dtype = g.perm.defined() ? g.perm.dtype() : DType::i32;
    o.bias = g.bias.defined() ? g.bias.data() : nullptr;
    o.bias_dtype = g.bias.defined() ? g.bias.dtype() : DType::f32;
    o.n = static_cast<int>(g.n);
    o.k = static_cast<int>(g.k);
    o.groups = static_cast<int>(G);
    o.group_size = static_cast<int>(g.group_size);
    o.n_pad = static_cast<int>(n_pad);
    o.k_pad = static_cast<int>(k_pad);
    const bool asym_weights = g.b_zp_packed.defined() || g.b_zp_const != detail::kInt4Offset;
    o.w = buf.get<uint8_t>(n_pad * k_pad / 2);
    o.scales = buf.get<float>(G * n_pad);
    o.zero_points = asym_weights ? buf.get<uint8_t>(G * n_pad) : nullptr;
    o.bias_f32 = g.bias.defined() ? buf.get<float>(g.n) : nullptr;
    o.perm_i32 = g.perm.defined() ? buf.get<int32_t>(g.k) : nullptr;
    o.perm_count = g.perm.defined() ? buf.get<int32_t>(g.k) : nullptr;
    o.row_sums = g.a_zp.defined() ? buf.get<float>(n_pad) : nullptr;
    o.error_flag = buf.get<int>(1);
    GemmParams p;
    p.n = o.n;
    p.n_pad = o.n_pad;
    p.k_pad = o.k_pad;
    p.group_size = o.group_size;
    p.groups = o.groups;
    p.m = static_cast<int>(g.m);
    const long splitk_tiles = gemm_splitk_scratch_tiles(p);
    Int8PrepParams a;
    a.q = buf.get<int8_t>(m * k_pad);
    a.scale = buf.get<float>(m);
    a.gsum = buf.get<int32_t>(m * G);
    a.zp = g.a_zp.defined() ? buf.get<int32_t>(m) : nullptr;
    if (splitk_tiles > 0) {
      p.splitk_partials = reinterpret_cast<uint32_t*>(buf.get<uint8_t>(splitk_tiles * kSplitKPartialTileBytes));
      p.splitk_counters = buf.get<int>(splitk_tiles);
      p.splitk_capacity = static_cast<int>(splitk_tiles);
    }
    W4A8_RETURN_IF_ERROR(buf.status());
    if (splitk_tiles > 0)
      W4A8_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(p.splitk_counters, 0, sizeof(int) * splitk_tiles, s));
    W4A8_CUDA_RETURN_IF_ERROR(launch_op_prepare(o, s));
    a.a = static_cast<const int8_t*>(g.a.data());
    a.a_unsigned = g.a.dtype() == DType::u8;
    a.a_zp = g.a_zp.defined() ? g.a_zp.data_as<const int32_t>() : nullptr;
    a.a_zp_numel = g.a_zp.defined() ? static_cast<int>(g.a_zp.numel()) : 1;
    a.m = static_cast<int>(g.m);
    a.k = static_cast<int>(g.k);
    a.a_scale = g.a_scale.data();
    a.a_scale_dtype = g.a_scale.dtype();
    a.a_scale_numel = static_cast<int>(g.a_scale.numel());
    a.perm = o.perm_i32;
    a.group_size = o.group_size;
    a.groups = o.groups;
    a.ldq = static_cast<int>(k_pad);
    p.w = o.w;
    p.w_scale = o.scales;
    p.w_zp = o.zero_points;
    p.bias = o.bias_f32;
    p.q = a.q;
    p.ldq = a.ldq;
    p.a_scale = a.scale;
    p.gsum = a.gsum;
    if (g.a_zp.defined()) {
      p.a_zp = a.zp;
      p.row_sums = o.row_sums;
    }
    p.wgmma_k_order = a.wgmma_k_order = gemm_wants_wgmma_k_order(p);
    W4A8_CUDA_RETURN_IF_ERROR(launch_int8_prep(a, s));
    W4A8_CUDA_RETURN_IF_ERROR(launch_poison_scales_if_flagged(o.error_flag, a.scale, a.m, s));
    p.out = g.out.data();
    p.out_type = out_type(g.out.dtype());
    W4A8_CUDA_RETURN_IF_ERROR(launch_gemm_w4a8(p, s));
    return Status::ok();  // the temporaries are freed in stream order, after the GEMM
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
};

}  // namespace

const Backend& cuda_backend() {
  static const CudaBackend backend;
  return backend;
}

}  // namespace w4a8::cuda
