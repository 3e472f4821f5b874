// Scalar pieces the vector quantizers share with each other, built on the
// rules the reference uses (core/act_quant_rule.h): a row's rule, and one
// element's stored int8 value.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/rounding.h"
#include "cpu/x86/act_quant_kernels.h"

namespace w4a8::cpu::act_quant_detail {

// A row's rule from pass 1's statistics, with the shift to signed storage
// (128 for dynamic asymmetric rows). Records the scale and zero point; false
// when the asymmetric zero point does not fit int32.
struct StoredRule {
  detail::RowRule rule;
  int32_t shift = 0;
};

inline bool row_rule(const ActQuantParams& p, int64_t row, float amax, float mn, float mx, StoredRule* out) {
  if (p.scheme.is_static) {
    out->rule = detail::static_row_rule(p.scheme);
  } else if (p.scheme.symmetric) {
    out->rule = detail::symmetric_row_rule(amax, p.dtype);
  } else {
    if (p.k == 0) mn = mx = 0.0f;
    if (!detail::asymmetric_row_rule(mn, mx, p.dtype, &out->rule)) return false;
    out->shift = 128;
  }
  p.scale[row] = out->rule.scale;
  if (p.zp) p.zp[row] = out->rule.zero_point - out->shift;
  return true;
}

inline int32_t quantize_one(float v, const StoredRule& r) { return detail::quantize_value(v, r.rule) - r.shift; }

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
