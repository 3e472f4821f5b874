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

// Builds `w` on every backend available here (the GPU ones included when a
// GPU is present) and checks each forward against the reference backend's.
inline void expect_every_backend_runs(const LinearWeights& w, DType act, int64_t tokens, uint32_t seed) {
  LinearOptions ref_opt;
  ref_opt.backend = "reference";
  ref_opt.act_type = act;
  auto ref = W4A8Linear::create(w, ref_opt);
  ASSERT_TRUE(ref.is_ok()) << ref.status().to_string();
  std::mt19937 rng(seed);
  const int64_t k = ref->in_features(), n = ref->out_features();
  Tensor x(act, {tokens, k});
  for (int64_t i = 0; i < tokens * k; ++i) store_from_float(x.view(), i, random_floats(1, rng, -1.0f, 2.0f)[0]);
  auto want = ref->forward(x.view());
  ASSERT_TRUE(want.is_ok()) << want.status().to_string();
  double den = 0;
  for (int64_t i = 0; i < tokens * n; ++i) den += std::pow(load_as_float(want->view(), i), 2);
  int ran = 0;
  for (const BackendInfo& b : list_backends()) {
    if (!b.available || b.name == "reference") continue;
    SCOPED_TRACE("backend " + b.name);
    LinearOptions opt;
    opt.backend = b.name;
    opt.act_type = act;
    auto lin = W4A8Linear::create(w, opt);
    ASSERT_TRUE(lin.is_ok()) << lin.status().to_string();
    Tensor xd = x.to(lin->device()).value();
    Tensor yd = Tensor::empty(act, {tokens, n}, lin->device()).value();
    ASSERT_TRUE(lin->forward(xd.view(), yd.view()).is_ok());
    ASSERT_TRUE(lin->poll_errors().is_ok());
    const Tensor y = yd.to(Device::cpu()).value();
    double num = 0;
    for (int64_t i = 0; i < tokens * n; ++i)
      num += std::pow(load_as_float(y.view(), i) - load_as_float(want->view(), i), 2);
    // The same integers; fp32 sums in another order and output roundings only.
    EXPECT_LT(std::sqrt(num / std::max(den, 1e-30)), act == DType::bf16 ? 8e-3 : 2e-3);
    ++ran;
  }
  EXPECT_GE(ran, 1) << "the cpu backend is always available";
}

using oracle::Oracle;
using oracle::relative_error;
using oracle::spec_pack;

}  // namespace w4a8::test
