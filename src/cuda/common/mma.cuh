// PTX wrappers shared by the CUDA kernels: the int8 MMA, cp.async and
// programmatic dependent launch. Each is one instruction with the constraint it needs.
#pragma once

#include <cstdint>

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

// The A fragment of k32 step `step` (0/1) from a lane's 16 prepared bytes:
// low nibbles are rows gid, high nibbles rows gid+8 (weight_layout.h). Each
// byte comes out as 16 * w, a signed int8, so the MMA sums 16 * q * w.
__device__ __forceinline__ void unpack_a_fragment(const uint4& w, int step, uint32_t (&a)[4]) {
  const uint32_t lo = step == 0 ? w.x : w.z;
  const uint32_t hi = step == 0 ? w.y : w.w;
  a[0] = (lo << 4) & 0xF0F0F0F0u;
  a[1] = lo & 0xF0F0F0F0u;
  a[2] = (hi << 4) & 0xF0F0F0F0u;
  a[3] = hi & 0xF0F0F0F0u;
}

// The MMAs sum 16 * q * w; this exact power of two undoes it once, at the end.
inline constexpr float kUnpackScale = 1.0f / 16.0f;

// The same fragment for weights with zero points, as bytes 8 * (w - zp):
// |w - zp| <= 15, so 8 * (w - zp) fits int8 and the zero point costs no
// correction after the MMA. From a nibble n (the signed s = u - 8, so the
// unsigned weight u = n ^ 8): ((n << 3) & 0x78) ^ 0x40 is the byte 8u; adding
// c = 64 - 8 * zs (zs = u_zp - 8, zero_point_bytes) gives 8u + 128 - 8 u_zp in
// [8, 248] - no carry between the four bytes of one 32-bit add - and ^ 0x80
// makes it the signed byte 8 (u - u_zp). The MMAs then sum 8 * q * (w - zp).
__device__ __forceinline__ uint32_t zero_point_bytes(int zs) { return static_cast<uint32_t>(64 - 8 * zs) * 0x01010101u; }
__device__ __forceinline__ void unpack_a_fragment_zp(const uint4& w, int step, uint32_t c_lo, uint32_t c_hi,
                                                     uint32_t (&a)[4]) {
  const uint32_t lo = step == 0 ? w.x : w.z;
  const uint32_t hi = step == 0 ? w.y : w.w;
  a[0] = ((((lo << 3) & 0x78787878u) ^ 0x40404040u) + c_lo) ^ 0x80808080u;
  a[1] = ((((lo >> 1) & 0x78787878u) ^ 0x40404040u) + c_hi) ^ 0x80808080u;
  a[2] = ((((hi << 3) & 0x78787878u) ^ 0x40404040u) + c_lo) ^ 0x80808080u;
  a[3] = ((((hi >> 1) & 0x78787878u) ^ 0x40404040u) + c_hi) ^ 0x80808080u;
}
inline constexpr float kUnpackScaleZp = 1.0f / 8.0f;  // undoes the 8 of unpack_a_fragment_zp

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
