// The fused quantizer (act_quant_kernels.h) for AVX2 + F16C: the AVX-512
// version's two passes, 8 elements per step.
#include <immintrin.h>

#include <cmath>

#include "cpu/x86/act_quant_scalar.h"

namespace w4a8::cpu {

namespace {
using namespace act_quant_detail;

#define W4A8_AVX2 __attribute__((target("avx2,fma,f16c")))

W4A8_AVX2 inline __m256 load8(const void* x, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::f32: return _mm256_loadu_ps(static_cast<const float*>(x) + i);
    case DType::f16:
      return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(x) + i)));
    default: {  // bf16: the top half of an fp32
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(x) + i));
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16));
    }
  }
}

// The row's rule as vectors: round_half_even(v / s + z), clamped, minus the shift.
struct VecRule {
  __m256 s, z, lo, hi;
  __m256i shift;
};

W4A8_AVX2 inline VecRule vec_rule(const StoredRule& r) {
  return {_mm256_set1_ps(r.rule.scale), _mm256_set1_ps(static_cast<float>(r.rule.zero_point)),
          _mm256_set1_ps(r.rule.lo), _mm256_set1_ps(r.rule.hi), _mm256_set1_epi32(r.shift)};
}

W4A8_AVX2 inline __m256i quantize8(__m256 v, const VecRule& r) {
  const __m256 t = _mm256_add_ps(_mm256_div_ps(v, r.s), r.z);
  const __m256 q = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm256_sub_epi32(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(q, r.lo), r.hi)), r.shift);
}

W4A8_AVX2 inline void store8(int8_t* q, __m256i v) {  // values already within int8
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(q), _mm_packs_epi16(w, w));
}

W4A8_AVX2 inline int32_t reduce_add(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

W4A8_AVX2 inline float reduce_max(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_shuffle_ps(m, m, 0x4E));
  m = _mm_max_ps(m, _mm_shuffle_ps(m, m, 0xB1));
  return _mm_cvtss_f32(m);
}

W4A8_AVX2 inline float reduce_min(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_shuffle_ps(m, m, 0x4E));
  m = _mm_min_ps(m, _mm_shuffle_ps(m, m, 0xB1));
  return _mm_cvtss_f32(m);
}

// GEMM column j of the row (its act-order source column, if any).
W4A8_AVX2 inline __m256 column(const ActQuantParams& p, const float* xs, int64_t j) {
  return p.perm ? _mm256_i32gather_ps(xs, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.perm + j)), 4) : _mm256_loadu_ps(xs + j);
}

W4A8_AVX2 bool quantize_row(const ActQuantParams& p, int64_t row) {
  const int64_t k = p.k, vec_end = k / 8 * 8;
  const size_t elem = p.dtype == DType::f32 ? 4 : 2;
  const void* x = static_cast<const char*>(p.x) + static_cast<size_t>(row * k) * elem;
  float* xs = row_scratch(k);
  const __m256 inf = _mm256_set1_ps(INFINITY);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 vmax = _mm256_setzero_ps(), vlo = _mm256_set1_ps(INFINITY), vhi = _mm256_set1_ps(-INFINITY);
  for (int64_t i = 0; i < vec_end; i += 8) {
    const __m256 v = load8(x, p.dtype, i);
    const __m256 a = _mm256_and_ps(v, abs_mask);
    if (_mm256_movemask_ps(_mm256_cmp_ps(a, inf, _CMP_LT_OQ)) != 0xFF) return false;  // NaN or Inf
    vmax = _mm256_max_ps(vmax, a);
    vlo = _mm256_min_ps(vlo, v);
    vhi = _mm256_max_ps(vhi, v);
    _mm256_storeu_ps(xs + i, v);
  }
  float amax = reduce_max(vmax), mn = reduce_min(vlo), mx = reduce_max(vhi);
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
  if (p.group_size % 8 == 0) {  // always, as k and the group size are multiples of 8
    const int64_t groups = k / p.group_size;
    for (int64_t g = 0; g < groups; ++g) {
      __m256i sum = _mm256_setzero_si256();
      for (int64_t j = g * p.group_size; j < (g + 1) * p.group_size; j += 8) {
        const __m256i qi = quantize8(column(p, xs, j), vs);
        store8(q + j, qi);
        sum = _mm256_add_epi32(sum, qi);
      }
      p.gsum[row * groups + g] = reduce_add(sum);
    }
    return true;
  }
  for (int64_t j = 0; j < vec_end; j += 8) store8(q + j, quantize8(column(p, xs, j), vs));
  for (int64_t j = vec_end; j < k; ++j) q[j] = static_cast<int8_t>(quantize_one(xs[p.perm ? p.perm[j] : j], rule));
  sums_from_q(p, row);
  return true;
}
}  // namespace

bool quantize_rows_avx2(const ActQuantParams& p, int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r)
    if (!quantize_row(p, r)) return false;
  return true;
}

}  // namespace w4a8::cpu
