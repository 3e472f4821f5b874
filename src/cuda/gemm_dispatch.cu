#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cuda/gemm_dispatch.cuh"
#include "cuda/common/decode_plan.h"
#include "cuda/common/launch.cuh"
#include "cuda/common/split_k.h"
#include "cuda/common/walk_grid.h"
#include "cuda/common/wgmma_tile.h"
#include "cuda/sm80/gemm_w4a8_decode.cuh"
#include "cuda/sm80/gemm_w4a8_gemv.cuh"
#include "cuda/sm80/gemm_w4a8_small_m.cuh"
#include "cuda/sm80/gemm_w4a8_tiled.cuh"
#include "cuda/sm90/gemm_w4a8_sm90.cuh"

namespace w4a8::cuda {

namespace {

// wgmma_64x2: the 64-token tile's variant of which two blocks share an SM;
// wgmma_128x3: the 128-token tile with three consumer warpgroups (per channel);
// decode: the one-kernel decode path (quantizes the tokens itself in forward);
// gemv: the lean weight stream for up to 32 tokens (sm80/gemm_w4a8_gemv.cuh;
// the dispatch gives it up to kGemvDispatchMaxTokens, 17-32 only when forced).
enum class Kernel { small_m, tiled_128x128, tiled_128x64, wgmma_64, wgmma_64x2, wgmma_128, wgmma_128x3, decode, gemv };

bool is_wgmma(Kernel k) {
  return k == Kernel::wgmma_64 || k == Kernel::wgmma_64x2 || k == Kernel::wgmma_128 || k == Kernel::wgmma_128x3;
}

// Largest M of the weight-streaming kernel (eight n8 token tiles). H100
// (docs/experiments/2026-11-25-h100-dispatch-m32-64.md): at M = 64 the 128x128 tiled kernel took 77 us on
// 4096x4096 (32 blocks for 132 SMs), the streaming kernel 39 us.
constexpr int kSmallMMaxTokens = 64;
// Largest M the default dispatch gives gemv (see choose()).
constexpr int kGemvDispatchMaxTokens = 16;
// Streaming kernel, split-K warps x ring depth: 8 x 4 on every shape. H100
// sweep at M = 1 / 16 / 32 (docs/experiments/2026-11-25-h100-small-m-changes.md), 8x4 against 8x8 and 4x16:
// 28672x4096 M=1 35.3 / 38.8 / 44.3 us, 10240x8192 M=1 28.7 / 31.0 / 31.0 us,
// 4096x4096 M=16 12.2 / 12.5 / 16.9 us - best or tied everywhere.
constexpr int kDefaultSmallConfig = 2;  // 8x4

using Large = TiledConfig<2, 4, 4, 4>;  // 128 x 128, 8 warps of 64 x 32, one block per SM
using Small = TiledConfig<4, 2, 2, 4>;  // 128 x 64, 8 warps of 32 x 32, two blocks per SM
#define W4A8_TILED_LARGE gemm_w4a8_tiled<2, 4, 4, 4, 1>
#define W4A8_TILED_SMALL gemm_w4a8_tiled<4, 2, 2, 4, 2>

int g_sms = 132;
int g_forced = -1;       // a Kernel, or -1
int g_small_config = -1;  // W4A8_CUDA_SMALL_M=8x8|4x16|8x4 (split-K warps x ring depth), or -1
// Pairs of chunks the gemv kernel keeps in flight per warp (W4A8_CUDA_GEMV_PAIRS=2|4).
// H100, 2026-12-07, group 128, us (2 vs 4): M = 1 28672x4096 23.4 vs 24.1,
// 8192x28672 50.8 vs 51.6, 4096x4096 6.6 vs 6.6, 10240x8192 18.8 vs 18.0;
// M = 8 25.2 vs 26.6, 53.2 vs 54.3, 7.5 vs 8.1, 20.1 vs 19.9. Within 5 %;
// four stays the default because it is the variant the GPU tests have run.
int g_gemv_pairs = 4;
bool g_pdl = false;  // programmatic dependent launch (sm_90+)
bool g_wgmma = false;  // the sm_90a kernel runs here
int g_forced_splits = 0;  // W4A8_CUDA_SPLITK=N: the 64-token wgmma tile's K splits (1: none), or 0: chosen
int g_decode_max_cluster = 1;  // 8 where the GPU has thread-block clusters (sm_90+)
long g_decode_smem = 0;        // dynamic shared memory a decode block may take
int g_decode_cluster = 0;      // W4A8_CUDA_DECODE_CLUSTER=N: the decode kernel's K split, or 0: planned
// W4A8_CUDA_DECODE_MAX_M: the decode kernel for every M up to this; -1 (the
// default) keeps the measured rule of decode_wins.
int g_decode_max_tokens = -1;

int g_decode_blocks_per_sm = 2;  // the plan's target (W4A8_CUDA_DECODE_BLOCKS_PER_SM)

DecodePlan decode_plan(const GemmParams& p) {
  return plan_decode(p.m, p.n_pad, p.k_pad, static_cast<long>(g_decode_blocks_per_sm) * g_sms, g_decode_max_cluster,
                     g_decode_smem, g_decode_cluster);
}

// Where the one-launch decode kernel beats the quantizer + small_m pair.
// H100, 2026-12-07, group 128, quantization included, us (small_m vs decode
// with its planned cluster):
//   M = 1: 8192x28672 75.5 vs 70.0 (c8); 10240x8192 27.5 vs 25.9 (c4);
//          4096x14336 26.2 vs 23.4 (c8); 28672x4096 35.1 vs 40.3 (c2);
//          6144x4096 11.1 vs 19.4 (c8); 4096x4096 9.1 vs 11.0 (c8).
//   M = 4: small_m wins on every shape (8192x28672 75.8 vs 80.3,
//          4096x14336 26.7 vs 27.0); M = 16 and 32: by 1.3-3x.
// So: one token and K of at least 8192, where the K split keeps enough
// blocks streaming and the saved quantizer launch shows. Measured before the
// gemv kernel, which now takes these layers where its preconditions hold
// (gemv_supports); the rule stays for the rest (groups of 32 or 64).
bool decode_wins(const GemmParams& p) { return p.m == 1 && p.k_pad >= 8192; }

// K splits for the 64-token wgmma tile, given room for `capacity` partial
// tiles (common/split_k.h).
int splits_for(const GemmParams& p, long capacity) {
  return choose_splits(wgmma_splitk_tiles(p, 1), p.k_pad / 128, g_sms, capacity, g_forced_splits);
}

template <typename Kernel>
void launch(Kernel kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, const GemmParams& p) {
  launch_kernel(kernel, grid, block, smem, stream, g_pdl, p);  // errors: cudaGetLastError at the end
}

// The forced kernel where it can take p, else the nearest that can.
Kernel fit(Kernel k, const GemmParams& p) {
  const bool wgmma_ok = g_wgmma && wgmma_supports(p);
  if (is_wgmma(k) && !wgmma_ok) return Kernel::tiled_128x64;
  if (k == Kernel::wgmma_128x3 && p.groups != 1) return Kernel::wgmma_128;  // per channel only
  if (k == Kernel::small_m && p.m > kSmallMMaxTokens) return Kernel::tiled_128x64;
  if (k == Kernel::decode && decode_plan(p).cluster == 0) return fit(Kernel::small_m, p);
  if (k == Kernel::gemv && !gemv_supports(p)) return fit(Kernel::small_m, p);
  return k;
}

Kernel choose(const GemmParams& p) {
  if (g_forced >= 0) return fit(static_cast<Kernel>(g_forced), p);
  if (g_decode_max_tokens >= 0 && p.m <= g_decode_max_tokens && decode_plan(p).cluster > 0) return Kernel::decode;
  // Up to 16 tokens the lean stream beats the decode kernel, small_m and the
  // wgmma tile on every layer measured (H100, group 128, quantization
  // included, us, gemv vs the former choice). 2026-12-07: M = 1 28672x4096
  // 24.1 vs 30.9 (small_m), 8192x28672 51.6 vs 64.9 (decode/c8), 4096x4096
  // 6.6 vs 8.2, 10240x8192 18.0 vs 23.1 (decode/c4); M = 8 26.6 vs 32.4,
  // 54.3 vs 64.4, 8.1 vs 8.7, 19.9 vs 26.4 (small_m). 2026-12-08, M = 16
  // (two token tiles): 6144x4096 11.9 vs 12.4, 4096x4096 10.5 vs 11.1,
  // 28672x4096 34.9 vs 38.7 (small_m), 4096x14336 24.1 vs 28.3 (wgmma_64/k4),
  // 10240x8192 26.1 vs 35.0 (small_m), 8192x28672 77.0 vs 82.7 (wgmma_64/k2).
  // From 17 tokens (four token tiles) it loses on five of six: M = 32
  // 28672x4096 54.0 vs 33.8 (wgmma_64x2), 8192x28672 101.5 vs 84.0 - each
  // 16-channel tile re-reads all M token rows from L2.
  if (p.m <= kGemvDispatchMaxTokens && gemv_supports(p)) return Kernel::gemv;
  if (g_decode_max_tokens < 0 && decode_wins(p) && decode_plan(p).cluster > 0) return Kernel::decode;
  if (g_wgmma && wgmma_supports(p)) {
    // Hopper: common/wgmma_tile.h holds the rules and their measurements.
    const long k = static_cast<long>(p.groups) * p.group_size;
    switch (choose_wgmma_tile(p.m, (p.n_pad + 127) / 128, k, g_sms, gemm_splitk_scratch_tiles(p) > 0)) {
      case WgmmaTile::tokens64: return Kernel::wgmma_64;
      case WgmmaTile::tokens64_two_per_sm: return Kernel::wgmma_64x2;
      case WgmmaTile::tokens128:
        return p.groups == 1 && per_channel_three_consumer_groups(p.m, p.n_pad, g_sms) ? Kernel::wgmma_128x3
                                                                                        : Kernel::wgmma_128;
      case WgmmaTile::none: break;
    }
  }
  if (p.m <= kSmallMMaxTokens) {
    // The 128x64 tile (one block per 128 channels) beats streaming once it
    // has blocks enough. H100, 2026-11-25, group 128, small_m vs 128x64 (us):
    // M = 32: 28672x4096 (224 blocks) 68.1 vs 60.0; 10240x8192 (80) 54.7 vs
    //   77.1; 8192x28672 (64) 125.2 vs 254.3.
    // M = 48: 28672x4096 90.6 vs 60.1; 10240x8192 69.3 vs 76.5.
    // M = 64 (streaming needs 8 token tiles, and slows): 10240x8192 104.5 vs
    //   76.8; 8192x28672 286.0 vs 251.0; 6144x4096 (48 blocks) 39.2 vs 41.3;
    //   4096x4096 (32) 27.7 vs 41.1; 4096x14336 (32) 81.6 vs 129.1.
    const long blocks = (p.n_pad + Small::kBlockN - 1) / Small::kBlockN;
    if (p.m >= 32 && blocks >= g_sms) return Kernel::tiled_128x64;
    // Two blocks fit per SM: 7/8 of one such wave is enough past 48 tokens.
    if (p.m > 48 && 2 * blocks >= g_sms - g_sms / 8) return Kernel::tiled_128x64;
    return Kernel::small_m;
  }
  // The 128x128 tile once it fills two waves; before that the 128x64 tile
  // (twice the blocks, two per SM).
  const long blocks = static_cast<long>((p.n_pad + Large::kBlockN - 1) / Large::kBlockN) *
                      ((p.m + Large::kBlockM - 1) / Large::kBlockM);
  return blocks >= 2L * g_sms ? Kernel::tiled_128x128 : Kernel::tiled_128x64;
}

template <int kTilesM>
void launch_small(const GemmParams& p, cudaStream_t stream) {
  const dim3 grid(p.n_pad / 16);
  const int config = g_small_config >= 0 ? g_small_config : kDefaultSmallConfig;
  switch (config) {
    case 1: launch(gemm_w4a8_small_m<kTilesM, 4, 16>, grid, dim3(32 * 4), 0, stream, p); break;
    case 2: launch(gemm_w4a8_small_m<kTilesM, 8, 4>, grid, dim3(32 * 8), 0, stream, p); break;
    default: launch(gemm_w4a8_small_m<kTilesM, 8, 8>, grid, dim3(32 * 8), 0, stream, p); break;
  }
}

// The lean stream on a grid of whole waves (common/walk_grid.h), the blocks an
// SM holds asked once per variant.
template <int kTilesM, bool kZp, int kPairs>
void launch_gemv_variant(const GemmParams& p, cudaStream_t stream) {
  const auto kernel = gemm_w4a8_gemv<kTilesM, kZp, kPairs>;
  static const int per_sm = [&] {
    int n = 0;
    return cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, 32 * kGemvWarps, 0) == cudaSuccess ? n : 0;
  }();
  const dim3 grid(static_cast<unsigned>(walk_grid(p.n_pad / 16, static_cast<long>(per_sm) * g_sms)));
  launch(kernel, grid, dim3(32 * kGemvWarps), 0, stream, p);
}

template <int kTilesM, bool kZp>
void launch_gemv_tiles(const GemmParams& p, cudaStream_t stream) {
  // Four token tiles' partial sums leave room for two pairs in the 48 KiB of static shared memory.
  if constexpr (kTilesM == 4) {
    launch_gemv_variant<kTilesM, kZp, 2>(p, stream);
  } else {
    if (g_gemv_pairs == 2)
      launch_gemv_variant<kTilesM, kZp, 2>(p, stream);
    else
      launch_gemv_variant<kTilesM, kZp, 4>(p, stream);
  }
}

template <bool kZp>
void launch_gemv(const GemmParams& p, cudaStream_t stream) {
  if (p.m <= 8)
    launch_gemv_tiles<1, kZp>(p, stream);
  else if (p.m <= 16)
    launch_gemv_tiles<2, kZp>(p, stream);
  else
    launch_gemv_tiles<4, kZp>(p, stream);
}

#define W4A8_DECODE_VARIANTS(X) X(1, false) X(2, false) X(4, false) X(1, true) X(2, true) X(4, true)

cudaError_t launch_decode(const GemmParams& p, const TokenInput& in, cudaStream_t stream) {
  const DecodePlan plan = decode_plan(p);
  if (plan.cluster == 0) return cudaErrorInvalidValue;
  DecodeParams d;
  d.g = p;
  d.in = in;
  d.cluster = plan.cluster;
  d.slice_chunks = plan.slice_chunks;
  const int tiles = decode_token_tiles(p.m);
  const bool zp = p.w_zp != nullptr;
  const size_t smem = static_cast<size_t>(decode_smem_bytes(tiles, plan.slice_chunks));
  const dim3 grid(static_cast<unsigned>(plan.blocks)), block(32 * kDecodeWarps);
#define W4A8_DECODE_LAUNCH(T, Z)                                                                              \
  if (tiles == T && zp == Z)                                                                                  \
    return launch_kernel_in_clusters(gemm_w4a8_decode<T, Z>, grid, block, smem, stream, g_pdl, plan.cluster, d);
  W4A8_DECODE_VARIANTS(W4A8_DECODE_LAUNCH)
#undef W4A8_DECODE_LAUNCH
  return cudaErrorInvalidValue;
}

// Raises each decode variant's shared-memory limit to what the GPU allows.
cudaError_t configure_decode_kernels(int dev, int major) {
  int optin = 0;
  cudaError_t e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
  g_decode_max_cluster = major >= 9 ? kDecodeMaxCluster : 1;
  g_decode_smem = optin - 4096;  // the kernel's static shared memory (DecodeTokens) stays below 4 KiB
#define W4A8_DECODE_ATTR(T, Z)                                                                                   \
  if (e == cudaSuccess)                                                                                          \
    e = cudaFuncSetAttribute(gemm_w4a8_decode<T, Z>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(g_decode_smem));
  W4A8_DECODE_VARIANTS(W4A8_DECODE_ATTR)
#undef W4A8_DECODE_ATTR
  if (const char* f = std::getenv("W4A8_CUDA_DECODE_CLUSTER")) g_decode_cluster = std::max(0, std::atoi(f));
  if (const char* f = std::getenv("W4A8_CUDA_DECODE_MAX_M")) g_decode_max_tokens = std::atoi(f);
  if (const char* f = std::getenv("W4A8_CUDA_DECODE_BLOCKS_PER_SM")) g_decode_blocks_per_sm = std::max(1, std::atoi(f));
  return e;
}

}  // namespace

cudaError_t configure_gemm_kernels() {
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&g_sms, cudaDevAttrMultiProcessorCount, dev);
  int major = 0;
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  g_pdl = major >= 9 && !std::getenv("W4A8_CUDA_NO_PDL");
  if (e == cudaSuccess) e = configure_wgmma_kernels(&g_wgmma);
  if (e == cudaSuccess) e = configure_decode_kernels(dev, major);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(W4A8_TILED_LARGE, cudaFuncAttributeMaxDynamicSharedMemorySize, Large::kSmemBytes);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(W4A8_TILED_SMALL, cudaFuncAttributeMaxDynamicSharedMemorySize, Small::kSmemBytes);
  if (const char* f = std::getenv("W4A8_CUDA_SMALL_M")) {
    if (!std::strcmp(f, "8x8")) g_small_config = 0;
    if (!std::strcmp(f, "4x16")) g_small_config = 1;
    if (!std::strcmp(f, "8x4")) g_small_config = 2;
  }
  if (const char* f = std::getenv("W4A8_CUDA_GEMV_PAIRS")) g_gemv_pairs = std::atoi(f) == 2 ? 2 : 4;
  if (const char* f = std::getenv("W4A8_CUDA_SPLITK")) g_forced_splits = std::max(0, std::atoi(f));
  if (const char* f = std::getenv("W4A8_CUDA_GEMM")) {
    if (!std::strcmp(f, "small_m")) g_forced = static_cast<int>(Kernel::small_m);
    if (!std::strcmp(f, "tiled_128x128")) g_forced = static_cast<int>(Kernel::tiled_128x128);
    if (!std::strcmp(f, "tiled_128x64")) g_forced = static_cast<int>(Kernel::tiled_128x64);
    if (!std::strcmp(f, "wgmma_64")) g_forced = static_cast<int>(Kernel::wgmma_64);
    if (!std::strcmp(f, "wgmma_64x2")) g_forced = static_cast<int>(Kernel::wgmma_64x2);
    if (!std::strcmp(f, "wgmma_128")) g_forced = static_cast<int>(Kernel::wgmma_128);
    if (!std::strcmp(f, "wgmma_128x3")) g_forced = static_cast<int>(Kernel::wgmma_128x3);
    if (!std::strcmp(f, "decode")) g_forced = static_cast<int>(Kernel::decode);
    if (!std::strcmp(f, "gemv")) g_forced = static_cast<int>(Kernel::gemv);
  }
  return e;
}

std::string gemm_kernel_name(const GemmParams& p) {
  const Kernel k = choose(p);
  switch (k) {
    case Kernel::small_m: return "small_m";
    case Kernel::tiled_128x128: return "tiled_128x128";
    case Kernel::tiled_128x64: return "tiled_128x64";
    case Kernel::wgmma_64:
    case Kernel::wgmma_64x2: {
      const std::string name = k == Kernel::wgmma_64 ? "wgmma_64" : "wgmma_64x2";
      const int s = splits_for(p, gemm_splitk_scratch_tiles(p));
      return s > 1 ? name + "/k" + std::to_string(s) : name;
    }
    case Kernel::wgmma_128: return "wgmma_128";
    case Kernel::wgmma_128x3: return "wgmma_128x3";
    case Kernel::decode: {
      const int c = decode_plan(p).cluster;
      return c > 1 ? "decode/c" + std::to_string(c) : "decode";
    }
    case Kernel::gemv: return "gemv";
  }
  return "?";
}

long gemm_splitk_scratch_tiles(const GemmParams& p) {
  if (!g_wgmma || !wgmma_supports(p)) return 0;
  return splitk_scratch_tiles((p.n_pad + 127) / 128, p.k_pad / 128, g_sms);
}

bool gemm_wants_wgmma_k_order(const GemmParams& p) {
  return is_wgmma(choose(p));
}

cudaError_t launch_gemm_w4a8(const GemmParams& p, cudaStream_t stream) {
  if (p.m == 0) return cudaSuccess;
  const Kernel k = choose(p);
  // The activations must have been written for the kernel that runs.
  if (p.wgmma_k_order != is_wgmma(k)) return cudaErrorInvalidValue;
  switch (k) {
    case Kernel::wgmma_64:
    case Kernel::wgmma_64x2: {
      GemmParams q = p;
      q.splits = p.splitk_partials ? splits_for(p, p.splitk_capacity) : 1;
      return launch_gemm_w4a8_wgmma(q, 64, k == Kernel::wgmma_64x2 ? 2 : 1, 2, g_pdl, stream);
    }
    case Kernel::wgmma_128: return launch_gemm_w4a8_wgmma(p, 128, 1, 2, g_pdl, stream);
    case Kernel::wgmma_128x3: return launch_gemm_w4a8_wgmma(p, 128, 1, 3, g_pdl, stream);
    case Kernel::decode: return launch_decode(p, TokenInput{}, stream);
    case Kernel::gemv:
      if (p.w_zp)
        launch_gemv<true>(p, stream);
      else
        launch_gemv<false>(p, stream);
      break;
    case Kernel::small_m:
      switch ((p.m + 7) / 8) {
        case 1: launch_small<1>(p, stream); break;
        case 2: launch_small<2>(p, stream); break;
        case 3: launch_small<3>(p, stream); break;
        case 4: launch_small<4>(p, stream); break;
        case 5:
        case 6: launch_small<6>(p, stream); break;
        default: launch_small<8>(p, stream); break;
      }
      break;
    case Kernel::tiled_128x128: {
      const dim3 grid((p.n_pad + Large::kBlockN - 1) / Large::kBlockN, (p.m + Large::kBlockM - 1) / Large::kBlockM);
      launch(W4A8_TILED_LARGE, grid, dim3(Large::kThreads), Large::kSmemBytes, stream, p);
      break;
    }
    case Kernel::tiled_128x64: {
      const dim3 grid((p.n_pad + Small::kBlockN - 1) / Small::kBlockN, (p.m + Small::kBlockM - 1) / Small::kBlockM);
      launch(W4A8_TILED_SMALL, grid, dim3(Small::kThreads), Small::kSmemBytes, stream, p);
      break;
    }
  }
  return cudaGetLastError();
}

bool gemm_quantizes_tokens(const GemmParams& p, const TokenInput& in) {
  const auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  const long row_bytes = static_cast<long>(p.groups) * p.group_size * static_cast<long>(dtype_size(in.dtype));
  return p.m > 0 && choose(p) == Kernel::decode && in.x && aligned(in.x) && aligned(in.perm) && row_bytes % 16 == 0;
}

cudaError_t launch_gemm_w4a8_quantizing(const GemmParams& p, const TokenInput& in, cudaStream_t stream) {
  if (!gemm_quantizes_tokens(p, in)) return cudaErrorInvalidValue;
  const cudaError_t e = launch_decode(p, in, stream);
  return e != cudaSuccess ? e : cudaGetLastError();
}

}  // namespace w4a8::cuda
