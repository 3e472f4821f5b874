#include "micro/wgmma_rate.h"

#include <cstdint>

#include "cuda/common/mma.cuh"
#include "cuda/sm90/gemm_w4a8_wgmma.cuh"
#include "micro/device_arch.h"

namespace w4a8::bench {

namespace {

template <int kTokens, int kKind, int kConsumers>
__global__ void __launch_bounds__(128 * kConsumers, 1) wgmma_rate(int stages, unsigned* sink) {
#if W4A8_SM90A
  using namespace cuda::sm90;
  constexpr int kAcc = kTokens / 2;
  // The tokens of one stage: kTokens rows of 128 bytes in the 128-byte swizzle
  // (zeros: the tensor cores' rate does not depend on the values).
  __shared__ __align__(1024) uint8_t tokens[kTokens * 128];
  for (int i = threadIdx.x; i < kTokens * 128 / 16; i += blockDim.x) reinterpret_cast<uint4*>(tokens)[i] = make_uint4(0, 0, 0, 0);
  __syncthreads();
  const uint32_t b_base = smem_addr(tokens);
  const uint64_t desc[4] = {sw128_kmajor_desc(b_base), sw128_kmajor_desc(b_base + 32), sw128_kmajor_desc(b_base + 64),
                            sw128_kmajor_desc(b_base + 96)};
  const uint32_t seed = threadIdx.x * 0x9E3779B9u;
  uint32_t a0[4][4], a1[4][4];
#pragma unroll
  for (int s = 0; s < 4; ++s)
#pragma unroll
    for (int r = 0; r < 4; ++r) a0[s][r] = seed ^ (s * 4 + r), a1[s][r] = seed + (s * 4 + r);
  const uint4 words = make_uint4(seed, seed >> 3, seed >> 7, seed >> 11);
  int32_t acc[kAcc];
  float facc[kAcc];
#pragma unroll
  for (int i = 0; i < kAcc; ++i) acc[i] = 0, facc[i] = 0.0f;
  const float s_lo = 0.5f, s_hi = 0.25f;
  if constexpr (kKind == 0) {
    // One stage in flight; the stages alternate between two fragment sets.
    wgmma_fence();
    wgmma_s8_x4<kTokens>(acc, a0, desc, 1);
    wgmma_commit();
    for (int i = 1; i < stages; ++i) {
      wgmma_fence();
      if (i % 2) wgmma_s8_x4<kTokens>(acc, a1, desc, 1);
      else wgmma_s8_x4<kTokens>(acc, a0, desc, 1);
      wgmma_commit();
      wgmma_wait<1>();
      if (i % 2) keep_alive(a0);
      else keep_alive(a1);
    }
    wgmma_wait<0>();
    keep_alive(a0);
    keep_alive(a1);
  } else if constexpr (kKind == 4) {
    // Two sum sets: stage i's wgmmas go into one while stage i - 1's sums,
    // in the other, are promoted (wait<1>): the promotion off the tensor
    // pipe's chain, at the price of a second set of registers.
    int32_t acc1[kAcc];
    wgmma_fence();
    wgmma_s8_x4<kTokens>(acc, a0, desc, 0);
    wgmma_commit();
    for (int i = 1; i < stages; ++i) {
      wgmma_fence();
      if (i % 2) wgmma_s8_x4<kTokens>(acc1, a1, desc, 0);
      else wgmma_s8_x4<kTokens>(acc, a0, desc, 0);
      wgmma_commit();
      wgmma_wait<1>();
      if (i % 2) {
        keep_alive(a0);
        fence_accumulators(acc);
        promote_group(acc, s_lo, s_hi, facc);
      } else {
        keep_alive(a1);
        fence_accumulators(acc1);
        promote_group(acc1, s_lo, s_hi, facc);
      }
    }
    wgmma_wait<0>();
    keep_alive(a0);
    keep_alive(a1);
    fence_accumulators(acc);
    fence_accumulators(acc1);
#pragma unroll
    for (int i = 0; i < kAcc; ++i) acc[i] ^= acc1[i];
  } else {
    for (int i = 0; i < stages; ++i) {
      if constexpr (kKind == 3) {
        // A from prepared words, as the kernel builds it each stage.
#pragma unroll
        for (int s = 0; s < 4; ++s) {
          uint4 w = words;
          w.x += i, w.z ^= s;
          cuda::unpack_a_fragment(w, s % 2, a0[s]);
        }
      }
      wgmma_fence();
      wgmma_s8_x4<kTokens>(acc, a0, desc, kKind >= 2 ? 0 : 1);
      wgmma_commit();
      wgmma_wait<0>();
      keep_alive(a0);
      fence_accumulators(acc);
      if constexpr (kKind == 5) {
        // A cost probe, not arithmetic: one FMA per sum (what an fp32
        // accumulator's promotion costs), against the exact integer
        // promotion's three instructions.
#pragma unroll
        for (int j = 0; j < kAcc; ++j) facc[j] = fmaf(j % 4 < 2 ? s_lo : s_hi, __int_as_float(acc[j]), facc[j]);
      } else if constexpr (kKind >= 2) {
        promote_group(acc, s_lo, s_hi, facc);
      }
    }
  }
  unsigned x = 0;
#pragma unroll
  for (int i = 0; i < kAcc; ++i) x ^= static_cast<unsigned>(acc[i]) ^ __float_as_uint(facc[i]);
  if (x == 0x9E3779B9u) *sink = x;
#else
  (void)stages, (void)sink;
#endif
}

using RateKernel = void (*)(int, unsigned*);
struct Entry {
  WgmmaRateCase c;
  RateKernel kernel;
};

template <int T, int K, int C>
Entry entry(const char* name) { return {{name, T, K, C}, wgmma_rate<T, K, C>}; }

const std::vector<Entry>& entries() {
  static const std::vector<Entry> all = {
      entry<64, 0, 2>("n64 2wg in-flight"),   entry<64, 1, 2>("n64 2wg wait"),
      entry<64, 2, 2>("n64 2wg promote"),     entry<64, 3, 2>("n64 2wg promote+unpack"),
      entry<128, 0, 2>("n128 2wg in-flight"), entry<128, 1, 2>("n128 2wg wait"),
      entry<128, 2, 2>("n128 2wg promote"),   entry<128, 3, 2>("n128 2wg promote+unpack"),
      entry<128, 2, 3>("n128 3wg promote"),   entry<64, 2, 4>("n64 4wg promote"),
      entry<64, 4, 2>("n64 2wg promote-overlap"), entry<128, 4, 2>("n128 2wg promote-overlap"),
      entry<64, 5, 2>("n64 2wg fma-only"),    entry<128, 5, 2>("n128 2wg fma-only"),
  };
  return all;
}

}  // namespace

std::vector<WgmmaRateCase> wgmma_rate_cases() {
  std::vector<WgmmaRateCase> v;
  for (const auto& e : entries()) v.push_back(e.c);
  return v;
}

cudaError_t launch_wgmma_rate(const WgmmaRateCase& c, int blocks, int stages, unsigned* sink, cudaStream_t stream) {
  if (!current_device_is_sm90()) return cudaErrorNotSupported;
  for (const auto& e : entries()) {
    if (e.c.name != c.name) continue;
    e.kernel<<<static_cast<unsigned>(blocks), 128 * c.consumers, 0, stream>>>(stages, sink);
    return cudaGetLastError();
  }
  return cudaErrorInvalidValue;
}

}  // namespace w4a8::bench
