// The CUDA backend's private weight layout ("MMA-A fragment order").
//
// Weights are the A operand of mma.m16n8k32 (16 output channels x 32 inputs),
// tokens the B operand, so a handful of tokens still fills the n8 side. One
// lane's 16 bytes hold its whole A fragment for two k32 steps (one 64-input
// chunk); a warp's 512 bytes for one (16-channel tile, chunk) are contiguous:
//
//   bytes[((tile * chunks + chunk) * 32 + lane) * 16 + 4 * word + byte]
//   word = 2 * step + half (step: k32 step in the chunk, half: 0 for a0/a1, 1 for a2/a3)
//   k    = 64 * chunk + 32 * step + 8 * (lane % 4) + 4 * half + byte
//   low nibble  = w[16 * tile + lane / 4,     k] & 0xF   (w = u - 8, two's complement)
//   high nibble = w[16 * tile + lane / 4 + 8, k] & 0xF
//
// so `(word << 4) & 0xF0F0F0F0` is a0 (or a2) and `word & 0xF0F0F0F0` a1 (or
// a3): each byte is 16 * w exactly, a signed int8 - two instructions per four
// weights and no zero point for symmetric weights (the kernels divide by 16
// once, exactly, at the end). Inside each k32 step the order of k is permuted
// the same way for the activations: lane (gid, tig) reads the 8 contiguous
// activation bytes at k = 32 * step + 8 * tig, whose first 4 are b0 and last
// 4 b1. Asymmetric weights (zero point zp = u_zp - 8 != 0) subtract zp * sum(q)
// per group through the activations' group sums. N is padded to 16 and K to
// 64 with w = 0; padded activations are 0.
#pragma once

#include <cstdint>
#include <vector>

#include "core/quantized_weight.h"

namespace w4a8::cuda {

inline constexpr int kTileChannels = 16;  // m16 of the MMA
inline constexpr int kChunkK = 64;        // two k32 steps: one 16-byte load per lane
inline constexpr int kStepK = 32;

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Host twin of the layout: public packing [N, K/8] (u = w + 8) -> prepared bytes
// (round_up(N,16) * round_up(K,64) / 2 of them).
std::vector<uint8_t> repack_for_mma(const int32_t* packed, int64_t n, int64_t k);

// The nibble the layout stores for channel `row`, input `col` (w & 0xF; 0
// for padding): the inverse the tests use.
int nibble_at(const std::vector<uint8_t>& prepared, int64_t n_pad, int64_t k_pad, int64_t row, int64_t col);

}  // namespace w4a8::cuda
