// Launch of the Hopper (sm_90a) wgmma W4A8 GEMM, gemm_w4a8_wgmma.cuh.
#pragma once

#include <cuda_runtime.h>

#include "cuda/common/kernel_params.h"

namespace w4a8::cuda {

// Once per process: finds the driver's tensor-map encoder and raises the
// kernels' shared-memory limits. *usable is false (and the call succeeds)
// where the GPU is not compute capability 9.x or the encoder is missing.
cudaError_t configure_wgmma_kernels(bool* usable);

// The shapes the kernel takes: K a multiple of 128 (one stage, one swizzle
// row) and weights per channel or in groups of exactly 128.
bool wgmma_supports(const GemmParams& p);

// Blocks of the 64-token tile with `splits` K ranges per output tile: the
// partial tiles a split-K launch needs room for (GemmParams::splitk_capacity).
long wgmma_splitk_tiles(const GemmParams& p, int splits);

// Token tile 64 or 128; p.splits > 1 (64 only) splits K; blocks_per_sm 2 (64
// only) runs the variant of which two blocks share an SM; consumers 3 (128
// tokens, per-channel weights only; else 2) the one with three consumer
// warpgroups, 192 channels a block. The activations must have been written in
// the wgmma k order (p.wgmma_k_order). pdl: launch with programmatic stream
// serialization.
cudaError_t launch_gemm_w4a8_wgmma(const GemmParams& p, int token_tile, int blocks_per_sm, int consumers, bool pdl,
                                   cudaStream_t stream);

}  // namespace w4a8::cuda
