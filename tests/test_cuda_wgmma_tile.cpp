// The Hopper half of the GEMM dispatch (cuda/common/wgmma_tile.h), checked on
// the CPU: on the benchmark's layers it picks what the H200 measurements of
// docs/kernels.md chose, and everywhere it keeps the rules' promises (two
// blocks per SM only past one wave, and so never with split-K; the 128-token
// tile only past 64 tokens).
#include <gtest/gtest.h>

#include <ostream>

#include "cuda/common/split_k.h"
#include "cuda/common/wgmma_tile.h"

namespace w4a8::cuda {
// Failures name the kernel, not its bytes.
void PrintTo(WgmmaTile t, std::ostream* os) {
  static const char* const names[] = {"none", "tokens64", "tokens64_two_per_sm", "tokens128"};
  *os << names[static_cast<int>(t)];
}
}  // namespace w4a8::cuda

using namespace w4a8;
using cuda::WgmmaTile;

namespace {

constexpr int kSms = 132;  // H100 and H200

// What the dispatch passes for a layer of n x k (group 128) at m tokens.
WgmmaTile tile_for(long m, long n, long k) {
  const long n_blocks = (n + 127) / 128;
  const int kblocks = static_cast<int>(k / 128);
  return cuda::choose_wgmma_tile(m, n_blocks, k, kSms, cuda::splitk_scratch_tiles(n_blocks, kblocks, kSms) > 0);
}

}  // namespace

TEST(CudaWgmmaTile, ScratchOnlyForLayersThatLeaveSmsIdle) {
  EXPECT_EQ(cuda::splitk_scratch_tiles(4096 / 128, 32, kSms), kSms);   // 32 channel tiles
  EXPECT_EQ(cuda::splitk_scratch_tiles(8192 / 128, 224, kSms), kSms);  // 64
  EXPECT_EQ(cuda::splitk_scratch_tiles(10240 / 128, 64, kSms), 0);     // 80 > 132 / 2
  EXPECT_EQ(cuda::splitk_scratch_tiles(28672 / 128, 32, kSms), 0);
  EXPECT_EQ(cuda::splitk_scratch_tiles(32, 1, kSms), 0);  // one stage: nothing to split
}

TEST(CudaWgmmaTile, BenchmarkLayersGetTheMeasuredKernels) {
  // Two blocks per SM where the unsplit 64-token grid is over one wave (H200, 2026-12-01).
  EXPECT_EQ(tile_for(64, 28672, 4096), WgmmaTile::tokens64_two_per_sm);  // 35.5 vs 48.5 us
  EXPECT_EQ(tile_for(256, 6144, 4096), WgmmaTile::tokens64_two_per_sm);  // 36.2 vs 49.9 us
  // One block per SM where the grid is at most a wave.
  EXPECT_EQ(tile_for(64, 10240, 8192), WgmmaTile::tokens64);   // 47.1 vs 63.1 us two per SM
  EXPECT_EQ(tile_for(256, 4096, 4096), WgmmaTile::tokens64);   // 27.0 vs 35.9 us
  EXPECT_EQ(tile_for(256, 4096, 14336), WgmmaTile::tokens64);  // 79.4 vs 107.0 us
  // Split-K layers keep one block per SM.
  EXPECT_EQ(tile_for(64, 4096, 4096), WgmmaTile::tokens64);
  EXPECT_EQ(tile_for(64, 8192, 28672), WgmmaTile::tokens64);
  // The 128-token tile from 7/8 of a wave: 8192x28672 M = 256 is 128 tiles (177 vs 207 us).
  EXPECT_EQ(tile_for(256, 8192, 28672), WgmmaTile::tokens128);
  EXPECT_EQ(tile_for(256, 28672, 4096), WgmmaTile::tokens128);
  for (long n : {6144L, 4096L, 28672L, 10240L, 8192L})
    for (long m : {1024L, 4096L}) EXPECT_EQ(tile_for(m, n, 4096), WgmmaTile::tokens128) << n << " M=" << m;
  // Decode sizes stream the weights (the mma.sync kernel), except on the
  // split-K layers from 17 tokens, and from 16 where K >= 14336.
  EXPECT_EQ(tile_for(1, 28672, 4096), WgmmaTile::none);
  EXPECT_EQ(tile_for(16, 4096, 4096), WgmmaTile::none);
  EXPECT_EQ(tile_for(16, 8192, 28672), WgmmaTile::tokens64);
  EXPECT_EQ(tile_for(17, 4096, 4096), WgmmaTile::tokens64);
  EXPECT_EQ(tile_for(32, 10240, 8192), WgmmaTile::tokens64);  // 80 channel tiles, K <= 8192
}

TEST(CudaWgmmaTile, PerChannelThreeConsumerGroupsWhereMeasuredFaster) {
  // H200, 2026-12-01, per channel, three consumer warpgroups vs two (us).
  const auto three = [](long m, long n) { return cuda::per_channel_three_consumer_groups(m, n, kSms); };
  EXPECT_TRUE(three(4096, 4096));    // 211.5 vs 221.5
  EXPECT_TRUE(three(4096, 28672));   // 1155.6 vs 1331.2
  EXPECT_TRUE(three(4096, 10240));   // 774.2 vs 862.4
  EXPECT_TRUE(three(4096, 8192));    // 1961.2 vs 2109.3
  EXPECT_TRUE(three(1024, 28672));   // 304.3 vs 337.3
  EXPECT_TRUE(three(256, 10240));    // 59.0 vs 86.5
  EXPECT_TRUE(three(256, 28672));    // 93.4 vs 96.9
  EXPECT_FALSE(three(1024, 4096));   // 68.7 vs 56.8
  EXPECT_FALSE(three(1024, 10240));  // 224.3 vs 214.8
  EXPECT_FALSE(three(256, 8192));    // 179.4 vs 138.5
  // Never where it needs as many waves as two warpgroups.
  for (long m = 65; m <= 8192; m += 63)
    for (long n = 16; n <= 65536; n = n * 3 / 2 + 16) {
      const long tiles_m = (m + 127) / 128;
      if (((n + 191) / 192 * tiles_m + kSms - 1) / kSms == ((n + 127) / 128 * tiles_m + kSms - 1) / kSms) {
        EXPECT_FALSE(three(m, n)) << "m=" << m << " n=" << n;
      }
    }
}

TEST(CudaWgmmaTile, RulesHoldOnEveryShape) {
  for (long m = 1; m <= 4096; m += (m < 160 ? 1 : 37))
    for (long n_blocks : {1L, 8L, 32L, 48L, 64L, 66L, 67L, 80L, 115L, 116L, 132L, 224L, 600L})
      for (long k : {128L, 256L, 4096L, 14336L, 28672L}) {
        const int kblocks = static_cast<int>(k / 128);
        const long scratch = cuda::splitk_scratch_tiles(n_blocks, kblocks, kSms);
        const long tiles64 = n_blocks * ((m + 63) / 64);
        const WgmmaTile t = cuda::choose_wgmma_tile(m, n_blocks, k, kSms, scratch > 0);
        const auto where = [&] { return ::testing::Message() << "m=" << m << " n_blocks=" << n_blocks << " k=" << k; };
        if (t == WgmmaTile::tokens64_two_per_sm) {
          EXPECT_GT(tiles64, kSms) << where();
          for (int forced : {0, 3})  // the 64-token kernels split K whenever choose_splits says so
            EXPECT_EQ(cuda::choose_splits(tiles64, kblocks, kSms, scratch, forced), 1) << where();
        }
        if (t == WgmmaTile::tokens128) {
          EXPECT_GT(m, 64) << where();
          EXPECT_GE(n_blocks * ((m + 127) / 128), kSms - kSms / 8) << where();
        }
        if (m > 56) {
          EXPECT_NE(t, WgmmaTile::none) << where();  // every layer past 56 tokens
        }
        if (m <= 16 && k < 14336) {
          EXPECT_EQ(t, WgmmaTile::none) << where();
        }
      }
}
