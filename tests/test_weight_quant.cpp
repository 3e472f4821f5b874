// Float -> int4 weight quantization (compressed-tensors' round-to-nearest rule).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "test_util.h"
#include "w4a8/io.h"

using namespace w4a8;

namespace {
struct Out {
  std::vector<int8_t> v;
  std::vector<float> s;
  std::vector<int8_t> zp;
};
Result<Out> run(const std::vector<float>& w, DType wt, DType st, int64_t n, int64_t k, int64_t group, bool sym) {
  Tensor wtens = test::to_tensor(w, wt, {n, k});
  const int64_t g = group == -1 ? 1 : k / group;
  Tensor v(DType::i8, {n, k}), s(st, {n, g}), z(DType::i8, {n, g});
  WeightQuantOptions o;
  o.group_size = group;
  o.symmetric = sym;
  W4A8_RETURN_IF_ERROR(quantize_weights_int4(wtens.view(), v.view(), s.view(), sym ? TensorView() : z.view(), o));
  Out out;
  out.v.assign(v.data_as<int8_t>(), v.data_as<int8_t>() + n * k);
  out.s = test::to_floats(s);
  out.zp.assign(z.data_as<int8_t>(), z.data_as<int8_t>() + n * g);
  return out;
}
}  // namespace

TEST(WeightQuant, SymmetricHandComputed) {
  // Group 0: amax 7.5 -> scale 1; 7.5 clamps to 7; -3.75 -> -4 (3.75 rounds to 4).
  // Group 1: amax 15 (negative) -> scale 2; -15/2 = -7.5 -> -8 (ties to even); 3/2 = 1.5 -> 2.
  auto r = run({7.5f, -3.75f, 0, 1, 2.5f, 0.5f, -0.5f, 0,  //
                -15, 3, 1, 0, 0, 0, 0, 0},
               DType::f32, DType::f32, 1, 16, 8, true);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->s, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(r->v, (std::vector<int8_t>{7, -4, 0, 1, 2, 0, 0, 0, -8, 2, 0, 0, 0, 0, 0, 0}));
}

TEST(WeightQuant, ZeroGroupGetsTheSmallestScale) {
  auto r = run(std::vector<float>(32, 0.0f), DType::f16, DType::f16, 1, 32, 32, true);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->s[0], 0x1p-23f);  // fp32's epsilon, an fp16 subnormal held exactly
  for (int8_t v : r->v) EXPECT_EQ(v, 0);
}

TEST(WeightQuant, AsymmetricHandComputed) {
  // min -1, max 2: scale 3/15 = 0.2, zp = -8 - round(-5) = -3, value = round(w/0.2 - 3).
  auto r = run({-1, 2, 1, 0, 0, 0, 0, 0}, DType::f32, DType::f32, 1, 8, -1, false);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->s[0], 3.0f / 15.0f);
  EXPECT_EQ(r->zp[0], -3);
  EXPECT_EQ(r->v, (std::vector<int8_t>{-8, 7, 2, -3, -3, -3, -3, -3}));
}

TEST(WeightQuant, ErrorIsAtMostHalfAScaleStep) {
  std::mt19937 rng(31);
  for (bool sym : {true, false}) {
    for (int64_t group : {-1, 32, 128}) {
      const int64_t n = 16, k = 256;
      auto w = test::random_floats(n * k, rng, -0.3f, 0.2f);
      auto r = run(w, DType::f32, DType::f32, n, k, group, sym);
      ASSERT_TRUE(r.is_ok());
      const int64_t g = group == -1 ? k : group;
      for (int64_t i = 0; i < n * k; ++i) {
        const int64_t gi = (i / k) * (k / g) + (i % k) / g;
        const float s = r->s[gi], zp = sym ? 0.0f : r->zp[gi];
        ASSERT_LE(std::fabs(w[i] - (r->v[i] - zp) * s), 0.5f * s * 1.0001f) << i;
      }
    }
  }
}

TEST(WeightQuant, RejectsBadInput) {
  std::vector<float> w(64, 1.0f);
  w[3] = NAN;
  EXPECT_EQ(run(w, DType::f32, DType::f16, 2, 32, 32, true).status().code(), StatusCode::non_finite);
  w[3] = 1e30f;  // needs a scale beyond fp16
  EXPECT_EQ(run(w, DType::f32, DType::f16, 2, 32, 32, true).status().message(),
            "w: row 0 group 0 needs a scale beyond the range of f16; use f32 scales");
  EXPECT_EQ(run(std::vector<float>(64, 1.0f), DType::f32, DType::f16, 2, 32, 24, true).status().message(),
            "group_size=24 must be -1 or divide K=32");
}

// compressed-tensors' own quantizer, once, on fp16 and bf16 weights (group 128
// symmetric, group 64 asymmetric, per channel; tests/python/make_ct_golden.py
// wrote tests/data/ct_golden.safetensors): the same int4 values, scales and
// zero points bit for bit - the rounding rule checked without the network.
TEST(WeightQuant, EqualsCompressedTensorsGoldenFile) {
  auto file = io::SafetensorsFile::open(W4A8_TEST_DATA_DIR "/ct_golden.safetensors");
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  auto view = [&](const std::string& name) {
    auto v = file->view(name);
    EXPECT_TRUE(v.is_ok()) << name << ": " << v.status().to_string();
    return v.is_ok() ? *v : TensorView();
  };
  struct Case {
    const char* name;
    int64_t group;
    bool symmetric;
  };
  for (const char* dt : {"f16", "bf16"})
    for (Case c : {Case{"g128_sym", 128, true}, Case{"g64_asym", 64, false}, Case{"channel_sym", -1, true}}) {
      const std::string p = std::string(dt) + "." + c.name;
      const TensorView w = view(std::string(dt) + ".w"), want_v = view(p + ".values"), want_s = view(p + ".scales"),
                       want_z = view(p + ".zero_points");
      const int64_t n = w.size(0), k = w.size(1), g = want_s.size(1);
      Tensor v(DType::i8, {n, k}), s(w.dtype(), {n, g}), z(DType::i8, {n, g});
      WeightQuantOptions o;
      o.group_size = c.group;
      o.symmetric = c.symmetric;
      ASSERT_TRUE(quantize_weights_int4(w, v.view(), s.view(), c.symmetric ? TensorView() : z.view(), o).is_ok()) << p;
      EXPECT_EQ(0, std::memcmp(v.data(), want_v.data(), v.nbytes())) << p << ": values";
      EXPECT_EQ(0, std::memcmp(s.data(), want_s.data(), s.nbytes())) << p << ": scales";
      if (!c.symmetric) {
        EXPECT_EQ(0, std::memcmp(z.data(), want_z.data(), z.nbytes())) << p << ": zero points";
      }
    }
}
