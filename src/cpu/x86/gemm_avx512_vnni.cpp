// AVX-512 VNNI W4A8 GEMM: 16 output channels per zmm lane set, up to
// kTokens tokens per pass over a tile's weights (weights read once per
// pass), int32 per group with vpdpbusd, fp32 across groups.
// Compiled for avx512f/bw/vl/vnni; called only when cpuid reports them.
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_*, GCC bug
// 105593): a false positive, silenced for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "cpu/x86/gemm_kernels.h"

namespace w4a8::cpu {

namespace {
constexpr int kTokens = 8;  // 8 int32 + 8 fp32 accumulators + 3 work registers of 32

template <int kM>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void tile_pass(const CpuGemmParams& p, int64_t t,
                                                                               int64_t m0) {
  const int64_t octets = p.k / 8;
  const __m512i low = _mm512_set1_epi8(0x0F);
  const uint8_t* tile_w = p.w + t * octets * 64;
  __m512 facc[kM];
  for (int r = 0; r < kM; ++r) facc[r] = _mm512_setzero_ps();
  const __m512i eight = _mm512_set1_epi32(8);
  for (int64_t g = 0; g < p.groups; ++g) {
    __m512i acc[kM];
    for (int r = 0; r < kM; ++r) acc[r] = _mm512_setzero_si512();
    const int64_t j_end = (g + 1) * p.group_size / 8;
    for (int64_t j = g * p.group_size / 8; j < j_end; ++j) {
      const __m512i block = _mm512_loadu_si512(tile_w + j * 64);
      const __m512i w_lo = _mm512_and_si512(block, low);                         // inputs 8j..8j+3
      const __m512i w_hi = _mm512_and_si512(_mm512_srli_epi16(block, 4), low);   // inputs 8j+4..8j+7
      for (int r = 0; r < kM; ++r) {
        const int8_t* qa = p.q + (m0 + r) * p.k + 8 * j;
        int32_t q_lo, q_hi;
        __builtin_memcpy(&q_lo, qa, 4);
        __builtin_memcpy(&q_hi, qa + 4, 4);
        acc[r] = _mm512_dpbusd_epi32(acc[r], w_lo, _mm512_set1_epi32(q_lo));
        acc[r] = _mm512_dpbusd_epi32(acc[r], w_hi, _mm512_set1_epi32(q_hi));
      }
    }
    const __m512 scale = _mm512_loadu_ps(p.w_scale + g * p.n_pad + t * 16);
    const __m512i zp = p.w_zp ? _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p.w_zp + g * p.n_pad + t * 16)))
                              : eight;
    for (int r = 0; r < kM; ++r) {
      const __m512i corr = _mm512_mullo_epi32(zp, _mm512_set1_epi32(p.gsum[(m0 + r) * p.groups + g]));
      facc[r] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r], corr)), facc[r]);
    }
  }
  const int64_t valid = p.n - t * 16 < 16 ? p.n - t * 16 : 16;
  const __mmask16 mask = static_cast<__mmask16>((1u << valid) - 1u);
  const __m512 bias = p.bias ? _mm512_maskz_loadu_ps(mask, p.bias + t * 16) : _mm512_setzero_ps();
  for (int r = 0; r < kM; ++r) {
    const __m512 v = _mm512_fmadd_ps(_mm512_set1_ps(p.a_scale[m0 + r]), facc[r], bias);
    _mm512_mask_storeu_ps(p.y + (m0 + r) * p.n + t * 16, mask, v);
  }
}

template <int kM>
void run_passes(const CpuGemmParams& p, int64_t t, int64_t m0) {
  tile_pass<kM>(p, t, m0);
}
}  // namespace

void gemm_avx512_vnni(const CpuGemmParams& p, int64_t tile_begin, int64_t tile_end) {
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    int64_t m0 = 0;
    for (; m0 + kTokens <= p.m; m0 += kTokens) run_passes<kTokens>(p, t, m0);
    switch (p.m - m0) {
      case 7: run_passes<7>(p, t, m0); break;
      case 6: run_passes<6>(p, t, m0); break;
      case 5: run_passes<5>(p, t, m0); break;
      case 4: run_passes<4>(p, t, m0); break;
      case 3: run_passes<3>(p, t, m0); break;
      case 2: run_passes<2>(p, t, m0); break;
      case 1: run_passes<1>(p, t, m0); break;
      default: break;
    }
  }
}

}  // namespace w4a8::cpu
