// Decode-size W4A8 GEMM (M <= 64): a weight-streaming kernel.
//
// Phases: fetch (each warp streams its slice of one 16-channel tile, 16 bytes
// per lane per 64 inputs, kPrefetch chunks in flight, L1 bypassed) ->
// dequantize (two instructions per 4 weights: bytes of 16 * w) -> multiply
// (mma m16n8k32, tokens on the n8 side, kTilesM n8 tiles) -> promote (int32
// -> fp32 with the group scale at each group end; asymmetric weights subtract
// zp * sum(q) first) -> reduce (kSplitK warps of a block split K; partial
// sums meet in shared memory) -> write back (token scale, 1/16, bias, dtype).
#pragma once

#include "cuda/common/epilogue.cuh"
#include "cuda/common/group_cursor.h"
#include "cuda/common/mma.cuh"

namespace w4a8::cuda {

template <int kTilesM, int kSplitK, int kPrefetch>
__global__ void __launch_bounds__(32 * kSplitK) gemm_w4a8_small_m(const GemmParams p) {
  static_assert(kTilesM >= 1 && kTilesM <= 8, "small-M kernel covers 1..64 tokens");
  static_assert(kSplitK >= 1 && kSplitK <= 16 && kPrefetch >= 1, "split-K warps and prefetch depth");
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int gid = lane / 4, tig = lane % 4;
  const int tile = blockIdx.x;
  const int chunks = p.k_pad / 64;
  const int per_warp = (chunks + kSplitK - 1) / kSplitK;
  const int c_begin = warp * per_warp, c_end = min(chunks, c_begin + per_warp);
  const bool has_zp = p.w_zp != nullptr;

  const uint4* w = static_cast<const uint4*>(p.w) + static_cast<int64_t>(tile) * chunks * 32 + lane;
  // Weights stream through a per-lane ring of kStages 16-byte slots in shared
  // memory (cp.async): bytes in flight cost no registers, so more warps fit.
  // Each lane reads back only its own slots: no barrier, only wait_group.
  // H100 ncu with the ring in registers: 25% occupancy (registers), warps
  // stalled on memory, 32% of DRAM bandwidth on 8192x28672 at M=1.
  constexpr int kStages = kPrefetch + 1;
  constexpr int kRingBytes = kSplitK * kStages * 512;
  constexpr int kPartialBytes = kSplitK * kTilesM * 32 * 4 * 4;
  __shared__ __align__(16) uint8_t smem[kRingBytes > kPartialBytes ? kRingBytes : kPartialBytes];
  uint4* ring = reinterpret_cast<uint4*>(smem) + warp * kStages * 32 + lane;  // slot i at ring[i * 32]
#pragma unroll
  for (int i = 0; i < kStages - 1; ++i) {
    if (c_begin + i < c_end) cp_async_16(ring + i * 32, w + (c_begin + i) * 32, 16);
    cp_async_commit();
  }
  wait_for_producer();  // q, its scales and group sums come from the quantizer
  int32_t acc[kTilesM][4] = {};
  float facc[kTilesM][4] = {};
  const int ch_lo = tile * 16 + gid, ch_hi = ch_lo + 8;

  // What a promotion needs is loaded one group ahead, so it never waits on memory.
  GroupCursor gc(c_begin * 2, p.group_size, p.groups);  // the group of each k32 step
  float s_lo = 0.0f, s_hi = 0.0f;
  int z_lo = 0, z_hi = 0;
  int32_t gs[kTilesM][2] = {};
  auto load_group = [&](int group) {
    if (group >= p.groups) return;
    s_lo = p.w_scale[group * p.n_pad + ch_lo];
    s_hi = p.w_scale[group * p.n_pad + ch_hi];
    if (!has_zp) return;
    z_lo = 16 * weight_zero_point(p, group, ch_lo);
    z_hi = 16 * weight_zero_point(p, group, ch_hi);
#pragma unroll
    for (int t = 0; t < kTilesM; ++t)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int tok = t * 8 + tig * 2 + c;
        gs[t][c] = tok < p.m ? p.gsum[static_cast<int64_t>(tok) * p.groups + group] : 0;
      }
  };
  load_group(gc.group);

  // A slice that ends mid-group promotes its piece without the zero-point
  // term; the warp that ends the group subtracts it, exactly once.
  auto promote = [&](int group, bool group_end) {
    if (group >= p.groups) return;  // K padding: nothing accumulated
#pragma unroll
    for (int t = 0; t < kTilesM; ++t) {
      if (has_zp && group_end) {
        acc[t][0] -= z_lo * gs[t][0];
        acc[t][1] -= z_lo * gs[t][1];
        acc[t][2] -= z_hi * gs[t][0];
        acc[t][3] -= z_hi * gs[t][1];
      }
      facc[t][0] += s_lo * static_cast<float>(acc[t][0]);
      facc[t][1] += s_lo * static_cast<float>(acc[t][1]);
      facc[t][2] += s_hi * static_cast<float>(acc[t][2]);
      facc[t][3] += s_hi * static_cast<float>(acc[t][3]);
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[t][r] = 0;
    }
    if (group_end) load_group(group + 1);
  };

  // Activation fragments of a chunk: 8 bytes per lane per step and token tile
  // (L1/L2 hits). For one token tile they are fetched two chunks ahead, like
  // the weights. H100: 4096x4096 M=1 11.4 -> 10.1 us; doing it for 2..4 tiles
  // cost occupancy (M=16: 13.2 -> 18.0 us), so those load just in time.
  constexpr bool kPrefetchB = kTilesM == 1;
  auto load_b = [&](int chunk, uint2 (&bf)[2][kTilesM]) {
#pragma unroll
    for (int s = 0; s < 2; ++s)
#pragma unroll
      for (int t = 0; t < kTilesM; ++t) {
        const int tok = t * 8 + gid;
        bf[s][t] = make_uint2(0, 0);
        if (tok < p.m && chunk < c_end)
          bf[s][t] = __ldg(reinterpret_cast<const uint2*>(p.q + static_cast<int64_t>(tok) * p.ldq + chunk * 64 + s * 32 + tig * 8));
      }
  };

  auto compute_chunk = [&](const uint4& wv, int chunk, const uint2 (&bf)[2][kTilesM]) {
#pragma unroll
    for (int s = 0; s < 2; ++s) {
      uint32_t a[4];
      unpack_a_fragment(wv, s, a);
#pragma unroll
      for (int t = 0; t < kTilesM; ++t) {
        const uint32_t b[2] = {bf[s][t].x, bf[s][t].y};
        mma_s8_16832(acc[t], a, b);
      }
      const bool group_end = gc.ends_group();
      if (group_end || (s == 1 && chunk + 1 == c_end)) promote(gc.group, group_end);
      gc.advance();
    }
  };

  // Main loop: chunk cc sits in slot (cc - c_begin) % kStages, tracked by a
  // counter (no division). After reading it, the slot read one iteration
  // earlier - at the first chunk, the one the prologue left empty - takes
  // chunk cc + kStages - 1, so kStages - 1 chunks stay in flight and a read
  // never races its own refill.
  uint2 bring[2][2][kPrefetchB ? kTilesM : 1];
  if constexpr (kPrefetchB) {
    load_b(c_begin, bring[0]);
    load_b(c_begin + 1, bring[1]);
  }
  int slot = 0;
  for (int c = c_begin; c < c_end; c += 2) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int cc = c + i;
      if (cc >= c_end) break;
      cp_async_wait<kStages - 2>();
      const uint4 cur = ring[slot * 32];
      const int refill = cc + kStages - 1;
      if (refill < c_end) cp_async_16(ring + (slot == 0 ? kStages - 1 : slot - 1) * 32, w + refill * 32, 16);
      cp_async_commit();
      slot = slot + 1 == kStages ? 0 : slot + 1;
      if constexpr (kPrefetchB) {
        compute_chunk(cur, cc, bring[i]);
        load_b(cc + 2, bring[i]);
      } else {
        uint2 bf[2][kTilesM];
        load_b(cc, bf);
        compute_chunk(cur, cc, bf);
      }
    }
  }
  cp_async_wait<0>();
  __syncthreads();  // the ring's shared memory is reused for the partial sums

  // Reduce the kSplitK partial sums: [warp][tile][lane][reg] in shared memory.
  auto partial = reinterpret_cast<float(*)[kTilesM][32][4]>(smem);
#pragma unroll
  for (int t = 0; t < kTilesM; ++t)
#pragma unroll
    for (int r = 0; r < 4; ++r) partial[warp][t][lane][r] = facc[t][r];
  __syncthreads();

  // Write back: thread -> (channel, token) of the 16 x 8*kTilesM tile.
  for (int idx = threadIdx.x; idx < 16 * 8 * kTilesM; idx += blockDim.x) {
    const int r16 = idx % 16, tok = idx / 16;
    const int ch = tile * 16 + r16;
    if (tok >= p.m || ch >= p.n) continue;
    const int t = tok / 8;
    const AccumulatorSlot at = accumulator_slot(r16, tok % 8);
    float v = 0.0f;
#pragma unroll
    for (int w2 = 0; w2 < kSplitK; ++w2) v += partial[w2][t][at.lane][at.reg];
    store_output(p, tok, ch, finish_output(p, tok, ch, v * kUnpackScale, p.bias ? p.bias[ch] : 0.0f));
  }
}

}  // namespace w4a8::cuda
