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
//   low nibble  = u[16 * tile + lane / 4,     k]
//   high nibble = u[16 * tile + lane / 4 + 8, k]
//
// so `word & 0x0F0F0F0F` is a0 (or a2) and `(word >> 4) & 0x0F0F0F0F` a1 (or
// a3). Inside each k32 step the order of k is permuted the same way for the
// activations: lane (gid, tig) reads the 8 contiguous activation bytes at
// k = 32 * step + 8 * tig, whose first 4 are b0 and last 4 b1. u = w + 8 is
// unsigned (0..15, exact in s8); the weight zero point (8, or per group) is
// subtracted through the activations' per-group sums. N is padded to 16 and
// K to 64 with u = 8; padded activations are 0.
#pragma once

#include <cstdint>
#include <vector>

#include "core/quantized_weight.h"

namespace w4a8::cuda {

inline constexpr int kTileChannels = 16;  // m16 of the MMA
inline constexpr int kChunkK = 64;        // two k32 steps: one 16-byte load per lane
inline constexpr int kStepK = 32;

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Host twin of the layout: public packing [N, K/8] -> prepared bytes
// (round_up(N,16) * round_up(K,64) / 2 of them).
std::vector<uint8_t> repack_for_mma(const int32_t* packed, int64_t n, int64_t k);

// The unsigned nibble the layout stores for channel `row`, input `col`
// (8 for padding): the inverse the tests use.
int nibble_at(const std::vector<uint8_t>& prepared, int64_t n_pad, int64_t k_pad, int64_t row, int64_t col);

}  // namespace w4a8::cuda
