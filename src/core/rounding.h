// Rounding rules SPEC.md relies on, named once.
#pragma once

#include <cmath>

#include "w4a8/half.h"
#include "w4a8/tensor.h"

namespace w4a8::detail {

// Round to nearest, ties to even (torch.round). Uses the default FP rounding
// mode, which the library never changes.
inline float round_half_even(float v) { return std::nearbyint(v); }

// Rounds an fp32 value to `dtype` and back (identity for f32).
inline float round_to_dtype(float v, DType dtype) {
  switch (dtype) {
    case DType::f16: return half_bits_to_float(float_to_half_bits(v));
    case DType::bf16: return bf16_bits_to_float(float_to_bf16_bits(v));
    default: return v;
  }
}

// The smallest scale SPEC.md allows for activations (torch.clamp(min=1e-5)).
inline constexpr float kMinActScale = 1e-5f;
inline constexpr float kSymActQmax = 127.0f;
inline constexpr float kAsymActRange = 255.0f;
// The largest asymmetric activation zero point (the largest float below 2^31).
inline constexpr float kMaxActZeroPoint = 2147483520.0f;

}  // namespace w4a8::detail
