// Activation quantization on the GPU, bit-identical to the CPU reference
// (cpu/ref/act_quant_ref.cpp, core/act_quant_rule.h) for every scheme:
// dynamic per-token symmetric or asymmetric, static per-tensor. The same fp32
// max/min, the same IEEE division, zero-point add and round-half-even, the
// dynamic scale rounded to the activation dtype.
// It also gathers columns (act-order), zero-pads each row to ldq and writes
// the per-group sums of q that the GEMM's zero-point correction needs.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/act_quant_rule.h"
#include "cuda/common/kernel_params.h"
#include "w4a8/status.h"
#include "w4a8/tensor.h"

namespace w4a8::cuda {

struct ActQuantParams {
  const void* x = nullptr;  // [m][k] f16/bf16/f32, contiguous
  ActMode mode = ActMode::symmetric;
  float fixed_scale = 1.0f;  // ActMode::fixed: the static scale (fp32)
  int fixed_zp = 0;          // ActMode::fixed: its zero point
  // Asymmetric rows (0..255) are stored as q - 128 with the zero point moved
  // by 128, the signed form the GEMM reads; unsigned_q keeps 0..255 (the op).
  bool unsigned_q = false;
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
  int32_t* gsum = nullptr;  // [m][groups] sums of the stored q, or null
  int32_t* zp = nullptr;    // [m]: the zero point of the stored q, or null
  int* error_flag = nullptr;  // kError* bits
};

cudaError_t launch_act_quant(const ActQuantParams& p, cudaStream_t stream);

// The public quantization ops for tensors on a GPU (validated by the caller;
// q uint8 for dynamic asymmetric; scale and zero_point may be undefined);
// synchronous, so that NaN/Inf comes back as a Status.
Status quantize_activations_device(const TensorView& x, const detail::ActQuantScheme& scheme, const TensorView& q,
                                   const TensorView& scale, const TensorView& zero_point,
                                   const TensorView& group_sums, int64_t group_size);

// The Status for error_flag bits (ok when 0).
Status status_of_error_flag(int flag, const char* when);

// Already-quantized int8/uint8 activations (the op path): gather by perm,
// copy into the zero-padded buffer (signed), compute the group sums, and widen
// the per-token or per-tensor scale and zero point (numel 1 or m) to [m].
struct Int8PrepParams {
  const int8_t* a = nullptr;  // [m][k]
  int m = 0, k = 0;
  const int32_t* perm = nullptr;
  bool a_unsigned = false;  // uint8 activations: stored as a - 128, zero points - 128
  const void* a_scale = nullptr;
  DType a_scale_dtype = DType::f32;
  int a_scale_numel = 1;
  const int32_t* a_zp = nullptr;  // [1] or [m], or null
  int a_zp_numel = 1;
  int32_t* zp = nullptr;          // [m] out, when a_zp is given
  int group_size = 0, groups = 0;
  int8_t* q = nullptr;
  int ldq = 0;
  bool wgmma_k_order = false;  // as in ActQuantParams
  float* scale = nullptr;
  int32_t* gsum = nullptr;
};

cudaError_t launch_int8_prep(const Int8PrepParams& p, cudaStream_t stream);

}  // namespace w4a8::cuda
