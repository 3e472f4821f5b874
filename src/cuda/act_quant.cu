#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>

#include "cuda/act_quant.cuh"
#include "cuda/common/act_quant_rule.cuh"
#include "cuda/common/cuda_status.h"
#include "cuda/common/k_order.cuh"
#include "cuda/common/mma.cuh"

namespace w4a8::cuda {

namespace {
constexpr int kThreads = 256;
constexpr int kMaxGroupsInSmem = 2048;  // K / 32 for K up to 65536
constexpr int kFewRows = 32;            // decode calls: rows held in up to 16 pieces

__device__ __forceinline__ float block_max(float v, float* red) {
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  float r = red[0];
  for (int i = 1; i < kThreads / 32; ++i) r = fmaxf(r, red[i]);
  __syncthreads();
  return r;
}

__device__ __forceinline__ void store_scale(const ActQuantParams& p, int row, float s) {
  p.scale[row] = s;
  if (!p.scale_out) return;
  switch (p.scale_out_dtype) {
    case DType::f16: static_cast<__half*>(p.scale_out)[row] = __float2half_rn(s); break;
    case DType::bf16: static_cast<__nv_bfloat16*>(p.scale_out)[row] = __float2bfloat16_rn(s); break;
    default: static_cast<float*>(p.scale_out)[row] = s; break;
  }
}

// A thread's pieces of one row, kept in registers from pass 1 to pass 2
// (the row is read once, all of a thread's loads in flight together): piece
// i holds columns 8 * (threadIdx.x + kThreads * i) .. + 7; past k it is never
// read. kPieces = 0: rows too long for that (or act-order, whose pass 2
// gathers), streamed and read twice.
template <typename T, int kPieces>
struct RowRegisters {
  Piece<T> piece[kPieces > 0 ? kPieces : 1];
  // The first column of this thread's piece i.
  static __device__ __forceinline__ int column(int i) { return 8 * (threadIdx.x + kThreads * i); }
  __device__ __forceinline__ void load(const T* x, int k) {
#pragma unroll
    for (int i = 0; i < kPieces; ++i)
      if (column(i) < k) piece[i] = load_piece(x + column(i));
  }
};

// Adds the warp's values for columns base + 32 * warp + lane to their group's
// shared sum. A warp's 32 consecutive columns share one group (groups are
// multiples of 32, or all of K), so it takes one atomic per warp.
__device__ __forceinline__ void add_warp_to_group_sum(int32_t* gsum, int base, int k, int group_size, int v) {
  const int sum = __reduce_add_sync(0xffffffffu, v);
  const int first = base + (threadIdx.x / 32) * 32;
  if (threadIdx.x % 32 == 0 && first < k) atomicAdd(&gsum[first / group_size], sum);
}

// Adds each lane's sum of q over columns i .. i + 7 (0 past k) to its
// group's shared sum. The lanes of a warp hold 256 consecutive columns
// starting at a multiple of 256 (lane l: i = base + 8 l), so where groups are
// multiples of 256 (per channel too, when K is) the warp's sum goes in one
// atomic, for groups of 128 each half warp's, and otherwise each lane's: the
// same integers, in fewer contended shared atomics. Every lane calls it.
__device__ __forceinline__ void add_pieces_to_group_sums(int32_t* gsum, int i, int k, int group_size, int sum) {
  const int lane = threadIdx.x % 32;
  if (group_size % 256 == 0) {
    sum = __reduce_add_sync(0xffffffffu, sum);
    if (lane == 0 && i < k) atomicAdd(&gsum[i / group_size], sum);
  } else if (group_size == 128) {
#pragma unroll
    for (int o = 8; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if (lane % 16 == 0 && i < k) atomicAdd(&gsum[i / group_size], sum);
  } else if (i < k) {
    atomicAdd(&gsum[i / group_size], sum);
  }
}

// The end of a row: zero padding after column k, the group sums out.
__device__ __forceinline__ void finish_row(int8_t* q, int k, int ldq, const int32_t* gsum_smem, int32_t* gsum_out,
                                           int groups) {
  for (int j = k + threadIdx.x; j < ldq; j += kThreads) q[j] = 0;
  __syncthreads();
  for (int g = threadIdx.x; g < groups && gsum_out; g += kThreads) gsum_out[g] = gsum_smem[g];
}

// Finds the row's statistics, one block per row. kVector: 8 elements per
// thread step (16-byte loads), from the registers when kPieces > 0;
// otherwise one at a time.
template <typename T, bool kVector, int kPieces>
__device__ __forceinline__ void row_stats(const ActQuantParams& p, const T* x, const RowRegisters<T, kPieces>& regs,
                                          RowStats& st) {
  auto take = [&](float v) { st.take(v); };
  if constexpr (kPieces > 0) {
#pragma unroll
    for (int i = 0; i < kPieces; ++i) {
      if (regs.column(i) < p.k) {
        float v[8];
        piece_floats(regs.piece[i], v);
#pragma unroll
        for (int e = 0; e < 8; ++e) take(v[e]);
      }
    }
  } else if constexpr (kVector) {
    for (int i = threadIdx.x * 8; i < p.k; i += kThreads * 8) {
      float v[8];
      load8(x + i, v);
#pragma unroll
      for (int e = 0; e < 8; ++e) take(v[e]);
    }
  } else {
    for (int i = threadIdx.x; i < p.k; i += kThreads) take(to_float(x[i]));
  }
}

// One block per row. Pass 1 (dynamic schemes only): the row's max |x| or
// min/max, and finiteness; pass 2: q and group sums. A static scheme reads x
// once and checks finiteness on the way. kVector: 8 elements per thread step
// (16-byte loads, 8-byte stores, the group sums through
// add_pieces_to_group_sums - groups are multiples of 8); with perm
// (act-order) pass 2 gathers its 8 through perm (gather8), while pass 1
// reads x in order - the statistics of a row do not depend on the order.
// kPieces > 0 (kVector, no perm, k <= 8 * kThreads * kPieces): the row is
// read once, into registers (RowRegisters). Otherwise one element at a time.
template <typename T, bool kVector, int kPieces = 0>
__global__ void __launch_bounds__(kThreads) act_quant_kernel(const ActQuantParams p) {
  static_assert(kPieces == 0 || kVector, "registers hold whole pieces");
  __shared__ float red[kThreads / 32];
  __shared__ int32_t gsum[kMaxGroupsInSmem];
  __shared__ int bad_row;
  allow_dependent_launch();  // the GEMM may start its weight prefetch now
  const int row = blockIdx.x;
  const T* x = static_cast<const T*>(p.x) + static_cast<int64_t>(row) * p.k;
  if (threadIdx.x == 0) bad_row = 0;
  for (int g = threadIdx.x; g < p.groups; g += kThreads) gsum[g] = 0;
  __syncthreads();

  RowRegisters<T, kPieces> regs;
  regs.load(x, p.k);
  RowRule rule{p.fixed_scale, static_cast<float>(p.fixed_zp), -128, 127, 0, p.fixed_zp};
  if (p.mode != ActMode::fixed) {
    RowStats st;
    row_stats<T, kVector, kPieces>(p, x, regs, st);
    if (!st.finite) atomicOr(&bad_row, kErrorNonFinite);
    if (p.mode == ActMode::symmetric) {
      st.amax = block_max(st.amax, red);  // also a barrier for bad_row
    } else {
      st.mx = block_max(st.mx, red);
      st.mn = -block_max(-st.mn, red);
    }
    int zp_bad = 0;
    rule = row_rule<T>(p.mode, st, p.fixed_scale, p.fixed_zp, p.unsigned_q, p.k, &zp_bad);
    if (p.mode == ActMode::asymmetric) {
      if (zp_bad && threadIdx.x == 0 && !bad_row) bad_row = zp_bad;
      __syncthreads();
    }
  }
  int8_t* q = p.q + static_cast<int64_t>(row) * p.ldq;
  if (bad_row) {
    for (int i = threadIdx.x; i < p.ldq; i += kThreads) q[i] = 0;
    for (int g = threadIdx.x; g < p.groups && p.gsum; g += kThreads) p.gsum[static_cast<int64_t>(row) * p.groups + g] = 0;
    if (threadIdx.x == 0) {
      store_scale(p, row, __int_as_float(0x7fc00000));  // NaN: the row's outputs become NaN, never plausible garbage
      if (p.zp) p.zp[row] = 0;
      atomicOr(p.error_flag, bad_row);
    }
    return;
  }
  bool finite = true;  // checked here only for the static scheme, which has no pass 1
  // Quantizes the 8 elements v of columns i .. i + 7; returns the sum of their q.
  auto quantize_piece = [&](int i, const float (&v)[8]) {
#pragma unroll
    for (int e = 0; e < 8; ++e) finite &= isfinite(v[e]);
    uint32_t lo, hi;
    const int sum = quantize8(v, rule, lo, hi);
    if (p.wgmma_k_order) {  // i = 32 r + 8 t: the two halves go to 32 r + 4 t and 32 r + 16 + 4 t
      const int at = wgmma_k_position(i);
      *reinterpret_cast<uint32_t*>(q + at) = lo;
      *reinterpret_cast<uint32_t*>(q + at + 16) = hi;
    } else {
      *reinterpret_cast<uint2*>(q + i) = make_uint2(lo, hi);
    }
    return sum;
  };
  if constexpr (kPieces > 0) {
#pragma unroll
    for (int n = 0; n < kPieces; ++n) {
      const int i = regs.column(n);
      int sum = 0;
      if (i < p.k) {
        float v[8];
        piece_floats(regs.piece[n], v);
        sum = quantize_piece(i, v);
      }
      add_pieces_to_group_sums(gsum, i, p.k, p.group_size, sum);
    }
  } else if constexpr (kVector) {
    for (int base = 0; base < p.k; base += kThreads * 8) {  // the same trip count in every warp
      const int i = base + 8 * threadIdx.x;
      int sum = 0;
      if (i < p.k) {
        float v[8];
        if (p.perm) {
          gather8(x, p.perm + i, v);
        } else {
          load8(x + i, v);
        }
        sum = quantize_piece(i, v);
      }
      add_pieces_to_group_sums(gsum, i, p.k, p.group_size, sum);
    }
  } else {
    for (int base = 0; base < p.k; base += kThreads) {
      const int j = base + threadIdx.x;
      int qi = 0;
      if (j < p.k) {
        const float v = to_float(x[p.perm ? p.perm[j] : j]);
        finite &= isfinite(v);
        qi = quantize_one(v, rule);
        q[p.wgmma_k_order ? wgmma_k_position(j) : j] = static_cast<int8_t>(qi);
      }
      add_warp_to_group_sum(gsum, base, p.k, p.group_size, qi);
    }
  }
  finish_row(q, p.k, p.ldq, gsum, p.gsum ? p.gsum + static_cast<int64_t>(row) * p.groups : nullptr, p.groups);
  const bool row_bad = p.mode == ActMode::fixed && __syncthreads_or(!finite);
  if (threadIdx.x == 0) {
    store_scale(p, row, row_bad ? __int_as_float(0x7fc00000) : rule.s);
    if (p.zp) p.zp[row] = rule.zp_out;
    if (row_bad) atomicOr(p.error_flag, kErrorNonFinite);
  }
}

__global__ void __launch_bounds__(kThreads) int8_prep_kernel(const Int8PrepParams p) {
  allow_dependent_launch();
  __shared__ int32_t gsum[kMaxGroupsInSmem];
  const int row = blockIdx.x;
  for (int g = threadIdx.x; g < p.groups; g += kThreads) gsum[g] = 0;
  __syncthreads();
  const int8_t* a = p.a + static_cast<int64_t>(row) * p.k;
  int8_t* q = p.q + static_cast<int64_t>(row) * p.ldq;
  for (int base = 0; base < p.k; base += kThreads) {
    const int j = base + threadIdx.x;
    int v = 0;
    if (j < p.k) {
      v = a[p.perm ? p.perm[j] : j];
      if (p.a_unsigned) v = (v & 0xFF) - 128;  // uint8 0..255, read through int8: stored as a - 128
      q[p.wgmma_k_order ? wgmma_k_position(j) : j] = static_cast<int8_t>(v);
    }
    add_warp_to_group_sum(gsum, base, p.k, p.group_size, v);
  }
  finish_row(q, p.k, p.ldq, gsum, p.gsum + static_cast<int64_t>(row) * p.groups, p.groups);
  if (threadIdx.x == 0) {
    const int i = p.a_scale_numel == 1 ? 0 : row;
    float s;
    switch (p.a_scale_dtype) {
      case DType::f16: s = __half2float(static_cast<const __half*>(p.a_scale)[i]); break;
      case DType::bf16: s = __bfloat162float(static_cast<const __nv_bfloat16*>(p.a_scale)[i]); break;
      default: s = static_cast<const float*>(p.a_scale)[i]; break;
    }
    p.scale[row] = s;
    if (p.a_zp) p.zp[row] = p.a_zp[p.a_zp_numel == 1 ? 0 : row] - (p.a_unsigned ? 128 : 0);
  }
}
// The quantizer for activations of type T: rows of up to 1, 2 or 4 pieces a
// thread (K <= 8192) in registers, longer ones or act-order streamed
// (pieces 0), and unaligned ones one element at a time. (Rows of 8192 <
// K <= 16384 held in 8 pieces ran slower than streamed, 90.9 against 84.1 us
// at 4096 x 14336, fewer blocks fitting an SM; at K = 4096, 26.4 against
// 30.4: H200, docs/experiments/2026-12-02-h200-quantizer-registers-epilogues.md.)
// A decode call's few rows (at most kFewRows, one block each, so blocks per
// SM do not matter) are held in up to 16 pieces (K <= 32768): a lone block
// streaming a long row twice is the whole latency the GEMM waits for.
template <typename T>
void launch_act_quant_as(const ActQuantParams& p, bool vec, int pieces, cudaStream_t stream) {
  const dim3 grid(p.m), block(kThreads);
  const int most = p.m <= kFewRows ? 16 : 4;
  if (!vec) {
    act_quant_kernel<T, false><<<grid, block, 0, stream>>>(p);
  } else if (pieces == 0 || pieces > most) {
    act_quant_kernel<T, true><<<grid, block, 0, stream>>>(p);
  } else if (pieces == 1) {
    act_quant_kernel<T, true, 1><<<grid, block, 0, stream>>>(p);
  } else if (pieces == 2) {
    act_quant_kernel<T, true, 2><<<grid, block, 0, stream>>>(p);
  } else if (pieces <= 4) {
    act_quant_kernel<T, true, 4><<<grid, block, 0, stream>>>(p);
  } else if (pieces <= 8) {
    act_quant_kernel<T, true, 8><<<grid, block, 0, stream>>>(p);
  } else {
    act_quant_kernel<T, true, 16><<<grid, block, 0, stream>>>(p);
  }
}
}  // namespace

cudaError_t launch_act_quant(const ActQuantParams& p, cudaStream_t stream) {
  if (p.m == 0) return cudaSuccess;
  if (p.groups > kMaxGroupsInSmem || (p.wgmma_k_order && p.k % 32 != 0)) return cudaErrorInvalidValue;
  // Vector path: rows of whole 16-byte units, aligned pointers (perm too).
  const size_t row_bytes = static_cast<size_t>(p.k) * dtype_size(p.dtype);
  const bool vec = p.k % 8 == 0 && row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(p.x) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(p.perm) % 16 == 0 && reinterpret_cast<uintptr_t>(p.q) % 8 == 0 &&
                   p.ldq % 8 == 0;
  // Rows in registers: the fewest pieces of 8 a thread that hold the row.
  const int pieces = vec && !p.perm ? (p.k + 8 * kThreads - 1) / (8 * kThreads) : 0;
  switch (p.dtype) {
    case DType::f16: launch_act_quant_as<__half>(p, vec, pieces, stream); break;
    case DType::bf16: launch_act_quant_as<__nv_bfloat16>(p, vec, pieces, stream); break;
    case DType::f32: launch_act_quant_as<float>(p, vec, pieces, stream); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

Status status_of_error_flag(int flag, const char* when) {
  if (flag & kErrorNonFinite)
    return Status(StatusCode::non_finite, std::string("x: NaN or Inf in the activations") + when +
                                              "; those rows have NaN scales (NaN outputs)");
  if (flag & kErrorZeroPointRange)
    return invalid_argument(std::string("x: a row") + when +
                            " has a range too narrow for its offset: its asymmetric zero point does not fit int32 "
                            "(NaN scale); use symmetric quantization");
  return Status::ok();
}

Status quantize_activations_device(const TensorView& x, const detail::ActQuantScheme& scheme, const TensorView& q,
                                   const TensorView& scale, const TensorView& zero_point,
                                   const TensorView& group_sums, int64_t group_size) {
  const int64_t m = x.size(0), k = x.size(1);
  const int64_t g = group_size > 0 ? group_size : k;
  if (k / g > kMaxGroupsInSmem) return unsupported("at most 2048 groups per row on the GPU");
  if (g % 32 != 0 && g != k)
    return unsupported("group_size must be a multiple of 32 (or all of K) on the GPU, got " + std::to_string(g));
  auto s32 = Tensor::empty(DType::f32, {std::max<int64_t>(m, 1)}, x.device());
  auto flag = Tensor::empty(DType::i32, {1}, x.device());
  W4A8_RETURN_IF_ERROR(s32.status());
  W4A8_RETURN_IF_ERROR(flag.status());
  W4A8_RETURN_IF_ERROR(cuda_status(cudaMemset(flag->data(), 0, sizeof(int)), "cudaMemset"));
  ActQuantParams p;
  p.x = x.data();
  p.dtype = x.dtype();
  p.mode = scheme.is_static ? ActMode::fixed : scheme.symmetric ? ActMode::symmetric : ActMode::asymmetric;
  p.fixed_scale = scheme.scale;
  p.fixed_zp = scheme.zero_point;
  p.unsigned_q = true;  // the op's asymmetric q is 0..255
  p.m = static_cast<int>(m);
  p.k = static_cast<int>(k);
  p.group_size = static_cast<int>(g);
  p.groups = static_cast<int>(k / g);
  p.q = static_cast<int8_t*>(q.data());
  p.ldq = static_cast<int>(k);
  p.scale = s32->data_as<float>();
  p.scale_out = scale.defined() ? scale.data() : nullptr;
  p.scale_out_dtype = scale.defined() ? scale.dtype() : DType::f32;
  p.gsum = group_sums.defined() ? group_sums.data_as<int32_t>() : nullptr;
  p.zp = zero_point.defined() ? zero_point.data_as<int32_t>() : nullptr;
  p.error_flag = flag->data_as<int>();
  W4A8_RETURN_IF_ERROR(cuda_status(launch_act_quant(p, nullptr), "act_quant kernel"));
  int bad = 0;
  W4A8_RETURN_IF_ERROR(cuda_status(cudaMemcpy(&bad, flag->data(), sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy"));
  return status_of_error_flag(bad, "");
}

cudaError_t launch_int8_prep(const Int8PrepParams& p, cudaStream_t stream) {
  if (p.m == 0) return cudaSuccess;
  if (p.groups > kMaxGroupsInSmem || (p.wgmma_k_order && p.k % 32 != 0)) return cudaErrorInvalidValue;
  int8_prep_kernel<<<p.m, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace w4a8::cuda
