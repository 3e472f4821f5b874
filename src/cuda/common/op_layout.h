// The op path's weight repack as plain integer code: word `wi` of the
// prepared layout (weight_layout.h) from the op's packed B, for the GPU
// kernel (op_prepare.cu) and for the CPU test that checks it against the
// host twin repack_for_mma (tests/test_cuda_layout.cpp).
#pragma once

#include <cstdint>

#include "cuda/common/host_device.h"

namespace w4a8::cuda {

// B as the op takes it: the unsigned nibble u = w + 8 of (row, col) sits in
// word b[row * stride_n + (col / 8) * stride_kw] at bits 4 (col % 8).
W4A8_HOST_DEVICE int op_weight_nibble(const int32_t* b, int64_t stride_n, int64_t stride_kw, int row, int col) {
  return (b[row * stride_n + (col / 8) * stride_kw] >> (4 * (col % 8))) & 0xF;
}

// The 32-bit word `wi` of the prepared weights of an n x k layer (k_pad a
// multiple of 64): four bytes, low nibble row gid, high nibble row gid + 8,
// each the two's-complement nibble of w (u ^ 8); padding is w = 0.
W4A8_HOST_DEVICE uint32_t prepared_weight_word(const int32_t* b, int64_t stride_n, int64_t stride_kw, int n, int k,
                                               int k_pad, int64_t wi) {
  const int64_t lane16 = wi / 4;  // (tile * chunks + chunk) * 32 + lane
  const int word = static_cast<int>(wi % 4), step = word / 2, half = word % 2;
  const int lane = static_cast<int>(lane16 % 32);
  const int64_t tc = lane16 / 32;
  const int chunks = k_pad / 64;
  const int tile = static_cast<int>(tc / chunks), chunk = static_cast<int>(tc % chunks);
  const int row_lo = tile * 16 + lane / 4, row_hi = row_lo + 8;
  uint32_t out = 0;
  for (int byte = 0; byte < 4; ++byte) {
    const int col = chunk * 64 + step * 32 + 8 * (lane % 4) + 4 * half + byte;
    const int lo = row_lo < n && col < k ? op_weight_nibble(b, stride_n, stride_kw, row_lo, col) ^ 8 : 0;
    const int hi = row_hi < n && col < k ? op_weight_nibble(b, stride_n, stride_kw, row_hi, col) ^ 8 : 0;
    out |= static_cast<uint32_t>(lo | (hi << 4)) << (8 * byte);
  }
  return out;
}

}  // namespace w4a8::cuda
