// Reference per-token activation quantization: SPEC.md made executable.
#pragma once

#include <cstdint>

#include "w4a8/status.h"
#include "w4a8/tensor.h"

namespace w4a8::cpu::ref {

// Inputs are validated by the caller. x: [M, K] float dtype; q: [M, K]
// int8/uint8; scale: [M] (x dtype or f32); zp: [M] i32; group_sums:
// [M, K/group] i32 or undefined. Reads x twice so that a NaN/Inf or an
// out-of-range zero point is reported before anything is written.
Status quantize_per_token(const TensorView& x, bool symmetric, int64_t group_size, const TensorView& q,
                          const TensorView& scale, const TensorView& zp, const TensorView& group_sums);

}  // namespace w4a8::cpu::ref
