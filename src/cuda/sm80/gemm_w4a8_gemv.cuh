// Decode W4A8 GEMM for up to 32 tokens (1, 2 or 4 n8 token tiles): the
// weight stream with as few instructions per byte as the mma.sync path allows.
//
// small_m (gemm_w4a8_small_m.cuh) streams the same layout for 1..64 tokens,
// but its loop carries every case: zero points and group ends tested at each
// k32 step, 64-bit addresses recomputed per chunk, token loads bounds-checked
// per chunk. Its sm_90a loop is ~600 instructions for 4 MMAs, and at 32 warps
// an SM the schedulers then issue about as fast as HBM delivers - each piece
// of work added to the read pattern cost time (docs/experiments/
// 2026-12-07-decode-loop-instructions.md). This kernel keeps only the work:
// - a ring slot holds a pair of chunks (128 inputs, 32 bytes a lane), and the
//   loop is two-level, groups outside, pairs inside, so a group end is a loop
//   end, not a test per step; a warp's K slice is whole groups;
// - every address is a pointer bumped by a constant;
// - token rows past M read the last real row (no predicates; their sums are
//   never stored);
// - zero points are a template parameter.
// Preconditions (gemv_supports): m <= 32, k_pad a multiple of 128, and either
// one group (per channel) or groups of a multiple of 128.
//
// Phases as in small_m: fetch (cp.async, evict-first) -> dequantize (16 * w
// per byte) -> multiply (m16n8k32, tokens on n) -> promote per group (scale;
// zero points: minus 16 * zp * sum q first) -> reduce the kGemvWarps K slices
// in shared memory -> write back. Blocks walk tiles on a grid of whole waves.
#pragma once

#include "cuda/common/epilogue.cuh"
#include "cuda/common/mma.cuh"

namespace w4a8::cuda {

inline constexpr int kGemvWarps = 8;      // K slices of a tile, one per warp
inline constexpr int kGemvMaxTokens = 32;  // four n8 token tiles

// Whether the kernel takes p (plain host code; the dispatch falls back to small_m).
inline bool gemv_supports(const GemmParams& p) {
  return p.m >= 1 && p.m <= kGemvMaxTokens && p.k_pad % 128 == 0 &&
         (p.groups == 1 || (p.group_size % 128 == 0 && p.groups * p.group_size == p.k_pad));
}

// Blocks of 8 warps an SM should hold: 64 registers for one token tile, 80
// for two, 128 for four (sm_90a, no spills at these bounds).
template <int kTilesM>
inline constexpr int kGemvMinBlocks = kTilesM == 1 ? 4 : kTilesM == 2 ? 3 : 2;

// kTilesM: n8 token tiles (up to 8 * kTilesM tokens); kPairs: pairs of chunks
// in flight per warp (1 KiB each).
template <int kTilesM, bool kZp, int kPairs>
__global__ void __launch_bounds__(32 * kGemvWarps, kGemvMinBlocks<kTilesM>) gemm_w4a8_gemv(const GemmParams p) {
  static_assert(kTilesM == 1 || kTilesM == 2 || kTilesM == 4, "1, 2 or 4 token tiles");
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int gid = lane / 4, tig = lane % 4;
  const int tiles = p.n_pad / 16;
  const int pairs = p.k_pad / 128;
  // The promotion period in pairs: a group, or (per channel) the whole slice.
  // A warp's slice is whole periods: [p_begin, p_end) pairs.
  const bool per_channel = p.groups == 1;
  const int units = per_channel ? pairs : p.groups;  // what the warps split
  const int per_warp = (units + kGemvWarps - 1) / kGemvWarps;
  const int u_begin = min(units, warp * per_warp), u_end = min(units, u_begin + per_warp);
  const int period = per_channel ? 1 : p.group_size / 128;
  const int p_begin = u_begin * period, len = (u_end - u_begin) * period;  // pairs; 0 for idle warps
  const int steps = per_channel ? 1 : u_end - u_begin;                      // promotions per tile
  const int per_step = per_channel ? len : period;                          // pairs per promotion
  const int g_begin = per_channel ? 0 : u_begin;                            // the slice's first group

  constexpr int kStages = kPairs + 1;
  constexpr int kRingBytes = kGemvWarps * kStages * 1024;
  constexpr int kPartialBytes = kGemvWarps * kTilesM * 32 * 4 * 4;
  static_assert(kRingBytes + kPartialBytes <= 48 * 1024, "static shared memory");
  __shared__ __align__(16) uint8_t smem[kRingBytes + kPartialBytes];
  uint4* ring = reinterpret_cast<uint4*>(smem) + warp * kStages * 64 + lane;  // slot i: ring[i * 64 (+ 32)]
  auto partial = reinterpret_cast<float(*)[kTilesM][32][4]>(smem + kRingBytes);
  const uint64_t evict_first = l2_evict_first_policy();

  // The fetch cursor: a pointer into this warp's slice of tile f_tile; at the
  // slice's end it jumps to the same slice of the block's next tile.
  const int64_t tile_stride = static_cast<int64_t>(pairs) * 64;  // uint4 per tile and lane column
  const int64_t walk = static_cast<int64_t>(gridDim.x) * tile_stride;
  const uint4* f_ptr = static_cast<const uint4*>(p.w) + lane + blockIdx.x * tile_stride + p_begin * 64;
  int f_left = len, f_tile = blockIdx.x;
  auto fetch_next = [&](uint4* slot) {
    if (len > 0 && f_tile < tiles) {
      cp_async_16_hint(slot, f_ptr, evict_first);
      cp_async_16_hint(slot + 32, f_ptr + 32, evict_first);
    }
    f_ptr += 64;
    if (--f_left == 0) f_left = len, f_tile += gridDim.x, f_ptr += walk - static_cast<int64_t>(len) * 64;
  };
#pragma unroll
  for (int i = 0; i < kStages - 1; ++i) {
    fetch_next(ring + i * 64);
    cp_async_commit();
  }
  wait_for_producer();  // q and its group sums come from the quantizer

  // This lane's token row in each token tile (rows past M repeat the last:
  // read, never stored) and the 8 bytes of each k32 step it feeds the MMA
  // (col-major B fragment).
  const int8_t* q_row[kTilesM];
#pragma unroll
  for (int t = 0; t < kTilesM; ++t) q_row[t] = p.q + static_cast<int64_t>(min(t * 8 + gid, p.m - 1)) * p.ldq + tig * 8;
  // With zero points: where this lane's two accumulator columns (tokens) of
  // each token tile start in the group sums [m][groups].
  int64_t gs_row[kTilesM][2] = {};
  if constexpr (kZp) {
#pragma unroll
    for (int t = 0; t < kTilesM; ++t)
#pragma unroll
      for (int c = 0; c < 2; ++c) gs_row[t][c] = static_cast<int64_t>(min(t * 8 + tig * 2 + c, p.m - 1)) * p.groups;
  }
  int slot = 0;
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int ch_lo = tile * 16 + gid;
    const float* s_ptr = p.w_scale + static_cast<int64_t>(g_begin) * p.n_pad + ch_lo;
    const uint8_t* z_ptr = kZp ? p.w_zp + static_cast<int64_t>(g_begin) * p.n_pad + ch_lo : nullptr;
    const int32_t* gs_ptr = p.gsum + g_begin;
    const int8_t* q_ptr[kTilesM];
#pragma unroll
    for (int t = 0; t < kTilesM; ++t) q_ptr[t] = q_row[t] + p_begin * 128;
    float facc[kTilesM][4] = {};
    for (int step = 0; step < steps; ++step) {
      const float s_lo = s_ptr[0], s_hi = s_ptr[8];
      int z_lo = 0, z_hi = 0, g[kTilesM][2] = {};
      if constexpr (kZp) {
        z_lo = 16 * (static_cast<int>(z_ptr[0]) - 8);
        z_hi = 16 * (static_cast<int>(z_ptr[8]) - 8);
#pragma unroll
        for (int t = 0; t < kTilesM; ++t)
#pragma unroll
          for (int c = 0; c < 2; ++c) g[t][c] = gs_ptr[gs_row[t][c]];
      }
      int32_t acc[kTilesM][4] = {};
      for (int i = 0; i < per_step; ++i) {
        uint2 b[kTilesM][4];
#pragma unroll
        for (int t = 0; t < kTilesM; ++t) {
#pragma unroll
          for (int s = 0; s < 4; ++s) b[t][s] = __ldg(reinterpret_cast<const uint2*>(q_ptr[t] + s * 32));
          q_ptr[t] += 128;
        }
        cp_async_wait<kStages - 2>();
        const uint4 w0 = ring[slot * 64], w1 = ring[slot * 64 + 32];
        fetch_next(ring + (slot == 0 ? kStages - 1 : slot - 1) * 64);
        cp_async_commit();
        slot = slot + 1 == kStages ? 0 : slot + 1;
#pragma unroll
        for (int s = 0; s < 4; ++s) {
          uint32_t a[4];
          unpack_a_fragment(s < 2 ? w0 : w1, s % 2, a);
#pragma unroll
          for (int t = 0; t < kTilesM; ++t) {
            const uint32_t bb[2] = {b[t][s].x, b[t][s].y};
            mma_s8_16832(acc[t], a, bb);
          }
        }
      }
      if constexpr (kZp) {  // per channel, the warps split one group: warp 0 alone subtracts its term
        if (per_channel && warp != 0) z_lo = z_hi = 0;
#pragma unroll
        for (int t = 0; t < kTilesM; ++t) {
          acc[t][0] -= z_lo * g[t][0];
          acc[t][1] -= z_lo * g[t][1];
          acc[t][2] -= z_hi * g[t][0];
          acc[t][3] -= z_hi * g[t][1];
        }
      }
#pragma unroll
      for (int t = 0; t < kTilesM; ++t) {
        facc[t][0] += s_lo * static_cast<float>(acc[t][0]);
        facc[t][1] += s_lo * static_cast<float>(acc[t][1]);
        facc[t][2] += s_hi * static_cast<float>(acc[t][2]);
        facc[t][3] += s_hi * static_cast<float>(acc[t][3]);
      }
      s_ptr += p.n_pad;
      if constexpr (kZp) z_ptr += p.n_pad, gs_ptr += 1;
    }

    // Reduce the K slices: [warp][lane][reg] in shared memory.
#pragma unroll
    for (int t = 0; t < kTilesM; ++t)
#pragma unroll
      for (int r = 0; r < 4; ++r) partial[warp][t][lane][r] = facc[t][r];
    __syncthreads();
    // Write back: thread -> (channel, token) of the 16 x 8 kTilesM tile.
    for (int idx = threadIdx.x; idx < 16 * 8 * kTilesM; idx += blockDim.x) {
      const int r16 = idx % 16, tok = idx / 16;
      const int ch = tile * 16 + r16;
      if (tok >= p.m || ch >= p.n) continue;
      const AccumulatorSlot at = accumulator_slot(r16, tok % 8);
      float v = 0.0f;
#pragma unroll
      for (int w2 = 0; w2 < kGemvWarps; ++w2) v += partial[w2][tok / 8][at.lane][at.reg];
      store_output(p, tok, ch, finish_output(p, tok, ch, v * kUnpackScale, p.bias ? p.bias[ch] : 0.0f));
    }
    __syncthreads();  // the partial sums are read before the next tile writes them
  }
  cp_async_wait<0>();
}

}  // namespace w4a8::cuda
