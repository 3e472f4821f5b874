// The public int4 packing against hand-computed words.
#include <gtest/gtest.h>

#include <random>

#include "test_util.h"

using namespace w4a8;

TEST(Pack, HandComputedWords) {
  // Row 0: 0..7 -> u = 8..15 -> nibbles F,E,D,C,B,A,9,8 from high to low.
  // Row 1: -8..-1 -> u = 0..7 -> 0x76543210.
  const int8_t values[16] = {0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1};
  int32_t packed[2] = {};
  ASSERT_TRUE(pack_int4(TensorView(values, DType::i8, {2, 8}), TensorView(packed, DType::i32, {2, 1})).is_ok());
  EXPECT_EQ(static_cast<uint32_t>(packed[0]), 0xFEDCBA98u);  // wraps into the sign bit, as expected
  EXPECT_EQ(static_cast<uint32_t>(packed[1]), 0x76543210u);
  // All zeros pack to 0x88888888; value k at nibble i only.
  const int8_t zeros[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_TRUE(pack_int4(TensorView(zeros, DType::i8, {1, 8}), TensorView(packed, DType::i32, {1, 1})).is_ok());
  EXPECT_EQ(static_cast<uint32_t>(packed[0]), 0x88888888u);
  const int8_t one_hot[8] = {0, 0, -8, 0, 0, 0, 0, 7};
  ASSERT_TRUE(pack_int4(TensorView(one_hot, DType::i8, {1, 8}), TensorView(packed, DType::i32, {1, 1})).is_ok());
  EXPECT_EQ(static_cast<uint32_t>(packed[0]), 0xF8888088u);
}

TEST(Pack, ByteViewMatchesSpec) {
  // SPEC.md: nibble (n, k) lives in byte (n*K + k)/2, the low nibble when k is even.
  std::mt19937 rng(1);
  const int64_t n = 3, k = 32;
  auto v = test::random_int4(n * k, rng);
  std::vector<int32_t> p(static_cast<size_t>(n * k / 8));
  ASSERT_TRUE(pack_int4(TensorView(v.data(), DType::i8, {n, k}), TensorView(p.data(), DType::i32, {n, k / 8})).is_ok());
  const auto* bytes = reinterpret_cast<const uint8_t*>(p.data());  // little-endian host
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      const uint8_t byte = bytes[(r * k + c) / 2];
      const int nib = (c % 2 == 0) ? (byte & 0xF) : (byte >> 4);
      ASSERT_EQ(nib - 8, v[r * k + c]);
    }
  EXPECT_EQ(p, test::spec_pack(v, n, k));
}

TEST(Pack, RoundTripsRandomValues) {
  std::mt19937 rng(2);
  for (auto [n, k] : {std::pair<int64_t, int64_t>{1, 8}, {8, 64}, {17, 256}, {64, 4096}}) {
    auto v = test::random_int4(n * k, rng);
    std::vector<int32_t> p(static_cast<size_t>(n * k / 8));
    std::vector<int8_t> back(v.size(), 99);
    ASSERT_TRUE(pack_int4(TensorView(v.data(), DType::i8, {n, k}), TensorView(p.data(), DType::i32, {n, k / 8})).is_ok());
    ASSERT_TRUE(unpack_int4(TensorView(p.data(), DType::i32, {n, k / 8}), TensorView(back.data(), DType::i8, {n, k})).is_ok());
    EXPECT_EQ(v, back);
  }
}

TEST(Pack, RejectsOutOfRangeValuesWithoutWriting) {
  int8_t values[8] = {0, 1, 2, 8, 0, 0, 0, 0};
  int32_t packed[1] = {12345};
  const Status s = pack_int4(TensorView(values, DType::i8, {1, 8}), TensorView(packed, DType::i32, {1, 1}));
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_EQ(s.message(), "values: element [0, 3] = 8 is outside the int4 range -8..7");
  EXPECT_EQ(packed[0], 12345);
  values[3] = -9;
  EXPECT_FALSE(pack_int4(TensorView(values, DType::i8, {1, 8}), TensorView(packed, DType::i32, {1, 1})).is_ok());
}

TEST(Pack, RejectsBadShapesAndTypes) {
  int8_t values[16] = {};
  int32_t packed[2] = {};
  EXPECT_EQ(pack_int4(TensorView(values, DType::i8, {1, 12}), TensorView(packed, DType::i32, {1, 1})).message(),
            "K=12 is not a multiple of 8 (eight int4 values per int32 word)");
  EXPECT_EQ(pack_int4(TensorView(values, DType::i8, {2, 8}), TensorView(packed, DType::i32, {1, 2})).message(),
            "packed: expected shape [2, 1], got [1, 2]");
  EXPECT_EQ(pack_int4(TensorView(values, DType::u8, {2, 8}), TensorView(packed, DType::i32, {2, 1})).message(),
            "values: expected dtype i8, got u8");
  EXPECT_EQ(pack_int4(TensorView(nullptr, DType::i8, {2, 8}), TensorView(packed, DType::i32, {2, 1})).message(),
            "values: data pointer is null");
  EXPECT_EQ(pack_int4(TensorView(values, DType::i8, {2, 8}, {1, 2}), TensorView(packed, DType::i32, {2, 1})).message(),
            "values: must be contiguous, got strides that are not row-major for shape [2, 8]");
}

TEST(Pack, ZeroPointsPackAlongN) {
  // zp [G=1, N=8] = -8..-1 -> u = 0..7 -> 0x76543210
  const int8_t zp[8] = {-8, -7, -6, -5, -4, -3, -2, -1};
  int32_t packed[1] = {};
  ASSERT_TRUE(pack_int4_zero_points(TensorView(zp, DType::i8, {1, 8}), TensorView(packed, DType::i32, {1, 1})).is_ok());
  EXPECT_EQ(static_cast<uint32_t>(packed[0]), 0x76543210u);
  EXPECT_EQ(pack_int4_zero_points(TensorView(zp, DType::i8, {2, 4}), TensorView(packed, DType::i32, {2, 1})).message(),
            "N=4 is not a multiple of 8 (zero points are packed eight per int32 along N)");
}
