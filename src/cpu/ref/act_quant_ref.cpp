#include "cpu/ref/act_quant_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/rounding.h"

namespace w4a8::cpu::ref {

using detail::round_half_even;
using detail::round_to_dtype;

namespace {
struct RowParams {
  float scale;  // rounded to the activation dtype
  int32_t zp;
};

// Pass 1 for one row: the scale and zero point of SPEC.md, or an error.
Status row_params(const TensorView& x, int64_t m, bool symmetric, RowParams* out) {
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
  if (symmetric) {
    const float s = std::max(amax / detail::kSymActQmax, detail::kMinActScale);
    *out = {round_to_dtype(s, x.dtype()), 0};
    return Status::ok();
  }
  if (k == 0) mn = mx = 0.0f;
  const float s = std::max((mx - mn) / detail::kAsymActRange, detail::kMinActScale);
  // The zero point uses the fp32 scale, before it is rounded (SPEC.md).
  const float z = -round_half_even(mn / s);
  if (!(std::fabs(z) <= 2147483520.0f))  // largest float below 2^31
    return invalid_argument("x: row " + std::to_string(m) + " has a range too narrow for its offset (min " +
                            std::to_string(mn) + ", max " + std::to_string(mx) +
                            "): the asymmetric zero point does not fit int32; use symmetric quantization");
  *out = {round_to_dtype(s, x.dtype()), static_cast<int32_t>(z)};
  return Status::ok();
}
}  // namespace

Status quantize_per_token(const TensorView& x, bool symmetric, int64_t group_size, const TensorView& q,
                          const TensorView& scale, const TensorView& zp, const TensorView& group_sums) {
  const int64_t m_rows = x.size(0), k = x.size(1);
  std::vector<RowParams> params(static_cast<size_t>(m_rows));
  for (int64_t m = 0; m < m_rows; ++m) W4A8_RETURN_IF_ERROR(row_params(x, m, symmetric, &params[m]));

  const int64_t g = group_size > 0 ? group_size : k;
  for (int64_t m = 0; m < m_rows; ++m) {
    const float s = params[m].scale;
    const float z = static_cast<float>(params[m].zp);
    int32_t group_sum = 0;
    for (int64_t i = 0; i < k; ++i) {
      const float v = load_as_float(x, m * k + i) / s;
      int32_t qi;
      if (symmetric) {
        qi = static_cast<int32_t>(std::clamp(round_half_even(v), -128.0f, 127.0f));
        q.data_as<int8_t>()[m * k + i] = static_cast<int8_t>(qi);
      } else {
        qi = static_cast<int32_t>(std::clamp(round_half_even(v + z), 0.0f, 255.0f));
        q.data_as<uint8_t>()[m * k + i] = static_cast<uint8_t>(qi);
      }
      group_sum += qi;
      if (group_sums.defined() && (i + 1) % g == 0) {
        group_sums.data_as<int32_t>()[m * (k / g) + i / g] = group_sum;
        group_sum = 0;
      }
    }
    store_from_float(scale, m, s);  // exact: s is already representable
    zp.data_as<int32_t>()[m] = params[m].zp;
  }
  return Status::ok();
}

}  // namespace w4a8::cpu::ref
