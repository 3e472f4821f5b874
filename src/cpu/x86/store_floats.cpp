#include "cpu/x86/store_floats.h"

#include <cstring>

#include "w4a8/device.h"
#include "w4a8/half.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace w4a8::cpu {

namespace {
#if defined(__x86_64__)
// vcvtps2ph with round-to-nearest-even: the same results as float_to_half_bits
// for every input (overflow to Inf, subnormals, NaN payloads kept and quieted).
__attribute__((target("avx2,f16c"))) int64_t store_f16_vec(const float* src, int64_t count, uint16_t* dst) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  return i;
}

// float_to_bf16_bits eight lanes at a time.
__attribute__((target("avx2"))) int64_t store_bf16_vec(const float* src, int64_t count, uint16_t* dst) {
  const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
  const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff), quiet = _mm256_set1_epi32(0x40);
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i rounded = _mm256_srli_epi32(
        _mm256_add_epi32(x, _mm256_add_epi32(bias, _mm256_and_si256(_mm256_srli_epi32(x, 16), one))), 16);
    const __m256i nan_bits = _mm256_or_si256(_mm256_srli_epi32(x, 16), quiet);
    const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, abs_mask), inf);
    const __m256i v = _mm256_blendv_epi8(rounded, nan_bits, is_nan);
    // Pack 8 x u32 (each < 2^16) into 8 x u16 in order.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(v, v), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_castsi256_si128(packed));
  }
  return i;
}
#endif
}  // namespace

void store_floats(const float* src, int64_t count, DType dtype, void* dst) {
  if (dtype == DType::f32) {
    std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(float));
    return;
  }
  auto* out = static_cast<uint16_t*>(dst);
  int64_t i = 0;
#if defined(__x86_64__)
  const CpuFeatures& f = cpu_features();
  if (dtype == DType::f16 && f.avx2 && f.f16c) i = store_f16_vec(src, count, out);
  if (dtype == DType::bf16 && f.avx2) i = store_bf16_vec(src, count, out);
#endif
  for (; i < count; ++i) out[i] = dtype == DType::f16 ? float_to_half_bits(src[i]) : float_to_bf16_bits(src[i]);
}

}  // namespace w4a8::cpu
