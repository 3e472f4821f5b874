// How the decode kernel cuts a layer (cuda/common/decode_plan.h), checked on
// the CPU: every plan fits the shared memory, covers K with non-empty slices,
// and gives narrow layers blocks for every SM.
#include <gtest/gtest.h>

#include "cuda/common/decode_plan.h"

using namespace w4a8;

namespace {
constexpr int kSms = 132;
constexpr long kSmem = 227 * 1024 - 4096;  // an H100's opt-in limit, less the kernel's static part
}  // namespace

TEST(CudaDecodePlan, EveryPlanFitsAndCoversKOnce) {
  for (int m : {1, 3, 8, 9, 16, 17, 32})
    for (int n_pad : {16, 128, 144, 4096, 6144, 28672})
      for (int k_pad : {64, 128, 448, 4096, 4160, 14336, 14400, 28672, 65536})  // 4160, 14400: 65 and 225 chunks, split 8 ways
        for (int max_cluster : {1, 8}) {
          const cuda::DecodePlan p = cuda::plan_decode(m, n_pad, k_pad, 2L * kSms, max_cluster, kSmem, 0);
          const std::string what = "m=" + std::to_string(m) + " n=" + std::to_string(n_pad) + " k=" +
                                   std::to_string(k_pad) + " max cluster " + std::to_string(max_cluster);
          const int chunks = k_pad / 64;
          if (p.cluster == 0) {
            // Only where even the widest split leaves too long a slice.
            const int slice = (chunks + max_cluster - 1) / max_cluster;
            EXPECT_GT(cuda::decode_smem_bytes(cuda::decode_token_tiles(m), slice), kSmem) << what;
            continue;
          }
          EXPECT_LE(p.cluster, max_cluster) << what;
          EXPECT_EQ(p.cluster & (p.cluster - 1), 0) << "a power of two, " << what;
          EXPECT_LE(cuda::decode_smem_bytes(cuda::decode_token_tiles(m), p.slice_chunks), kSmem) << what;
          EXPECT_GE(static_cast<long>(p.cluster) * p.slice_chunks, chunks) << "K covered, " << what;
          EXPECT_LT(static_cast<long>(p.cluster - 1) * p.slice_chunks, chunks) << "no empty slice, " << what;
          EXPECT_EQ(p.blocks, (n_pad + 127) / 128 * p.cluster) << what;
        }
}

TEST(CudaDecodePlan, NarrowLayersSplitKUntilEverySmHasABlock) {
  // 4096 channels are 32 blocks of 128: K is split 8 ways (256 blocks).
  cuda::DecodePlan p = cuda::plan_decode(1, 4096, 4096, 2L * kSms, 8, kSmem, 0);
  EXPECT_EQ(p.cluster, 8);
  EXPECT_EQ(p.slice_chunks, 8);
  EXPECT_GE(p.blocks, kSms);
  // 28672 channels (224 blocks) need little splitting; without clusters none.
  p = cuda::plan_decode(1, 28672, 4096, 2L * kSms, 8, kSmem, 0);
  EXPECT_LE(p.cluster, 2);
  EXPECT_EQ(cuda::plan_decode(1, 4096, 4096, 2L * kSms, 1, kSmem, 0).cluster, 1);
  // A short K is not split below kDecodeMinSliceChunks chunks a block.
  p = cuda::plan_decode(4, 4096, 256, 2L * kSms, 8, kSmem, 0);
  EXPECT_EQ(p.cluster, 1);
}

TEST(CudaDecodePlan, LongRowsSplitFurtherToFitSharedMemory) {
  // 32 tokens of 28672 inputs: 917 KB of int8 rows, so at least 8 ways here.
  const cuda::DecodePlan p = cuda::plan_decode(32, 8192, 28672, 2L * kSms, 8, kSmem, 0);
  EXPECT_EQ(p.cluster, 8);
  EXPECT_LE(cuda::decode_smem_bytes(4, p.slice_chunks), kSmem);
  // Without clusters the same layer does not fit: the dispatch uses another kernel.
  EXPECT_EQ(cuda::plan_decode(32, 8192, 28672, 2L * kSms, 1, kSmem, 0).cluster, 0);
}

TEST(CudaDecodePlan, OnlyDecodeSizes) {
  EXPECT_EQ(cuda::plan_decode(0, 4096, 4096, 264, 8, kSmem, 0).cluster, 0);
  EXPECT_EQ(cuda::plan_decode(33, 4096, 4096, 264, 8, kSmem, 0).cluster, 0);
  EXPECT_EQ(cuda::plan_decode(32, 4096, 4096, 264, 8, kSmem, 0).cluster, 8);
  EXPECT_EQ(cuda::decode_token_tiles(1), 1);
  EXPECT_EQ(cuda::decode_token_tiles(8), 1);
  EXPECT_EQ(cuda::decode_token_tiles(9), 2);
  EXPECT_EQ(cuda::decode_token_tiles(17), 4);
  // The forced split is taken as given where it fits.
  EXPECT_EQ(cuda::plan_decode(1, 4096, 4096, 264, 8, kSmem, 2).cluster, 2);
  EXPECT_EQ(cuda::plan_decode(1, 4096, 4096, 264, 1, kSmem, 2).cluster, 0);
}
