// The one table that chooses among the W4A8 GEMM kernels - the mma.sync
// kernels of sm80/ (sm_80 and later) and the wgmma kernel of sm90/ (9.x) -
// and their launch.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "cuda/common/kernel_params.h"

namespace w4a8::cuda {

// Once per process, before the first launch: raises the tiled kernels'
// shared-memory limits and reads the SM count the dispatch uses (not stream
// operations, so they stay out of forward and out of any graph capture).
// W4A8_CUDA_GEMM=gemv|small_m|tiled_128x128|tiled_128x64|wgmma_64|wgmma_64x2|wgmma_128|wgmma_128x3|decode
// forces one kernel (for benchmarks and tests; where it cannot take the call -
// gemv past M = 32 or off its shapes (gemv_supports), small_m past M = 64,
// wgmma off Hopper or on other shapes, decode past M = 32 - small_m or a
// tiled kernel runs; wgmma_128x3 on grouped weights runs wgmma_128),
// W4A8_CUDA_DECODE_CLUSTER=N the decode kernel's K split (blocks
// per cluster), W4A8_CUDA_DECODE_BLOCKS_PER_SM=B the blocks per SM its plan
// aims for (2), W4A8_CUDA_DECODE_MAX_M=M the largest M the default dispatch
// gives the decode kernel (default: one token at K >= 8192 where gemv cannot
// run; gemm_dispatch.cu), W4A8_CUDA_GEMV_PAIRS=2|4 the gemv kernel's pairs of
// chunks in flight per warp (4),
// W4A8_CUDA_SMALL_M=8x8|4x16|8x4 the streaming kernel's split-K warps x ring depth,
// W4A8_CUDA_SPLITK=N the 64-token wgmma tile's K splits (1: none; capped by
// the scratch and by K).
cudaError_t configure_gemm_kernels();

// Whether the kernel chosen for p reads the activations in the wgmma k order:
// the quantizer must then write them so (p.wgmma_k_order).
bool gemm_wants_wgmma_k_order(const GemmParams& p);

cudaError_t launch_gemm_w4a8(const GemmParams& p, cudaStream_t stream);

// Whether the kernel chosen for p quantizes the activations itself (the
// decode kernel, given 16-byte aligned rows and perm): forward then makes one
// launch, launch_gemm_w4a8_quantizing, instead of the quantizer and the GEMM.
bool gemm_quantizes_tokens(const GemmParams& p, const TokenInput& in);
cudaError_t launch_gemm_w4a8_quantizing(const GemmParams& p, const TokenInput& in, cudaStream_t stream);

// The kernel launch_gemm_w4a8 runs for these parameters (with a layer's
// split-K scratch as gemm_splitk_scratch_tiles sizes it), e.g. "wgmma_64/k4".
std::string gemm_kernel_name(const GemmParams& p);

// Partial tiles (128 channels x 64 tokens, 32 KiB) of split-K scratch that a
// layer of this shape (n_pad, k_pad, groups, group_size) should be given, or
// 0 where split-K never runs (off Hopper, or N wide enough to fill the GPU).
// Also needs one int counter per 128-channel x 64-token output tile; that
// count is below this one.
long gemm_splitk_scratch_tiles(const GemmParams& p);

}  // namespace w4a8::cuda
