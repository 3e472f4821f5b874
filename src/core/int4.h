// Nibble helpers for the public int4 layout (SPEC.md "Weight packing"): the
// only place that knows where nibble i of a packed word sits.
#pragma once

#include <cstdint>

namespace w4a8::detail {

inline constexpr int kNibblesPerWord = 8;
inline constexpr int kInt4Offset = 8;  // u = w + 8, the implied zero point

// Unsigned nibble i (0..7) of a packed word, 0..15.
inline int nibble(int32_t word, int i) { return (static_cast<uint32_t>(word) >> (4 * i)) & 0xF; }

// Packs eight unsigned nibbles (0..15) into one word, nibble i at bits 4i..4i+3.
inline int32_t pack_nibbles(const uint8_t u[kNibblesPerWord]) {
  uint32_t w = 0;
  for (int i = 0; i < kNibblesPerWord; ++i) w |= static_cast<uint32_t>(u[i] & 0xF) << (4 * i);
  return static_cast<int32_t>(w);
}

}  // namespace w4a8::detail
