// The operands of int4_gemm_w4a8 after validation, in one struct every
// backend's GEMM takes. Built only by validate_gemm_args, so a backend can
// rely on shapes, dtypes and devices being right.
#pragma once

#include <cstdint>

#include "w4a8/status.h"
#include "w4a8/tensor.h"

namespace w4a8::detail {

struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;
  int64_t group_size = 0;  // resolved: K for per-channel
  int64_t num_groups = 0;
  TensorView a;            // [M, K] i8 (or u8 with a zero point)
  TensorView a_scale;      // [M] or [1], float dtype
  TensorView a_zp;         // [M] or [1] i32, or undefined (zero)
  TensorView b;            // [K/8, N] i32, any strides
  TensorView b_scale;      // [G, N] float dtype, contiguous
  int32_t b_zp_const = 8;  // used when b_zp_packed is undefined
  TensorView b_zp_packed;  // [G, N/8] i32, or undefined
  TensorView perm;         // [K] i32/i64 permutation, or undefined
  TensorView bias;         // [N] float dtype, or undefined
  TensorView out;          // [M, N] f16/bf16/f32, contiguous

  // Element accessors shared by every CPU backend.
  int32_t b_word(int64_t kw, int64_t col) const {
    return b.data_as<const int32_t>()[kw * b.stride(0) + col * b.stride(1)];
  }
  int64_t perm_at(int64_t kk) const {
    if (!perm.defined()) return kk;
    return perm.dtype() == DType::i32 ? perm.data_as<const int32_t>()[kk] : perm.data_as<const int64_t>()[kk];
  }
  int32_t a_zp_at(int64_t row) const {
    if (!a_zp.defined()) return 0;
    return a_zp.data_as<const int32_t>()[a_zp.numel() == 1 ? 0 : row];
  }
  float a_scale_at(int64_t row) const { return load_as_float(a_scale, a_scale.numel() == 1 ? 0 : row); }
};

// Validates the public operands (see ops.h) for tensors on `device`; host-side
// value checks (finite scales, a true permutation, zero point range) run only
// for CPU tensors - device tensors are checked by the device backend.
Result<GemmArgs> validate_gemm_args(const TensorView& A, const TensorView& A_scale, const TensorView& A_zp,
                                    const TensorView& B, const TensorView& B_scale, const TensorView& B_zp,
                                    int64_t group_size, const TensorView& g_idx, const TensorView& bias,
                                    const TensorView& out);

}  // namespace w4a8::detail
