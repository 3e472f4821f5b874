#include "cpu/x86/vnni_layout.h"

#include <cstddef>

#include "core/int4.h"

namespace w4a8::cpu {

std::vector<uint8_t> repack_for_vnni(const int32_t* packed, int64_t n, int64_t k) {
  const int64_t tiles = (n + kCpuTileChannels - 1) / kCpuTileChannels, octets = k / 8;
  std::vector<uint8_t> out(static_cast<size_t>(tiles * octets * 64), 0x88);  // padding: u = 8
  for (int64_t row = 0; row < n; ++row) {
    const int64_t t = row / kCpuTileChannels, c = row % kCpuTileChannels;
    for (int64_t j = 0; j < octets; ++j) {
      const int32_t word = packed[row * octets + j];  // inputs 8j..8j+7 of this channel
      uint8_t* block = out.data() + (t * octets + j) * 64;
      for (int i = 0; i < 4; ++i)
        block[4 * c + i] = static_cast<uint8_t>(detail::nibble(word, i) | (detail::nibble(word, i + 4) << 4));
    }
  }
  return out;
}

}  // namespace w4a8::cpu
