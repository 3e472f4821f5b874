// The gemv kernel's grid (cuda/common/walk_grid.h), checked on the
// CPU: it fits the GPU at once, covers every tile, and its blocks walk
// equal shares (the last at most one tile fewer).
#include <gtest/gtest.h>

#include <string>

#include "cuda/common/walk_grid.h"

using namespace w4a8;

TEST(CudaWalkGrid, FitsTheGpuAndSharesTilesEvenly) {
  for (long tiles : {1L, 7L, 256L, 384L, 512L, 528L, 529L, 640L, 1792L, 4096L})
    for (long resident : {0L, 132L, 396L, 528L}) {
      const long grid = cuda::walk_grid(tiles, resident);
      const std::string what = "tiles=" + std::to_string(tiles) + " resident=" + std::to_string(resident);
      ASSERT_GT(grid, 0) << what;
      if (resident <= 0 || tiles <= resident) {
        EXPECT_EQ(grid, tiles) << "one block per tile, " << what;
        continue;
      }
      EXPECT_LE(grid, resident) << what;
      // Block b walks tiles b, b + grid, ...: ceil or floor of tiles / grid.
      const long most = (tiles + grid - 1) / grid, fewest = tiles / grid;
      EXPECT_LE(most - fewest, 1) << what;
      // Trimmed: one block fewer would make some block walk one tile more.
      EXPECT_GT((tiles + grid - 2) / (grid - 1), most) << what;
    }
  // 28672 channels (1792 tiles) at 4 blocks on each of 132 SMs: 4 tiles a block.
  EXPECT_EQ(cuda::walk_grid(1792, 528), 448);
}
