// Reference activation quantization: SPEC.md made executable, for every
// scheme (dynamic per-token symmetric or asymmetric, static per-tensor).
#pragma once

#include <cstdint>

#include "core/act_quant_rule.h"
#include "w4a8/status.h"
#include "w4a8/tensor.h"

namespace w4a8::cpu::ref {

// Inputs are validated by the caller. x: [M, K] float dtype; q: [M, K] uint8
// for dynamic asymmetric, else int8; scale: [M] (x dtype or f32; a static
// scale needs f32 unless x's dtype holds it); zp: [M] i32; group_sums:
// [M, K/group] i32 or undefined. Reads x twice so that a NaN/Inf or an
// out-of-range zero point is reported before anything is written.
Status quantize_rows(const TensorView& x, const detail::ActQuantScheme& scheme, int64_t group_size,
                     const TensorView& q, const TensorView& scale, const TensorView& zp,
                     const TensorView& group_sums);

// The dynamic per-token schemes (SPEC.md's two rules).
inline Status quantize_per_token(const TensorView& x, bool symmetric, int64_t group_size, const TensorView& q,
                                 const TensorView& scale, const TensorView& zp, const TensorView& group_sums) {
  detail::ActQuantScheme s;
  s.symmetric = symmetric;
  return quantize_rows(x, s, group_size, q, scale, zp, group_sums);
}

}  // namespace w4a8::cpu::ref
