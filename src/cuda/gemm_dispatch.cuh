// The one table that chooses among the W4A8 GEMM kernels - the mma.sync
// kernels of sm80/ (sm_80 and later) and the wgmma kernel of sm90/ (9.x) -
// and their launch.
#pragma once

#include <cuda_runtime.h>

#include "cuda/common/kernel_params.h"

namespace w4a8::cuda {

// Once per process, before the first launch: raises the tiled kernels'
// shared-memory limits and reads the SM count the dispatch uses (not stream
// operations, so they stay out of forward and out of any graph capture).
// W4A8_CUDA_GEMM=small_m|tiled_128x128|tiled_128x64|wgmma_64|wgmma_128 forces
// one kernel (for benchmarks and tests; where it cannot take the call - small_m
// past M = 64, wgmma off Hopper or on other shapes - a tiled kernel runs), and
// W4A8_CUDA_SMALL_M=8x8|4x16|8x4 the streaming kernel's split-K warps x ring depth.
cudaError_t configure_gemm_kernels();

// Whether the kernel chosen for p reads the activations in the wgmma k order:
// the quantizer must then write them so (p.wgmma_k_order).
bool gemm_wants_wgmma_k_order(const GemmParams& p);

cudaError_t launch_gemm_w4a8(const GemmParams& p, cudaStream_t stream);

// The kernel launch_gemm_w4a8 runs for these parameters.
const char* gemm_kernel_name(const GemmParams& p);

}  // namespace w4a8::cuda
