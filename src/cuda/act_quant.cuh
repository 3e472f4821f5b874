// Per-token activation quantization on the GPU, bit-identical to the CPU
// reference (cpu/ref/act_quant_ref.cpp): the same fp32 max, the same IEEE
// division and round-half-even, the scale rounded to the activation dtype.
// It also gathers columns (act-order), zero-pads each row to ldq and writes
// the per-group sums of q that the GEMM's zero-point correction needs.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "w4a8/status.h"
#include "w4a8/tensor.h"

namespace w4a8::cuda {

struct ActQuantParams {
  const void* x = nullptr;  // [m][k] f16/bf16/f32, contiguous
  DType dtype = DType::f16;
  int m = 0, k = 0;
  const int32_t* perm = nullptr;  // [k]: column j reads x[:, perm[j]], or null
  int group_size = 0, groups = 0;
  int8_t* q = nullptr;  // [m][ldq], columns k..ldq-1 set to 0
  int ldq = 0;
  bool wgmma_k_order = false;  // store q permuted inside each 32 (common/k_order.cuh); needs k % 32 == 0
  float* scale = nullptr;   // [m] (NaN for a row with NaN/Inf; error_flag set)
  void* scale_out = nullptr;  // optional second copy of the scale in scale_out_dtype
  DType scale_out_dtype = DType::f32;
  int32_t* gsum = nullptr;  // [m][groups], or null
  int* error_flag = nullptr;  // set to 1 when any row held NaN/Inf
};

cudaError_t launch_act_quant(const ActQuantParams& p, cudaStream_t stream);

// quantize_per_token_int8 for tensors on a GPU (validated by the caller):
// symmetric only; synchronous, so that NaN/Inf comes back as a Status.
Status quantize_per_token_device(const TensorView& x, const TensorView& q, const TensorView& scale,
                                 const TensorView& zero_point, const TensorView& group_sums, int64_t group_size);

// Already-quantized int8 activations (the op path): gather by perm, copy into
// the zero-padded buffer, compute the group sums, and widen the per-token or
// per-tensor scale (a_scale_numel 1 or m) to fp32 [m].
struct Int8PrepParams {
  const int8_t* a = nullptr;  // [m][k]
  int m = 0, k = 0;
  const int32_t* perm = nullptr;
  const void* a_scale = nullptr;
  DType a_scale_dtype = DType::f32;
  int a_scale_numel = 1;
  int group_size = 0, groups = 0;
  int8_t* q = nullptr;
  int ldq = 0;
  bool wgmma_k_order = false;  // as in ActQuantParams
  float* scale = nullptr;
  int32_t* gsum = nullptr;
};

cudaError_t launch_int8_prep(const Int8PrepParams& p, cudaStream_t stream);

}  // namespace w4a8::cuda
