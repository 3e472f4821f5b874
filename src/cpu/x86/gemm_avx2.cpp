// AVX2 W4A8 GEMM (no VNNI): vpmaddubsw multiplies unsigned weights (0..15)
// by signed tokens and adds pairs into int16 - at most 2 * 15 * 128 = 3840,
// so it never saturates - then vpmaddwd with ones adds the pairs into int32
// lanes. The tile loop is gemm_ymm_tile.h's, shared with the AVX-VNNI level.
// Called only when cpuid reports avx2 and fma.
#define W4A8_YMM_TARGET "avx2,fma"
#include "cpu/x86/gemm_ymm_tile.h"

namespace w4a8::cpu {

namespace {
struct MaddubsStep {
  __attribute__((target(W4A8_YMM_TARGET))) static __m256i add(__m256i acc, __m256i w_lo, __m256i w_hi, __m256i b_lo,
                                                             __m256i b_hi) {
    const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(w_lo, b_lo), _mm256_maddubs_epi16(w_hi, b_hi));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
};
}  // namespace

void gemm_avx2(const CpuGemmParams& p, int64_t tile_begin, int64_t tile_end) {
  ymm_gemm<MaddubsStep>(p, tile_begin, tile_end);
}

}  // namespace w4a8::cpu
