// The fused quantizer (act_quant_kernels.h) for AVX-512: 16 elements per
// step. Pass 1 converts the row to fp32 scratch and finds |x|max, min and
// max; pass 2 divides (a true division, as the reference does, so ties round
// alike), adds the zero point, rounds half to even, clamps, narrows to int8
// and sums each group.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC bug 105593, as in gemm_avx512_vnni.cpp
#endif
#include <immintrin.h>

#include <cmath>

#include "cpu/x86/act_quant_scalar.h"

namespace w4a8::cpu {

namespace {
using namespace act_quant_detail;

#define W4A8_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

W4A8_AVX512 inline __m512 load16(const void* x, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::f32: return _mm512_loadu_ps(static_cast<const float*>(x) + i);
    case DType::f16:
      return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(x) + i)));
    default: {  // bf16: the top half of an fp32
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(x) + i));
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
    }
  }
}

// The row's rule as vectors: round_half_even(v / s + z), clamped, minus the shift.
struct VecRule {
  __m512 s, z, lo, hi;
  __m512i shift;
};

W4A8_AVX512 inline VecRule vec_rule(const StoredRule& r) {
  return {_mm512_set1_ps(r.rule.scale), _mm512_set1_ps(static_cast<float>(r.rule.zero_point)),
          _mm512_set1_ps(r.rule.lo), _mm512_set1_ps(r.rule.hi), _mm512_set1_epi32(r.shift)};
}

W4A8_AVX512 inline __m512i quantize16(__m512 v, const VecRule& r) {
  const __m512 t = _mm512_add_ps(_mm512_div_ps(v, r.s), r.z);
  const __m512 q = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm512_sub_epi32(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(q, r.lo), r.hi)), r.shift);
}

// GEMM column j of the row (its act-order source column, if any).
W4A8_AVX512 inline __m512 column(const ActQuantParams& p, const float* xs, int64_t j) {
  return p.perm ? _mm512_i32gather_ps(_mm512_loadu_si512(p.perm + j), xs, 4) : _mm512_loadu_ps(xs + j);
}

W4A8_AVX512 bool quantize_row(const ActQuantParams& p, int64_t row) {
  const int64_t k = p.k, vec_end = k / 16 * 16;
  const size_t elem = p.dtype == DType::f32 ? 4 : 2;
  const void* x = static_cast<const char*>(p.x) + static_cast<size_t>(row * k) * elem;
  float* xs = row_scratch(k);
  const __m512 inf = _mm512_set1_ps(INFINITY);
  __m512 vmax = _mm512_setzero_ps(), vlo = _mm512_set1_ps(INFINITY), vhi = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < vec_end; i += 16) {
    const __m512 v = load16(x, p.dtype, i);
    const __m512 a = _mm512_abs_ps(v);
    if (_mm512_cmp_ps_mask(a, inf, _CMP_LT_OQ) != 0xFFFF) return false;  // NaN or Inf
    vmax = _mm512_max_ps(vmax, a);
    vlo = _mm512_min_ps(vlo, v);
    vhi = _mm512_max_ps(vhi, v);
    _mm512_storeu_ps(xs + i, v);
  }
  float amax = _mm512_reduce_max_ps(vmax), mn = _mm512_reduce_min_ps(vlo), mx = _mm512_reduce_max_ps(vhi);
  for (int64_t i = vec_end; i < k; ++i) {
    xs[i] = load_as_float(TensorView(const_cast<void*>(x), p.dtype, {k}), i);
    if (!std::isfinite(xs[i])) return false;
    amax = std::max(amax, std::fabs(xs[i]));
    mn = std::min(mn, xs[i]);
    mx = std::max(mx, xs[i]);
  }
  StoredRule rule;
  if (!row_rule(p, row, amax, mn, mx, &rule)) return false;
  const VecRule vs = vec_rule(rule);
  int8_t* q = p.q + row * k;
  if (p.group_size % 16 == 0) {
    const int64_t groups = k / p.group_size;
    for (int64_t g = 0; g < groups; ++g) {
      __m512i sum = _mm512_setzero_si512();
      for (int64_t j = g * p.group_size; j < (g + 1) * p.group_size; j += 16) {
        const __m512i qi = quantize16(column(p, xs, j), vs);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + j), _mm512_cvtepi32_epi8(qi));
        sum = _mm512_add_epi32(sum, qi);
      }
      p.gsum[row * groups + g] = _mm512_reduce_add_epi32(sum);
    }
    return true;
  }
  for (int64_t j = 0; j < vec_end; j += 16)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + j), _mm512_cvtepi32_epi8(quantize16(column(p, xs, j), vs)));
  for (int64_t j = vec_end; j < k; ++j) q[j] = static_cast<int8_t>(quantize_one(xs[p.perm ? p.perm[j] : j], rule));
  sums_from_q(p, row);
  return true;
}
}  // namespace

bool quantize_rows_avx512(const ActQuantParams& p, int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r)
    if (!quantize_row(p, r)) return false;
  return true;
}

}  // namespace w4a8::cpu
