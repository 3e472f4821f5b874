// Launch of the mma.sync W4A8 GEMM kernels (sm_80 and later), with the
// choice between them.
#pragma once

#include <cuda_runtime.h>

#include "cuda/common/kernel_params.h"

namespace w4a8::cuda {

// Largest M the weight-streaming kernel takes (eight n8 token tiles). H100,
// first measurement: at M = 64 the 128x128 tiled kernel took 77 us on
// 4096x4096 (32 blocks for 132 SMs) against 24 us for the streaming kernel
// at M = 32.
inline constexpr int kSmallMMaxTokens = 64;

// Once per process and device, before the first launch (raises the tiled
// kernel's shared-memory limit; not a stream operation, so it stays out of
// forward and out of any graph capture).
cudaError_t configure_gemm_kernels();

cudaError_t launch_gemm_w4a8(const GemmParams& p, cudaStream_t stream);

// Which kernel launch_gemm_w4a8 runs for M tokens (for logs and benchmarks).
const char* gemm_kernel_name(int m);

}  // namespace w4a8::cuda
