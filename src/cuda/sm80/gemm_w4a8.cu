#include "cuda/sm80/gemm_w4a8.cuh"
#include "cuda/sm80/gemm_w4a8_small_m.cuh"
#include "cuda/sm80/gemm_w4a8_tiled.cuh"

namespace w4a8::cuda {

cudaError_t configure_gemm_kernels() {
  return cudaFuncSetAttribute(gemm_w4a8_tiled, cudaFuncAttributeMaxDynamicSharedMemorySize, kTiledSmemBytes);
}

const char* gemm_kernel_name(int m) { return m <= kSmallMMaxTokens ? "small_m" : "tiled_128x128"; }

cudaError_t launch_gemm_w4a8(const GemmParams& p, cudaStream_t stream) {
  if (p.m == 0) return cudaSuccess;
  if (p.m <= kSmallMMaxTokens) {
    const dim3 grid(p.n_pad / 16), block(32 * kSmallMSplitK);
    switch ((p.m + 7) / 8) {
      case 1: gemm_w4a8_small_m<1><<<grid, block, 0, stream>>>(p); break;
      case 2: gemm_w4a8_small_m<2><<<grid, block, 0, stream>>>(p); break;
      case 3: gemm_w4a8_small_m<3><<<grid, block, 0, stream>>>(p); break;
      case 4: gemm_w4a8_small_m<4><<<grid, block, 0, stream>>>(p); break;
      case 5:
      case 6: gemm_w4a8_small_m<6><<<grid, block, 0, stream>>>(p); break;
      default: gemm_w4a8_small_m<8><<<grid, block, 0, stream>>>(p); break;
    }
  } else {
    const dim3 grid((p.n_pad + kTiledBlockN - 1) / kTiledBlockN, (p.m + kTiledBlockM - 1) / kTiledBlockM);
    gemm_w4a8_tiled<<<grid, kTiledThreads, kTiledSmemBytes, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace w4a8::cuda
