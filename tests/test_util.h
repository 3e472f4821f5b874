// Helpers shared by the tests: random data and an independent fp64 evaluation
// of SPEC.md's formula, written from the spec and not from the library code.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "oracle/fp64_oracle.h"
#include "w4a8/w4a8.h"

namespace w4a8::test {

inline std::vector<int8_t> random_int4(int64_t count, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-8, 7);
  std::vector<int8_t> v(static_cast<size_t>(count));
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

inline std::vector<int8_t> random_int8(int64_t count, std::mt19937& rng, int lo = -128, int hi = 127) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<int8_t> v(static_cast<size_t>(count));
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

inline std::vector<float> random_floats(int64_t count, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(count));
  for (auto& x : v) x = d(rng);
  return v;
}

// Floats stored in `dtype` (f16/bf16/f32), as a Tensor [rows, cols].
inline Tensor to_tensor(const std::vector<float>& v, DType dtype, std::vector<int64_t> shape) {
  Tensor t(dtype, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) store_from_float(t.view(), static_cast<int64_t>(i), v[i]);
  return t;
}

inline std::vector<float> to_floats(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = load_as_float(t.view(), static_cast<int64_t>(i));
  return v;
}

using oracle::Oracle;
using oracle::relative_error;
using oracle::spec_pack;

}  // namespace w4a8::test
