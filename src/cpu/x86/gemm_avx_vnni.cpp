// AVX-VNNI W4A8 GEMM (Alder Lake and later, Zen 5): the 256-bit vpdpbusd
// without AVX-512 adds four unsigned-weight x signed-token products into each
// int32 lane in one instruction, where AVX2 needs three. The tile loop is
// gemm_ymm_tile.h's, shared with the AVX2 level; the integers are exact
// either way, so the outputs are the generic twin's bit for bit. Called only
// when cpuid reports avx_vnni, avx2 and fma.
#define W4A8_YMM_TARGET "avx2,fma,avxvnni"
#include "cpu/x86/gemm_ymm_tile.h"

namespace w4a8::cpu {

namespace {
struct DpbusdStep {
  __attribute__((target(W4A8_YMM_TARGET))) static __m256i add(__m256i acc, __m256i w_lo, __m256i w_hi, __m256i b_lo,
                                                             __m256i b_hi) {
    return _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(acc, w_lo, b_lo), w_hi, b_hi);
  }
};
}  // namespace

void gemm_avx_vnni(const CpuGemmParams& p, int64_t tile_begin, int64_t tile_end) {
  ymm_gemm<DpbusdStep>(p, tile_begin, tile_end);
}

}  // namespace w4a8::cpu
