#include "cuda/op_prepare.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/common/op_layout.h"

namespace w4a8::cuda {

namespace {
constexpr int kThreads = 256;

unsigned blocks_for(int64_t items) { return static_cast<unsigned>((items + kThreads - 1) / kThreads); }

__device__ __forceinline__ float load_float(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::f16: return __half2float(static_cast<const __half*>(p)[i]);
    case DType::bf16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ int op_nibble(const OpOperands& o, int row, int col) {
  return op_weight_nibble(o.b, o.b_stride_n, o.b_stride_kw, row, col);
}

// One thread per 32-bit word of the prepared layout (common/op_layout.h).
__global__ void repack_weights_kernel(const OpOperands o) {
  const int64_t wi = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x;
  if (wi >= static_cast<int64_t>(o.n_pad) * o.k_pad / 8) return;
  reinterpret_cast<uint32_t*>(o.w)[wi] = prepared_weight_word(o.b, o.b_stride_n, o.b_stride_kw, o.n, o.k, o.k_pad, wi);
}

// Scales and zero points into [groups][n_pad] (padding: scale 0, zero point 8).
__global__ void scales_kernel(const OpOperands o) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x;
  if (i >= static_cast<int64_t>(o.groups) * o.n_pad) return;
  const int g = static_cast<int>(i / o.n_pad), c = static_cast<int>(i % o.n_pad);
  o.scales[i] = c < o.n ? load_float(o.b_scale, o.b_scale_dtype, static_cast<int64_t>(g) * o.n + c) : 0.0f;
  if (o.zero_points) {
    int u = 8;
    if (c < o.n) u = o.b_zp_packed ? (o.b_zp_packed[g * (o.n / 8) + c / 8] >> (4 * (c % 8))) & 0xF : o.b_zp_const;
    o.zero_points[i] = static_cast<uint8_t>(u);
  }
  if (i < o.n && o.bias) o.bias_f32[i] = load_float(o.bias, o.bias_dtype, i);
}

// g_idx as int32, each entry counted; out-of-range entries read as 0 and flag.
__global__ void perm_kernel(const OpOperands o) {
  const int i = blockIdx.x * kThreads + threadIdx.x;
  if (i >= o.k) return;
  const int64_t v = o.perm_dtype == DType::i64 ? static_cast<const int64_t*>(o.perm)[i]
                                               : static_cast<const int32_t*>(o.perm)[i];
  const bool ok = v >= 0 && v < o.k;
  o.perm_i32[i] = ok ? static_cast<int32_t>(v) : 0;
  if (ok) {
    atomicAdd(&o.perm_count[v], 1);
  } else {
    atomicOr(o.error_flag, 1);
  }
}

// A permutation names every column exactly once.
__global__ void perm_check_kernel(const OpOperands o) {
  const int i = blockIdx.x * kThreads + threadIdx.x;
  if (i < o.k && o.perm_count[i] != 1) atomicOr(o.error_flag, 1);
}

// Row sums of the dequantized weight, sum over groups of s * sum(u - u_zp),
// in double as the CPU does (core/quantized_weight.cpp), one thread a channel.
__global__ void row_sums_kernel(const OpOperands o) {
  const int c = blockIdx.x * kThreads + threadIdx.x;
  if (c >= o.n_pad) return;
  if (c >= o.n) {
    o.row_sums[c] = 0.0f;
    return;
  }
  double sum = 0;
  for (int g = 0; g < o.groups; ++g) {
    const int zp = o.b_zp_packed ? (o.b_zp_packed[g * (o.n / 8) + c / 8] >> (4 * (c % 8))) & 0xF : o.b_zp_const;
    int64_t s = 0;
    for (int kk = g * o.group_size; kk < (g + 1) * o.group_size; ++kk) s += op_nibble(o, c, kk) - zp;
    sum += static_cast<double>(load_float(o.b_scale, o.b_scale_dtype, static_cast<int64_t>(g) * o.n + c)) *
           static_cast<double>(s);
  }
  o.row_sums[c] = static_cast<float>(sum);
}

__global__ void poison_kernel(const int* flag, float* scale, int m) {
  const int i = blockIdx.x * kThreads + threadIdx.x;
  if (i < m && *flag) scale[i] = __int_as_float(0x7fc00000);
}
}  // namespace

cudaError_t launch_op_prepare(const OpOperands& o, cudaStream_t stream) {
  cudaError_t e = cudaMemsetAsync(o.error_flag, 0, sizeof(int), stream);
  if (e != cudaSuccess) return e;
  repack_weights_kernel<<<blocks_for(static_cast<int64_t>(o.n_pad) * o.k_pad / 8), kThreads, 0, stream>>>(o);
  scales_kernel<<<blocks_for(static_cast<int64_t>(o.groups) * o.n_pad), kThreads, 0, stream>>>(o);
  if (o.perm) {
    e = cudaMemsetAsync(o.perm_count, 0, sizeof(int32_t) * o.k, stream);
    if (e != cudaSuccess) return e;
    perm_kernel<<<blocks_for(o.k), kThreads, 0, stream>>>(o);
    perm_check_kernel<<<blocks_for(o.k), kThreads, 0, stream>>>(o);
  }
  if (o.row_sums) row_sums_kernel<<<blocks_for(o.n_pad), kThreads, 0, stream>>>(o);
  return cudaGetLastError();
}

cudaError_t launch_poison_scales_if_flagged(const int* error_flag, float* scale, int m, cudaStream_t stream) {
  poison_kernel<<<blocks_for(m), kThreads, 0, stream>>>(error_flag, scale, m);
  return cudaGetLastError();
}

}  // namespace w4a8::cuda
