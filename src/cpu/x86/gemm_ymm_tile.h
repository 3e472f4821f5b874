// The 256-bit GEMM over the VNNI layout, shared by the AVX2 and the AVX-VNNI
// levels: the layout read as two 32-byte halves of 8 channels each, two
// tokens at a time (2 tokens x 2 halves x (int32 + fp32) = 8 of the 16 ymm
// registers). The levels differ only in the step that adds one octet's eight
// products per channel to an int32 lane (`Step::add`); the fp32 operations
// (fma per group, fma at the end) are the generic twin's, so every level's
// outputs are bit-identical to it.
//
// Included by one .cpp per level, which defines W4A8_YMM_TARGET (the target
// attribute, e.g. "avx2,fma") and its Step before including it.
#pragma once

#include <immintrin.h>

#include "cpu/x86/gemm_kernels.h"

#ifndef W4A8_YMM_TARGET
#error "define W4A8_YMM_TARGET before including gemm_ymm_tile.h"
#endif

namespace w4a8::cpu {
namespace {
constexpr int kTokens = 2;

// Eight per-channel floats from c0, zero past the last channel n.
__attribute__((target(W4A8_YMM_TARGET))) inline __m256 load_channels(const float* v, int64_t c0, int64_t n) {
  float b[8] = {};
  for (int c = 0; c < 8; ++c)
    if (c0 + c < n) b[c] = v[c0 + c];
  return _mm256_loadu_ps(b);
}

template <class Step, int kM>
__attribute__((target(W4A8_YMM_TARGET))) void tile_pass(const CpuGemmParams& p, int64_t t, int64_t m0) {
  const int64_t octets = p.k / 8;
  const __m256i low = _mm256_set1_epi8(0x0F);
  const uint8_t* tile_w = p.w + t * octets * 64;
  __m256 facc[kM][2];
  for (int r = 0; r < kM; ++r) facc[r][0] = facc[r][1] = _mm256_setzero_ps();
  for (int64_t g = 0; g < p.groups; ++g) {
    __m256i acc[kM][2];
    for (int r = 0; r < kM; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const int64_t j_end = (g + 1) * p.group_size / 8;
    for (int64_t j = g * p.group_size / 8; j < j_end; ++j) {
      __m256i w_lo[2], w_hi[2];
      for (int h = 0; h < 2; ++h) {
        const __m256i block = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile_w + j * 64 + 32 * h));
        w_lo[h] = _mm256_and_si256(block, low);
        w_hi[h] = _mm256_and_si256(_mm256_srli_epi16(block, 4), low);
      }
      for (int r = 0; r < kM; ++r) {
        const int8_t* qa = p.q + (m0 + r) * p.k + 8 * j;
        int32_t q_lo, q_hi;
        __builtin_memcpy(&q_lo, qa, 4);
        __builtin_memcpy(&q_hi, qa + 4, 4);
        const __m256i b_lo = _mm256_set1_epi32(q_lo), b_hi = _mm256_set1_epi32(q_hi);
        for (int h = 0; h < 2; ++h) acc[r][h] = Step::add(acc[r][h], w_lo[h], w_hi[h], b_lo, b_hi);
      }
    }
    for (int h = 0; h < 2; ++h) {
      const int64_t ch0 = (t * p.groups + g) * 16 + 8 * h;
      const __m256 scale = _mm256_loadu_ps(p.w_scale + ch0);
      const __m256i zp = p.w_zp ? _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p.w_zp + ch0)))
                                : _mm256_set1_epi32(8);
      for (int r = 0; r < kM; ++r) {
        const __m256i corr = _mm256_mullo_epi32(zp, _mm256_set1_epi32(p.gsum[(m0 + r) * p.groups + g]));
        facc[r][h] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[r][h], corr)), facc[r][h]);
      }
    }
  }
  for (int r = 0; r < kM; ++r) {
    float out[16];
    const __m256 a = _mm256_set1_ps(p.a_scale[m0 + r]);
    for (int h = 0; h < 2; ++h) {
      __m256 bias = _mm256_setzero_ps(), f = facc[r][h];
      if (p.bias) bias = load_channels(p.bias, t * 16 + 8 * h, p.n);
      if (p.a_zp)  // the activation zero point's share: f - z * row_sums, one rounding
        f = _mm256_fnmadd_ps(_mm256_set1_ps(static_cast<float>(p.a_zp[m0 + r])),
                             load_channels(p.row_sums, t * 16 + 8 * h, p.n), f);
      _mm256_storeu_ps(out + 8 * h, _mm256_fmadd_ps(a, f, bias));
    }
    for (int c = 0; c < 16 && t * 16 + c < p.n; ++c) p.y[(m0 + r) * p.n + t * 16 + c] = out[c];
  }
}

template <class Step>
void ymm_gemm(const CpuGemmParams& p, int64_t tile_begin, int64_t tile_end) {
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    int64_t m0 = 0;
    for (; m0 + kTokens <= p.m; m0 += kTokens) tile_pass<Step, kTokens>(p, t, m0);
    if (m0 < p.m) tile_pass<Step, 1>(p, t, m0);
  }
}
}  // namespace
}  // namespace w4a8::cpu
