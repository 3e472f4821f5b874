// The split-K arithmetic of the 64-token wgmma tile (cuda/common/split_k.h),
// checked on the CPU: the stage ranges the kernel's blocks take, and the
// split counts the dispatch chooses.
#include <gtest/gtest.h>

#include <vector>

#include "cuda/common/split_k.h"

using namespace w4a8;

TEST(CudaSplitK, RangesCoverEveryStageOnceInOrder) {
  for (int kblocks = 1; kblocks <= 240; ++kblocks)
    for (int splits = 1; splits <= kblocks && splits <= 20; ++splits) {
      std::vector<int> hits(kblocks, 0);
      int next = 0, shortest = kblocks, longest = 0;
      for (int s = 0; s < splits; ++s) {
        const cuda::StageRange r = cuda::split_stages(s, splits, kblocks);
        ASSERT_EQ(r.kb0, next) << "split " << s << " of " << splits << ", " << kblocks << " stages";
        ASSERT_GE(r.nk, 1) << "split " << s << " of " << splits << ", " << kblocks << " stages";
        for (int kb = r.kb0; kb < r.kb0 + r.nk; ++kb) ++hits[kb];
        next = r.kb0 + r.nk;
        shortest = std::min(shortest, r.nk);
        longest = std::max(longest, r.nk);
      }
      ASSERT_EQ(next, kblocks);
      for (int kb = 0; kb < kblocks; ++kb) ASSERT_EQ(hits[kb], 1);
      EXPECT_LE(longest - shortest, 1) << splits << " splits of " << kblocks << " stages";
    }
}

TEST(CudaSplitK, ChosenCountsFillTheGpuWithinTheScratch) {
  const int sms = 132;
  for (long tiles = 1; tiles <= 300; ++tiles)
    for (int kblocks : {1, 2, 3, 8, 32, 112, 224})
      for (long capacity : {0L, 16L, 132L, 1000L})
        for (int forced : {0, 3, 16}) {
          const int s = cuda::choose_splits(tiles, kblocks, sms, capacity, forced);
          ASSERT_GE(s, 1);
          ASSERT_LE(s, kblocks);
          if (capacity <= 0) {
            ASSERT_EQ(s, 1);
          }
          if (s > 1) {
            ASSERT_LE(tiles * s, capacity) << "more partial tiles than the scratch holds";
            if (forced == 0) {
              ASSERT_LE(tiles * s, sms) << "more than one block per SM";
              ASSERT_GE(kblocks / s, cuda::kMinSplitStages) << "splits shorter than the minimum";
            } else {
              ASSERT_LE(s, forced);
            }
          }
          // Unforced and with room enough, it takes every split that still fits one wave.
          if (forced == 0 && capacity >= sms && tiles <= sms) {
            const long want = std::min<long>(sms / tiles, kblocks / cuda::kMinSplitStages);
            ASSERT_EQ(s, std::max<long>(want, 1));
          }
        }
  // The layers of docs/kernels.md at M = 64 (one token tile, N/128 channel tiles).
  EXPECT_EQ(cuda::choose_splits(4096 / 128, 4096 / 128, sms, sms, 0), 4);    // 32 tiles -> 128 blocks
  EXPECT_EQ(cuda::choose_splits(6144 / 128, 4096 / 128, sms, sms, 0), 2);    // 48 -> 96
  EXPECT_EQ(cuda::choose_splits(8192 / 128, 28672 / 128, sms, sms, 0), 2);   // 64 -> 128
  EXPECT_EQ(cuda::choose_splits(28672 / 128, 4096 / 128, sms, sms, 0), 1);   // 224: already over a wave
}
