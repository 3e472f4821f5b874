// The stand-alone operations of SPEC.md: packing, per-token activation
// quantization, float-to-int4 weight quantization and the W4A8 GEMM with the
// seed's operand set. Every function validates all of its inputs before it
// writes anything, and reports problems through the returned Status.
#pragma once

#include <cstdint>
#include <string>

#include "w4a8/status.h"
#include "w4a8/tensor.h"

namespace w4a8 {

// ---- Packing (SPEC.md "Weight packing") ---------------------------------
// values: [N, K] int8 in -8..7  <->  packed: [N, K/8] int32, nibble i of word j
// holding values[n, 8j+i] + 8. Both contiguous, on the CPU.
Status pack_int4(const TensorView& values, const TensorView& packed);
Status unpack_int4(const TensorView& packed, const TensorView& values);
// Zero points of asymmetric weights, op layout: zp [G, N] int8 in -8..7 <->
// [G, N/8] int32, packed along N with the same +8 offset (SPEC.md "Checkpoints").
Status pack_int4_zero_points(const TensorView& zero_points, const TensorView& packed);

// ---- Dynamic per-token activation quantization ---------------------------
// x: [M, K] f16/bf16/f32, contiguous. Symmetric: q int8, zero_point 0.
// Asymmetric: q uint8 with an int32 zero point per row (SPEC.md).
// scale: [M] in x's dtype or f32 (the value is always rounded to x's dtype).
// zero_point: [M] int32. group_sums (optional): [M, K/group_size] int32 with
// group_sums[m, j] = sum of the stored q[m, k] over the j-th group of K;
// kernels that multiply by unsigned weights use it to subtract the weight
// zero point. NaN or Inf anywhere in x is an error naming the first row;
// on the CPU every scale is then set to NaN and q may be partly written.
struct ActQuantOptions {
  bool symmetric = true;
  int64_t group_size = -1;  // for group_sums; -1 means one group of K
};
Status quantize_per_token_int8(const TensorView& x, const TensorView& q, const TensorView& scale,
                               const TensorView& zero_point, const TensorView& group_sums = {},
                               const ActQuantOptions& options = {});

// ---- Static per-tensor activation quantization (an extension) -----------
// x: [M, K] f16/bf16/f32 on the CPU or a GPU. scale: [1] or [] f16/bf16/f32,
// finite and > 0, on the CPU (a calibrated value, widened to fp32 exactly).
// zero_point: undefined (0) or [1] / [] int8/int32 in -128..127, on the CPU.
// q: [M, K] int8 = clamp(round_half_even(x / scale + zero_point), -128, 127),
// the division in fp32. group_sums as in quantize_per_token_int8. The GEMM
// then takes A_scale = scale and A_zp = zero_point ([1], per tensor). NaN or
// Inf in x is an error naming the first row (q may be partly written).
Status quantize_per_tensor_int8(const TensorView& x, const TensorView& scale, const TensorView& zero_point,
                                const TensorView& q, const TensorView& group_sums = {}, int64_t group_size = -1);

// ---- Float weights -> int4 (compressed-tensors' round-to-nearest rule) ----
// w: [N, K] f16/bf16/f32. values: [N, K] int8; scales: [N, G] f16/bf16/f32
// (G = K/group_size, or 1 for group_size -1); zero_points: [N, G] int8, only
// when asymmetric. Symmetric: scale = amax/7.5, value = round(clamp(w/scale,
// -8, 7)). Asymmetric: scale = (max-min)/15 over the group with 0 included,
// zp = round(clamp(-8 - min/scale, -8, 7)), value = round(clamp(w/scale + zp,
// -8, 7)). Scales are at least 2^-23 (fp32's epsilon), as in compressed-tensors;
// every intermediate is rounded to the weight dtype like torch's. See docs/formats.md.
struct WeightQuantOptions {
  int64_t group_size = 128;  // -1: one scale per output channel
  bool symmetric = true;
};
Status quantize_weights_int4(const TensorView& w, const TensorView& values,
                             const TensorView& scales, const TensorView& zero_points = {},
                             const WeightQuantOptions& options = {});

// ---- The W4A8 GEMM (the seed's int4_gemm_w4a8) ----------------------------
// A:       [M, K] int8 (or uint8 for asymmetric activations)
// A_scale: [M] or [1] (per token or per tensor), f16/bf16/f32
// A_zp:    [M] or [1] int32, or empty for zero
// B:       [K/8, N] int32 - the seed passes w_packed.t(), so any strides work
// B_scale: [K/g, N] f16/bf16/f32
// B_zp:    shape [1] or [] (the unsigned zero point, 8 for symmetric weights;
//          int8/uint8/int32, on the CPU) or [K/g, N/8] int32 packed per-group
//          zero points (rank 2 - a [1, 1] is packed, not the constant)
// g_idx:   empty, or a permutation [K] (int32/int64): the GEMM uses
//          A[:, g_idx[k]] in place of A[:, k]
// bias:    empty or [N] f16/bf16/f32
// out:     [M, N] f16 (the seed's output), bf16 or f32
// y[m,n] = A_scale[m] * sum_g B_scale[g,n] * sum_{k in g} (A[m,k]-A_zp[m]) * (B[k,n]-B_zp[g,n]) + bias[n]
struct GemmOptions {
  std::string backend = "auto";  // or a name from available_backends()
  void* stream = nullptr;        // cudaStream_t for CUDA backends
};
Status int4_gemm_w4a8(const TensorView& A, const TensorView& A_scale, const TensorView& A_zp,
                      const TensorView& B, const TensorView& B_scale, const TensorView& B_zp,
                      int64_t group_size, const TensorView& g_idx, const TensorView& bias,
                      const TensorView& out, const GemmOptions& options = {});

}  // namespace w4a8
