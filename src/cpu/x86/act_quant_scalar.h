// Scalar pieces the vector quantizers share with each other, written exactly
// as the reference computes them (cpu/ref/act_quant_ref.cpp): the scale from
// the row's absolute maximum, and one element's int8 value.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/rounding.h"
#include "cpu/x86/act_quant_kernels.h"

namespace w4a8::cpu::act_quant_detail {

inline float symmetric_scale(float amax, DType dtype) {
  return detail::round_to_dtype(std::max(amax / detail::kSymActQmax, detail::kMinActScale), dtype);
}

inline int32_t quantize_one(float v, float s) {
  return static_cast<int32_t>(std::clamp(detail::round_half_even(v / s), -128.0f, 127.0f));
}

// A per-thread fp32 copy of one row: the second pass (and the act-order
// gather) reads it instead of converting the input twice.
inline float* row_scratch(int64_t k) {
  thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < k) buf.resize(static_cast<size_t>(k));
  return buf.data();
}

// Group sums from the written q, for group sizes the vector width does not divide.
inline void sums_from_q(const ActQuantParams& p, int64_t row) {
  const int64_t groups = p.k / p.group_size;
  const int8_t* q = p.q + row * p.k;
  for (int64_t g = 0; g < groups; ++g) {
    int32_t s = 0;
    for (int64_t j = g * p.group_size; j < (g + 1) * p.group_size; ++j) s += q[j];
    p.gsum[row * groups + g] = s;
  }
}

}  // namespace w4a8::cpu::act_quant_detail
