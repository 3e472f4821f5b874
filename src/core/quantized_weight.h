// QuantizedWeight: one layer's weights after validation, in the canonical
// form every backend prepares from (the public packing, K already permuted so
// that groups are contiguous, scales widened to fp32 in kernel layout).
#pragma once

#include <cstdint>

#include "w4a8/linear.h"
#include "w4a8/tensor.h"

namespace w4a8::detail {

struct QuantizedWeight {
  int64_t n = 0, k = 0;
  int64_t group_size = 0;  // resolved: K for per-channel
  int64_t num_groups = 0;
  Tensor packed;           // [N, K/8] i32, public layout, columns in permuted order
  Tensor scales;           // [G, N] f32 (exact widening of the checkpoint's scales)
  Tensor zero_points;      // [G, N/8] i32 packed unsigned zero points, or undefined (constant 8)
  Tensor perm;             // [K] i32: activation column feeding GEMM column k, or undefined
  Tensor bias;             // [N] f32, or undefined
};

// Validates `w` (shapes, value ranges, finite scales, equal-size act-order
// groups) and builds the canonical form. Nothing is kept from the views.
Result<QuantizedWeight> make_quantized_weight(const LinearWeights& w);

// The LinearConfig that describes `w` for can_implement.
LinearConfig config_of(const QuantizedWeight& w, DType act_type);

}  // namespace w4a8::detail
