// Decode-size W4A8 GEMM (M <= 32): a weight-streaming kernel.
//
// Phases: fetch (each warp streams its slice of one 16-channel tile, 16 bytes
// per lane per 64 inputs, kPrefetch chunks in flight, L1 bypassed) ->
// dequantize (two AND/shift per 4 values: u4 -> s8, no zero point) ->
// multiply (mma m16n8k32, tokens on the n8 side, kTilesM n8 tiles) ->
// promote (int32 -> fp32 with the group scale at each group end) ->
// reduce (kSplitK warps of a block split K; partial sums meet in shared memory) ->
// write back (zero-point correction from the activations' group sums, token
// scale, bias, output dtype).
#pragma once

#include "cuda/common/epilogue.cuh"
#include "cuda/common/mma.cuh"

namespace w4a8::cuda {

inline constexpr int kSmallMSplitK = 4;     // warps per block, each a quarter of K
inline constexpr int kSmallMPrefetch = 4;   // 16-byte weight loads in flight per lane

template <int kTilesM>
__global__ void __launch_bounds__(32 * kSmallMSplitK) gemm_w4a8_small_m(const GemmParams p) {
  static_assert(kTilesM >= 1 && kTilesM <= 4, "small-M kernel covers 1..32 tokens");
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int gid = lane / 4, tig = lane % 4;
  const int tile = blockIdx.x;
  const int chunks = p.k_pad / 64;
  const int per_warp = (chunks + kSmallMSplitK - 1) / kSmallMSplitK;
  const int c_begin = warp * per_warp, c_end = min(chunks, c_begin + per_warp);
  const int steps_real = (p.groups * p.group_size) / 32;  // k32 steps holding real inputs

  const uint4* w = static_cast<const uint4*>(p.w) + static_cast<int64_t>(tile) * chunks * 32 + lane;
  int32_t acc[kTilesM][4] = {};
  float facc[kTilesM][4] = {};
  const int ch_lo = tile * 16 + gid, ch_hi = ch_lo + 8;

  auto promote = [&](int step) {
    const int group = (step * 32) / p.group_size;
    if (group >= p.groups) return;  // K padding: nothing accumulated
    const float s_lo = p.w_scale[group * p.n_pad + ch_lo];
    const float s_hi = p.w_scale[group * p.n_pad + ch_hi];
#pragma unroll
    for (int t = 0; t < kTilesM; ++t) {
      facc[t][0] += s_lo * static_cast<float>(acc[t][0]);
      facc[t][1] += s_lo * static_cast<float>(acc[t][1]);
      facc[t][2] += s_hi * static_cast<float>(acc[t][2]);
      facc[t][3] += s_hi * static_cast<float>(acc[t][3]);
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[t][r] = 0;
    }
  };

  auto compute_chunk = [&](const uint4& wv, int chunk) {
#pragma unroll
    for (int s = 0; s < 2; ++s) {
      const int step = chunk * 2 + s;
      uint32_t a[4];
      unpack_a_fragment(wv, s, a);
#pragma unroll
      for (int t = 0; t < kTilesM; ++t) {
        const int tok = t * 8 + gid;
        uint2 bv = make_uint2(0, 0);
        if (tok < p.m) bv = __ldg(reinterpret_cast<const uint2*>(p.q + static_cast<int64_t>(tok) * p.ldq + step * 32 + tig * 8));
        const uint32_t b[2] = {bv.x, bv.y};
        mma_s8_16832(acc[t], a, b);
      }
      const bool group_end = ((step + 1) * 32) % p.group_size == 0 || step + 1 == steps_real;
      if (group_end || (s == 1 && chunk + 1 == c_end)) promote(step);
    }
  };

  // Fetch ahead: kSmallMPrefetch chunks in flight per lane.
  uint4 buf[kSmallMPrefetch];
#pragma unroll
  for (int i = 0; i < kSmallMPrefetch; ++i)
    buf[i] = c_begin + i < c_end ? load_streaming(w + (c_begin + i) * 32) : make_uint4(0, 0, 0, 0);
  for (int c = c_begin; c < c_end; c += kSmallMPrefetch) {
#pragma unroll
    for (int i = 0; i < kSmallMPrefetch; ++i) {
      const uint4 cur = buf[i];
      const int next = c + kSmallMPrefetch + i;
      if (next < c_end) buf[i] = load_streaming(w + next * 32);
      if (c + i < c_end) compute_chunk(cur, c + i);
    }
  }

  // Reduce the kSmallMSplitK partial sums: [warp][tile][lane][reg] in shared memory.
  __shared__ float partial[kSmallMSplitK][kTilesM][32][4];
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
    for (int w2 = 0; w2 < kSmallMSplitK; ++w2) v += partial[w2][t][src_lane][reg];
    // u = w + zero point: subtract sum_g S[g,ch] * zp[g,ch] * sum_{k in g} q[tok,k].
    float corr = 0.0f;
    for (int g = 0; g < p.groups; ++g)
      corr += p.w_scale[g * p.n_pad + ch] *
              static_cast<float>(weight_zero_point(p, g, ch) * p.gsum[static_cast<int64_t>(tok) * p.groups + g]);
    float y = p.a_scale[tok] * (v - corr);
    if (p.bias) y += p.bias[ch];
    store_output(p, tok, ch, y);
  }
}

}  // namespace w4a8::cuda
