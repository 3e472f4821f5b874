// How activations become integers (SPEC.md), in one place for every CPU
// quantizer: the layer's scheme, and the rule each row gets from it. Every
// quantizer then computes, in fp32,
//   q = clamp(round_half_even(x / scale + zero_point), lo, hi).
// The CUDA quantizer (cuda/act_quant.cu) follows the same rules on the device.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/rounding.h"

namespace w4a8::detail {

// A layer's activation quantization.
struct ActQuantScheme {
  bool is_static = false;   // one calibrated per-tensor scale (an extension)
  bool symmetric = true;    // dynamic only: false = per-token asymmetric uint8 (SPEC.md)
  float scale = 0.0f;       // static only: the checkpoint's scale, widened to fp32 exactly
  int32_t zero_point = 0;   // static only: in -128..127
  // Whether the GEMM subtracts an activation zero point (so backends need the
  // weights' dequantized row sums, QuantizedWeight::row_sums).
  bool has_zero_point() const { return is_static ? zero_point != 0 : !symmetric; }
};

// One row's rule. lo == 0 means uint8 storage (dynamic asymmetric).
struct RowRule {
  float scale = 1.0f;  // what x is divided by (fp32)
  int32_t zero_point = 0;
  float lo = -128.0f, hi = 127.0f;
};

// Dynamic symmetric: the scale from the row's |x| maximum, rounded to the activation dtype.
inline RowRule symmetric_row_rule(float amax, DType dtype) {
  RowRule r;
  r.scale = round_to_dtype(std::max(amax / kSymActQmax, kMinActScale), dtype);
  return r;
}

// Dynamic asymmetric: the zero point from the fp32 scale, before that scale is
// rounded to the activation dtype. False when the zero point does not fit int32
// (a row far from 0 with a tiny range).
inline bool asymmetric_row_rule(float mn, float mx, DType dtype, RowRule* out) {
  const float s = std::max((mx - mn) / kAsymActRange, kMinActScale);
  const float z = -round_half_even(mn / s);
  if (!(std::fabs(z) <= kMaxActZeroPoint)) return false;
  out->scale = round_to_dtype(s, dtype);
  out->zero_point = static_cast<int32_t>(z);
  out->lo = 0.0f;
  out->hi = 255.0f;
  return true;
}

inline RowRule static_row_rule(const ActQuantScheme& s) {
  RowRule r;
  r.scale = s.scale;
  r.zero_point = s.zero_point;
  return r;
}

inline int32_t quantize_value(float x, const RowRule& r) {
  return static_cast<int32_t>(
      std::clamp(round_half_even(x / r.scale + static_cast<float>(r.zero_point)), r.lo, r.hi));
}

}  // namespace w4a8::detail
