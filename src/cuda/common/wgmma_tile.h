// Which Hopper wgmma kernel a call runs, or none (then the mma.sync kernels
// of sm80/ choose among themselves): the sm_90a half of the dispatch table,
// as plain integer code checked on the CPU (tests/test_cuda_wgmma_tile.cpp).
// Each rule's comment holds the measurement that chose it.
#pragma once

#include "cuda/common/host_device.h"

namespace w4a8::cuda {

enum class WgmmaTile {
  none,
  tokens64,              // 64-token tile, one block per SM (split-K where the layer has scratch)
  tokens64_two_per_sm,   // 64-token tile, two blocks per SM
  tokens128,             // 128-token tile
};

// m tokens, n_blocks 128-channel tiles, k inputs, on `sms` SMs; has_scratch:
// the layer has split-K scratch (splitk_scratch_tiles > 0).
W4A8_HOST_DEVICE WgmmaTile choose_wgmma_tile(long m, long n_blocks, long k, int sms, bool has_scratch) {
  // The wgmma kernel's time hardly moves with M up to 64 (one 64-token tile;
  // it is bound by the K loop of N/128 blocks), so it takes over from
  // streaming where N gives blocks enough. H100, 2026-11-25, group 128,
  // wgmma_64 vs the previous choice (us; docs/experiments/2026-11-25-h100-hopper-wgmma-kernel.md):
  // M = 64: 6144x4096 25.9 vs 39.2, 4096x4096 25.5 vs 27.7, 28672x4096
  //   48.2 vs 60.7, 4096x14336 76.7 vs 82.3, 10240x8192 46.5 vs 78.1,
  //   8192x28672 147.0 vs 255.6 - better on every shape.
  // M = 32: 28672x4096 46.1 vs 60.0, 10240x8192 45.7 vs 54.7; but
  //   6144x4096 25.0 vs 22.5, 4096x4096 24.5 vs 13.8, 4096x14336 76.3 vs
  //   36.2, 8192x28672 146.5 vs 125.2 (streaming splits K, wgmma does not).
  // M = 48 (streaming): 6144x4096 28.7, 4096x4096 17.3, 4096x14336 45.5,
  //   8192x28672 150.0 against wgmma's ~25 / 24.5 / 76 / 147.
  // With split-K (layers of at most SMs/2 channel tiles, which get the
  // scratch) the 64-token tile fills the GPU at any M, and beats streaming
  // from M = 17, on long K from M = 16. H200, 2026-12-01, group 128,
  // wgmma_64 split-K (splits) vs small_m, us
  // (docs/measurements/h200-2026-12-01-splitk-*.txt):
  //   M = 16: 6144x4096 17.3 (2) vs 13.8, 4096x4096 13.4 (4) vs 11.5,
  //           4096x14336 28.9 (4) vs 31.1, 8192x28672 82.2 (2) vs 114.6;
  //   M = 32: 18.2 vs 23.2, 14.3 vs 14.1, 29.8 vs 37.4, 83.2 vs 132.1.
  const bool wide = m > 56 || (m > 32 && n_blocks >= 48 && k <= 16384) || (m > 16 && n_blocks >= 80 && k <= 8192) ||
                    (has_scratch && (m > 16 || (m == 16 && k >= 14336)));
  if (!wide) return WgmmaTile::none;
  // The 128-token tile once its grid is 7/8 of a wave. H200, 2026-12-01:
  // 8192x28672 M = 256 (128 tiles for 132 SMs) 177.2 us against 207.0 for
  // the 64-token tile two blocks per SM (the 177.2 measured with a since
  // removed turn-taking variant, 2-3% slower than this kernel elsewhere;
  // docs/experiments/2026-12-01-h200-two-blocks-per-sm.md).
  if (m > 64 && n_blocks * ((m + 127) / 128) >= sms - sms / 8) return WgmmaTile::tokens128;
  // The 64-token tile, two blocks per SM where its grid is more than one
  // block per SM - never split then, as split-K only runs while tiles x
  // splits fit one block per SM (choose_splits): four independent consumer
  // warpgroups per SM hide each other's per-stage latency where two could
  // not. H200, 2026-12-01, group 128, one block per SM vs two (us;
  // docs/experiments/2026-12-01-h200-two-blocks-per-sm.md):
  //   M = 64: 28672x4096 (224 tiles) 48.5 vs 35.5; 10240x8192 (80) 47.1 vs 63.1;
  //   M = 256: 6144x4096 (192) 49.9 vs 36.2; 8192x28672 (256) 285.8 vs 205.0;
  //            4096x4096 (128) 27.0 vs 35.9; 4096x14336 (128) 79.4 vs 107.0.
  const long tiles = n_blocks * ((m + 63) / 64);
  return tiles > sms ? WgmmaTile::tokens64_two_per_sm : WgmmaTile::tokens64;
}

// Per-channel weights on the 128-token tile: whether the variant with three
// consumer warpgroups (192 channels a block, wgmma_128x3) beats two (128)
// for n_pad channels at m tokens. It does 1.11-1.18x the work per SM and
// second, so a wave of its blocks takes about 1.3x one of the two-warpgroup
// blocks; on 2/3 as many blocks it wins where that costs fewer waves.
// H200, 2026-12-01, per channel, three vs two warpgroups (us;
// docs/experiments/2026-12-02-h200-lds-third-warpgroup-rings.md):
//   M = 4096: 4096x4096 211.5 vs 221.5, 28672x4096 1155.6 vs 1331.2,
//             10240x8192 774.2 vs 862.4, 8192x28672 1961.2 vs 2109.3;
//   M = 1024: 28672x4096 304.3 vs 337.3 (10 waves vs 14); but 4096x4096
//             68.7 vs 56.8 (2 vs 2), 10240x8192 224.3 vs 214.8 (4 vs 5);
//             8192x28672 537.8 vs 532.0 (3 vs 4) is the one the rule gets
//             wrong, by 1%;
//   M = 256: 10240x8192 59.0 vs 86.5 (1 vs 2), 28672x4096 93.4 vs 96.9;
//            but 8192x28672 179.4 vs 138.5 (1 vs 1).
W4A8_HOST_DEVICE bool per_channel_three_consumer_groups(long m, long n_pad, int sms) {
  const long tiles_m = (m + 127) / 128;
  const long waves2 = ((n_pad + 127) / 128 * tiles_m + sms - 1) / sms;
  const long waves3 = ((n_pad + 191) / 192 * tiles_m + sms - 1) / sms;
  return 13 * waves3 < 10 * waves2;
}

}  // namespace w4a8::cuda
