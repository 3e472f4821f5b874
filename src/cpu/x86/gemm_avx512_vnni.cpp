// AVX-512 VNNI W4A8 GEMM: a register-blocked micro-kernel over MR tokens x
// NR tiles of 16 output channels (MR <= 8, NR <= 2: 16 int32 accumulators,
// 4 unpacked weight registers, the nibble mask and broadcasts, of 32).
// MR = 8 measured best with GCC 12 (one thread, weights in L2, M =
// 16/64/256): on a Zen 5 core 845/856/852 GOPS, 81% of its 1047 GOPS
// vpdpbusd peak; on a Zen 4 core (512-bit ops double-pumped) 388/378/386
// GOPS, 83% of its 460. MR = 10 and 12 ran at 700-780 and 620-650 GOPS on
// Zen 5, GCC spilling accumulators. Replacing the flush's multiply by a shift
// for symmetric weights changed nothing measurable: the flush is not the
// bottleneck; the rest goes to the unpack ops and broadcast loads that
// share the vector pipes with vpdpbusd (not measured one by one).
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
#include <cstring>
#include <vector>
#include <utility>

#include "cpu/x86/gemm_kernels.h"

namespace w4a8::cpu {

namespace {
constexpr int kMaxTokens = 8;

#define W4A8_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

// How far ahead (in 64-byte octet blocks of one tile) the first token block
// prefetches the weights it is about to stream from memory. That block reads
// each weight line from DRAM while it computes; the hardware prefetcher alone
// left one Zen 4 core at ~11 GB/s there (M = 8, 4096x4096, cold weights:
// 742-817 us against 617 us of vpdpbusd). 32 lines (4 KiB per tile) ahead
// measured 5-10 % faster at M = 8 and 16; 24-128 were within the noise of it.
// Later token blocks find the tiles in L2 and skip the prefetch.
constexpr int64_t kPrefetchOctets = 32;

// qp: this token block's activations packed [octet][token][8 bytes], so the
// MR broadcasts of an octet come from one 8*MR-byte run (one stream, one
// pointer register) instead of MR rows.
template <int MR, int NR, bool kPrefetch>
W4A8_VNNI void micro_kernel(const CpuGemmParams& p, const int8_t* qp, int64_t t0, int64_t m0) {
  const int64_t octets = p.k / 8, per_group = p.group_size / 8;
  const __m512i low = _mm512_set1_epi8(0x0F);
  const uint8_t* w0 = p.w + t0 * octets * 64;
  const uint8_t* w1 = NR > 1 ? w0 + octets * 64 : w0;
  alignas(64) float facc[MR][NR][16] = {};
  for (int64_t g = 0; g < p.groups; ++g) {
    __m512i acc[MR * NR];
#pragma GCC unroll 24
    for (int i = 0; i < MR * NR; ++i) acc[i] = _mm512_setzero_si512();
    const int8_t* q = qp + g * per_group * MR * 8;
    const int64_t j_end = (g + 1) * per_group;
    for (int64_t j = g * per_group; j < j_end; ++j, q += MR * 8) {
      if constexpr (kPrefetch) {  // past the end it only touches the next tile's lines: harmless
        _mm_prefetch(reinterpret_cast<const char*>(w0 + (j + kPrefetchOctets) * 64), _MM_HINT_T0);
        if constexpr (NR > 1) _mm_prefetch(reinterpret_cast<const char*>(w1 + (j + kPrefetchOctets) * 64), _MM_HINT_T0);
      }
      const __m512i b0 = _mm512_loadu_si512(w0 + j * 64);
      const __m512i lo0 = _mm512_and_si512(b0, low), hi0 = _mm512_and_si512(_mm512_srli_epi16(b0, 4), low);
      __m512i lo1 = lo0, hi1 = hi0;
      if constexpr (NR > 1) {
        const __m512i b1 = _mm512_loadu_si512(w1 + j * 64);
        lo1 = _mm512_and_si512(b1, low);
        hi1 = _mm512_and_si512(_mm512_srli_epi16(b1, 4), low);
      }
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        int32_t q_lo, q_hi;
        __builtin_memcpy(&q_lo, q + 8 * r, 4);
        __builtin_memcpy(&q_hi, q + 8 * r + 4, 4);
        const __m512i b_lo = _mm512_set1_epi32(q_lo), b_hi = _mm512_set1_epi32(q_hi);
        acc[r * NR] = _mm512_dpbusd_epi32(acc[r * NR], lo0, b_lo);
        if constexpr (NR > 1) acc[r * NR + 1] = _mm512_dpbusd_epi32(acc[r * NR + 1], lo1, b_lo);
        acc[r * NR] = _mm512_dpbusd_epi32(acc[r * NR], hi0, b_hi);
        if constexpr (NR > 1) acc[r * NR + 1] = _mm512_dpbusd_epi32(acc[r * NR + 1], hi1, b_hi);
      }
    }
    // Flat, fully unrolled loops: every acc index is a constant, so the
    // accumulators stay in registers (an indexed loop here made GCC keep
    // them in memory and store all of them on every octet).
    __m512 scale[NR];
    __m512i zp[NR];
#pragma GCC unroll 2
    for (int i = 0; i < NR; ++i) {
      const int64_t at = ((t0 + i) * p.groups + g) * 16;
      scale[i] = _mm512_loadu_ps(p.w_scale + at);
      zp[i] = p.w_zp ? _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p.w_zp + at)))
                     : _mm512_set1_epi32(8);
    }
#pragma GCC unroll 24
    for (int idx = 0; idx < MR * NR; ++idx) {
      const int r = idx / NR, i = idx % NR;
      const __m512i corr = _mm512_mullo_epi32(zp[i], _mm512_set1_epi32(p.gsum[(m0 + r) * p.groups + g]));
      const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[idx], corr));
      _mm512_store_ps(facc[r][i], _mm512_fmadd_ps(scale[i], f, _mm512_load_ps(facc[r][i])));
    }
  }
  for (int i = 0; i < NR; ++i) {
    const int64_t c0 = (t0 + i) * 16;
    const int64_t valid = p.n - c0 < 16 ? p.n - c0 : 16;
    const __mmask16 mask = static_cast<__mmask16>((1u << valid) - 1u);
    const __m512 bias = p.bias ? _mm512_maskz_loadu_ps(mask, p.bias + c0) : _mm512_setzero_ps();
    const __m512 row_sums = p.a_zp ? _mm512_maskz_loadu_ps(mask, p.row_sums + c0) : _mm512_setzero_ps();
    for (int r = 0; r < MR; ++r) {
      __m512 f = _mm512_load_ps(facc[r][i]);
      if (p.a_zp)  // the activation zero point's share: f - z * row_sums, one rounding
        f = _mm512_fnmadd_ps(_mm512_set1_ps(static_cast<float>(p.a_zp[m0 + r])), row_sums, f);
      const __m512 v = _mm512_fmadd_ps(_mm512_set1_ps(p.a_scale[m0 + r]), f, bias);
      _mm512_mask_storeu_ps(p.y + (m0 + r) * p.n + c0, mask, v);
    }
  }
}

using MicroKernel = void (*)(const CpuGemmParams&, const int8_t*, int64_t, int64_t);

template <size_t... R>
constexpr std::array<MicroKernel, sizeof...(R)> make_row(std::index_sequence<R...>, auto nr, auto prefetch) {
  return {micro_kernel<static_cast<int>(R) + 1, decltype(nr)::value, decltype(prefetch)::value>...};
}
// [prefetch][tokens - 1]: two tiles wide, and one tile wide for a range's odd
// last tile; the first token block of a tile prefetches, the others do not.
using One = std::integral_constant<int, 1>;
using Two = std::integral_constant<int, 2>;
using Yes = std::true_type;
using No = std::false_type;
constexpr auto kTokens = std::make_index_sequence<kMaxTokens>{};
const std::array<std::array<MicroKernel, kMaxTokens>, 2> kOneTile = {make_row(kTokens, One{}, No{}),
                                                                     make_row(kTokens, One{}, Yes{})};
const std::array<std::array<MicroKernel, kMaxTokens>, 2> kTwoTiles = {make_row(kTokens, Two{}, No{}),
                                                                      make_row(kTokens, Two{}, Yes{})};
}  // namespace

std::vector<TokenBlock> vnni_token_blocks(int64_t m) {
  // Blocks of near-equal size, at most 8 (20 tokens: 6 + 7 + 7). A single
  // 16-token block one tile wide (weights streamed once) measured slower at
  // M = 16 on dev, 4096x4096: 683 us against 469 us for 8 + 8 two tiles wide.
  const int64_t blocks = (m + kMaxTokens - 1) / kMaxTokens;
  std::vector<TokenBlock> out;
  for (int64_t b = 0, m0 = 0; b < blocks; ++b) {
    const int64_t mr = (m - m0) / (blocks - b);
    out.push_back({m0, mr});
    m0 += mr;
  }
  return out;
}

void pack_tokens_for_vnni(const int8_t* q, int64_t m, int64_t k, int8_t* out) {
  const int64_t octets = k / 8;
  for (const TokenBlock& b : vnni_token_blocks(m)) {
    int8_t* dst = out + b.m0 * k;
    for (int64_t j = 0; j < octets; ++j)
      for (int64_t r = 0; r < b.mr; ++r) std::memcpy(dst + (j * b.mr + r) * 8, q + (b.m0 + r) * k + 8 * j, 8);
  }
}

void gemm_avx512_vnni(const CpuGemmParams& p, int64_t tile_begin, int64_t tile_end) {
  const std::vector<TokenBlock> blocks = vnni_token_blocks(p.m);
  for (int64_t t = tile_begin; t < tile_end;) {
    const bool pair = tile_end - t >= 2;
    for (const TokenBlock& b : blocks) {
      const int8_t* qp = p.q_packed + b.m0 * p.k;
      const bool first = b.m0 == 0;
      if (pair)
        kTwoTiles[first][b.mr - 1](p, qp, t, b.m0);
      else
        kOneTile[first][b.mr - 1](p, qp, t, b.m0);
    }
    t += pair ? 2 : 1;
  }
}

}  // namespace w4a8::cpu
