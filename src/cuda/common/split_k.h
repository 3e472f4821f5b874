// Split-K of the 64-token wgmma tile: how many K ranges an output tile gets
// (the dispatch) and which stages of 128 inputs each range takes (the kernel).
// Plain integer code, checked on the CPU (tests/test_cuda_split_k.cpp).
#pragma once

#include "cuda/common/host_device.h"

namespace w4a8::cuda {

// One partial tile in the scratch: the fp32 or int32 sums of 128 channels x
// 64 tokens (the kernel's kPartialWords, checked there).
inline constexpr long kSplitKPartialTileBytes = 128 * 64 * 4;

// Each split takes at least this many stages, so the fixed cost of a block
// (ring fill, the partial tile's write and read) stays small against its K loop.
inline constexpr int kMinSplitStages = 2;

// Partial tiles of split-K scratch for a layer of `n_blocks` 128-channel
// tiles and `kblocks` stages on `sms` SMs: one per SM where the 64-token tile
// can leave SMs idle - fewer than half as many channel tiles as SMs, so at
// least two splits at M <= 64 - and none elsewhere (nor where K is a single
// stage).
W4A8_HOST_DEVICE long splitk_scratch_tiles(long n_blocks, int kblocks, int sms) {
  return 2 * n_blocks > sms || kblocks < 2 ? 0 : sms;
}

// K splits for `tiles` output tiles of a layer with `kblocks` stages, on `sms`
// SMs, with scratch for `capacity` partial tiles: as many as leave one block
// per SM (`forced` > 0: that many instead), at most kblocks / kMinSplitStages
// (unforced) and kblocks, and never more partial tiles than the capacity.
// So a layer with few output tiles (4096x4096 at M = 64 has 32) runs on every
// SM instead of a quarter of them.
W4A8_HOST_DEVICE int choose_splits(long tiles, int kblocks, int sms, long capacity, int forced) {
  if (capacity <= 0 || tiles <= 0) return 1;
  const long fill = sms / tiles, deep = kblocks / kMinSplitStages;
  long s = forced > 0 ? forced : (fill < deep ? fill : deep);
  if (s > kblocks) s = kblocks;
  while (s > 1 && tiles * s > capacity) --s;
  return s > 1 ? static_cast<int>(s) : 1;
}

// The stages of split `split` of `splits`: kb0 .. kb0 + nk - 1. The ranges are
// contiguous and in order, cover 0 .. kblocks - 1 once, differ in length by
// at most one, and none is empty when splits <= kblocks.
struct StageRange {
  int kb0, nk;
};
W4A8_HOST_DEVICE StageRange split_stages(int split, int splits, int kblocks) {
  const int kb0 = split * kblocks / splits;
  return {kb0, (split + 1) * kblocks / splits - kb0};
}

}  // namespace w4a8::cuda
