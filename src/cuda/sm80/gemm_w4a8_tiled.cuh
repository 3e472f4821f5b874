// Prefill-size W4A8 GEMM (M > 64): a multi-stage cp.async tensor-core kernel.
//
// Block tile: kWarpsN * kTilesN * 16 channels x kWarpsM * kTilesM * 8 tokens,
// 64 inputs per stage, kStages stages. Phases: fetch (cp.async of the
// prepared weight tiles, 512 bytes each, and of the token rows into padded
// shared rows) -> dequantize (two instructions per 4 weights) -> multiply
// (each warp kTilesN x kTilesM mma m16n8k32 per k32 step) -> promote (at each
// group end: asymmetric weights subtract zp * sum(q) in int32, then fp32 with
// the group scale; inputs loaded a group ahead) -> write back (token scale,
// 1/16, bias, output dtype).
#pragma once

#include "cuda/common/epilogue.cuh"
#include "cuda/common/group_cursor.h"
#include "cuda/common/mma.cuh"

namespace w4a8::cuda {

inline constexpr int kTiledStages = 4;
// Token rows of 64 bytes padded to 96: the 8-byte fragment reads of a
// half-warp (4 tokens x 4 lanes) then fall in distinct banks.
inline constexpr int kTiledRowBytes = 96;

template <int kWarpsN, int kWarpsM, int kTilesN, int kTilesM>
struct TiledConfig {
  static constexpr int kThreads = 32 * kWarpsN * kWarpsM;
  static constexpr int kBlockN = kWarpsN * kTilesN * 16;
  static constexpr int kBlockM = kWarpsM * kTilesM * 8;
  static constexpr int kStageWeightBytes = kBlockN / 16 * 512;
  static constexpr int kStageTokenBytes = kBlockM * kTiledRowBytes;
  static constexpr int kSmemBytes = kTiledStages * (kStageWeightBytes + kStageTokenBytes);
  static_assert((kBlockN / 16 * 32) % kThreads == 0, "weight tile loads must split evenly over the threads");
  static_assert((kBlockM * 4) % kThreads == 0, "token tile loads must split evenly over the threads");
};

template <int kWarpsN, int kWarpsM, int kTilesN, int kTilesM, int kMinBlocks>
__global__ void __launch_bounds__(32 * kWarpsN * kWarpsM, kMinBlocks) gemm_w4a8_tiled(const GemmParams p) {
  using C = TiledConfig<kWarpsN, kWarpsM, kTilesN, kTilesM>;
  extern __shared__ __align__(16) uint8_t smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int gid = lane / 4, tig = lane % 4;
  const int warp_n = warp % kWarpsN, warp_m = warp / kWarpsN;
  const int tile0 = blockIdx.x * (C::kBlockN / 16);  // first 16-channel tile of the block
  const int m0 = blockIdx.y * C::kBlockM;
  const int chunks = p.k_pad / 64;
  const int tiles_total = p.n_pad / 16;
  GroupCursor gc(0, p.group_size, p.groups);  // the group of each k32 step
  const bool has_zp = p.w_zp != nullptr;

  wait_for_producer();  // every stage reads q
  auto stage_w = [&](int s) { return reinterpret_cast<uint4*>(smem + s * C::kStageWeightBytes); };
  auto stage_a = [&](int s) { return smem + kTiledStages * C::kStageWeightBytes + s * C::kStageTokenBytes; };

  auto load_stage = [&](int chunk, int s) {
    if (chunk < chunks) {
#pragma unroll
      for (int i = 0; i < C::kBlockN / 16 * 32 / C::kThreads; ++i) {  // weights: tiles x 32 lanes x 16 bytes
        const int idx = threadIdx.x + i * C::kThreads;
        const int t = idx / 32, l = idx % 32;
        const int tile = tile0 + t;
        const uint4* src =
            static_cast<const uint4*>(p.w) + (static_cast<int64_t>(min(tile, tiles_total - 1)) * chunks + chunk) * 32 + l;
        cp_async_16(stage_w(s) + t * 32 + l, src, tile < tiles_total ? 16 : 0);
      }
#pragma unroll
      for (int i = 0; i < C::kBlockM * 4 / C::kThreads; ++i) {  // tokens: rows x 4 x 16 bytes
        const int idx = threadIdx.x + i * C::kThreads;
        const int row = idx / 4, part = idx % 4;
        const int tok = m0 + row;
        const int8_t* src = p.q + static_cast<int64_t>(min(tok, p.m - 1)) * p.ldq + chunk * 64 + part * 16;
        cp_async_16(stage_a(s) + row * kTiledRowBytes + part * 16, src, tok < p.m ? 16 : 0);
      }
    }
    cp_async_commit();
  };

  int32_t acc[kTilesN][kTilesM][4] = {};
  float facc[kTilesN][kTilesM][4] = {};

  // Promotion inputs, loaded one group ahead into registers. H100, first
  // version loading them at the promotion: 246 TOPS at 4096^3.
  int32_t gs[kTilesM][2] = {};
  float sc_lo[kTilesN], sc_hi[kTilesN];
  int z_lo[kTilesN] = {}, z_hi[kTilesN] = {};
  auto load_group = [&](int group) {
    if (group >= p.groups) return;
#pragma unroll
    for (int i = 0; i < kTilesN; ++i) {
      const int ch = (tile0 + warp_n * kTilesN + i) * 16 + gid;
      const bool ok_lo = ch < p.n_pad, ok_hi = ch + 8 < p.n_pad;
      sc_lo[i] = ok_lo ? p.w_scale[group * p.n_pad + ch] : 0.0f;
      sc_hi[i] = ok_hi ? p.w_scale[group * p.n_pad + ch + 8] : 0.0f;
      if (has_zp) {
        z_lo[i] = ok_lo ? 16 * weight_zero_point(p, group, ch) : 0;
        z_hi[i] = ok_hi ? 16 * weight_zero_point(p, group, ch + 8) : 0;
      }
    }
    if (!has_zp) return;
#pragma unroll
    for (int j = 0; j < kTilesM; ++j)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int tok = m0 + (warp_m * kTilesM + j) * 8 + tig * 2 + c;
        gs[j][c] = tok < p.m ? p.gsum[static_cast<int64_t>(tok) * p.groups + group] : 0;
      }
  };
  load_group(0);

  auto promote = [&](int group) {
    if (group >= p.groups) return;
#pragma unroll
    for (int i = 0; i < kTilesN; ++i) {
#pragma unroll
      for (int j = 0; j < kTilesM; ++j) {
        if (has_zp) {
          acc[i][j][0] -= z_lo[i] * gs[j][0];
          acc[i][j][1] -= z_lo[i] * gs[j][1];
          acc[i][j][2] -= z_hi[i] * gs[j][0];
          acc[i][j][3] -= z_hi[i] * gs[j][1];
        }
        facc[i][j][0] += sc_lo[i] * static_cast<float>(acc[i][j][0]);
        facc[i][j][1] += sc_lo[i] * static_cast<float>(acc[i][j][1]);
        facc[i][j][2] += sc_hi[i] * static_cast<float>(acc[i][j][2]);
        facc[i][j][3] += sc_hi[i] * static_cast<float>(acc[i][j][3]);
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
    uint4 wv[kTilesN];
#pragma unroll
    for (int i = 0; i < kTilesN; ++i) wv[i] = stage_w(s)[(warp_n * kTilesN + i) * 32 + lane];
    const uint8_t* a_tile = stage_a(s) + (warp_m * kTilesM * 8 + gid) * kTiledRowBytes + tig * 8;
#pragma unroll
    for (int ks = 0; ks < 2; ++ks) {
      uint32_t b[kTilesM][2];
#pragma unroll
      for (int j = 0; j < kTilesM; ++j) {
        const uint2 v = *reinterpret_cast<const uint2*>(a_tile + j * 8 * kTiledRowBytes + ks * 32);
        b[j][0] = v.x;
        b[j][1] = v.y;
      }
#pragma unroll
      for (int i = 0; i < kTilesN; ++i) {
        uint32_t a[4];
        unpack_a_fragment(wv[i], ks, a);
#pragma unroll
        for (int j = 0; j < kTilesM; ++j) mma_s8_16832(acc[i][j], a, b[j]);
      }
      if (gc.ends_group()) promote(gc.group);
      gc.advance();
    }
  }
  cp_async_wait<0>();

  // Write back.
#pragma unroll
  for (int i = 0; i < kTilesN; ++i) {
    const int ch = (tile0 + warp_n * kTilesN + i) * 16 + gid;
#pragma unroll
    for (int j = 0; j < kTilesM; ++j) {
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int c = ch + (r >= 2 ? 8 : 0);
        const int tok = m0 + (warp_m * kTilesM + j) * 8 + tig * 2 + (r % 2);
        if (c >= p.n || tok >= p.m) continue;
        store_output(p, tok, c, finish_output(p, tok, c, facc[i][j][r] * kUnpackScale, p.bias ? p.bias[c] : 0.0f));
      }
    }
  }
}

}  // namespace w4a8::cuda
