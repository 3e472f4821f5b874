// The op path's operands prepared on the GPU: int4_gemm_w4a8 with device
// tensors turns the public layout (SPEC.md) into the backend's prepared one
// with kernels on the caller's stream - no copy to the host and back, no
// synchronisation, so the op can be captured in a CUDA graph. The same
// layout as the host twin (weight_layout.cpp), bit for bit.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "w4a8/tensor.h"

namespace w4a8::cuda {

struct OpOperands {
  // In: the op's device tensors (validated shapes).
  const int32_t* b = nullptr;  // packed int4 words; word (col c, j) at b[c * b_stride_n + j * b_stride_kw]
  int64_t b_stride_n = 0, b_stride_kw = 0;
  const void* b_scale = nullptr;  // [G, N]
  DType b_scale_dtype = DType::f32;
  const int32_t* b_zp_packed = nullptr;  // [G, N/8] or null
  int b_zp_const = 8;                    // unsigned zero point of every weight when b_zp_packed is null
  const void* perm = nullptr;            // [K] i32/i64 or null
  DType perm_dtype = DType::i32;
  const void* bias = nullptr;  // [N] or null
  DType bias_dtype = DType::f32;
  int n = 0, k = 0, groups = 0, group_size = 0, n_pad = 0, k_pad = 0;
  // Out: the prepared operands (device buffers of the sizes noted).
  uint8_t* w = nullptr;             // n_pad * k_pad / 2 bytes, weight_layout.h
  float* scales = nullptr;          // [groups][n_pad]
  uint8_t* zero_points = nullptr;   // [groups][n_pad] (8: none), or null: symmetric weights
  float* bias_f32 = nullptr;        // [n] when bias
  int32_t* perm_i32 = nullptr;      // [k] when perm: entries out of range read as 0
  int32_t* perm_count = nullptr;    // [k] scratch when perm (how often each column is named)
  float* row_sums = nullptr;        // [n_pad] dequantized row sums, or null (only with activation zero points)
  int* error_flag = nullptr;        // set to 1 where g_idx is no permutation of 0..K-1 (zeroed here first)
};

cudaError_t launch_op_prepare(const OpOperands& o, cudaStream_t stream);

// After the activations are prepared: where *error_flag is set, every row's
// scale becomes NaN, so a bad g_idx gives NaN outputs, never plausible ones -
// decided on the GPU, with no synchronisation.
cudaError_t launch_poison_scales_if_flagged(const int* error_flag, float* scale, int m, cudaStream_t stream);

}  // namespace w4a8::cuda
