// The portable twin of the VNNI kernel: the same layout and the same integer
// arithmetic (u * q per group, minus zp * sum(q)), in plain C++.
#include <cmath>

#include "cpu/x86/gemm_kernels.h"

namespace w4a8::cpu {

void gemm_generic(const CpuGemmParams& p, int64_t tile_begin, int64_t tile_end) {
  const int64_t octets = p.k / 8;
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    for (int64_t m = 0; m < p.m; ++m) {
      float facc[16] = {};
      for (int64_t g = 0; g < p.groups; ++g) {
        int32_t acc[16] = {};
        for (int64_t j = g * p.group_size / 8; j < (g + 1) * p.group_size / 8; ++j) {
          const uint8_t* block = p.w + (t * octets + j) * 64;
          const int8_t* qa = p.q + m * p.k + 8 * j;
          for (int c = 0; c < 16; ++c)
            for (int i = 0; i < 4; ++i) {
              acc[c] += (block[4 * c + i] & 0xF) * qa[i];
              acc[c] += (block[4 * c + i] >> 4) * qa[4 + i];
            }
        }
        const int32_t s = p.gsum[m * p.groups + g];
        for (int c = 0; c < 16; ++c) {
          const int64_t at = (t * p.groups + g) * 16 + c;
          const int32_t zp = p.w_zp ? p.w_zp[at] : 8;
          // fmaf: one rounding, exactly like the VNNI kernel's vfmadd.
          facc[c] = std::fma(p.w_scale[at], static_cast<float>(acc[c] - zp * s), facc[c]);
        }
      }
      for (int c = 0; c < 16; ++c) {
        const int64_t ch = t * 16 + c;
        if (ch >= p.n) continue;
        // The activation zero point's share, then one rounding, like the VNNI kernel's epilogue.
        const float f = p.a_zp ? std::fma(-static_cast<float>(p.a_zp[m]), p.row_sums[ch], facc[c]) : facc[c];
        p.y[m * p.n + ch] = std::fma(p.a_scale[m], f, p.bias ? p.bias[ch] : 0.0f);
      }
    }
  }
}

}  // namespace w4a8::cpu
