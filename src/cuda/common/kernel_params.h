// The arguments every W4A8 GEMM kernel takes (device pointers, plain ints),
// filled once by the backend from a prepared weight and a quantized batch.
#pragma once

#include <cstdint>

#include "w4a8/tensor.h"

namespace w4a8::cuda {

enum class OutType : int { f16, bf16, f32 };

// How a layer's activations become int8 (SPEC.md): dynamic per token,
// symmetric or asymmetric, or one static scale and zero point.
enum class ActMode : int { symmetric, asymmetric, fixed };

// error_flag bits a quantizer sets (and W4A8Linear::poll_errors reports).
constexpr int kErrorNonFinite = 1;      // a row held NaN or Inf
constexpr int kErrorZeroPointRange = 2;  // an asymmetric row's zero point did not fit int32

struct GemmParams {
  // Weights (prepared, weight_layout.h)
  const void* w = nullptr;        // n_pad * k_pad / 2 bytes
  int n = 0, n_pad = 0, k_pad = 0;
  int group_size = 0, groups = 0;  // group_size: K for per-channel
  const float* w_scale = nullptr;  // [groups][n_pad]
  const uint8_t* w_zp = nullptr;   // [groups][n_pad] unsigned zero points (8 = none), or null: symmetric
  const float* bias = nullptr;     // [n] or null
  // Activations (quantized, zero-padded to k_pad)
  const int8_t* q = nullptr;  // [m][ldq]
  int m = 0, ldq = 0;
  bool wgmma_k_order = false;  // q permuted inside each 32 for the sm_90a kernel (k_order.cuh)
  const float* a_scale = nullptr;  // [m]
  const int32_t* gsum = nullptr;   // [m][groups]: sums of q per group
  // Activation zero points (asymmetric or static activations), or null: the
  // epilogue subtracts a_zp[tok] * row_sums[ch] from the group-scaled sum.
  const int32_t* a_zp = nullptr;    // [m]
  const float* row_sums = nullptr;  // [n]: sum over k of the dequantized weight
  // Output [m][n]
  void* out = nullptr;
  OutType out_type = OutType::f16;
  // Split-K scratch of the wgmma kernel (sm_90a), or null: room for
  // splitk_capacity partial tiles of 128 channels x 64 tokens (32-bit words)
  // and one arrival counter per output tile, zero between launches (the last
  // block of each tile resets its own).
  uint32_t* splitk_partials = nullptr;
  int* splitk_counters = nullptr;
  int splitk_capacity = 0;
  int splits = 1;  // K ranges per output tile, set by the dispatch
};

// The activations as a layer's forward receives them, for the decode kernel,
// which quantizes its own slice of them (SPEC.md's rule, act_quant_rule.cuh).
struct TokenInput {
  const void* x = nullptr;  // [m][k], k = groups * group_size; 16-byte aligned rows; null: GemmParams::q holds them quantized
  DType dtype = DType::f16;
  ActMode mode = ActMode::symmetric;
  float fixed_scale = 1.0f;  // ActMode::fixed: the static scale and zero point
  int fixed_zp = 0;
  const int32_t* perm = nullptr;  // [k], 16-byte aligned: column j reads x[:, perm[j]]; or null
  int* error_flag = nullptr;      // kError* bits
};

}  // namespace w4a8::cuda
