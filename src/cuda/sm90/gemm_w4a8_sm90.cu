#include <cuda.h>
#include <cudaTypedefs.h>

#include "cuda/common/launch.cuh"
#include "cuda/sm90/gemm_w4a8_sm90.cuh"
#include "cuda/sm90/gemm_w4a8_wgmma.cuh"

namespace w4a8::cuda {

namespace {

using sm90::Promote;
using sm90::WgmmaConfig;

PFN_cuTensorMapEncodeTiled_v12000 g_encode = nullptr;

template <int kTokens, Promote kPromote, bool kZeroPoint, int kBlocksPerSm = 1, int kConsumers = 2>
cudaError_t raise_smem_limit() {
  return cudaFuncSetAttribute(sm90::gemm_w4a8_wgmma<kTokens, kPromote, kZeroPoint, kBlocksPerSm, kConsumers>,
                              cudaFuncAttributeMaxDynamicSharedMemorySize,
                              WgmmaConfig<kTokens, kBlocksPerSm, kConsumers>::kSmemBytes);
}

template <int kTokens, Promote kPromote, bool kZeroPoint, int kBlocksPerSm = 1, int kConsumers = 2>
cudaError_t launch_variant(const GemmParams& p, const CUtensorMap& map, bool pdl, cudaStream_t stream) {
  using C = WgmmaConfig<kTokens, kBlocksPerSm, kConsumers>;
  const int tiles_n = (p.n_pad + C::kBlockN - 1) / C::kBlockN, tiles_m = (p.m + kTokens - 1) / kTokens;
  const int splits = kTokens == 64 ? p.splits : 1;
  // One block per tile and split; the kernel maps the index to bands of channel tiles.
  return launch_kernel(sm90::gemm_w4a8_wgmma<kTokens, kPromote, kZeroPoint, kBlocksPerSm, kConsumers>,
                       dim3(tiles_n * tiles_m * splits), dim3(C::kThreads), C::kSmemBytes, stream, pdl, p, map);
}

// One pipeline shape's weight schemes with or without zero points.
template <int kTokens, Promote kPromote, int kBlocksPerSm, int kConsumers = 2>
cudaError_t launch_zero_points(const GemmParams& p, const CUtensorMap& map, bool pdl, cudaStream_t stream) {
  return p.w_zp ? launch_variant<kTokens, kPromote, true, kBlocksPerSm, kConsumers>(p, map, pdl, stream)
                : launch_variant<kTokens, kPromote, false, kBlocksPerSm, kConsumers>(p, map, pdl, stream);
}

template <int kTokens, Promote kPromote, int kBlocksPerSm, int kConsumers = 2>
cudaError_t raise_zero_point_limits() {
  cudaError_t e = raise_smem_limit<kTokens, kPromote, false, kBlocksPerSm, kConsumers>();
  return e == cudaSuccess ? raise_smem_limit<kTokens, kPromote, true, kBlocksPerSm, kConsumers>() : e;
}

// The four weight schemes (per channel or grouped, with or without zero
// points) of one pipeline shape.
template <int kTokens, int kBlocksPerSm>
cudaError_t launch_schemes(const GemmParams& p, const CUtensorMap& map, bool pdl, cudaStream_t stream) {
  return p.groups == 1 ? launch_zero_points<kTokens, Promote::per_channel, kBlocksPerSm>(p, map, pdl, stream)
                       : launch_zero_points<kTokens, Promote::group128, kBlocksPerSm>(p, map, pdl, stream);
}

template <int kTokens, int kBlocksPerSm>
cudaError_t raise_limits() {
  const cudaError_t e = raise_zero_point_limits<kTokens, Promote::per_channel, kBlocksPerSm>();
  return e == cudaSuccess ? raise_zero_point_limits<kTokens, Promote::group128, kBlocksPerSm>() : e;
}

}  // namespace

cudaError_t configure_wgmma_kernels(bool* usable) {
  *usable = false;
  int dev = 0, major = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  if (e != cudaSuccess || major != 9) return e;  // sm_90a code runs on 9.x only
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
  e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found);
  if (e != cudaSuccess || found != cudaDriverEntryPointSuccess || !fn) return cudaSuccess;  // no TMA: other kernels
  g_encode = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  e = raise_limits<64, 1>();
  if (e == cudaSuccess) e = raise_limits<64, 2>();
  if (e == cudaSuccess) e = raise_limits<128, 1>();
  if (e == cudaSuccess) e = raise_zero_point_limits<128, Promote::per_channel, 1, 3>();  // wgmma_128x3
  *usable = e == cudaSuccess;
  return e;
}

bool wgmma_supports(const GemmParams& p) {
  const long k = static_cast<long>(p.groups) * p.group_size;
  return k % 128 == 0 && k == p.k_pad && (p.groups == 1 || p.group_size == 128);
}

long wgmma_splitk_tiles(const GemmParams& p, int splits) {
  return static_cast<long>((p.n_pad + 127) / 128) * ((p.m + 63) / 64) * splits;
}

cudaError_t launch_gemm_w4a8_wgmma(const GemmParams& p, int token_tile, int blocks_per_sm, int consumers, bool pdl,
                                   cudaStream_t stream) {
  if (!g_encode || !wgmma_supports(p) || !p.wgmma_k_order || p.ldq != p.k_pad) return cudaErrorInvalidValue;
  if ((token_tile != 64 && token_tile != 128) || (blocks_per_sm != 1 && (blocks_per_sm != 2 || token_tile != 64)))
    return cudaErrorInvalidValue;
  if (consumers != 2 && (consumers != 3 || token_tile != 128 || p.groups != 1)) return cudaErrorInvalidValue;
  if (p.splits != 1 && (token_tile != 64 || p.splits < 1 || p.splits > p.k_pad / 128 ||
                        wgmma_splitk_tiles(p, p.splits) > p.splitk_capacity || !p.splitk_partials || !p.splitk_counters))
    return cudaErrorInvalidValue;
  // The activations as a 2-D tensor of bytes, [m][ldq]; boxes of 128 bytes x
  // the token tile, swizzled the way wgmma reads them.
  CUtensorMap map;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(p.ldq), static_cast<cuuint64_t>(p.m)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(p.ldq)};
  const cuuint32_t box[2] = {128, static_cast<cuuint32_t>(token_tile)};
  const cuuint32_t elem_strides[2] = {1, 1};
  const CUresult r = g_encode(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<int8_t*>(p.q), dims, strides, box,
                              elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                              CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) return cudaErrorInvalidValue;
  if (consumers == 3) return launch_zero_points<128, Promote::per_channel, 1, 3>(p, map, pdl, stream);
  if (token_tile == 128) return launch_schemes<128, 1>(p, map, pdl, stream);
  return blocks_per_sm == 2 ? launch_schemes<64, 2>(p, map, pdl, stream) : launch_schemes<64, 1>(p, map, pdl, stream);
}

}  // namespace w4a8::cuda
