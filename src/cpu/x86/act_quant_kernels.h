// The CPU fast path's fused activation quantizer: SPEC.md's per-token rules
// or a static per-tensor scale, act-order gather and per-group sums of q in
// one pass over each row. q is always stored signed: a dynamic asymmetric row
// (0..255) is stored as q - 128 with its zero point moved by the same 128, so
// the GEMM's products (q - z) are unchanged. The reference quantizer (cpu/ref) is its plain twin: every vector
// version produces the same bytes, scales and sums (tests compare them).
#pragma once

#include <cstdint>

#include "core/act_quant_rule.h"
#include "w4a8/tensor.h"

namespace w4a8::cpu {

struct ActQuantParams {
  const void* x = nullptr;        // [m][k] in `dtype` (f32, f16 or bf16)
  DType dtype = DType::f16;
  int64_t m = 0, k = 0;
  int64_t group_size = 0;         // divides k; sums are taken over GEMM-order groups
  const int32_t* perm = nullptr;  // [k] or null: GEMM column j reads x column perm[j]
  int8_t* q = nullptr;            // [m][k] in GEMM order
  detail::ActQuantScheme scheme;  // dynamic symmetric by default
  float* scale = nullptr;         // [m] (dynamic: already rounded to `dtype`)
  int32_t* zp = nullptr;          // [m]: the zero point of the stored (signed) q; null when the scheme has none
  int32_t* gsum = nullptr;        // [m][k / group_size]
};

// Quantizes rows [row_begin, row_end). Returns false, leaving those rows'
// outputs unspecified, if a row holds NaN or Inf (or its asymmetric zero point
// does not fit int32): the caller then runs the reference, which names the
// offending element.
using ActQuantKernel = bool (*)(const ActQuantParams& p, int64_t row_begin, int64_t row_end);

bool quantize_rows_avx512(const ActQuantParams& p, int64_t row_begin, int64_t row_end);
bool quantize_rows_avx2(const ActQuantParams& p, int64_t row_begin, int64_t row_end);

}  // namespace w4a8::cpu
