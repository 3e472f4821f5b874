// Hopper W4A8 GEMM (sm_90a): warp-specialised wgmma with a TMA/bulk-copy ring.
//
// Block: 64 * kConsumers output channels x kTokens tokens, 1 + kConsumers
// warpgroups (kConsumers 2, or 3 for the per-channel 128-token tile).
// - Warpgroup 0 is the producer (registers lowered with setmaxnreg): one
//   thread fills a ring of kStages stages, each 128 inputs deep, and each
//   completing on its own `full` mbarrier:
//     tokens:  one TMA box of kTokens rows x 128 bytes of q, 128-byte swizzle
//              (the wgmma B operand; rows past M arrive as zeros);
//     weights: one 1024-byte bulk copy per 16-channel tile - the prepared
//              layout's two 512-byte chunks (weight_layout.h), contiguous.
// - Warpgroups 1.. consume: each warp takes one 16-channel tile (the
//   warpgroup's 64 rows are wgmma's M), reads its lane's 2 x 16 weight bytes,
//   turns them into the A fragments in registers (two instructions per four
//   weights, bytes of 16 w) and issues four wgmma m64 x kTokens x k32 with the
//   tokens as B from shared memory - so M (tokens) is wgmma's N and small
//   token counts waste nothing. The warp then frees the stage (`empty`).
//   At each group end the int32 sums are promoted into fp32 with the group
//   scale. Grouped weights with zero points are unpacked as 8 * (w - zp)
//   (common/unpack.h), so the sums need no correction; per channel the zero point
//   is taken off at the end, in int32, with the activations' row sums.
//   Per-channel weights stay in int32 until the end.
// - The epilogue applies 1/16 (1/8 for the zero-point unpack), the token
//   scale and the bias, and stores the output dtype.
// - Split-K (p.splits > 1, 64-token tiles only): the blocks of one output
//   tile each take a contiguous range of stages, so a layer with few output
//   tiles still fills the GPU. Each writes its pre-epilogue sums (fp32 when
//   grouped, int32 per channel) to the scratch; the last to arrive at the
//   tile's counter adds them in split order - the same result whichever block
//   is last - resets the counter and runs the epilogue.
//
// wgmma reads the A registers in the canonical k order (a lane's first
// register holds k = 4 tig .. 4 tig + 3), while the prepared weights give a
// lane k = 8 tig .. 8 tig + 7 of each k32 step (the mma.sync order). So the
// activations for this kernel are written by the quantizer in the matching
// permuted order inside each 32 (act_quant.cuh: wgmma_k_order).
#pragma once

#include "cuda/common/epilogue.cuh"
#include "cuda/common/kernel_params.h"
#include "cuda/common/mma.cuh"
#include "cuda/common/split_k.h"
#include "cuda/sm90/hopper_ptx.cuh"
#include "cuda/sm90/wgmma_s8.cuh"

namespace w4a8::cuda::sm90 {

// How the int32 sums become fp32.
enum class Promote : int {
  per_channel,  // one group: int32 until the epilogue
  group128,     // every 128 inputs; |sum| < 2^22 there, so an exact float trick replaces I2F
};

// kBlocksPerSm = 2 (64 tokens; the dispatch's wgmma_64x2): two blocks share
// an SM, so four consumer warpgroups of two independent tiles hide each
// other's per-stage chain (wait, build, wgmma, wait, promote) where two could
// not: 1.37-1.43x the one-block kernel on grids past one wave (H200,
// docs/experiments/2026-12-01-h200-two-blocks-per-sm.md). The price: 6 stages instead of 8 (two rings in 228 KiB)
// and 104 registers per consumer thread instead of 232, which the grouped
// loop fits (93-99 used) and per channel's second fragment set does not.
//
// kConsumers = 3 (128 tokens, per channel only; the dispatch's wgmma_128x3):
// three consumer warpgroups of 160 registers share one token tile, 192
// channels a block. Per channel (int32 sums, no promotion) that did 1.11-1.18x
// the work per SM and second of two warpgroups (H200, M = 4096:
// 28672x4096 1155.6 against 1331.2 us on 2/3 of the blocks;
// docs/experiments/2026-12-02-h200-lds-third-warpgroup-rings.md). Grouped it gained nothing (a wave of 1.5x the work took
// 1.5x as long): the promotion's instructions grow with the warpgroups.
template <int kTokens, int kBlocksPerSm = 1, int kConsumerGroups = 2>
struct WgmmaConfig {
  static_assert(kBlocksPerSm == 1 || (kBlocksPerSm == 2 && kTokens == 64), "two blocks per SM fit only at 64 tokens");
  static_assert(kConsumerGroups == 2 || (kConsumerGroups == 3 && kTokens == 128 && kBlocksPerSm == 1),
                "three consumer warpgroups only in the 128-token tile");
  static constexpr int kConsumers = kConsumerGroups;
  static constexpr int kThreads = 128 * (1 + kConsumers);
  static constexpr int kBlockN = 64 * kConsumers;  // output channels
  static constexpr int kStageK = 128;              // inputs per stage: one group of 128, one swizzle row
  // Ring depth: 12 stages for the one-block 64-token tile (1.00-1.05x
  // against 8; 10240x8192 M = 64 per channel 43.2 -> 41.9 us); the 128-token tiles
  // keep 6 (9 with two consumer warpgroups, 8 with three: 0.97-1.01x, so
  // their waits for data are not for want of stages; H200, docs/experiments/2026-12-02-h200-lds-third-warpgroup-rings.md);
  // two per SM fit only 6.
  static constexpr int kStages = kTokens == 64 && kBlocksPerSm == 1 ? 12 : 6;
  // Registers per thread after setmaxnreg. The block starts with what
  // __launch_bounds__ leaves it (65536 / blocks / threads, in steps of 8);
  // the producer's release must cover the consumers' raise.
  static constexpr int kLaunchRegs = 65536 / (kBlocksPerSm * kThreads) / 8 * 8;
  static constexpr int kProducerRegs = kBlocksPerSm == 2 || kConsumers == 3 ? 24 : 40;
  static constexpr int kConsumerRegs = kBlocksPerSm == 2 ? 104 : kConsumers == 3 ? 160 : 232;
  static_assert(128 * kProducerRegs + 128 * kConsumers * kConsumerRegs <= kLaunchRegs * kThreads,
                "setmaxnreg would ask for more registers than the block has");
  static constexpr int kTokenBytes = kTokens * kStageK;       // a multiple of 1024 (swizzle atoms)
  static constexpr int kTileBytes = 16 * kStageK / 2;         // one 16-channel tile, 1024 bytes
  static constexpr int kWeightBytes = kBlockN / 16 * kTileBytes;
  // Blocks walk the output in bands of this many 128-channel tiles, token
  // tiles fastest inside a band: a wave then reads a few weight tiles many
  // times (from L2) and each token tile once per band, instead of streaming
  // all the weights once per token tile.
  static constexpr int kBandTiles = 8;
  static constexpr int kSmemBytes =
      1024 /* alignment slack */ + kStages * (kTokenBytes + kWeightBytes) + 2 * kStages * 8 + 16 /* split-K flag */;
  // Split-K scratch words per block: every consumer thread's kTokens / 2 sums.
  static constexpr int kPartialWords = 256 * kTokens / 2;
  static_assert(kTokens != 64 || kPartialWords * 4 == kSplitKPartialTileBytes, "the backend sizes the scratch so");
  static_assert(kTokenBytes % 1024 == 0, "token stages must keep the 1024-byte swizzle alignment");
  static_assert(kSmemBytes <= 232448 && kBlocksPerSm * (kSmemBytes + 1024) <= 233472,
                "sm_90's shared memory: 227 KiB a block, 228 KiB an SM with 1 KiB reserved per block");
};

// The int32 sum v (|v| < 2^22) as a float, exactly, without I2F (a quarter-
// rate conversion): 1.5 * 2^23 + v has v in its low mantissa bits.
__device__ __forceinline__ float small_int_to_float(int32_t v) {
  return __int_as_float(v + 0x4B400000) - 12582912.0f;
}

// Adds a group's int32 sums into the tile's fp32 sums, times the group
// scales of the thread's two rows (fragment registers 0-1: row gid, 2-3: gid + 8).
template <int kAcc>
__device__ __forceinline__ void promote_group(const int32_t (&acc)[kAcc], float s_lo, float s_hi,
                                              float (&sums)[kAcc]) {
#pragma unroll
  for (int i = 0; i < kAcc; ++i) {
    const int32_t v = acc[i];  // |v| <= 16 * 8 * 128 * 128 (or 8 * 15 * 128 * 128) < 2^22
    sums[i] = fmaf(i % 4 < 2 ? s_lo : s_hi, small_int_to_float(v), sums[i]);
  }
}

template <int kTokens, Promote kPromote, bool kZeroPoint, int kBlocksPerSm = 1, int kConsumerGroups = 2>
__global__ void __launch_bounds__(WgmmaConfig<kTokens, kBlocksPerSm, kConsumerGroups>::kThreads, kBlocksPerSm)
    gemm_w4a8_wgmma(const GemmParams p, const __grid_constant__ CUtensorMap tokens) {
#if W4A8_SM90A
  using C = WgmmaConfig<kTokens, kBlocksPerSm, kConsumerGroups>;
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);
  uint8_t* tok_smem = smem;
  uint8_t* w_smem = smem + C::kStages * C::kTokenBytes;
  uint64_t* full = reinterpret_cast<uint64_t*>(w_smem + C::kStages * C::kWeightBytes);
  uint64_t* empty = full + C::kStages;
  int* last_flag = reinterpret_cast<int*>(empty + C::kStages);

  // Block = (output tile, split): the splits of a tile are neighbours.
  const int splits = kTokens == 64 ? p.splits : 1;
  const int tile = blockIdx.x / splits, split = blockIdx.x % splits;
  int tile_n, tile_m;
  {
    const int tiles_n = (p.n_pad + C::kBlockN - 1) / C::kBlockN, tiles_m = (p.m + kTokens - 1) / kTokens;
    const int band = tile / (C::kBandTiles * tiles_m), in_band = tile % (C::kBandTiles * tiles_m);
    const int band_tiles = min(C::kBandTiles, tiles_n - band * C::kBandTiles);
    tile_n = band * C::kBandTiles + in_band % band_tiles;
    tile_m = in_band / band_tiles;
  }
  const int tile0 = tile_n * (C::kBlockN / 16);
  const int m0 = tile_m * kTokens;
  const int kblocks = p.k_pad / C::kStageK;
  // This block's stages: kb0 .. kb0 + nk - 1 (every split gets at least one).
  const StageRange range = split_stages(split, splits, kblocks);
  const int kb0 = range.kb0, nk = range.nk;
  const int chunks = p.k_pad / 64;
  const int tiles_here = min(C::kBlockN / 16, p.n_pad / 16 - tile0);

  if (threadIdx.x == 0) {
    for (int s = 0; s < C::kStages; ++s) {
      mbar_init(&full[s], 1);
      mbar_init(&empty[s], 4 * C::kConsumers);  // one arrival per consumer warp
    }
    mbar_fence_init();
  }
  __syncthreads();

  if (threadIdx.x < 128) {
    // Producer.
    setmaxnreg_dec<C::kProducerRegs>();
    if (threadIdx.x == 0) {
      prefetch_tensor_map(&tokens);
      wait_for_producer();  // q is the quantizer's output
      const uint32_t bytes = C::kTokenBytes + tiles_here * C::kTileBytes;
      const uint8_t* w = static_cast<const uint8_t*>(p.w);
      for (int i = 0; i < nk; ++i) {
        const int s = i % C::kStages, kb = kb0 + i;
        if (i >= C::kStages) mbar_wait(&empty[s], (i / C::kStages - 1) & 1);
        mbar_arrive_expect_tx(&full[s], bytes);
        tma_load_2d(tok_smem + s * C::kTokenBytes, &tokens, kb * C::kStageK, m0, &full[s]);
        for (int t = 0; t < tiles_here; ++t)
          bulk_copy_g2s(w_smem + s * C::kWeightBytes + t * C::kTileBytes,
                        w + (static_cast<int64_t>(tile0 + t) * chunks + 2 * kb) * 512, C::kTileBytes, &full[s]);
      }
    }
    return;
  }

  // Consumers.
  setmaxnreg_inc<C::kConsumerRegs>();
  constexpr int kAcc = kTokens / 2;
  constexpr bool kGrouped = kPromote == Promote::group128;
  const int cw = threadIdx.x / 32 - 4;  // consumer warp 0..4 kConsumers - 1: its 16-channel tile in the block
  const int lane = threadIdx.x % 32, gid = lane / 4, tig = lane % 4;
  const int ch_lo = (tile0 + cw) * 16 + gid, ch_hi = ch_lo + 8;
  const bool lo_ok = ch_lo < p.n_pad, hi_ok = ch_hi < p.n_pad;
  wait_for_producer();  // token scales and group sums come from the quantizer

  // A group's scales and zero-point bytes, read a stage ahead so that their
  // latency hides behind the stage before. Grouped weights only: per channel
  // the one scale and zero point are read in the epilogue, and nothing here.
  struct GroupInputs {
    float s_lo = 0.0f, s_hi = 0.0f;
    uint32_t c_lo = 0, c_hi = 0;  // zero_point_bytes of the two rows (grouped, with zero points)
  };
  auto group_scales = [&](int kb) {
    GroupInputs in;
    if constexpr (kGrouped) {
      if (lo_ok) in.s_lo = p.w_scale[kb * p.n_pad + ch_lo];
      if (hi_ok) in.s_hi = p.w_scale[kb * p.n_pad + ch_hi];
      if constexpr (kZeroPoint) {
        in.c_lo = zero_point_bytes(lo_ok ? weight_zero_point(p, kb, ch_lo) : 0);
        in.c_hi = zero_point_bytes(hi_ok ? weight_zero_point(p, kb, ch_hi) : 0);
      }
    }
    return in;
  };
  // Waits for this block's stage i and builds its A fragments into a.
  auto build = [&](int i, uint32_t(&a)[4][4], const GroupInputs& in) {
    const int s = i % C::kStages;
    mbar_wait(&full[s], (i / C::kStages) & 1);
    const uint4* wp = reinterpret_cast<const uint4*>(w_smem + s * C::kWeightBytes + cw * C::kTileBytes);
    const uint4 w0 = wp[lane], w1 = wp[32 + lane];
    if constexpr (kGrouped && kZeroPoint) {
      unpack_a_fragment_zp(w0, 0, in.c_lo, in.c_hi, a[0]);
      unpack_a_fragment_zp(w0, 1, in.c_lo, in.c_hi, a[1]);
      unpack_a_fragment_zp(w1, 0, in.c_lo, in.c_hi, a[2]);
      unpack_a_fragment_zp(w1, 1, in.c_lo, in.c_hi, a[3]);
    } else {
      unpack_a_fragment(w0, 0, a[0]);
      unpack_a_fragment(w0, 1, a[1]);
      unpack_a_fragment(w1, 0, a[2]);
      unpack_a_fragment(w1, 1, a[3]);
    }
  };
  // build, then issues stage i's four wgmmas into acc (a fresh sum per stage
  // when grouped; per channel one running sum). a must stay untouched until
  // the group has been waited for.
  auto issue = [&](int i, int32_t(&acc)[kAcc], uint32_t(&a)[4][4], const GroupInputs& in) {
    const int s = i % C::kStages;
    build(i, a, in);
    const uint32_t b_base = smem_addr(tok_smem + s * C::kTokenBytes);
    const uint64_t desc[4] = {sw128_kmajor_desc(b_base), sw128_kmajor_desc(b_base + 32), sw128_kmajor_desc(b_base + 64),
                              sw128_kmajor_desc(b_base + 96)};
    wgmma_fence();
    wgmma_s8_x4<kTokens>(acc, a, desc, kGrouped ? 0 : (i > 0));
    wgmma_commit();
  };
  // Once stage i's wgmmas have completed: its slot can be refilled.
  auto free_stage = [&](int i) {
    __syncwarp();
    if (lane == 0) mbar_arrive(&empty[i % C::kStages]);
  };
  // After stage i's wgmmas have completed: free its slot, promote its sums.
  auto retire = [&](int i, int32_t(&acc)[kAcc], const GroupInputs& in, float(&facc)[kAcc]) {
    free_stage(i);
    if constexpr (kGrouped) promote_group(acc, in.s_lo, in.s_hi, facc);
  };

  // Per channel, one wgmma group stays in flight while the previous one is
  // retired: the sums chain on one accumulator set, the stages alternate
  // between two fragment sets. Grouped sums are promoted after every stage,
  // so each stage is waited for. (A version with two accumulator sets that
  // kept one grouped stage in flight during the promotion measured 7-11%
  // slower at M = 4096 on the H100 - 288 vs 264 us at 4096^3 - with ptxas
  // still waiting after every grouped wgmma, 12 of 12; this form's SASS had
  // 4 IGMMA to 1 wait; docs/experiments/2026-11-25-h100-hopper-wgmma-kernel.md.)
  int32_t acc0[kAcc];
  float facc[kAcc];
  uint32_t a0[4][4], a1[4][4];
#pragma unroll
  for (int i = 0; i < kAcc; ++i) acc0[i] = 0, facc[i] = 0.0f;
  if constexpr (kGrouped || kBlocksPerSm == 2) {
    // One stage at a time (per channel too at two blocks per SM, where a
    // second fragment set does not fit in 104 registers: ptxas serialised
    // every wgmma, C7512).
    GroupInputs next = group_scales(kb0);
    for (int i = 0; i < nk; ++i) {
      GroupInputs in = next;
      if (i + 1 < nk) next = group_scales(kb0 + i + 1);
      issue(i, acc0, a0, in);
      wgmma_wait<0>();
      keep_alive(a0);
      fence_accumulators(acc0);
      retire(i, acc0, in, facc);
    }
  } else {
    // Per channel: stages alternate between the two fragment sets; the sums
    // chain on one accumulator set.
    const GroupInputs none{};
    issue(0, acc0, a0, none);
    for (int i = 0; i < nk; i += 2) {
      if (i + 1 < nk) {
        issue(i + 1, acc0, a1, none);
        wgmma_wait<1>();
      } else {
        wgmma_wait<0>();
      }
      keep_alive(a0);
      retire(i, acc0, none, facc);
      if (i + 1 >= nk) break;
      if (i + 2 < nk) {
        issue(i + 2, acc0, a0, none);
        wgmma_wait<1>();
      } else {
        wgmma_wait<0>();
      }
      keep_alive(a1);
      retire(i + 1, acc0, none, facc);
    }
    fence_accumulators(acc0);
  }
  int32_t(&acc)[kAcc] = acc0;

  if constexpr (kTokens == 64) {
    if (splits > 1) {
      // Split-K: publish this block's sums, count the arrivals of the tile.
      const int ct = threadIdx.x - 128;  // consumer thread 0..255
      uint4* mine = reinterpret_cast<uint4*>(p.splitk_partials + static_cast<int64_t>(blockIdx.x) * C::kPartialWords);
#pragma unroll
      for (int r = 0; r < kAcc / 4; ++r) {
        uint4 v;
        if constexpr (kGrouped) {
          v = make_uint4(__float_as_uint(facc[4 * r]), __float_as_uint(facc[4 * r + 1]), __float_as_uint(facc[4 * r + 2]),
                         __float_as_uint(facc[4 * r + 3]));
        } else {
          v = make_uint4(static_cast<uint32_t>(acc[4 * r]), static_cast<uint32_t>(acc[4 * r + 1]),
                         static_cast<uint32_t>(acc[4 * r + 2]), static_cast<uint32_t>(acc[4 * r + 3]));
        }
        __stcg(mine + r * 256 + ct, v);  // coalesced: consecutive threads, consecutive 16 bytes
      }
      __threadfence();  // the sums are visible device-wide before the arrival counts
      named_barrier_sync(1, 256);
      if (ct == 0) *last_flag = atomicAdd(&p.splitk_counters[tile], 1) == splits - 1;
      named_barrier_sync(1, 256);
      if (!*last_flag) return;
      __threadfence();
      // The last block: every split's sums, added in split order.
      const uint4* parts = reinterpret_cast<const uint4*>(p.splitk_partials +
                                                          static_cast<int64_t>(tile) * splits * C::kPartialWords);
#pragma unroll
      for (int i = 0; i < kAcc; ++i) acc[i] = 0, facc[i] = 0.0f;
      for (int sp = 0; sp < splits; ++sp) {
#pragma unroll
        for (int r = 0; r < kAcc / 4; ++r) {
          const uint4 v = __ldcg(parts + static_cast<int64_t>(sp) * (C::kPartialWords / 4) + r * 256 + ct);
          if constexpr (kGrouped) {
            facc[4 * r] += __uint_as_float(v.x);
            facc[4 * r + 1] += __uint_as_float(v.y);
            facc[4 * r + 2] += __uint_as_float(v.z);
            facc[4 * r + 3] += __uint_as_float(v.w);
          } else {
            acc[4 * r] += static_cast<int32_t>(v.x);
            acc[4 * r + 1] += static_cast<int32_t>(v.y);
            acc[4 * r + 2] += static_cast<int32_t>(v.z);
            acc[4 * r + 3] += static_cast<int32_t>(v.w);
          }
        }
      }
      if (ct == 0) p.splitk_counters[tile] = 0;  // ready for the next launch
    }
  }

  // Epilogue.
  float s_lo = 0.0f, s_hi = 0.0f;
  int z_lo = 0, z_hi = 0;
  if constexpr (kPromote == Promote::per_channel) {
    if (lo_ok) s_lo = p.w_scale[ch_lo];
    if (hi_ok) s_hi = p.w_scale[ch_hi];
    if constexpr (kZeroPoint) {
      if (lo_ok) z_lo = 16 * weight_zero_point(p, 0, ch_lo);
      if (hi_ok) z_hi = 16 * weight_zero_point(p, 0, ch_hi);
    }
  }
  constexpr float kScale = kGrouped && kZeroPoint ? kUnpackScaleZp : kUnpackScale;
  const float b_lo = p.bias && ch_lo < p.n ? p.bias[ch_lo] : 0.0f;
  const float b_hi = p.bias && ch_hi < p.n ? p.bias[ch_hi] : 0.0f;
  const float r_lo = p.a_zp && ch_lo < p.n ? p.row_sums[ch_lo] : 0.0f;
  const float r_hi = p.a_zp && ch_hi < p.n ? p.row_sums[ch_hi] : 0.0f;
  // In batches of kBatch rows of fragments (8 tokens each): a batch's token
  // inputs are all read before any of its outputs is stored (TokenInputs),
  // so a thread waits kTokens / 8 / kBatch memory latencies, not one per output.
  constexpr int kBatch = 4;
  static_assert(kTokens / 8 % kBatch == 0, "whole batches of fragment rows");
  with_output_type(p, [&](auto out_type) {
    using Out = decltype(out_type);
#pragma unroll
    for (int j0 = 0; j0 < kTokens / 8; j0 += kBatch) {
      TokenInputs in[kBatch][2];
      int gs[kBatch][2] = {};  // per-channel zero points: the tokens' sums of q
      (void)gs;               // (unused by the other schemes)
#pragma unroll
      for (int jj = 0; jj < kBatch; ++jj) {
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const int tok = m0 + 8 * (j0 + jj) + 2 * tig + c;
          if (tok >= p.m) continue;
          in[jj][c] = token_inputs(p, tok);
          if constexpr (kZeroPoint && kPromote == Promote::per_channel) gs[jj][c] = p.gsum[tok];
        }
      }
#pragma unroll
      for (int jj = 0; jj < kBatch; ++jj) {
        const int j = j0 + jj;
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const int tok = m0 + 8 * j + 2 * tig + c;
          if (tok >= p.m) continue;
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int r = 2 * h + c;
            const int ch = h ? ch_hi : ch_lo;
            if (ch >= p.n) continue;
            float f;
            if constexpr (kPromote == Promote::per_channel) {
              int32_t v = acc[4 * j + r];
              if constexpr (kZeroPoint) v -= (h ? z_hi : z_lo) * gs[jj][c];
              f = (h ? s_hi : s_lo) * static_cast<float>(v);
            } else {
              f = facc[4 * j + r];
            }
            store_output_as<Out>(p, tok, ch, finish_output(p, in[jj][c], h ? r_hi : r_lo, f * kScale, h ? b_hi : b_lo));
          }
        }
      }
    }
  });
#endif
}

}  // namespace w4a8::cuda::sm90
