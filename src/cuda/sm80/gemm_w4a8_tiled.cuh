// Prefill-size W4A8 GEMM (M > 32): a multi-stage cp.async tensor-core kernel.
//
// Block tile: 128 channels x 128 tokens, 64 inputs per stage, kStages stages.
// Phases: fetch (cp.async of the prepared weight tile, 8 x 512 bytes, and of
// the token tile into padded shared rows) -> dequantize (AND/shift in
// registers) -> multiply (8 warps as 2 x 4, each 64 channels x 32 tokens:
// 16 mma m16n8k32 per k32 step) -> promote (at each group end, subtract the
// zero point through the group sums in int32 - exact - then fp32 with the
// group scale) -> write back (token scale, bias, output dtype).
#pragma once

#include "cuda/common/epilogue.cuh"
#include "cuda/common/mma.cuh"

namespace w4a8::cuda {

inline constexpr int kTiledBlockN = 128;
inline constexpr int kTiledBlockM = 128;
inline constexpr int kTiledStages = 4;
inline constexpr int kTiledThreads = 256;
// Token rows of 64 bytes padded to 96: the 8-byte fragment reads of a
// half-warp (4 tokens x 4 lanes) then fall in distinct banks.
inline constexpr int kTiledRowBytes = 96;
inline constexpr int kTiledStageWeightBytes = kTiledBlockN / 16 * 512;
inline constexpr int kTiledStageTokenBytes = kTiledBlockM * kTiledRowBytes;
inline constexpr int kTiledSmemBytes = kTiledStages * (kTiledStageWeightBytes + kTiledStageTokenBytes);

__global__ void __launch_bounds__(kTiledThreads, 1) gemm_w4a8_tiled(const GemmParams p) {
  extern __shared__ __align__(16) uint8_t smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int gid = lane / 4, tig = lane % 4;
  const int warp_n = warp % 2, warp_m = warp / 2;
  const int tile0 = blockIdx.x * (kTiledBlockN / 16);  // first 16-channel tile of the block
  const int m0 = blockIdx.y * kTiledBlockM;
  const int chunks = p.k_pad / 64;
  const int tiles_total = p.n_pad / 16;
  const int steps_real = (p.groups * p.group_size) / 32;

  auto stage_w = [&](int s) { return reinterpret_cast<uint4*>(smem + s * kTiledStageWeightBytes); };
  auto stage_a = [&](int s) {
    return smem + kTiledStages * kTiledStageWeightBytes + s * kTiledStageTokenBytes;
  };

  auto load_stage = [&](int chunk, int s) {
    if (chunk < chunks) {
      {  // weights: 8 tiles x 32 lanes x 16 bytes, one per thread
        const int t = threadIdx.x / 32, l = threadIdx.x % 32;
        const int tile = tile0 + t;
        const uint4* src = static_cast<const uint4*>(p.w) + (static_cast<int64_t>(min(tile, tiles_total - 1)) * chunks + chunk) * 32 + l;
        cp_async_16(stage_w(s) + t * 32 + l, src, tile < tiles_total ? 16 : 0);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i) {  // tokens: 128 rows x 4 x 16 bytes
        const int idx = threadIdx.x + i * kTiledThreads;
        const int row = idx / 4, part = idx % 4;
        const int tok = m0 + row;
        const int8_t* src = p.q + static_cast<int64_t>(min(tok, p.m - 1)) * p.ldq + chunk * 64 + part * 16;
        cp_async_16(stage_a(s) + row * kTiledRowBytes + part * 16, src, tok < p.m ? 16 : 0);
      }
    }
    cp_async_commit();
  };

  int32_t acc[4][4][4] = {};
  float facc[4][4][4] = {};

  // What a promotion needs - group sums of this thread's tokens, scales and
  // zero points of its channels - is loaded one group ahead into registers:
  // H100, first measurement loading it at the promotion: 246 TOPS at
  // 4096^3, the warps stalled on these dependent loads every two chunks.
  int32_t gs[4][2];
  float sc_lo[4], sc_hi[4];
  int z_lo[4], z_hi[4];
  auto load_group = [&](int group) {
    if (group >= p.groups) return;
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int tok = m0 + warp_m * 32 + j * 8 + tig * 2 + c;
        gs[j][c] = tok < p.m ? p.gsum[static_cast<int64_t>(tok) * p.groups + group] : 0;
      }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int ch = (tile0 + warp_n * 4 + i) * 16 + gid;
      const bool ok_lo = ch < p.n_pad, ok_hi = ch + 8 < p.n_pad;
      sc_lo[i] = ok_lo ? p.w_scale[group * p.n_pad + ch] : 0.0f;
      sc_hi[i] = ok_hi ? p.w_scale[group * p.n_pad + ch + 8] : 0.0f;
      z_lo[i] = ok_lo ? weight_zero_point(p, group, ch) : 0;
      z_hi[i] = ok_hi ? weight_zero_point(p, group, ch + 8) : 0;
    }
  };
  load_group(0);

  auto promote = [&](int step) {
    const int group = (step * 32) / p.group_size;
    if (group >= p.groups) return;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        facc[i][j][0] += sc_lo[i] * static_cast<float>(acc[i][j][0] - z_lo[i] * gs[j][0]);
        facc[i][j][1] += sc_lo[i] * static_cast<float>(acc[i][j][1] - z_lo[i] * gs[j][1]);
        facc[i][j][2] += sc_hi[i] * static_cast<float>(acc[i][j][2] - z_hi[i] * gs[j][0]);
        facc[i][j][3] += sc_hi[i] * static_cast<float>(acc[i][j][3] - z_hi[i] * gs[j][1]);
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[i][j][r] = 0;
      }
    }
    load_group(group + 1);
  };

#pragma unroll
  for (int s = 0; s < kTiledStages - 1; ++s) load_stage(s, s);

  for (int chunk = 0; chunk < chunks; ++chunk) {
    cp_async_wait<kTiledStages - 2>();
    __syncthreads();
    load_stage(chunk + kTiledStages - 1, (chunk + kTiledStages - 1) % kTiledStages);
    const int s = chunk % kTiledStages;
    uint4 wv[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) wv[i] = stage_w(s)[(warp_n * 4 + i) * 32 + lane];
    const uint8_t* a_tile = stage_a(s) + (warp_m * 32 + gid) * kTiledRowBytes + tig * 8;
#pragma unroll
    for (int ks = 0; ks < 2; ++ks) {
      uint32_t b[4][2];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const uint2 v = *reinterpret_cast<const uint2*>(a_tile + j * 8 * kTiledRowBytes + ks * 32);
        b[j][0] = v.x;
        b[j][1] = v.y;
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        uint32_t a[4];
        unpack_a_fragment(wv[i], ks, a);
#pragma unroll
        for (int j = 0; j < 4; ++j) mma_s8_16832(acc[i][j], a, b[j]);
      }
      const int step = chunk * 2 + ks;
      if (((step + 1) * 32) % p.group_size == 0 || step + 1 == steps_real) promote(step);
    }
  }
  cp_async_wait<0>();

  // Write back.
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int ch = (tile0 + warp_n * 4 + i) * 16 + gid;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int c = ch + (r >= 2 ? 8 : 0);
        const int tok = m0 + warp_m * 32 + j * 8 + tig * 2 + (r % 2);
        if (c >= p.n || tok >= p.m) continue;
        float y = p.a_scale[tok] * facc[i][j][r];
        if (p.bias) y += p.bias[c];
        store_output(p, tok, c, y);
      }
    }
  }
}

}  // namespace w4a8::cuda
