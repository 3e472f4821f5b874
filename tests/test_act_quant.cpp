// Per-token activation quantization: hand-computed rows for every rule of
// SPEC.md, edge cases, and random rows against the formula written out here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "cpu/ref/act_quant_ref.h"
#include "test_util.h"

using namespace w4a8;

namespace {
struct Quantized {
  std::vector<int32_t> q;
  std::vector<float> scale;
  std::vector<int32_t> zp;
  std::vector<int32_t> sums;
};

Result<Quantized> quantize(const std::vector<float>& x, DType dtype, int64_t m, int64_t k, bool symmetric = true,
                           int64_t group = -1) {
  Tensor xt = test::to_tensor(x, dtype, {m, k});
  Tensor q(symmetric ? DType::i8 : DType::u8, {m, k}), s(dtype, {m}), z(DType::i32, {m});
  const int64_t g = group == -1 ? k : group;
  Tensor sums(DType::i32, {m, k / g});
  ActQuantOptions opt;
  opt.symmetric = symmetric;
  opt.group_size = group;
  W4A8_RETURN_IF_ERROR(quantize_per_token_int8(xt.view(), q.view(), s.view(), z.view(), sums.view(), opt));
  Quantized out;
  for (int64_t i = 0; i < m * k; ++i)
    out.q.push_back(symmetric ? q.data_as<int8_t>()[i] : q.data_as<uint8_t>()[i]);
  out.scale = test::to_floats(s);
  out.zp.assign(z.data_as<int32_t>(), z.data_as<int32_t>() + m);
  out.sums.assign(sums.data_as<int32_t>(), sums.data_as<int32_t>() + sums.numel());
  return out;
}
}  // namespace

TEST(ActQuant, HandComputedFp32Row) {
  // amax 127 -> scale exactly 1; -63.5 ties to even -64; 0.5 -> 0; 1.5 -> 2; 2.5 -> 2.
  auto r = quantize({127, -63.5f, 0.5f, 1.5f, 2.5f, -0.5f, -0.0f, 3}, DType::f32, 1, 8);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->scale[0], 1.0f);
  EXPECT_EQ(r->q, (std::vector<int32_t>{127, -64, 0, 2, 2, 0, 0, 3}));
  EXPECT_EQ(r->zp[0], 0);
  EXPECT_EQ(r->sums[0], 127 - 64 + 2 + 2 + 3);
}

TEST(ActQuant, ScaleIsRoundedToTheActivationDtype) {
  // fp16: 100/127 = 0.787401... rounds to 1613 * 2^-11 = 0.78759765625.
  auto r = quantize({100, 50, -25, 0, 0, 0, 0, 0}, DType::f16, 1, 8);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->scale[0], 0.78759765625f);
  EXPECT_EQ(r->q[0], 127);  // 126.97 -> 127
  EXPECT_EQ(r->q[1], 63);   // 63.48 -> 63
  EXPECT_EQ(r->q[2], -32);  // -31.74 -> -32
  // bf16: 100/127 = 201.57 * 2^-8 rounds to 202 * 2^-8 = 0.7890625.
  auto b = quantize({100, 50, -25, 0, 0, 0, 0, 0}, DType::bf16, 1, 8);
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->scale[0], 0.7890625f);
  EXPECT_EQ(b->q[0], 127);  // 126.73
  EXPECT_EQ(b->q[1], 63);   // 63.37
  EXPECT_EQ(b->q[2], -32);  // -31.68
}

TEST(ActQuant, EdgeRows) {
  // Row 0 all zero: scale 1e-5 in fp16 (168 * 2^-24), q = 0.
  // Row 1 one huge value: 60000/127 = 472.44 -> fp16 472.5; 1/472.5 -> 0.
  // Row 2 +-0 and fp16 subnormals: amax 2^-24 -> scale clamps to 1e-5, q = 0.
  const float sub = std::ldexp(1.0f, -24);
  auto r = quantize({0, 0, 0, 0, 0, 0, 0, 0,  //
                     60000, 1, -1, 0, 0, 0, 0, -30000,
                     -0.0f, 0.0f, sub, -sub, sub, 0, 0, 0},
                    DType::f16, 3, 8);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->scale[0], std::ldexp(168.0f, -24));
  EXPECT_EQ(r->scale[1], 472.5f);
  EXPECT_EQ(r->scale[2], std::ldexp(168.0f, -24));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(r->q[i], 0);
  EXPECT_EQ(r->q[8], 127);
  EXPECT_EQ(r->q[9], 0);
  EXPECT_EQ(r->q[15], -63);  // -63.49
  for (int i = 16; i < 24; ++i) EXPECT_EQ(r->q[i], 0);
}

TEST(ActQuant, NonFiniteInputIsReportedAndEveryScaleBecomesNaN) {
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    Tensor x = test::to_tensor({1, 2, 3, 4, 5, 6, 7, 8, 1, 2, bad, 4, 5, 6, 7, 8}, DType::f16, {2, 8});
    Tensor q(DType::i8, {2, 8}), s(DType::f16, {2}), z(DType::i32, {2});
    std::fill_n(q.data_as<int8_t>(), 16, int8_t{42});
    const Status st = quantize_per_token_int8(x.view(), q.view(), s.view(), z.view());
    EXPECT_EQ(st.code(), StatusCode::non_finite);
    EXPECT_EQ(st.message(), "x: row 1 column 2 is NaN or Inf; activations must be finite");
    for (int64_t r = 0; r < 2; ++r) EXPECT_TRUE(std::isnan(load_as_float(s.view(), r))) << "row " << r;
  }
}

TEST(ActQuant, AsymmetricHandComputed) {
  // min -1, max 3: s = 4/255, z = -round(-63.75) = 64; q = round(x/s + 64).
  auto r = quantize({-1, 0, 1, 3, 0, 0, 0, 0}, DType::f32, 1, 8, /*symmetric=*/false);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->scale[0], 4.0f / 255.0f);
  EXPECT_EQ(r->zp[0], 64);
  EXPECT_EQ(r->q, (std::vector<int32_t>{0, 64, 128, 255, 64, 64, 64, 64}));
  EXPECT_EQ(r->sums[0], 0 + 64 + 128 + 255 + 4 * 64);
}

TEST(ActQuant, AsymmetricZeroPointOutOfInt32IsAnError) {
  // A constant row far from zero: s clamps to 1e-5 and -min/s is about -3e9.
  auto r = quantize({30000, 30000, 30000, 30000, 30000, 30000, 30000, 30000}, DType::f32, 1, 8, false);
  EXPECT_EQ(r.status().code(), StatusCode::invalid_argument);
}

// Random rows against SPEC.md written out directly.
TEST(ActQuant, RandomRowsMatchTheSpecFormula) {
  std::mt19937 rng(7);
  for (DType dt : {DType::f16, DType::bf16, DType::f32}) {
    for (bool sym : {true, false}) {
      const int64_t m = 9, k = 256, g = 64;
      auto x = test::random_floats(m * k, rng, -3.0f, 5.0f);
      x[5] = 40.0f;  // an outlier in row 0
      Tensor xt = test::to_tensor(x, dt, {m, k});
      auto r = quantize(test::to_floats(xt), dt, m, k, sym, g);
      ASSERT_TRUE(r.is_ok());
      for (int64_t row = 0; row < m; ++row) {
        float mn = INFINITY, mx = -INFINITY, amax = 0;
        for (int64_t i = 0; i < k; ++i) {
          const float v = load_as_float(xt.view(), row * k + i);
          mn = std::min(mn, v), mx = std::max(mx, v), amax = std::max(amax, std::fabs(v));
        }
        float s = sym ? std::max(amax / 127.0f, 1e-5f) : std::max((mx - mn) / 255.0f, 1e-5f);
        const int32_t z = sym ? 0 : static_cast<int32_t>(-std::nearbyint(mn / s));
        s = load_as_float(test::to_tensor({s}, dt, {1}).view(), 0);
        ASSERT_EQ(r->scale[row], s);
        ASSERT_EQ(r->zp[row], z);
        for (int64_t gi = 0; gi < k / g; ++gi) {
          int32_t sum = 0;
          for (int64_t i = gi * g; i < (gi + 1) * g; ++i) {
            const float v = load_as_float(xt.view(), row * k + i) / s + static_cast<float>(z);
            const int32_t want = static_cast<int32_t>(std::clamp(std::nearbyint(v), sym ? -128.0f : 0.0f, sym ? 127.0f : 255.0f));
            ASSERT_EQ(r->q[row * k + i], want) << dtype_name(dt) << " sym=" << sym << " row " << row << " col " << i;
            sum += want;
          }
          ASSERT_EQ(r->sums[row * (k / g) + gi], sum);
        }
      }
    }
  }
}

TEST(ActQuant, ValidatesOutputs) {
  Tensor x(DType::f16, {2, 8}), q(DType::i8, {2, 8}), s(DType::f16, {2}), z(DType::i32, {2});
  Tensor qu(DType::u8, {2, 8}), s_bad(DType::bf16, {2}), sums(DType::i32, {2, 3});
  EXPECT_EQ(quantize_per_token_int8(x.view(), qu.view(), s.view(), z.view()).message(), "q: expected dtype i8, got u8");
  EXPECT_EQ(quantize_per_token_int8(x.view(), q.view(), s_bad.view(), z.view()).message(),
            "scale: expected dtype f16/f32, got bf16");
  ActQuantOptions opt;
  opt.group_size = 3;
  EXPECT_EQ(quantize_per_token_int8(x.view(), q.view(), s.view(), z.view(), sums.view(), opt).message(),
            "group_size=3 must be -1 or divide K=8");
  EXPECT_EQ(quantize_per_token_int8(TensorView(x.data(), DType::i32, {2, 4}), q.view(), s.view(), z.view()).message(),
            "x: expected dtype f16/bf16/f32, got i32");
}

// Static per-tensor quantization: q = clamp(rhe(x / s + z), -128, 127).
TEST(ActQuant, StaticPerTensorHandComputed) {
  const std::vector<float> xv = {1.0f, -1.0f, 0.25f, 0.75f, 100.0f, -100.0f, 0.5f, 0.0f};
  Tensor x = test::to_tensor(xv, DType::f32, {1, 8});
  const float s = 0.5f;
  const int32_t z = 3;
  Tensor q(DType::i8, {1, 8}), sums(DType::i32, {1, 2});
  // x / 0.5 + 3 = 5, 1, 3.5 (tie: 4), 4.5 (tie: 4), 203 (clamps to 127), -197 (-128), 4, 3.
  ASSERT_TRUE(quantize_per_tensor_int8(x.view(), TensorView(const_cast<float*>(&s), DType::f32, {1}),
                                       TensorView(const_cast<int32_t*>(&z), DType::i32, {1}), q.view(), sums.view(), 4)
                  .is_ok());
  const std::vector<int8_t> want = {5, 1, 4, 4, 127, -128, 4, 3};
  EXPECT_EQ(std::vector<int8_t>(q.data_as<int8_t>(), q.data_as<int8_t>() + 8), want);
  EXPECT_EQ(sums.data_as<int32_t>()[0], 5 + 1 + 4 + 4);
  EXPECT_EQ(sums.data_as<int32_t>()[1], 127 - 128 + 4 + 3);
  // No zero point: x / 0.5 = 2, -2, 0.5 (0), 1.5 (2), 200 (127), -200 (-128), 1, 0; a 0-dim fp16 scale.
  Tensor s16 = test::to_tensor({0.5f}, DType::f16, {});
  ASSERT_TRUE(quantize_per_tensor_int8(x.view(), s16.view(), {}, q.view()).is_ok());
  const std::vector<int8_t> want0 = {2, -2, 0, 2, 127, -128, 1, 0};
  EXPECT_EQ(std::vector<int8_t>(q.data_as<int8_t>(), q.data_as<int8_t>() + 8), want0);
}

TEST(ActQuant, StaticPerTensorRejectsBadScalesZeroPointsAndInputs) {
  Tensor x = test::to_tensor({1, 2, 3, 4, 5, 6, 7, 8}, DType::f16, {1, 8});
  Tensor q(DType::i8, {1, 8});
  for (float bad : {0.0f, -0.5f, NAN, INFINITY}) {
    const Status st = quantize_per_tensor_int8(x.view(), TensorView(&bad, DType::f32, {1}), {}, q.view());
    EXPECT_EQ(st.code(), StatusCode::invalid_argument) << bad;
  }
  float s = 0.1f;
  int32_t z = 128;
  EXPECT_EQ(quantize_per_tensor_int8(x.view(), TensorView(&s, DType::f32, {1}), TensorView(&z, DType::i32, {1}), q.view())
                .message(),
            "zero_point: 128 is outside the int8 range -128..127");
  float two[2] = {0.1f, 0.2f};
  EXPECT_EQ(quantize_per_tensor_int8(x.view(), TensorView(two, DType::f32, {2}), {}, q.view()).message(),
            "scale: expected shape [1], got [2]");
  Tensor qu(DType::u8, {1, 8});
  EXPECT_EQ(quantize_per_tensor_int8(x.view(), TensorView(&s, DType::f32, {1}), {}, qu.view()).message(),
            "q: expected dtype i8, got u8");
  Tensor bad_x = test::to_tensor({1, 2, 3, NAN, 5, 6, 7, 8}, DType::f16, {1, 8});
  EXPECT_EQ(quantize_per_tensor_int8(bad_x.view(), TensorView(&s, DType::f32, {1}), {}, q.view()).code(),
            StatusCode::non_finite);
}

// An asymmetric row whose zero point is an exact tie: min -1, max 509 give
// s = 510 / 255 = 2 exactly and -min / s = 0.5, so z = -rhe(-0.5) = 0 (half
// to even); half away from zero would give 1 and shift every q by one.
// Through the public op (the machine's fastest quantizer) and the reference.
TEST(ActQuant, AsymmetricZeroPointTieRoundsHalfToEven) {
  const std::vector<float> row = {-1, 509, 0, 3, 0, 0, 0, 0};
  auto r = quantize(row, DType::f32, 1, 8, /*symmetric=*/false);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->scale[0], 2.0f);
  EXPECT_EQ(r->zp[0], 0);
  // -0.5 -> 0 (tie, even), 254.5 -> 254 (tie, even), 1.5 -> 2.
  EXPECT_EQ(r->q, (std::vector<int32_t>{0, 254, 0, 2, 0, 0, 0, 0}));
  Tensor x = test::to_tensor(row, DType::f32, {1, 8});
  Tensor q(DType::u8, {1, 8}), s(DType::f32, {1}), z(DType::i32, {1});
  ASSERT_TRUE(cpu::ref::quantize_per_token(x.view(), false, -1, q.view(), s.view(), z.view(), {}).is_ok());
  EXPECT_EQ(z.data_as<int32_t>()[0], 0) << "the reference quantizer";
  EXPECT_EQ(q.data_as<uint8_t>()[1], 254);
}

// The reference quantizer's per-group sums, called directly (the public op
// runs the vector quantizer on SIMD machines): each group's sum starts at 0.
TEST(ActQuant, ReferenceGroupSumsAreHandComputed) {
  // amax 127: scale 1, q = x. Groups of 32 over K = 96.
  std::vector<float> row(96, 0.0f);
  row[0] = 127;
  row[5] = -3;
  row[40] = 7;
  row[63] = -100;
  row[64] = 1;
  row[95] = 2;
  Tensor x = test::to_tensor(row, DType::f32, {1, 96});
  Tensor q(DType::i8, {1, 96}), s(DType::f32, {1}), z(DType::i32, {1}), sums(DType::i32, {1, 3});
  ASSERT_TRUE(cpu::ref::quantize_per_token(x.view(), true, 32, q.view(), s.view(), z.view(), sums.view()).is_ok());
  EXPECT_EQ(s.data_as<float>()[0], 1.0f);
  EXPECT_EQ(sums.data_as<int32_t>()[0], 127 - 3);
  EXPECT_EQ(sums.data_as<int32_t>()[1], 7 - 100);
  EXPECT_EQ(sums.data_as<int32_t>()[2], 1 + 2);
}
