// Narrowing the fp32 GEMM result to the output dtype, vectorised where the
// CPU allows (F16C for fp16, AVX2 integer rounding for bf16). Bit-identical
// to store_from_float (w4a8/half.h): round to nearest even, Inf and NaN kept.
#pragma once

#include <cstdint>

#include "w4a8/tensor.h"

namespace w4a8::cpu {

// dst[i] = src[i] in `dtype` (f32, f16 or bf16) for i in [0, count).
void store_floats(const float* src, int64_t count, DType dtype, void* dst);

}  // namespace w4a8::cpu
