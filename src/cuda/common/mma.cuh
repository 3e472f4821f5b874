// PTX wrappers shared by the CUDA kernels: the int8 MMA, cp.async and
// programmatic dependent launch. Each is one instruction with the constraint it needs.
// Also the uint4 forms of unpack.h's A-fragment builders.
#pragma once

#include <cstdint>

#include "cuda/common/unpack.h"

namespace w4a8::cuda {

// D = A * B + D for one m16n8k32 tile, s8 x s8 -> s32 (sm_80+).
// a: A fragment (weights), b: B fragment (tokens), d: C/D fragment.
__device__ __forceinline__ void mma_s8_16832(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Where element (row r16, column col) of an m16n8 accumulator tile sits: in
// lane (r16 % 8) * 4 + col / 2, register (r16 < 8 ? 0 : 2) + col % 2 (c0/c1
// hold rows gid, c2/c3 rows gid + 8; columns tig * 2 + {0, 1}). The kernels'
// write-backs read their partial sums from shared memory by this.
struct AccumulatorSlot {
  int lane, reg;
};
__device__ __forceinline__ AccumulatorSlot accumulator_slot(int r16, int col) {
  return {(r16 % 8) * 4 + col / 2, (r16 < 8 ? 0 : 2) + col % 2};
}

// The A fragment of k32 step `step` (0/1) from a lane's 16 prepared bytes
// (unpack.h: 16 * w per byte, or 8 * (w - zp) with zero points).
__device__ __forceinline__ void unpack_a_fragment(const uint4& w, int step, uint32_t (&a)[4]) {
  unpack_a_words(step == 0 ? w.x : w.z, step == 0 ? w.y : w.w, a);
}
__device__ __forceinline__ void unpack_a_fragment_zp(const uint4& w, int step, uint32_t c_lo, uint32_t c_hi,
                                                     uint32_t (&a)[4]) {
  unpack_a_words_zp(step == 0 ? w.x : w.z, step == 0 ? w.y : w.w, c_lo, c_hi, a);
}

// cp.async of 16 bytes; src_bytes = 0 zero-fills the destination.
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, int src_bytes) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

// An L2 policy that evicts its lines first, for the weights: read once per
// call, they should not push out what is read again (scales, tokens).
__device__ __forceinline__ uint64_t l2_evict_first_policy() {
  uint64_t policy;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(policy));
  return policy;
}
// cp.async of 16 bytes under an L2 policy.
__device__ __forceinline__ void cp_async_16_hint(void* smem, const void* gmem, uint64_t policy) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "l"(policy));
}

// Programmatic dependent launch (sm_90): the producer lets its dependent grid
// start early; the dependent waits for the producer's completion (and its
// memory) only where it first reads the producer's output. No-ops elsewhere.
__device__ __forceinline__ void allow_dependent_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::);
#endif
}
__device__ __forceinline__ void wait_for_producer() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

}  // namespace w4a8::cuda
