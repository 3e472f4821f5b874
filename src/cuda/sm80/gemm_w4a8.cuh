// Launch of the mma.sync W4A8 GEMM kernels (sm_80 and later), and the one
// table that chooses among them.
#pragma once

#include <cuda_runtime.h>

#include "cuda/common/kernel_params.h"

namespace w4a8::cuda {

// Once per process, before the first launch: raises the tiled kernels'
// shared-memory limits and reads the SM count the dispatch uses (not stream
// operations, so they stay out of forward and out of any graph capture).
// W4A8_CUDA_GEMM=small_m|tiled_128x128|tiled_128x64 forces one kernel (for
// benchmarks and tests; it must fit M: small_m takes M <= 64), and
// W4A8_CUDA_SMALL_M=8x8|4x16|8x4 the streaming kernel's split-K warps x ring depth.
cudaError_t configure_gemm_kernels();

cudaError_t launch_gemm_w4a8(const GemmParams& p, cudaStream_t stream);

// The kernel launch_gemm_w4a8 runs for these parameters.
const char* gemm_kernel_name(const GemmParams& p);

}  // namespace w4a8::cuda
