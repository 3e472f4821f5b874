// The reference int4_gemm_w4a8 against the tests' own fp64/int64 evaluation.
#include <gtest/gtest.h>

#include <numeric>
#include <random>

#include "test_util.h"

using namespace w4a8;

namespace {
// A full op problem: builds the seed's operands from random data and the oracle.
struct Problem {
  Problem(int64_t m_, int64_t n_, int64_t k_, int64_t group_) : m(m_), n(n_), k(k_), group(group_) {}
  int64_t m, n, k, group;  // group -1 = per channel
  bool asym_weights = false, asym_acts = false, with_bias = false, with_perm = false, unit_scales = false;
  DType scale_dtype = DType::f16, out_dtype = DType::f16;
  std::vector<int8_t> a;
  std::vector<int32_t> a_zp;
  std::vector<float> a_scale;
  std::vector<int8_t> w;
  std::vector<int32_t> packed;  // [N, K/8]
  std::vector<int8_t> w_zp;     // [G, N] signed
  std::vector<int32_t> w_zp_packed;
  std::vector<float> w_scale;   // [G, N]
  std::vector<int64_t> perm;
  std::vector<float> bias;
  test::Oracle oracle;

  int64_t g() const { return group == -1 ? k : group; }
  int64_t groups() const { return k / g(); }

  void build(std::mt19937& rng) {
    a = asym_acts ? test::random_int8(m * k, rng, 0, 255) : test::random_int8(m * k, rng);
    w = test::random_int4(n * k, rng);
    packed = test::spec_pack(w, n, k);
    a_scale = unit_scales ? std::vector<float>(m, 1.0f) : test::random_floats(m, rng, 0.001f, 0.05f);
    w_scale = unit_scales ? std::vector<float>(groups() * n, 1.0f) : test::random_floats(groups() * n, rng, 0.001f, 0.02f);
    // Scales are stored in scale_dtype; the oracle sees the stored values.
    a_scale = test::to_floats(test::to_tensor(a_scale, scale_dtype, {m}));
    w_scale = test::to_floats(test::to_tensor(w_scale, scale_dtype, {groups() * n}));
    if (asym_acts) {
      std::uniform_int_distribution<int> d(0, 255);
      for (int64_t r = 0; r < m; ++r) a_zp.push_back(d(rng));
    }
    if (asym_weights) {
      w_zp = test::random_int4(groups() * n, rng);
      std::vector<int8_t> zp(w_zp);
      w_zp_packed = test::spec_pack(zp, groups(), n);
    }
    if (with_perm) {
      perm.resize(k);
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
    }
    if (with_bias) bias = test::to_floats(test::to_tensor(test::random_floats(n, rng, -2, 2), scale_dtype, {n}));

    oracle.m = m, oracle.n = n, oracle.k = k, oracle.group = g();
    oracle.perm = perm;
    // Activations as stored: uint8 holds 0..255.
    for (int8_t v : a) oracle.a.push_back(asym_acts ? static_cast<uint8_t>(v) : v);
    oracle.a_zp = a_zp;
    oracle.a_scale.assign(a_scale.begin(), a_scale.end());
    oracle.w.assign(w.begin(), w.end());
    if (asym_weights) oracle.w_zp.assign(w_zp.begin(), w_zp.end());
    oracle.w_scale.assign(w_scale.begin(), w_scale.end());
    oracle.bias.assign(bias.begin(), bias.end());
  }

  Status run(Tensor& out, const std::string& backend = "auto") const {
    Tensor as = test::to_tensor(a_scale, scale_dtype, {m});
    Tensor ws = test::to_tensor(w_scale, scale_dtype, {groups(), n});
    Tensor bs = with_bias ? test::to_tensor(bias, scale_dtype, {n}) : Tensor();
    const int8_t zp8 = 8;
    TensorView b_zp = asym_weights ? TensorView(w_zp_packed.data(), DType::i32, {groups(), n / 8})
                                   : TensorView(&zp8, DType::i8, {1});
    // The seed passes w_packed.t(): a [K/8, N] view of the [N, K/8] words.
    TensorView b(packed.data(), DType::i32, {k / 8, n}, {1, k / 8});
    TensorView azp = asym_acts ? TensorView(a_zp.data(), DType::i32, {m}) : TensorView();
    TensorView gi = with_perm ? TensorView(perm.data(), DType::i64, {k}) : TensorView();
    out = Tensor(out_dtype, {m, n});
    GemmOptions opt;
    opt.backend = backend;
    return int4_gemm_w4a8(TensorView(a.data(), asym_acts ? DType::u8 : DType::i8, {m, k}), as.view(), azp, b,
                          ws.view(), b_zp, group, gi, with_bias ? bs.view() : TensorView(), out.view(), opt);
  }
};
}  // namespace

// Unit scales and fp32 output: y is the sum of the exact group integers, which
// fp32 holds exactly while |y| < 2^24 - so the int32 part is compared bit for bit.
TEST(GemmRef, IntegerPartIsBitExact) {
  std::mt19937 rng(11);
  for (int64_t m : {1, 3, 17}) {
    for (int64_t group : {-1, 32, 64, 128}) {
      for (bool asym : {false, true}) {
        Problem p{m, 24, 256, group};
        p.unit_scales = true;
        p.asym_weights = asym;
        p.asym_acts = asym;
        p.with_perm = asym;
        p.scale_dtype = p.out_dtype = DType::f32;
        p.build(rng);
        Tensor out;
        ASSERT_TRUE(p.run(out).is_ok());
        for (int64_t r = 0; r < m; ++r)
          for (int64_t c = 0; c < p.n; ++c) {
            int64_t want = 0;
            for (int64_t gg = 0; gg < p.groups(); ++gg) want += p.oracle.acc(r, c, gg);
            ASSERT_EQ(static_cast<int64_t>(out.data_as<float>()[r * p.n + c]), want) << r << "," << c;
            ASSERT_EQ(static_cast<double>(out.data_as<float>()[r * p.n + c]), static_cast<double>(want));
          }
      }
    }
  }
}

TEST(GemmRef, RandomShapesMatchFp64WithinSpecTolerance) {
  std::mt19937 rng(12);
  struct Shape { int64_t m, n, k, g; };
  for (Shape s : {Shape{1, 8, 32, 32}, {3, 16, 64, -1}, {17, 40, 128, 64}, {255, 8, 256, 128}, {5, 64, 512, 128}}) {
    for (DType out_dt : {DType::f16, DType::bf16, DType::f32}) {
      Problem p{s.m, s.n, s.k, s.g};
      p.out_dtype = out_dt;
      p.scale_dtype = out_dt == DType::f32 ? DType::f32 : out_dt;
      p.with_bias = (s.m % 2) == 1;
      p.build(rng);
      Tensor out;
      ASSERT_TRUE(p.run(out).is_ok());
      const double err = test::relative_error(test::to_floats(out), p.oracle.y());
      // SPEC.md: fp32 scale products + the final cast; bf16 output rounds at 2^-9.
      const double bound = out_dt == DType::bf16 ? 4e-3 : 1e-3;
      EXPECT_LT(err, bound) << "m=" << s.m << " n=" << s.n << " k=" << s.k << " g=" << s.g << " " << dtype_name(out_dt);
    }
  }
}

TEST(GemmRef, ExtensionsMatchFp64) {
  std::mt19937 rng(13);
  for (int variant = 0; variant < 4; ++variant) {
    Problem p{7, 32, 256, 64};
    p.asym_weights = variant & 1;
    p.asym_acts = variant & 2;
    p.with_perm = true;
    p.with_bias = true;
    p.out_dtype = DType::f32;
    p.scale_dtype = DType::f32;
    p.build(rng);
    Tensor out;
    ASSERT_TRUE(p.run(out).is_ok());
    EXPECT_LT(test::relative_error(test::to_floats(out), p.oracle.y()), 1e-5) << variant;
  }
}

// One group and N = 8: the packed zero points are a [1, 1] tensor, which must
// not be mistaken for the one-element constant form.
TEST(GemmRef, SinglePackedZeroPointWordIsNotTheConstant) {
  std::mt19937 rng(17);
  Problem p{3, 8, 32, -1};
  p.asym_weights = true;
  p.out_dtype = p.scale_dtype = DType::f32;
  p.build(rng);
  Tensor out;
  ASSERT_TRUE(p.run(out).is_ok());
  EXPECT_LT(test::relative_error(test::to_floats(out), p.oracle.y()), 1e-6);
}

TEST(GemmRef, PermutationEqualsPermutingTheActivations) {
  std::mt19937 rng(14);
  Problem p{5, 16, 128, 32};
  p.with_perm = true;
  p.out_dtype = DType::f32;
  p.build(rng);
  Tensor with_perm;
  ASSERT_TRUE(p.run(with_perm).is_ok());
  Problem q = p;  // same data, activations physically permuted, no g_idx
  q.with_perm = false;
  for (int64_t r = 0; r < p.m; ++r)
    for (int64_t c = 0; c < p.k; ++c) q.a[r * p.k + c] = p.a[r * p.k + p.perm[c]];
  Tensor permuted;
  ASSERT_TRUE(q.run(permuted).is_ok());
  EXPECT_EQ(test::to_floats(with_perm), test::to_floats(permuted));
}

TEST(GemmRef, PerTensorActivationScale) {
  std::mt19937 rng(15);
  Problem p{4, 8, 64, 32};
  p.out_dtype = p.scale_dtype = DType::f32;
  p.build(rng);
  for (auto& s : p.a_scale) s = 0.25f;
  p.oracle.a_scale.assign(p.m, 0.25);
  Tensor out;
  Tensor as = test::to_tensor({0.25f}, DType::f32, {1});
  Tensor ws = test::to_tensor(p.w_scale, DType::f32, {p.groups(), p.n});
  const int8_t zp8 = 8;
  out = Tensor(DType::f32, {p.m, p.n});
  ASSERT_TRUE(int4_gemm_w4a8(TensorView(p.a.data(), DType::i8, {p.m, p.k}), as.view(), {},
                             TensorView(p.packed.data(), DType::i32, {p.k / 8, p.n}, {1, p.k / 8}), ws.view(),
                             TensorView(&zp8, DType::i8, {1}), 32, {}, {}, out.view())
                  .is_ok());
  EXPECT_LT(test::relative_error(test::to_floats(out), p.oracle.y()), 1e-6);
}

TEST(GemmRef, RejectsBadOperandsBeforeWriting) {
  std::mt19937 rng(16);
  Problem p{2, 8, 64, 32};
  p.build(rng);
  Tensor as = test::to_tensor(p.a_scale, DType::f16, {p.m});
  Tensor ws = test::to_tensor(p.w_scale, DType::f16, {p.groups(), p.n});
  const int8_t zp8 = 8, zp_bad = 16;
  TensorView a(p.a.data(), DType::i8, {p.m, p.k});
  TensorView b(p.packed.data(), DType::i32, {p.k / 8, p.n}, {1, p.k / 8});
  Tensor out(DType::f16, {p.m, p.n});
  std::fill_n(out.data_as<uint16_t>(), out.numel(), uint16_t{0x1234});
  auto call = [&](TensorView a_, TensorView as_, TensorView ws_, TensorView zp_, int64_t g_, TensorView gi_) {
    return int4_gemm_w4a8(a_, as_, {}, b, ws_, zp_, g_, gi_, {}, out.view()).message();
  };
  const TensorView zp(&zp8, DType::i8, {1});
  EXPECT_EQ(call(a, as.view(), ws.view(), zp, 48, {}), "group_size=48 must be -1 or a multiple of 32 that divides K=64");
  EXPECT_EQ(call(a, as.view(), ws.view(), TensorView(&zp_bad, DType::i8, {1}), 32, {}),
            "B_zp: the constant zero point must be in 0..15 (8 for symmetric int4), got 16");
  EXPECT_EQ(call(a, as.view(), ws.view(), {}, 32, {}), "B_zp: required (pass the constant 8 for symmetric weights)");
  EXPECT_EQ(call(TensorView(p.a.data(), DType::i8, {p.m, 60}), as.view(), ws.view(), zp, 32, {}),
            "K=60 is not a multiple of 8 (in/out sizes must be multiples of 8)");
  EXPECT_EQ(call(a, TensorView(as.data(), DType::f16, {3}), ws.view(), zp, 32, {}), "A_scale: expected shape [2], got [3]");
  EXPECT_EQ(call(a, as.view(), ws.view(), zp, -1, {}), "B_scale: expected shape [1, 8], got [2, 8]");
  const int64_t not_perm[64] = {0, 0};
  EXPECT_EQ(call(a, as.view(), ws.view(), zp, 32, TensorView(not_perm, DType::i64, {64})),
            "g_idx: must be a permutation of 0..K-1; entry 1 = 0 repeats");
  Tensor nan_scales = test::to_tensor(std::vector<float>(p.groups() * p.n, NAN), DType::f16, {p.groups(), p.n});
  EXPECT_EQ(call(a, as.view(), nan_scales.view(), zp, 32, {}), "B_scale: element 0 is NaN or Inf");
  EXPECT_EQ(call(TensorView(p.a.data(), DType::u8, {p.m, p.k}), as.view(), ws.view(), zp, 32, {}),
            "A: uint8 activations need a zero point A_zp (asymmetric quantization)");
  for (int64_t i = 0; i < out.numel(); ++i) ASSERT_EQ(out.data_as<uint16_t>()[i], 0x1234);
  GemmOptions opt;
  opt.backend = "no-such-backend";
  const Status s = int4_gemm_w4a8(a, as.view(), {}, b, ws.view(), zp, 32, {}, {}, out.view(), opt);
  EXPECT_EQ(s.code(), StatusCode::unavailable);
  EXPECT_NE(s.message().find("unknown backend 'no-such-backend'"), std::string::npos);
}
