// The CUDA backend's weight layout, checked on the CPU: extract every MMA
// A fragment exactly as the kernels do (AND/shift of a lane's 16 bytes) and
// compare it with the weights at the k that the activations' 8-byte reads
// pair it with (weight_layout.h).
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "cuda/common/k_order.cuh"
#include "cuda/common/op_layout.h"
#include "cuda/common/unpack.h"
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
            // As the kernels do it (unpack_a_fragment): a0/a1 from word 2*step, a2/a3 from word 2*step+1.
            uint32_t a[4];
            cuda::unpack_a_words(words[2 * step], words[2 * step + 1], a);
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

// With zero points the sm_90a kernel builds the bytes 8 * (w - zp) instead
// (unpack_a_words_zp): for every weight and zero point, through the real
// repacking, each byte must be exactly that, signed.
TEST(CudaLayout, ZeroPointFragmentsHoldEightTimesWeightMinusZeroPoint) {
  std::mt19937 rng(42);
  const int64_t n = 32, k = 64;
  for (int round = 0; round < 8; ++round) {
    auto w = test::random_int4(n * k, rng);  // signed values -8..7 (the stored nibbles)
    if (round == 0)
      for (int64_t i = 0; i < n * k; ++i) w[i] = static_cast<int8_t>(i % 16 - 8);  // every value in every row
    const auto bytes = cuda::repack_for_mma(test::spec_pack(w, n, k).data(), n, k);
    auto zs = test::random_int4(n, rng);  // signed zero points u_zp - 8, one per row
    if (round == 0)
      for (int64_t r = 0; r < n; ++r) zs[r] = static_cast<int8_t>(r % 16 - 8);  // every zero point
    const int64_t k_pad = cuda::round_up(k, 64);
    for (int64_t tile = 0; tile < n / 16; ++tile)
      for (int lane = 0; lane < 32; ++lane) {
        uint32_t words[4];
        std::memcpy(words, &bytes[((tile * (k_pad / 64)) * 32 + lane) * 16], 16);
        const int gid = lane / 4, tig = lane % 4;
        const int64_t row_lo = tile * 16 + gid, row_hi = row_lo + 8;
        for (int step = 0; step < 2; ++step) {
          uint32_t a[4];
          cuda::unpack_a_words_zp(words[2 * step], words[2 * step + 1], cuda::zero_point_bytes(zs[row_lo]),
                                  cuda::zero_point_bytes(zs[row_hi]), a);
          for (int b = 0; b < 4; ++b) {
            const int64_t k_b0 = 32 * step + 8 * tig + b, k_b1 = k_b0 + 4;
            auto want = [&](int64_t row, int64_t col) { return 8 * (w[row * k + col] - zs[row]); };
            auto got = [&](int reg) { return static_cast<int>(static_cast<int8_t>((a[reg] >> (8 * b)) & 0xFF)); };
            ASSERT_EQ(got(0), want(row_lo, k_b0)) << "row " << row_lo << " k " << k_b0;
            ASSERT_EQ(got(1), want(row_hi, k_b0)) << "row " << row_hi << " k " << k_b0;
            ASSERT_EQ(got(2), want(row_lo, k_b1)) << "row " << row_lo << " k " << k_b1;
            ASSERT_EQ(got(3), want(row_hi, k_b1)) << "row " << row_hi << " k " << k_b1;
          }
        }
      }
  }
}

// The sm_90a kernel feeds the same prepared bytes to wgmma, which pairs a
// lane's A register bytes with B in its canonical order: the first register
// pair (a0/a1) with k = 4 tig + b of the k32 step, the second (a2/a3) with
// 16 + 4 tig + b. The quantizer puts input k at wgmma_k_position(k) for it;
// here every input is traced through the real repacking to the register byte
// that holds its weight, and that byte's canonical position must be where
// the activation of the same k was put.
TEST(CudaLayout, WgmmaKOrderPutsEachActivationWhereItsWeightIs) {
  const int64_t n = 16, k = 64;
  std::vector<int> seen(k, 0);
  for (int64_t col = 0; col < k; ++col) {
    std::vector<int8_t> w(n * k, 0);
    w[col] = 1;  // row 0 only: low nibbles of lanes 0..3
    const auto bytes = cuda::repack_for_mma(test::spec_pack(w, n, k).data(), n, k);
    int found = 0;
    for (int lane = 0; lane < 4; ++lane)
      for (int word = 0; word < 4; ++word)
        for (int b = 0; b < 4; ++b)
          if (bytes[lane * 16 + word * 4 + b] & 0x0F) {
            const int step = word / 2, half = word % 2, tig = lane % 4;
            const int canonical = 32 * step + 16 * half + 4 * tig + b;
            EXPECT_EQ(cuda::wgmma_k_position(static_cast<int>(col)), canonical) << "k=" << col;
            ++found;
          }
    ASSERT_EQ(found, 1) << "k=" << col;
    ++seen[cuda::wgmma_k_position(static_cast<int>(col))];
  }
  for (int64_t pos = 0; pos < k; ++pos) EXPECT_EQ(seen[pos], 1) << "position " << pos << " is not hit exactly once";
  EXPECT_EQ(cuda::wgmma_k_position(96 + 13), 96 + cuda::wgmma_k_position(13)) << "the permutation stays inside each 32";
}

// The op path repacks on the GPU (op_prepare.cu) with prepared_weight_word:
// word for word the host twin's bytes, from B in both layouts the op takes
// (the seed's w_packed.t() view and a contiguous [K/8, N]), padding included.
TEST(CudaLayout, DeviceRepackWordsEqualTheHostTwin) {
  std::mt19937 rng(42);
  for (auto [n, k] : {std::pair<int, int>{8, 32}, {24, 96}, {136, 512}, {16, 64}, {40, 200}}) {
    auto w = test::random_int4(int64_t{n} * k, rng);
    const auto packed = test::spec_pack(w, n, k);  // [N, K/8]
    const auto want = cuda::repack_for_mma(packed.data(), n, k);
    const int k_pad = static_cast<int>(cuda::round_up(k, 64)), n_pad = static_cast<int>(cuda::round_up(n, 16));
    std::vector<int32_t> transposed(packed.size());  // contiguous [K/8, N]
    for (int c = 0; c < n; ++c)
      for (int j = 0; j < k / 8; ++j) transposed[static_cast<size_t>(j) * n + c] = packed[static_cast<size_t>(c) * (k / 8) + j];
    for (int layout = 0; layout < 2; ++layout) {
      const int32_t* b = layout == 0 ? packed.data() : transposed.data();
      const int64_t stride_n = layout == 0 ? k / 8 : 1, stride_kw = layout == 0 ? 1 : n;
      for (int64_t wi = 0; wi < int64_t{n_pad} * k_pad / 8; ++wi) {
        uint32_t expect;
        std::memcpy(&expect, &want[static_cast<size_t>(wi) * 4], 4);
        ASSERT_EQ(cuda::prepared_weight_word(b, stride_n, stride_kw, n, k, k_pad, wi), expect)
            << "n=" << n << " k=" << k << " layout " << layout << " word " << wi;
      }
    }
  }
}
