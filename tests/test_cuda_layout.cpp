// The CUDA backend's weight layout, checked on the CPU: extract every MMA
// A fragment exactly as the kernels do (AND/shift of a lane's 16 bytes) and
// compare it with the weights at the k that the activations' 8-byte reads
// pair it with (weight_layout.h).
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "cuda/weight_layout.h"
#include "test_util.h"

using namespace w4a8;

TEST(CudaLayout, FragmentsHoldTheWeightsTheActivationsMeet) {
  std::mt19937 rng(41);
  for (auto [n, k] : {std::pair<int64_t, int64_t>{8, 32}, {24, 96}, {48, 256}, {16, 64}}) {
    auto w = test::random_int4(n * k, rng);
    auto packed = test::spec_pack(w, n, k);
    const auto bytes = cuda::repack_for_mma(packed.data(), n, k);
    const int64_t n_pad = cuda::round_up(n, 16), k_pad = cuda::round_up(k, 64);
    ASSERT_EQ(static_cast<int64_t>(bytes.size()), n_pad * k_pad / 2);
    // Each fragment byte is 16 * w as a signed int8 (0 for padding).
    auto u_at = [&](int64_t row, int64_t col) { return row < n && col < k ? (16 * w[row * k + col]) & 0xFF : 0; };
    for (int64_t tile = 0; tile < n_pad / 16; ++tile)
      for (int64_t chunk = 0; chunk < k_pad / 64; ++chunk)
        for (int lane = 0; lane < 32; ++lane) {
          uint32_t words[4];
          std::memcpy(words, &bytes[((tile * (k_pad / 64) + chunk) * 32 + lane) * 16], 16);
          const int gid = lane / 4, tig = lane % 4;
          for (int step = 0; step < 2; ++step) {
            // unpack_a_fragment: a0/a1 from word 2*step, a2/a3 from word 2*step+1.
            const uint32_t a[4] = {(words[2 * step] << 4) & 0xF0F0F0F0u, words[2 * step] & 0xF0F0F0F0u,
                                   (words[2 * step + 1] << 4) & 0xF0F0F0F0u, words[2 * step + 1] & 0xF0F0F0F0u};
            for (int b = 0; b < 4; ++b) {
              // The activation bytes b0 (first 4) and b1 (last 4) at k = 32*step + 8*tig of this chunk.
              const int64_t k_b0 = chunk * 64 + 32 * step + 8 * tig + b, k_b1 = k_b0 + 4;
              const int64_t row = tile * 16 + gid;
              ASSERT_EQ(static_cast<int>((a[0] >> (8 * b)) & 0xFF), u_at(row, k_b0));
              ASSERT_EQ(static_cast<int>((a[1] >> (8 * b)) & 0xFF), u_at(row + 8, k_b0));
              ASSERT_EQ(static_cast<int>((a[2] >> (8 * b)) & 0xFF), u_at(row, k_b1));
              ASSERT_EQ(static_cast<int>((a[3] >> (8 * b)) & 0xFF), u_at(row + 8, k_b1));
            }
          }
        }
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c) ASSERT_EQ(cuda::nibble_at(bytes, n_pad, k_pad, r, c), w[r * k + c] & 0xF);
  }
}
