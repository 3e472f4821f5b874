#include "micro/stream_read.h"

#include <cstdint>

#include "cuda/common/mma.cuh"
#include "micro/warp_chunks.cuh"
#include "cuda/sm90/hopper_ptx.cuh"
#include "micro/device_arch.h"

namespace w4a8::bench {

namespace {

constexpr int kChunkWords = 32;  // a 512-byte chunk: one 16-byte word per lane

__device__ __forceinline__ unsigned fold(const uint4& v) { return v.x ^ v.y ^ v.z ^ v.w; }

// small_m's way: each lane keeps kDepth 16-byte cp.async copies in flight in
// its own ring slots (kDepth + 1 of them, so a refill never races a read).
template <int kWarps, int kDepth, int kUnit>
__global__ void __launch_bounds__(32 * kWarps) ring_read(const uint4* buf, int chunks, unsigned* sink) {
  __shared__ uint4 ring[kWarps][kDepth + 1][kChunkWords];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const uint4* base = buf + static_cast<size_t>(blockIdx.x) * chunks * kChunkWords + lane;
  const WarpChunks<kUnit> seq(warp, kWarps, chunks);
  for (int i = 0; i < kDepth; ++i) {
    const int c = seq.at(i);
    if (c >= 0) cuda::cp_async_16(&ring[warp][i][lane], base + static_cast<size_t>(c) * kChunkWords, 16);
    cuda::cp_async_commit();
  }
  unsigned x = 0;
  for (int j = 0; seq.at(j) >= 0; ++j) {
    cuda::cp_async_wait<kDepth - 1>();
    const uint4 v = ring[warp][j % (kDepth + 1)][lane];
    const int c = seq.at(j + kDepth);
    if (c >= 0)
      cuda::cp_async_16(&ring[warp][(j + kDepth) % (kDepth + 1)][lane], base + static_cast<size_t>(c) * kChunkWords, 16);
    cuda::cp_async_commit();
    x ^= fold(v);
  }
  cuda::cp_async_wait<0>();
  if (x == 0x9E3779B9u) *sink = x;
}

// Plain streaming loads into registers, kDepth per lane in flight.
template <int kWarps, int kDepth, int kUnit>
__global__ void __launch_bounds__(32 * kWarps) regs_read(const uint4* buf, int chunks, unsigned* sink) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const uint4* base = buf + static_cast<size_t>(blockIdx.x) * chunks * kChunkWords + lane;
  const WarpChunks<kUnit> seq(warp, kWarps, chunks);
  auto load = [&](int j) {
    const int c = seq.at(j);
    return c >= 0 ? __ldcs(base + static_cast<size_t>(c) * kChunkWords) : make_uint4(0, 0, 0, 0);
  };
  uint4 v[kDepth];
#pragma unroll
  for (int i = 0; i < kDepth; ++i) v[i] = load(i);
  unsigned x = 0;
  for (int j = 0; seq.at(j) >= 0; j += kDepth) {
#pragma unroll
    for (int i = 0; i < kDepth; ++i) {
      x ^= fold(v[i]);
      v[i] = load(j + i + kDepth);
    }
  }
  if (x == 0x9E3779B9u) *sink = x;
}

// Per-warp bulk copies (the TMA engine, sm_90): lane 0 keeps kStages copies
// of kStageChunks contiguous chunks in flight, each completing on its own
// mbarrier; the warp reads a stage back from shared memory, then lane 0
// refills it. kUnit is 0 (contiguous slices) or kStageChunks.
template <int kWarps, int kStageChunks, int kStages, int kUnit>
__global__ void __launch_bounds__(32 * kWarps) bulk_read(const uint4* buf, int chunks, unsigned* sink) {
  static_assert(kUnit == 0 || kUnit == kStageChunks, "a stage must be contiguous");
#if W4A8_SM90A
  extern __shared__ __align__(128) uint4 dyn[];
  __shared__ __align__(8) uint64_t bars[kWarps][kStages];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  uint4* ring = dyn + static_cast<size_t>(warp) * kStages * kStageChunks * kChunkWords;
  const uint4* tile = buf + static_cast<size_t>(blockIdx.x) * chunks * kChunkWords;
  const WarpChunks<kUnit> seq(warp, kWarps, chunks);
  auto stage_chunks = [&](int first) { return min(kStageChunks, seq.end(first) - first); };
  auto issue = [&](int st) {
    const int first = seq.at(st * kStageChunks);
    if (first < 0) return;
    const uint32_t bytes = static_cast<uint32_t>(stage_chunks(first)) * 512u;
    uint64_t* bar = &bars[warp][st % kStages];
    cuda::sm90::mbar_arrive_expect_tx(bar, bytes);
    cuda::sm90::bulk_copy_g2s(ring + (st % kStages) * kStageChunks * kChunkWords,
                              tile + static_cast<size_t>(first) * kChunkWords, bytes, bar);
  };
  if (lane == 0) {
    for (int i = 0; i < kStages; ++i) cuda::sm90::mbar_init(&bars[warp][i], 1);
    cuda::sm90::mbar_fence_init();
    for (int i = 0; i < kStages; ++i) issue(i);
  }
  __syncwarp();
  unsigned x = 0;
  for (int st = 0; seq.at(st * kStageChunks) >= 0; ++st) {
    cuda::sm90::mbar_wait(&bars[warp][st % kStages], (st / kStages) & 1);
    const int n = stage_chunks(seq.at(st * kStageChunks));
    const uint4* slot = ring + (st % kStages) * kStageChunks * kChunkWords + lane;
    for (int i = 0; i < n; ++i) x ^= fold(slot[i * kChunkWords]);
    __syncwarp();
    if (lane == 0) {
      cuda::sm90::fence_proxy_async_smem();
      issue(st + kStages);
    }
  }
  if (x == 0x9E3779B9u) *sink = x;
#else
  (void)buf, (void)chunks, (void)sink;
#endif
}

// small_m's ring (8 warps, 4 chunks in flight a lane, contiguous K slices,
// M = 1) plus its per-chunk work up to kWork: 1 the unpack into A
// fragments, 2 the two m16n8k32 MMAs (B fixed), 3 B from the token row in
// memory, two chunks ahead as small_m loads it, 4 the group-128 promotion
// with the scales loaded one group ahead, 5 small_m's end: the warps'
// partial sums meet in shared memory and the block writes its 16 outputs.
template <int kWork>
__global__ void __launch_bounds__(256) work_read(const uint4* buf, int chunks, unsigned* sink, StreamExtras ex) {
  constexpr int kWarps = 8, kDepth = 4;
  __shared__ uint4 ring[kWarps][kDepth + 1][kChunkWords];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gid = lane / 4, tig = lane % 4;
  const uint4* base = buf + static_cast<size_t>(blockIdx.x) * chunks * kChunkWords + lane;
  const WarpChunks<0> seq(warp, kWarps, chunks);
  for (int i = 0; i < kDepth; ++i) {
    const int c = seq.at(i);
    if (c >= 0) cuda::cp_async_16(&ring[warp][i][lane], base + static_cast<size_t>(c) * kChunkWords, 16);
    cuda::cp_async_commit();
  }
  const int n_pad = gridDim.x * 16, ch_lo = blockIdx.x * 16 + gid;
  auto load_b = [&](int c, uint2 (&b)[2]) {
    b[0] = b[1] = make_uint2(0, 0);
    if (c >= 0 && gid == 0) {
      b[0] = __ldg(reinterpret_cast<const uint2*>(ex.q + c * 64 + tig * 8));
      b[1] = __ldg(reinterpret_cast<const uint2*>(ex.q + c * 64 + 32 + tig * 8));
    }
  };
  float s_lo = 0.0f, s_hi = 0.0f;
  auto load_scales = [&](int group) {
    if (group * 2 >= chunks) return;
    s_lo = __ldg(ex.scales + static_cast<size_t>(group) * n_pad + ch_lo);
    s_hi = __ldg(ex.scales + static_cast<size_t>(group) * n_pad + ch_lo + 8);
  };
  if constexpr (kWork >= 4) load_scales(seq.at(0) / 2);
  uint2 bring[2][2] = {};
  if constexpr (kWork >= 3) load_b(seq.at(0), bring[0]), load_b(seq.at(1), bring[1]);
  unsigned x = 0;
  int32_t acc[4] = {0, 0, 0, 0};
  float facc[4] = {0, 0, 0, 0};
  // One chunk; br: its B fragments (two buffers, so that no register array
  // is indexed at run time), refilled for the chunk two ahead.
  auto chunk = [&](int j, uint2 (&br)[2]) {
    cuda::cp_async_wait<kDepth - 1>();
    const uint4 v = ring[warp][j % (kDepth + 1)][lane];
    const int c = seq.at(j), next = seq.at(j + kDepth);
    if (next >= 0)
      cuda::cp_async_16(&ring[warp][(j + kDepth) % (kDepth + 1)][lane], base + static_cast<size_t>(next) * kChunkWords, 16);
    cuda::cp_async_commit();
    if constexpr (kWork == 0) {
      x ^= fold(v);
    } else {
#pragma unroll
      for (int s = 0; s < 2; ++s) {
        uint32_t a[4];
        cuda::unpack_a_fragment(v, s, a);
        if constexpr (kWork == 1) {
          x ^= a[0] ^ a[1] ^ a[2] ^ a[3];
        } else {
          uint32_t b[2] = {0x01010101u * (lane + 1), 0x02020202u};
          if constexpr (kWork >= 3) b[0] = br[s].x, b[1] = br[s].y;
          cuda::mma_s8_16832(acc, a, b);
        }
      }
      if constexpr (kWork >= 3) load_b(seq.at(j + 2), br);
      if constexpr (kWork >= 4) {
        if (c % 2 == 1 || seq.at(j + 1) < 0) {  // a group of 128 ends
          facc[0] += s_lo * static_cast<float>(acc[0]);
          facc[1] += s_lo * static_cast<float>(acc[1]);
          facc[2] += s_hi * static_cast<float>(acc[2]);
          facc[3] += s_hi * static_cast<float>(acc[3]);
          acc[0] = acc[1] = acc[2] = acc[3] = 0;
          load_scales(c / 2 + 1);
        }
      }
    }
  };
  for (int j = 0; seq.at(j) >= 0; j += 2) {
    chunk(j, bring[0]);
    if (seq.at(j + 1) >= 0) chunk(j + 1, bring[1]);
  }
  cuda::cp_async_wait<0>();
  if constexpr (kWork >= 5) {
    __syncthreads();  // the ring's shared memory takes the partial sums, as in small_m
    auto partial = reinterpret_cast<float(*)[32][4]>(&ring[0][0][0]);
#pragma unroll
    for (int r = 0; r < 4; ++r) partial[warp][lane][r] = facc[r];
    __syncthreads();
    if (threadIdx.x < 16) {  // channel r16 of the tile, token 0: lane (r16 % 8) * 4, reg 0 or 2
      const int r16 = threadIdx.x;
      float v = 0.0f;
#pragma unroll
      for (int w2 = 0; w2 < kWarps; ++w2) v += partial[w2][(r16 % 8) * 4][r16 < 8 ? 0 : 2];
      ex.out[blockIdx.x * 16 + r16] = v;
    }
    return;
  }
  x ^= static_cast<unsigned>(acc[0] ^ acc[1] ^ acc[2] ^ acc[3]);
  x ^= __float_as_uint(facc[0] + facc[1] + facc[2] + facc[3]);
  if (x == 0x9E3779B9u) *sink = x;
}

using ReadKernel = void (*)(const uint4*, int, unsigned*);
using WorkKernel = void (*)(const uint4*, int, unsigned*, StreamExtras);

struct Entry {
  StreamPattern pattern;
  ReadKernel kernel;
  size_t dynamic_smem;
  WorkKernel work_kernel = nullptr;
};
template <int kWork>
Entry work(const char* name) {
  StreamPattern p{name, 8, 4, 0, 3, 1};
  p.work = kWork;
  return {p, nullptr, 0, work_read<kWork>};
}

template <int W, int D, int U>
Entry ring(const char* name) { return {{name, W, D, U, 0, 1}, ring_read<W, D, U>, 0}; }
template <int W, int D, int U>
Entry regs(const char* name) { return {{name, W, D, U, 1, 1}, regs_read<W, D, U>, 0}; }
template <int W, int S, int R, int U>
Entry bulk(const char* name) {
  return {{name, W, R, U, 2, S}, bulk_read<W, S, R, U>, static_cast<size_t>(W) * R * S * 512};
}

const std::vector<Entry>& entries() {
  static const std::vector<Entry> all = {
      ring<8, 4, 0>("ring w8 d4 slice (small_m, long K)"),
      ring<4, 16, 0>("ring w4 d16 slice (small_m, M=1)"),
      ring<8, 4, 2>("ring w8 d4 unit2"),
      ring<8, 8, 2>("ring w8 d8 unit2"),
      ring<8, 8, 8>("ring w8 d8 unit8"),
      regs<8, 4, 0>("regs w8 d4 slice"),
      regs<8, 8, 0>("regs w8 d8 slice"),
      regs<8, 8, 2>("regs w8 d8 unit2"),
      regs<4, 16, 4>("regs w4 d16 unit4"),
      bulk<4, 8, 4, 0>("bulk w4 s8x4 slice"),
      bulk<8, 4, 4, 0>("bulk w8 s4x4 slice"),
      bulk<8, 4, 4, 4>("bulk w8 s4x4 unit4"),
      bulk<4, 16, 3, 0>("bulk w4 s16x3 slice"),
      bulk<2, 16, 4, 0>("bulk w2 s16x4 slice"),
      work<0>("work 0: ring w8 d4 slice"),
      work<1>("work 1: + unpack"),
      work<2>("work 2: + 2 MMAs"),
      work<3>("work 3: + token fragments"),
      work<4>("work 4: + promotion"),
      work<5>("work 5: + block reduction and store"),
  };
  return all;
}

const Entry* find(const StreamPattern& p) {
  for (const auto& e : entries())
    if (e.pattern.name == p.name) return &e;
  return nullptr;
}

}  // namespace

std::vector<StreamPattern> stream_patterns() {
  std::vector<StreamPattern> v;
  for (const auto& e : entries()) v.push_back(e.pattern);
  return v;
}

int stream_pattern_blocks_per_sm(const StreamPattern& p) {
  const Entry* e = find(p);
  if (!e) return 0;
  if (e->dynamic_smem > 0 &&
      cudaFuncSetAttribute(e->kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(e->dynamic_smem)) !=
          cudaSuccess)
    return 0;
  int blocks = 0;
  const cudaError_t err =
      e->work_kernel ? cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, e->work_kernel, 32 * p.warps, 0)
                     : cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, e->kernel, 32 * p.warps, e->dynamic_smem);
  return err == cudaSuccess ? blocks : 0;
}

cudaError_t launch_stream_read(const StreamPattern& p, const void* buf, int tiles, int chunks, unsigned* sink,
                               cudaStream_t stream, const StreamExtras& extras) {
  const Entry* e = find(p);
  if (!e) return cudaErrorInvalidValue;
  if (e->work_kernel) {
    if (p.work >= 3 && !extras.q) return cudaErrorInvalidValue;
    if (p.work >= 4 && !extras.scales) return cudaErrorInvalidValue;
    if (p.work >= 5 && !extras.out) return cudaErrorInvalidValue;
    e->work_kernel<<<static_cast<unsigned>(tiles), 32 * p.warps, 0, stream>>>(static_cast<const uint4*>(buf), chunks,
                                                                              sink, extras);
    return cudaGetLastError();
  }
  if (p.kind == 2) {
    if (!current_device_is_sm90()) return cudaErrorNotSupported;
  }
  e->kernel<<<static_cast<unsigned>(tiles), 32 * p.warps, e->dynamic_smem, stream>>>(static_cast<const uint4*>(buf),
                                                                                      chunks, sink);
  return cudaGetLastError();
}

}  // namespace w4a8::bench
