// How the decode kernel (sm80/gemm_w4a8_decode.cuh) cuts a layer: blocks of
// 128 output channels (8 warps x 16), each block one contiguous K range (a
// slice of 64-input chunks), and the blocks that split one channel range's K
// grouped into a thread-block cluster, which shares the token rows'
// statistics and adds up the partial sums. Plain integer code, checked on the
// CPU (tests/test_cuda_decode_plan.cpp).
#pragma once

#include "cuda/common/host_device.h"

namespace w4a8::cuda {

inline constexpr int kDecodeWarps = 8;
inline constexpr int kDecodeChannels = 16 * kDecodeWarps;  // per block
// Weight ring slots per warp: 8 x 512 bytes, so a block keeps 28 KiB in
// flight and two blocks an SM 56 KiB (the decode issue asks for 32-64 KiB).
inline constexpr int kDecodeStages = 8;
inline constexpr int kDecodeRingBytes = kDecodeWarps * kDecodeStages * 512;
inline constexpr int kDecodeMaxTokens = 32;  // four n8 token tiles
inline constexpr int kDecodeMaxCluster = 8;  // the portable cluster size
// A slice keeps at least this many chunks where the plan splits K itself,
// so the ring has something to stream.
inline constexpr int kDecodeMinSliceChunks = 4;

// n8 token tiles for m tokens: 1, 2 or 4 (the kernel's variants).
W4A8_HOST_DEVICE int decode_token_tiles(int m) { return m <= 8 ? 1 : m <= 16 ? 2 : 4; }

// Bytes between token rows of the quantized slice in shared memory: 32 past a
// multiple of 64, so the eight rows one fragment load reads start on
// different bank quarters (two wavefronts for 256 bytes, the fewest).
W4A8_HOST_DEVICE int decode_q_stride(int slice_chunks) { return 64 * slice_chunks + 32; }

// Dynamic shared memory of one block: the weight ring (reused for the
// partial sums), and the quantized token rows of its slice.
W4A8_HOST_DEVICE long decode_smem_bytes(int token_tiles, int slice_chunks) {
  return kDecodeRingBytes + 8L * token_tiles * decode_q_stride(slice_chunks);
}

struct DecodePlan {
  int cluster = 0;       // blocks sharing one channel range (K split), or 0: the kernel cannot take the layer
  int slice_chunks = 0;  // 64-input chunks per block
  long blocks = 0;       // the grid
};

// The plan for m tokens on a layer of n_pad x k_pad (multiples of 16 and
// 64): K split over the fewest blocks (1, 2, 4, 8) that gives `target_blocks`
// blocks, each slice keeping kDecodeMinSliceChunks chunks; more where the
// slice's token rows would not fit `smem_limit` bytes. max_cluster: 1 where
// the GPU has no clusters. forced_cluster > 0: that split (if it fits).
W4A8_HOST_DEVICE DecodePlan plan_decode(int m, int n_pad, int k_pad, long target_blocks, int max_cluster,
                                        long smem_limit, int forced_cluster) {
  DecodePlan plan;
  if (m < 1 || m > kDecodeMaxTokens || n_pad <= 0 || k_pad <= 0) return plan;
  const long n_blocks = (n_pad + kDecodeChannels - 1) / kDecodeChannels;
  const int chunks = k_pad / 64, tiles = decode_token_tiles(m);
  int c = 1;
  if (forced_cluster > 0) {
    c = forced_cluster;
  } else {
    while (2 * c <= max_cluster && n_blocks * c < target_blocks && chunks >= kDecodeMinSliceChunks * 2 * c) c *= 2;
    while (2 * c <= max_cluster && decode_smem_bytes(tiles, (chunks + c - 1) / c) > smem_limit) c *= 2;
  }
  const int slice = (chunks + c - 1) / c;
  if (c > max_cluster || decode_smem_bytes(tiles, slice) > smem_limit) return plan;
  plan.cluster = c;
  plan.slice_chunks = slice;
  plan.blocks = n_blocks * c;
  return plan;
}

}  // namespace w4a8::cuda
