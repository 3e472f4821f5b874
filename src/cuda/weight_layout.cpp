#include "cuda/weight_layout.h"

#include "core/int4.h"

namespace w4a8::cuda {

namespace {
// Byte offset and nibble shift of (row, col) in the prepared layout.
void locate(int64_t k_pad, int64_t row, int64_t col, int64_t* byte_offset, int* shift) {
  const int64_t chunks = k_pad / kChunkK;
  const int64_t tile = row / kTileChannels, r = row % kTileChannels;
  const int64_t chunk = col / kChunkK, kc = col % kChunkK;
  const int64_t step = kc / kStepK, ks = kc % kStepK;
  const int64_t tig = ks / 8, half = (ks % 8) / 4, byte = ks % 4;
  const int64_t lane = (r % 8) * 4 + tig;
  const int64_t word = 2 * step + half;
  *byte_offset = ((tile * chunks + chunk) * 32 + lane) * 16 + 4 * word + byte;
  *shift = r < 8 ? 0 : 4;
}
}  // namespace

std::vector<uint8_t> repack_for_mma(const int32_t* packed, int64_t n, int64_t k) {
  const int64_t n_pad = round_up(n, kTileChannels), k_pad = round_up(k, kChunkK);
  std::vector<uint8_t> out(static_cast<size_t>(n_pad * k_pad / 2), 0);  // padding: w = 0
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t col = 0; col < k; ++col) {
      // u ^ 8 == (u - 8) & 0xF: the two's-complement nibble of w.
      const int u = detail::nibble(packed[row * (k / 8) + col / 8], static_cast<int>(col % 8)) ^ detail::kInt4Offset;
      int64_t off;
      int shift;
      locate(k_pad, row, col, &off, &shift);
      out[off] = static_cast<uint8_t>((out[off] & ~(0xF << shift)) | (u << shift));
    }
  }
  return out;
}

int nibble_at(const std::vector<uint8_t>& prepared, int64_t /*n_pad*/, int64_t k_pad, int64_t row, int64_t col) {
  int64_t off;
  int shift;
  locate(k_pad, row, col, &off, &shift);
  return (prepared[off] >> shift) & 0xF;
}

}  // namespace w4a8::cuda
