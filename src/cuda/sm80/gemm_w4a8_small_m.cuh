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
#include "cuda/common/mma.cuh"

namespace w4a8::cuda {

// The block's group scales live in shared memory (16 channels x groups):
// H100, scales read from global one group ahead: 8192x28672 at M=1 streamed
// 1.3 TB/s - a group is only two chunks of work, shorter than an L2 load.
inline constexpr int kSmallMMaxSmemGroups = 256;  // 16 KB; K = 32768 at group 128

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
  const int steps_real = (p.groups * p.group_size) / 32;  // k32 steps holding real inputs
  const bool has_zp = p.w_zp != nullptr;

  const uint4* w = static_cast<const uint4*>(p.w) + static_cast<int64_t>(tile) * chunks * 32 + lane;
  // Weight loads first (they are what this kernel waits for), then the scales.
  uint4 buf[kPrefetch];
#pragma unroll
  for (int i = 0; i < kPrefetch; ++i)
    buf[i] = c_begin + i < c_end ? load_streaming(w + (c_begin + i) * 32) : make_uint4(0, 0, 0, 0);
  __shared__ float scales[kSmallMMaxSmemGroups][16];
  const bool scales_in_smem = p.groups <= kSmallMMaxSmemGroups;
  if (scales_in_smem)
    for (int i = threadIdx.x; i < p.groups * 16; i += blockDim.x)
      scales[i / 16][i % 16] = p.w_scale[(i / 16) * p.n_pad + tile * 16 + i % 16];
  __syncthreads();
  wait_for_producer();  // q, its scales and group sums come from the quantizer
  int32_t acc[kTilesM][4] = {};
  float facc[kTilesM][4] = {};
  const int ch_lo = tile * 16 + gid, ch_hi = ch_lo + 8;

  // What a promotion needs is loaded one group ahead, so it never waits on memory.
  int loaded_group = -1;
  float s_lo = 0.0f, s_hi = 0.0f;
  int z_lo = 0, z_hi = 0;
  int32_t gs[kTilesM][2] = {};
  auto load_group = [&](int group) {
    loaded_group = group;
    if (group >= p.groups) return;
    s_lo = scales_in_smem ? scales[group][gid] : p.w_scale[group * p.n_pad + ch_lo];
    s_hi = scales_in_smem ? scales[group][gid + 8] : p.w_scale[group * p.n_pad + ch_hi];
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
  load_group((c_begin * 64) / p.group_size);

  // A slice that ends mid-group promotes its piece without the zero-point
  // term; the warp that ends the group subtracts it, exactly once.
  auto promote = [&](int step, bool group_end) {
    const int group = (step * 32) / p.group_size;
    if (group >= p.groups) return;  // K padding: nothing accumulated
    if (group != loaded_group) load_group(group);  // only when a slice starts mid-way
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
      const int step = chunk * 2 + s;
      uint32_t a[4];
      unpack_a_fragment(wv, s, a);
#pragma unroll
      for (int t = 0; t < kTilesM; ++t) {
        const uint32_t b[2] = {bf[s][t].x, bf[s][t].y};
        mma_s8_16832(acc[t], a, b);
      }
      const bool group_end = ((step + 1) * 32) % p.group_size == 0 || step + 1 == steps_real;
      if (group_end || (s == 1 && chunk + 1 == c_end)) promote(step, group_end);
    }
  };

  // Fetch ahead: kPrefetch weight chunks (and two activation chunks) in flight per lane.
  uint2 bring[2][2][kPrefetchB ? kTilesM : 1];
  if constexpr (kPrefetchB) {
    load_b(c_begin, bring[0]);
    load_b(c_begin + 1, bring[1]);
  }
  static_assert(kPrefetch % 2 == 0, "the activation ring alternates between two slots");
  for (int c = c_begin; c < c_end; c += kPrefetch) {
#pragma unroll
    for (int i = 0; i < kPrefetch; ++i) {
      const uint4 cur = buf[i];
      const int next = c + kPrefetch + i;
      if (next < c_end) buf[i] = load_streaming(w + next * 32);
      if (c + i < c_end) {
        if constexpr (kPrefetchB) {
          compute_chunk(cur, c + i, bring[i % 2]);
          load_b(c + i + 2, bring[i % 2]);
        } else {
          uint2 bf[2][kTilesM];
          load_b(c + i, bf);
          compute_chunk(cur, c + i, bf);
        }
      }
    }
  }

  // Reduce the kSplitK partial sums: [warp][tile][lane][reg] in shared memory.
  __shared__ float partial[kSplitK][kTilesM][32][4];
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
    // Fragment position of (r16, tok): c0/c1 rows gid, c2/c3 rows gid+8; columns tig*2 + {0,1}.
    const int t = tok / 8, col = tok % 8;
    const int src_lane = (r16 % 8) * 4 + col / 2;
    const int reg = (r16 < 8 ? 0 : 2) + col % 2;
    float v = 0.0f;
#pragma unroll
    for (int w2 = 0; w2 < kSplitK; ++w2) v += partial[w2][t][src_lane][reg];
    float y = p.a_scale[tok] * (v * kUnpackScale);
    if (p.bias) y += p.bias[ch];
    store_output(p, tok, ch, y);
  }
}

}  // namespace w4a8::cuda
