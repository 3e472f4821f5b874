// quantize_weights_int4: float weights -> int4 values + scales (+ zero points)
// with compressed-tensors' round-to-nearest rule. Each quotient is rounded to
// the weight dtype before it is rounded to an integer, as torch does when it
// divides two fp16/bf16 tensors, so results match that package's output.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/rounding.h"
#include "core/validate.h"
#include "w4a8/ops.h"

namespace w4a8 {

using detail::check_view;
using detail::kAnySize;
using detail::round_half_even;
using detail::round_to_dtype;

namespace {
constexpr float kInt4Min = -8.0f, kInt4Max = 7.0f;
constexpr float kSymDivisor = 7.5f;   // (qmax - qmin) / 2 for 4 bits
constexpr float kAsymDivisor = 15.0f;  // qmax - qmin for 4 bits
// compressed-tensors clamps every scale from below with fp32's epsilon (2^-23).
constexpr float kMinScale = 1.1920928955078125e-7f;
}  // namespace

Status quantize_weights_int4(const TensorView& w, const TensorView& values, const TensorView& scales,
                             const TensorView& zero_points, const WeightQuantOptions& options) {
  W4A8_RETURN_IF_ERROR(check_view(w, "w", {DType::f16, DType::bf16, DType::f32}, {kAnySize, kAnySize}));
  const int64_t n = w.size(0), k = w.size(1);
  const int64_t g = options.group_size == -1 ? k : options.group_size;
  if (g <= 0 || k % g != 0)
    return invalid_argument("group_size=" + std::to_string(options.group_size) + " must be -1 or divide K=" +
                            std::to_string(k));
  const int64_t groups = k / g;
  W4A8_RETURN_IF_ERROR(check_view(values, "values", {DType::i8}, {n, k}));
  W4A8_RETURN_IF_ERROR(check_view(scales, "scales", {DType::f16, DType::bf16, DType::f32}, {n, groups}));
  if (options.symmetric) {
    if (zero_points.defined()) return invalid_argument("zero_points: given for symmetric quantization");
  } else {
    W4A8_RETURN_IF_ERROR(check_view(zero_points, "zero_points", {DType::i8}, {n, groups}));
  }
  W4A8_RETURN_IF_ERROR(detail::check_finite(w, "w"));

  const DType wt = w.dtype(), st = scales.dtype();
  // Pass 1: every scale and zero point, so a scale the dtype cannot hold is
  // reported before anything is written.
  std::vector<float> group_scale(static_cast<size_t>(n * groups)), group_zp(group_scale.size(), 0.0f);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t gi = 0; gi < groups; ++gi) {
      const int64_t base = r * k + gi * g;
      float mn = 0.0f, mx = 0.0f;  // the observer's range always includes zero
      for (int64_t i = 0; i < g; ++i) {
        const float v = load_as_float(w, base + i);
        mn = std::min(mn, v);
        mx = std::max(mx, v);
      }
      // Each step is one torch op on weight-dtype tensors, rounded like one.
      float scale = options.symmetric ? round_to_dtype(std::max(-mn, mx) / kSymDivisor, wt)
                                      : round_to_dtype(round_to_dtype(mx - mn, wt) / kAsymDivisor, wt);
      scale = round_to_dtype(round_to_dtype(std::max(scale, kMinScale), wt), st);
      if (!std::isfinite(scale))
        return invalid_argument("w: row " + std::to_string(r) + " group " + std::to_string(gi) +
                                " needs a scale beyond the range of " + dtype_name(st) + "; use f32 scales");
      group_scale[r * groups + gi] = scale;
      if (!options.symmetric) {
        const float zp = round_to_dtype(kInt4Min - round_to_dtype(mn / scale, wt), wt);
        group_zp[r * groups + gi] = round_half_even(std::clamp(zp, kInt4Min, kInt4Max));
      }
    }
  }
  // Pass 2: the values.
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t gi = 0; gi < groups; ++gi) {
      const float scale = group_scale[r * groups + gi], zp = group_zp[r * groups + gi];
      store_from_float(scales, r * groups + gi, scale);
      if (!options.symmetric) zero_points.data_as<int8_t>()[r * groups + gi] = static_cast<int8_t>(zp);
      const int64_t base = r * k + gi * g;
      for (int64_t i = 0; i < g; ++i) {
        const float quotient = round_to_dtype(load_as_float(w, base + i) / scale, wt);
        const float shifted = round_to_dtype(quotient + zp, wt);
        values.data_as<int8_t>()[base + i] =
            static_cast<int8_t>(round_half_even(std::clamp(shifted, kInt4Min, kInt4Max)));
      }
    }
  }
  return Status::ok();
}

}  // namespace w4a8
