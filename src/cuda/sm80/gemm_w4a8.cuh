// Launch of the mma.sync W4A8 GEMM kernels (sm_80 and later), with the
// choice between them.
#pragma once

#include <cuda_runtime.h>

#include "cuda/common/kernel_params.h"

namespace w4a8::cuda {

// Largest M the weight-streaming kernel takes (four n8 token tiles).
inline constexpr int kSmallMMaxTokens = 32;

// Once per process and device, before the first launch (raises the tiled
// kernel's shared-memory limit; not a stream operation, so it stays out of
// forward and out of any graph capture).
cudaError_t configure_gemm_kernels();

cudaError_t launch_gemm_w4a8(const GemmParams& p, cudaStream_t stream);

// Which kernel launch_gemm_w4a8 runs for M tokens (for logs and benchmarks).
const char* gemm_kernel_name(int m);

}  // namespace w4a8::cuda
