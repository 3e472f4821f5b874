// Decode-size W4A8 layer (M <= 32) in one kernel: the activations are
// quantized inside it, so a decode step is one launch that streams weights.
//
// A block owns 128 output channels (8 warps x one 16-channel MMA tile) and
// one K slice (decode_plan.h); the blocks that split a channel range's K form
// a thread-block cluster (sm_90). Phases:
//  0. each warp puts its first kDecodeStages - 1 weight chunks in flight
//     (cp.async, 16 bytes a lane) and reads its first group scales - before
//     griddepcontrol.wait, since weights never come from the previous kernel;
//  1. statistics of the token rows over the block's slice (max |x|, min, max,
//     finiteness), merged across the cluster through distributed shared
//     memory: max and min are exact in any order, so every block derives the
//     same row rule as the quantizer kernel would (act_quant_rule.cuh);
//  2. the block quantizes only its slice, into shared memory (the MMA's B
//     fragments then come from there);
//  3. the weight-streaming main loop: mma.m16n8k32 s8 with weights as A
//     (bytes 16 w, or 8 (w - zp) for asymmetric weights: no group sums
//     needed), int32 per group, fp32 across groups;
//  4. the cluster's partial sums meet in shared memory, each block adding a
//     share of the outputs in rank order (the same bytes on every run).
// With TokenInput::x null the tokens come quantized (the op path): phase 2
// copies them and phase 1 does not run.
#pragma once

#include "cuda/common/act_quant_rule.cuh"
#include "cuda/common/cluster.cuh"
#include "cuda/common/decode_plan.h"
#include "cuda/common/epilogue.cuh"
#include "cuda/common/group_cursor.h"
#include "cuda/common/mma.cuh"

namespace w4a8::cuda {

struct DecodeParams {
  GemmParams g;
  TokenInput in;
  int cluster = 1;       // blocks per cluster (the K split)
  int slice_chunks = 0;  // 64-input chunks per block
};

// RowStats as shared memory holds it (a __shared__ object takes no
// initialisers); `finite` is a whole word, so another block reads it in one load.
struct StoredRowStats {
  float amax, mn, mx;
  int finite;
  __device__ __forceinline__ void store(const RowStats& s) {
    amax = s.amax, mn = s.mn, mx = s.mx, finite = s.finite;
  }
  __device__ __forceinline__ RowStats load() const {
    RowStats s;
    s.amax = amax, s.mn = mn, s.mx = mx, s.finite = finite != 0;
    return s;
  }
  // The same statistics as block `rank` of the cluster holds them here.
  __device__ __forceinline__ RowStats load_from_cluster_block(int rank) const {
    RowStats s;
    s.amax = load_float_from_cluster_block(&amax, rank);
    s.mn = load_float_from_cluster_block(&mn, rank);
    s.mx = load_float_from_cluster_block(&mx, rank);
    s.finite = cuda::load_from_cluster_block(&finite, rank) != 0;
    return s;
  }
};

// What the token rows of a block share: each row's statistics over this
// block's slice (read by the other blocks of the cluster), and its rule.
template <int kTilesM>
struct DecodeTokens {
  StoredRowStats warp_stats[kDecodeWarps][kTilesM];
  StoredRowStats block_stats[8 * kTilesM];
  RowRule rule[8 * kTilesM];
  int bad[8 * kTilesM];      // kError* bits of the row (its q are 0, its scale NaN)
  float scale[8 * kTilesM];  // the epilogue's token scale and zero point
  int zp[8 * kTilesM];
};

// The eight elements of token row `row` at prepared column `col` (through
// perm for act-order) as floats.
template <typename T>
__device__ __forceinline__ void load_token_piece(const TokenInput& in, int k, int row, int col, float (&v)[8]) {
  const T* x = static_cast<const T*>(in.x) + static_cast<int64_t>(row) * k;
  if (in.perm) {
    gather8(x, in.perm + col, v);
  } else {
    load8(x + col, v);
  }
}

// Phases 1 and 2 for activations of type T: the slice's columns
// [col0, col0 + cols) into qs (rows of `stride` bytes; rows m .. 8 kTilesM - 1
// and columns past k are zeros), the token scales and zero points into t.
template <typename T, int kTilesM>
__device__ __forceinline__ void quantize_slice(const DecodeParams& d, int col0, int cols, uint8_t* qs,
                                               int stride, DecodeTokens<kTilesM>& t) {
  const GemmParams& p = d.g;
  const int m = p.m, k = p.groups * p.group_size;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int pieces = cols / 8, real_pieces = max(0, min(k - col0, cols)) / 8;
  // Pass 1: warp w takes rows w % mw + 8 i (mw = min(m, 8)); where m < 8 the
  // warps of one row split its pieces.
  const int mw = min(m, 8), wrow = warp % mw, sub = warp / mw, nsub = (kDecodeWarps - 1 - wrow) / mw + 1;
  RowStats st[kTilesM];
#pragma unroll
  for (int i = 0; i < kTilesM; ++i) {
    const int row = wrow + 8 * i;
    if (row < m) {
#pragma unroll 4
      for (int pc = sub * 32 + lane; pc < real_pieces; pc += nsub * 32) {
        float v[8];
        load_token_piece<T>(d.in, k, row, col0 + 8 * pc, v);
#pragma unroll
        for (int e = 0; e < 8; ++e) st[i].take(v[e]);
      }
    }
    st[i].merge_warp();
    if (lane == 0) t.warp_stats[warp][i].store(st[i]);
  }
  __syncthreads();
  if (threadIdx.x < m) {
    const int row = threadIdx.x, i = row / 8;
    RowStats s;
    for (int w = row % mw; w < kDecodeWarps; w += mw) s.merge(t.warp_stats[w][i].load());
    t.block_stats[row].store(s);
  }
  // The whole row's statistics: the cluster's blocks' parts, merged in rank order.
  if (d.cluster > 1) cluster_sync(); else __syncthreads();
  if (threadIdx.x < m) {
    const int row = threadIdx.x;
    RowStats s = t.block_stats[row].load();
    if (d.cluster > 1) {
      s = RowStats{};
      for (int r = 0; r < d.cluster; ++r) s.merge(t.block_stats[row].load_from_cluster_block(r));
    }
    int zp_bad = 0;  // reported only for a finite row, as the quantizer kernel does
    const RowRule rule = row_rule<T>(d.in.mode, s, d.in.fixed_scale, d.in.fixed_zp, false, k, &zp_bad);
    const int bad = s.finite ? zp_bad : kErrorNonFinite;
    t.rule[row] = rule;
    t.bad[row] = bad;
    t.scale[row] = bad ? __int_as_float(0x7fc00000) : rule.s;  // NaN: the row's outputs become NaN
    t.zp[row] = bad ? 0 : rule.zp_out;
    if (bad && blockIdx.x == 0) atomicOr(d.in.error_flag, bad);  // every block knows; one reports
  }
  __syncthreads();
  // Pass 2: this block's slice of q, 8 bytes a piece.
  for (int idx = threadIdx.x; idx < 8 * kTilesM * pieces; idx += blockDim.x) {
    const int row = idx / pieces, pc = idx % pieces;
    uint32_t lo = 0, hi = 0;
    if (row < m && pc < real_pieces && !t.bad[row]) {
      float v[8];
      load_token_piece<T>(d.in, k, row, col0 + 8 * pc, v);
      quantize8(v, t.rule[row], lo, hi);
    }
    *reinterpret_cast<uint2*>(qs + row * stride + 8 * pc) = make_uint2(lo, hi);
  }
}

// Phase 2 for tokens that come quantized (GemmParams::q, padded to k_pad
// with zeros; scales and zero points per token).
template <int kTilesM>
__device__ __forceinline__ void copy_slice(const GemmParams& p, int col0, int cols, uint8_t* qs, int stride,
                                           DecodeTokens<kTilesM>& t) {
  const int pieces = cols / 8;
  for (int idx = threadIdx.x; idx < 8 * kTilesM * pieces; idx += blockDim.x) {
    const int row = idx / pieces, pc = idx % pieces;
    uint2 v = make_uint2(0, 0);
    if (row < p.m) v = *reinterpret_cast<const uint2*>(p.q + static_cast<int64_t>(row) * p.ldq + col0 + 8 * pc);
    *reinterpret_cast<uint2*>(qs + row * stride + 8 * pc) = v;
  }
  if (threadIdx.x < p.m) {
    t.scale[threadIdx.x] = p.a_scale[threadIdx.x];
    t.zp[threadIdx.x] = p.a_zp ? p.a_zp[threadIdx.x] : 0;
  }
}

template <int kTilesM, bool kZp>
__global__ void __launch_bounds__(32 * kDecodeWarps, 1) gemm_w4a8_decode(const DecodeParams d) {
  static_assert(kTilesM == 1 || kTilesM == 2 || kTilesM == 4, "decode_token_tiles");
  const GemmParams& p = d.g;
  extern __shared__ __align__(16) uint8_t smem[];
  __shared__ DecodeTokens<kTilesM> tokens;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int gid = lane / 4, tig = lane % 4;
  const int rank = d.cluster > 1 ? cluster_rank() : 0;
  const int nblock = blockIdx.x / d.cluster;
  const int tile = nblock * kDecodeWarps + warp;  // this warp's 16 channels
  const bool live = tile * 16 < p.n_pad;
  const int chunks = p.k_pad / 64;
  const int c_begin = min(chunks, rank * d.slice_chunks), c_last = min(chunks, c_begin + d.slice_chunks);
  const int c_end = live ? c_last : c_begin;

  // Phase 0: the weight ring (per lane, as in gemm_w4a8_small_m: a lane reads
  // back only its own slots, so no barrier, only wait_group) and the scales.
  const uint4* w = static_cast<const uint4*>(p.w) + static_cast<int64_t>(tile) * chunks * 32 + lane;
  uint4* ring = reinterpret_cast<uint4*>(smem) + warp * kDecodeStages * 32 + lane;  // slot i at ring[i * 32]
#pragma unroll
  for (int i = 0; i < kDecodeStages - 1; ++i) {
    if (c_begin + i < c_end) cp_async_16(ring + i * 32, w + (c_begin + i) * 32, 16);
    cp_async_commit();
  }
  const int ch_lo = tile * 16 + gid, ch_hi = ch_lo + 8;
  float s_lo = 0.0f, s_hi = 0.0f;
  uint32_t c_lo = 0, c_hi = 0;  // zero_point_bytes of the two rows (kZp)
  auto load_group = [&](int group) {
    if (!live || group >= p.groups) return;
    s_lo = p.w_scale[group * p.n_pad + ch_lo];
    s_hi = p.w_scale[group * p.n_pad + ch_hi];
    if constexpr (kZp) {
      c_lo = zero_point_bytes(weight_zero_point(p, group, ch_lo));
      c_hi = zero_point_bytes(weight_zero_point(p, group, ch_hi));
    }
  };
  GroupCursor gc(c_begin * 2, p.group_size, p.groups);  // the group of each k32 step
  load_group(gc.group);

  // Phases 1-2: the tokens of the slice, after the previous kernel is done.
  wait_for_producer();
  const int stride = decode_q_stride(d.slice_chunks), col0 = c_begin * 64, cols = (c_last - c_begin) * 64;
  uint8_t* qs = smem + kDecodeRingBytes;
  if (d.in.x == nullptr) {
    copy_slice<kTilesM>(p, col0, cols, qs, stride, tokens);
  } else {
    switch (d.in.dtype) {
      case DType::bf16: quantize_slice<__nv_bfloat16, kTilesM>(d, col0, cols, qs, stride, tokens); break;
      case DType::f32: quantize_slice<float, kTilesM>(d, col0, cols, qs, stride, tokens); break;
      default: quantize_slice<__half, kTilesM>(d, col0, cols, qs, stride, tokens); break;
    }
  }
  __syncthreads();
  allow_dependent_launch();  // the next layer may start streaming its weights

  // Phase 3.
  int32_t acc[kTilesM][4] = {};
  float facc[kTilesM][4] = {};
  auto promote = [&](int group, bool group_end) {
    if (group >= p.groups) return;  // K padding: nothing accumulated
#pragma unroll
    for (int i = 0; i < kTilesM; ++i) {
      facc[i][0] += s_lo * static_cast<float>(acc[i][0]);
      facc[i][1] += s_lo * static_cast<float>(acc[i][1]);
      facc[i][2] += s_hi * static_cast<float>(acc[i][2]);
      facc[i][3] += s_hi * static_cast<float>(acc[i][3]);
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][r] = 0;
    }
    if (group_end) load_group(group + 1);
  };
  auto compute_chunk = [&](const uint4& wv, int chunk) {
#pragma unroll
    for (int s = 0; s < 2; ++s) {
      uint32_t a[4];
      if constexpr (kZp) {
        unpack_a_fragment_zp(wv, s, c_lo, c_hi, a);
      } else {
        unpack_a_fragment(wv, s, a);
      }
      const uint8_t* b_row = qs + gid * stride + (chunk - c_begin) * 64 + s * 32 + tig * 8;
#pragma unroll
      for (int i = 0; i < kTilesM; ++i) {
        const uint2 bv = *reinterpret_cast<const uint2*>(b_row + i * 8 * stride);
        const uint32_t b[2] = {bv.x, bv.y};
        mma_s8_16832(acc[i], a, b);
      }
      const bool group_end = gc.ends_group();
      if (group_end || (s == 1 && chunk + 1 == c_end)) promote(gc.group, group_end);
      gc.advance();
    }
  };
  // Chunk cc sits in slot (cc - c_begin) % kDecodeStages; after reading it the
  // slot read one iteration earlier is refilled (kDecodeStages - 1 in flight).
  for (int cc = c_begin; cc < c_end; ++cc) {
    cp_async_wait<kDecodeStages - 2>();
    const int slot = (cc - c_begin) % kDecodeStages;
    const uint4 cur = ring[slot * 32];
    const int refill = cc - 1 + kDecodeStages;  // the chunk for the previous slot
    if (cc > c_begin && refill < c_end)
      cp_async_16(ring + ((slot + kDecodeStages - 1) % kDecodeStages) * 32, w + refill * 32, 16);
    if (cc == c_begin && kDecodeStages - 1 < c_end - c_begin)
      cp_async_16(ring + (kDecodeStages - 1) * 32, w + (c_begin + kDecodeStages - 1) * 32, 16);
    cp_async_commit();
    compute_chunk(cur, cc);
  }

  // Phase 4: write back (token scale, zero point, bias, the unpack factor).
  constexpr float kUnpack = kZp ? kUnpackScaleZp : kUnpackScale;
  auto finish_and_store = [&](int tok, int ch, float sum) {
    const TokenInputs ti{tokens.scale[tok], tokens.zp[tok]};
    const float row_sum = p.row_sums ? p.row_sums[ch] : 0.0f;
    store_output(p, tok, ch, finish_output(p, ti, row_sum, sum * kUnpack, p.bias ? p.bias[ch] : 0.0f));
  };
  if (d.cluster == 1) {
    if (!live) return;
#pragma unroll
    for (int i = 0; i < kTilesM; ++i)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int tok = i * 8 + tig * 2 + (r & 1), ch = r < 2 ? ch_lo : ch_hi;
        if (tok < p.m && ch < p.n) finish_and_store(tok, ch, facc[i][r]);
      }
    return;
  }
  cp_async_wait<0>();
  __syncthreads();  // the ring's shared memory holds the partial sums now
  float* part = reinterpret_cast<float*>(smem);  // [warp][tile][lane][reg]
#pragma unroll
  for (int i = 0; i < kTilesM; ++i)
#pragma unroll
    for (int r = 0; r < 4; ++r) part[((warp * kTilesM + i) * 32 + lane) * 4 + r] = facc[i][r];
  cluster_sync();
  // Block `rank` of the cluster adds up every cluster-th output of the 128
  // channels x m tokens, reading the partials of rank 0, 1, ... in order.
  for (int idx = rank * blockDim.x + threadIdx.x; idx < kDecodeChannels * p.m; idx += d.cluster * blockDim.x) {
    const int c128 = idx % kDecodeChannels, tok = idx / kDecodeChannels;
    const int ch = nblock * kDecodeChannels + c128;
    if (ch >= p.n) continue;
    // Channel c128 % 16 of warp c128 / 16's accumulator tile tok / 8.
    const AccumulatorSlot slot = accumulator_slot(c128 % 16, tok % 8);
    const float* at = part + (((c128 / 16) * kTilesM + tok / 8) * 32 + slot.lane) * 4 + slot.reg;
    float v = 0.0f;
    for (int r = 0; r < d.cluster; ++r) v += load_float_from_cluster_block(at, r);
    finish_and_store(tok, ch, v);
  }
  cluster_sync();  // no block leaves while another may still read its shared memory
}

}  // namespace w4a8::cuda
