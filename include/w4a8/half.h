// Exact fp16 / bf16 <-> fp32 conversion (round to nearest, ties to even;
// NaN stays NaN with its payload, Inf stays Inf). Plain integer code, so the
// result is the same on every machine and every compiler.
#pragma once

#include <cstdint>

namespace w4a8 {

uint16_t float_to_half_bits(float f);
float half_bits_to_float(uint16_t h);
uint16_t float_to_bf16_bits(float f);
float bf16_bits_to_float(uint16_t b);

// Storage types: 16 bits, no arithmetic, explicit conversion only.
struct Half {
  uint16_t bits = 0;
  static Half from_float(float f) { return Half{float_to_half_bits(f)}; }
  float to_float() const { return half_bits_to_float(bits); }
};
struct BFloat16 {
  uint16_t bits = 0;
  static BFloat16 from_float(float f) { return BFloat16{float_to_bf16_bits(f)}; }
  float to_float() const { return bf16_bits_to_float(bits); }
};
static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2);

}  // namespace w4a8
