#include "cpu/ref/act_quant_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace w4a8::cpu::ref {

namespace {
// Pass 1 for one row: the rule of SPEC.md for this row, or an error.
Status row_rule(const TensorView& x, int64_t m, const detail::ActQuantScheme& scheme, detail::RowRule* out) {
  const int64_t k = x.size(1);
  float mn = std::numeric_limits<float>::infinity(), mx = -mn, amax = 0.0f;
  for (int64_t i = 0; i < k; ++i) {
    const float v = load_as_float(x, m * k + i);
    if (!std::isfinite(v))
      return {StatusCode::non_finite, "x: row " + std::to_string(m) + " column " + std::to_string(i) +
                                          " is NaN or Inf; activations must be finite"};
    mn = std::min(mn, v);
    mx = std::max(mx, v);
    amax = std::max(amax, std::fabs(v));
  }
  if (scheme.is_static) {
    *out = detail::static_row_rule(scheme);
  } else if (scheme.symmetric) {
    *out = detail::symmetric_row_rule(amax, x.dtype());
  } else {
    if (k == 0) mn = mx = 0.0f;
    if (!detail::asymmetric_row_rule(mn, mx, x.dtype(), out))
      return invalid_argument("x: row " + std::to_string(m) + " has a range too narrow for its offset (min " +
                              std::to_string(mn) + ", max " + std::to_string(mx) +
                              "): the asymmetric zero point does not fit int32; use symmetric quantization");
  }
  return Status::ok();
}
}  // namespace

Status quantize_rows(const TensorView& x, const detail::ActQuantScheme& scheme, int64_t group_size,
                     const TensorView& q, const TensorView& scale, const TensorView& zp,
                     const TensorView& group_sums) {
  const int64_t m_rows = x.size(0), k = x.size(1);
  std::vector<detail::RowRule> rules(static_cast<size_t>(m_rows));
  for (int64_t m = 0; m < m_rows; ++m) W4A8_RETURN_IF_ERROR(row_rule(x, m, scheme, &rules[m]));

  const int64_t g = group_size > 0 ? group_size : k;
  const bool unsigned_q = q.dtype() == DType::u8;
  for (int64_t m = 0; m < m_rows; ++m) {
    const detail::RowRule& r = rules[m];
    int32_t group_sum = 0;
    for (int64_t i = 0; i < k; ++i) {
      const int32_t qi = detail::quantize_value(load_as_float(x, m * k + i), r);
      if (unsigned_q) {
        q.data_as<uint8_t>()[m * k + i] = static_cast<uint8_t>(qi);
      } else {
        q.data_as<int8_t>()[m * k + i] = static_cast<int8_t>(qi);
      }
      group_sum += qi;
      if (group_sums.defined() && (i + 1) % g == 0) {
        group_sums.data_as<int32_t>()[m * (k / g) + i / g] = group_sum;
        group_sum = 0;
      }
    }
    store_from_float(scale, m, r.scale);  // exact: dynamic scales are representable in x's dtype
    zp.data_as<int32_t>()[m] = r.zero_point;
  }
  return Status::ok();
}

}  // namespace w4a8::cpu::ref
