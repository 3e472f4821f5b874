// fp16/bf16 conversion: every one of the 65,536 bit patterns, plus the
// rounding of every midpoint between neighbours.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "w4a8/half.h"

using namespace w4a8;

namespace {
bool half_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }
bool bf16_is_nan(uint16_t b) { return (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0; }

// Value of a half pattern computed from the IEEE definition in double.
double half_value(uint16_t h) {
  const int sign = (h & 0x8000) ? -1 : 1;
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  if (exp == 0) return sign * std::ldexp(mant, -24);
  if (exp == 31) return mant ? NAN : sign * INFINITY;
  return sign * std::ldexp(1024 + mant, exp - 25);
}
}  // namespace

TEST(Half, AllPatternsDecodeToTheirIeeeValueAndRoundTrip) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float f = half_bits_to_float(h);
    if (half_is_nan(h)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << h;
      const uint16_t back = float_to_half_bits(f);
      ASSERT_TRUE(half_is_nan(back)) << std::hex << h;
      ASSERT_EQ(back & 0x8000, h & 0x8000);
      ASSERT_EQ(back & 0x1ff, h & 0x1ff) << "payload kept";
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), half_value(h)) << std::hex << h;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0);
    ASSERT_EQ(float_to_half_bits(f), h) << std::hex << h;
  }
}

TEST(Half, MidpointsRoundToEvenAndNeighboursToNearest) {
  for (uint32_t i = 0; i < 0x7c00; ++i) {  // positive finite halves
    const uint16_t h = static_cast<uint16_t>(i);
    const double lo = half_value(h), hi = (h == 0x7bff) ? 65536.0 : half_value(static_cast<uint16_t>(h + 1));
    const float mid = static_cast<float>((lo + hi) / 2);  // exact in float
    ASSERT_EQ(static_cast<double>(mid), (lo + hi) / 2);
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : h;
    ASSERT_EQ(float_to_half_bits(mid), even) << std::hex << h;
    ASSERT_EQ(float_to_half_bits(-mid), even | 0x8000) << std::hex << h;
    ASSERT_EQ(float_to_half_bits(std::nextafter(mid, 0.0f)), h) << std::hex << h;
    ASSERT_EQ(float_to_half_bits(std::nextafter(mid, INFINITY)), static_cast<uint16_t>(h + 1)) << std::hex << h;
  }
}

TEST(Half, SpecialValues) {
  EXPECT_EQ(float_to_half_bits(0.0f), 0x0000);
  EXPECT_EQ(float_to_half_bits(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half_bits(INFINITY), 0x7c00);
  EXPECT_EQ(float_to_half_bits(-INFINITY), 0xfc00);
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(65519.99f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7c00);  // the tie rounds to even = Inf
  EXPECT_EQ(float_to_half_bits(1e30f), 0x7c00);
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -25)), 0x0000);  // tie to even zero
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(float_to_half_bits(1e-30f), 0x0000);
  EXPECT_EQ(float_to_half_bits(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half_bits(-2.0f), 0xc000);
  EXPECT_TRUE(half_is_nan(float_to_half_bits(NAN)));
}

#if defined(__FLT16_MAX__) && defined(__x86_64__)
// Independent oracle: the compiler's own _Float16 conversion (IEEE, RNE).
TEST(Half, AgreesWithCompilerFloat16OnASweepOfFloats) {
  for (uint64_t bits = 0; bits <= 0xffffffffull; bits += 4093) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(bits));
    if (std::isnan(f)) continue;
    const _Float16 h = static_cast<_Float16>(f);
    uint16_t want;
    std::memcpy(&want, &h, 2);
    ASSERT_EQ(float_to_half_bits(f), want) << std::hex << bits;
  }
}
#endif

TEST(BFloat16, AllPatternsRoundTripAndMidpointsRoundToEven) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t b = static_cast<uint16_t>(i);
    const float f = bf16_bits_to_float(b);
    ASSERT_EQ(std::bit_cast<uint32_t>(f), static_cast<uint32_t>(b) << 16);
    if (bf16_is_nan(b)) {
      const uint16_t back = float_to_bf16_bits(f);
      ASSERT_TRUE(bf16_is_nan(back));
      ASSERT_EQ(back & 0x8000, b & 0x8000);
      continue;
    }
    ASSERT_EQ(float_to_bf16_bits(f), b);
    if ((b & 0x7fff) >= 0x7f80) continue;  // Inf: no midpoint above
    const uint32_t base = static_cast<uint32_t>(b) << 16;
    const uint16_t even = (b & 1) ? static_cast<uint16_t>(b + 1) : b;
    ASSERT_EQ(float_to_bf16_bits(std::bit_cast<float>(base | 0x8000u)), even) << std::hex << b;
    ASSERT_EQ(float_to_bf16_bits(std::bit_cast<float>(base | 0x7fffu)), b) << std::hex << b;
    ASSERT_EQ(float_to_bf16_bits(std::bit_cast<float>(base | 0x8001u)), static_cast<uint16_t>(b + 1)) << std::hex << b;
  }
  EXPECT_EQ(float_to_bf16_bits(3.4e38f), 0x7f80);  // rounds past the largest finite bf16
  EXPECT_TRUE(bf16_is_nan(float_to_bf16_bits(NAN)));
  EXPECT_TRUE(bf16_is_nan(float_to_bf16_bits(std::bit_cast<float>(0x7f800001u))));  // low-payload NaN stays NaN
}
