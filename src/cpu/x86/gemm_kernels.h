// The CPU fast path's GEMM kernels over the VNNI layout (vnni_layout.h): one
// signature, a portable generic twin, AVX2, AVX-VNNI (256-bit) and AVX-512 VNNI
// versions, chosen once at run time (cpu_backend.cpp). All compute exactly the
// same integers.
#pragma once

#include <cstdint>
#include <vector>

namespace w4a8::cpu {

struct CpuGemmParams {
  const uint8_t* w = nullptr;      // prepared weights
  int64_t n = 0, n_pad = 0, k = 0;
  int64_t group_size = 0, groups = 0;
  // Per tile, per group, the tile's 16 channels: a tile's scales are one
  // contiguous run that streams beside its weights.
  const float* w_scale = nullptr;   // [n_pad / 16][groups][16]
  const uint8_t* w_zp = nullptr;    // [n_pad / 16][groups][16] unsigned zero points, or null (8)
  const float* bias = nullptr;      // [n] or null
  const int8_t* q = nullptr;        // [m][k], already gathered (act-order)
  const int8_t* q_packed = nullptr; // the same, packed by pack_tokens_for_vnni (VNNI kernel only)
  int64_t m = 0;
  const float* a_scale = nullptr;   // [m]
  // Activation zero points (asymmetric or static activations), or null: output
  // (m, ch) becomes a_scale[m] * (sum - a_zp[m] * row_sums[ch]) + bias[ch].
  const int32_t* a_zp = nullptr;    // [m]
  const float* row_sums = nullptr;  // [n]: sum over k of the dequantized weight
  const int32_t* gsum = nullptr;    // [m][groups]
  float* y = nullptr;               // [m][n] fp32 (the backend converts to the output dtype)
};

// Computes output channel tiles [tile_begin, tile_end) for all m tokens.
using CpuGemmKernel = void (*)(const CpuGemmParams& p, int64_t tile_begin, int64_t tile_end);

void gemm_generic(const CpuGemmParams& p, int64_t tile_begin, int64_t tile_end);
void gemm_avx512_vnni(const CpuGemmParams& p, int64_t tile_begin, int64_t tile_end);
void gemm_avx_vnni(const CpuGemmParams& p, int64_t tile_begin, int64_t tile_end);
void gemm_avx2(const CpuGemmParams& p, int64_t tile_begin, int64_t tile_end);

// The VNNI kernel's token blocks, and its activation packing: block b
// (tokens m0 .. m0 + mr - 1) is stored from m0 * k as [octet][token][8
// bytes], so a micro-kernel reads one stream for all its tokens. Done once
// per forward, before the threads split the channels.
struct TokenBlock {
  int64_t m0 = 0, mr = 0;
};
std::vector<TokenBlock> vnni_token_blocks(int64_t m);
void pack_tokens_for_vnni(const int8_t* q, int64_t m, int64_t k, int8_t* out);  // out: m * k bytes

}  // namespace w4a8::cpu
