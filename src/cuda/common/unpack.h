// How the GEMM kernels turn a lane's prepared weight words into the int8 A
// fragments of the MMA: plain integer code, compiled into the kernels and into
// the CPU tests that check it against the weights (tests/test_cuda_layout.cpp).
#pragma once

#include <cstdint>

#include "cuda/common/host_device.h"

namespace w4a8::cuda {

// lo, hi: a lane's two 32-bit words of one k32 step (weight_layout.h): low
// nibbles are rows gid, high nibbles rows gid + 8, each nibble the signed
// weight w & 0xF. Each byte comes out as 16 * w, a signed int8 - two
// instructions per four weights - so the MMA sums 16 * q * w.
W4A8_HOST_DEVICE void unpack_a_words(uint32_t lo, uint32_t hi, uint32_t (&a)[4]) {
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
// makes it the signed byte 8 (u - u_zp). c_lo / c_hi: rows gid / gid + 8.
W4A8_HOST_DEVICE uint32_t zero_point_bytes(int zs) { return static_cast<uint32_t>(64 - 8 * zs) * 0x01010101u; }
W4A8_HOST_DEVICE void unpack_a_words_zp(uint32_t lo, uint32_t hi, uint32_t c_lo, uint32_t c_hi, uint32_t (&a)[4]) {
  a[0] = ((((lo << 3) & 0x78787878u) ^ 0x40404040u) + c_lo) ^ 0x80808080u;
  a[1] = ((((lo >> 1) & 0x78787878u) ^ 0x40404040u) + c_hi) ^ 0x80808080u;
  a[2] = ((((hi << 3) & 0x78787878u) ^ 0x40404040u) + c_lo) ^ 0x80808080u;
  a[3] = ((((hi >> 1) & 0x78787878u) ^ 0x40404040u) + c_hi) ^ 0x80808080u;
}
inline constexpr float kUnpackScaleZp = 1.0f / 8.0f;  // undoes the 8 of unpack_a_words_zp

}  // namespace w4a8::cuda
