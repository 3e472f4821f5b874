// The grid of the lean decode stream (sm80/gemm_w4a8_gemv.cuh),
// whose blocks walk 16-channel tiles: as many blocks as fit the GPU at once,
// trimmed so that every block walks the same number of tiles (no block
// starts a tile while the others are done). Plain integer code, checked on
// the CPU (tests/test_cuda_walk_grid.cpp).
#pragma once

#include "cuda/common/host_device.h"

namespace w4a8::cuda {

// tiles: 16-channel tiles of the layer; resident: blocks the GPU holds at
// once (blocks per SM x SMs), or <= 0 for one block per tile.
W4A8_HOST_DEVICE long walk_grid(long tiles, long resident) {
  if (tiles <= 0) return 0;
  if (resident <= 0 || tiles <= resident) return tiles;
  const long per_block = (tiles + resident - 1) / resident;
  return (tiles + per_block - 1) / per_block;
}

}  // namespace w4a8::cuda
