// The CPU fast path's private weight layout, shared by the generic kernel and
// the AVX-512 VNNI kernel. `vpdpbusd` multiplies 64 unsigned bytes by 64 signed
// bytes and adds each group of four products into one of 16 int32 lanes, so a
// 64-byte block holds 16 output channels x 4 inputs per register:
//
//   block (tile t, octet j) = 64 bytes, byte 4*c + i:
//     low nibble  = u[16t + c, 8j + i]       (i = 0..3; u = w + 8, unsigned)
//     high nibble = u[16t + c, 8j + 4 + i]
//   blocks ordered [tile][octet]: a thread streams one tile's K linearly.
//
// `block & 0x0F` gives inputs 8j..8j+3 of all 16 channels, `(block >> 4) &
// 0x0F` inputs 8j+4..8j+7. The weights are unsigned, the activations signed;
// the zero point (8, or per group) comes back as zp * sum(q) per group.
// N is padded to 16 with u = 8 (w = 0).
#pragma once

#include <cstdint>
#include <vector>

namespace w4a8::cpu {

inline constexpr int kCpuTileChannels = 16;

// Where the scale (and zero point) of channel c, group g sits in the kernels'
// tile-major arrays [tiles][groups][16]: a tile's values are contiguous, so
// they stream beside its weights instead of one cache line per group.
inline int64_t tile_major_index(int64_t g, int64_t c, int64_t groups) {
  return ((c / kCpuTileChannels) * groups + g) * kCpuTileChannels + c % kCpuTileChannels;
}

// Public packing [N, K/8] -> the layout above (round_up(N,16) * K / 2 bytes).
std::vector<uint8_t> repack_for_vnni(const int32_t* packed, int64_t n, int64_t k);

}  // namespace w4a8::cpu
