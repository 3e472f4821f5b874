// QuantizedWeight: one layer's weights after validation, in the canonical
// form every backend prepares from (the public packing, K already permuted so
// that groups are contiguous, scales widened to fp32 in kernel layout).
#pragma once

#include <cstdint>

#include "core/act_quant_rule.h"
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
  ActQuantScheme act;      // how the layer's activations are quantized
  // [N] f32: sum over k of the dequantized weight, S[grp(k), n] * (w[n,k] - zp):
  // an activation zero point z adds -z * row_sums[n] to the group-scaled sum,
  // so fast kernels take it in their epilogue. Defined when act.has_zero_point().
  Tensor row_sums;
};

// row_sums for `w` (packed, scales and zero points already set), summed in
// fp64 and rounded once, so every backend uses the same values.
Tensor dequantized_row_sums(const QuantizedWeight& w);

// Validates `w` (shapes, value ranges, finite scales, equal-size act-order
// groups) and builds the canonical form. Nothing is kept from the views.
Result<QuantizedWeight> make_quantized_weight(const LinearWeights& w);

// The LinearConfig that describes `w` for can_implement.
LinearConfig config_of(const QuantizedWeight& w, DType act_type);

}  // namespace w4a8::detail
