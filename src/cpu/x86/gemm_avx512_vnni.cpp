// AVX-512 VNNI W4A8 GEMM: a register-blocked micro-kernel over MR tokens x
// NR tiles of 16 output channels (MR <= 12, NR <= 2: 24 int32 accumulators,
// 4 unpacked weight registers, the nibble mask and a broadcast, of 32).
// Each 64-byte weight block is loaded and unpacked once per MR tokens; each
// token's 4-byte broadcast feeds NR vpdpbusd. int32 per group, then the
// group's fp32 step (scale * (acc - zp * sum q)) into accumulators kept in
// L1, exactly as the generic twin computes it.
// Compiled for avx512f/bw/vl/vnni; called only when cpuid reports them.
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_*, GCC bug
// 105593): a false positive, silenced for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <array>
#include <utility>

#include "cpu/x86/gemm_kernels.h"

namespace w4a8::cpu {

namespace {
constexpr int kMaxTokens = 12;
constexpr int kMaxTiles = 2;

#define W4A8_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

template <int MR, int NR>
W4A8_VNNI void micro_kernel(const CpuGemmParams& p, int64_t t0, int64_t m0) {
  const int64_t octets = p.k / 8, per_group = p.group_size / 8;
  const __m512i low = _mm512_set1_epi8(0x0F);
  const uint8_t* w[NR];
  for (int i = 0; i < NR; ++i) w[i] = p.w + (t0 + i) * octets * 64;
  const int8_t* qa[MR];
  for (int r = 0; r < MR; ++r) qa[r] = p.q + (m0 + r) * p.k;
  alignas(64) float facc[MR][NR][16] = {};
  for (int64_t g = 0; g < p.groups; ++g) {
    __m512i acc[MR][NR];
#pragma GCC unroll 24
    for (int r = 0; r < MR; ++r)
      for (int i = 0; i < NR; ++i) acc[r][i] = _mm512_setzero_si512();
    for (int64_t j = g * per_group; j < (g + 1) * per_group; ++j) {
      __m512i lo[NR], hi[NR];
#pragma GCC unroll 2
      for (int i = 0; i < NR; ++i) {
        const __m512i block = _mm512_loadu_si512(w[i] + j * 64);
        lo[i] = _mm512_and_si512(block, low);                        // inputs 8j..8j+3
        hi[i] = _mm512_and_si512(_mm512_srli_epi16(block, 4), low);  // inputs 8j+4..8j+7
      }
#pragma GCC unroll 12
      for (int r = 0; r < MR; ++r) {
        int32_t q_lo, q_hi;
        __builtin_memcpy(&q_lo, qa[r] + 8 * j, 4);
        __builtin_memcpy(&q_hi, qa[r] + 8 * j + 4, 4);
        const __m512i b_lo = _mm512_set1_epi32(q_lo), b_hi = _mm512_set1_epi32(q_hi);
#pragma GCC unroll 2
        for (int i = 0; i < NR; ++i) acc[r][i] = _mm512_dpbusd_epi32(acc[r][i], lo[i], b_lo);
#pragma GCC unroll 2
        for (int i = 0; i < NR; ++i) acc[r][i] = _mm512_dpbusd_epi32(acc[r][i], hi[i], b_hi);
      }
    }
#pragma GCC unroll 2
    for (int i = 0; i < NR; ++i) {
      const int64_t at = ((t0 + i) * p.groups + g) * 16;
      const __m512 scale = _mm512_loadu_ps(p.w_scale + at);
      const __m512i zp = p.w_zp ? _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p.w_zp + at)))
                                : _mm512_set1_epi32(8);
#pragma GCC unroll 12
      for (int r = 0; r < MR; ++r) {
        const __m512i corr = _mm512_mullo_epi32(zp, _mm512_set1_epi32(p.gsum[(m0 + r) * p.groups + g]));
        const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][i], corr));
        _mm512_store_ps(facc[r][i], _mm512_fmadd_ps(scale, f, _mm512_load_ps(facc[r][i])));
      }
    }
  }
  for (int i = 0; i < NR; ++i) {
    const int64_t c0 = (t0 + i) * 16;
    const int64_t valid = p.n - c0 < 16 ? p.n - c0 : 16;
    const __mmask16 mask = static_cast<__mmask16>((1u << valid) - 1u);
    const __m512 bias = p.bias ? _mm512_maskz_loadu_ps(mask, p.bias + c0) : _mm512_setzero_ps();
    for (int r = 0; r < MR; ++r) {
      const __m512 v = _mm512_fmadd_ps(_mm512_set1_ps(p.a_scale[m0 + r]), _mm512_load_ps(facc[r][i]), bias);
      _mm512_mask_storeu_ps(p.y + (m0 + r) * p.n + c0, mask, v);
    }
  }
}

using MicroKernel = void (*)(const CpuGemmParams&, int64_t, int64_t);

template <size_t... R>
constexpr std::array<std::array<MicroKernel, kMaxTiles>, kMaxTokens> make_table(std::index_sequence<R...>) {
  return {{{micro_kernel<static_cast<int>(R) + 1, 1>, micro_kernel<static_cast<int>(R) + 1, 2>}...}};
}
constexpr auto kTable = make_table(std::make_index_sequence<kMaxTokens>{});
}  // namespace

void gemm_avx512_vnni(const CpuGemmParams& p, int64_t tile_begin, int64_t tile_end) {
  // Token blocks of near-equal size (16 tokens: 8 + 8, not 12 + 4).
  const int64_t blocks = (p.m + kMaxTokens - 1) / kMaxTokens;
  for (int64_t t = tile_begin; t < tile_end; t += kMaxTiles) {
    const int nr = tile_end - t >= kMaxTiles ? kMaxTiles : static_cast<int>(tile_end - t);
    for (int64_t b = 0, m0 = 0; b < blocks; ++b) {
      const int64_t mr = (p.m - m0) / (blocks - b);
      kTable[mr - 1][nr - 1](p, t, m0);
      m0 += mr;
    }
  }
}

}  // namespace w4a8::cpu
