// The CPU fast path's vectorised quantizer and output narrowing against their
// plain twins (the reference quantizer, store_from_float): same bytes, same
// scale bits, same group sums, on every vector level this machine has.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "cpu/ref/act_quant_ref.h"
#include "cpu/x86/act_quant_kernels.h"
#include "cpu/x86/store_floats.h"
#include "test_util.h"
#include "w4a8/device.h"

using namespace w4a8;

namespace {

struct Level {
  const char* name;
  cpu::ActQuantKernel kernel;
  bool available;
};

std::vector<Level> levels() {
  const CpuFeatures& f = cpu_features();
  return {{"avx512", cpu::quantize_rows_avx512, f.avx512f && f.avx512bw && f.avx512vl},
          {"avx2", cpu::quantize_rows_avx2, f.avx2 && f.fma && f.f16c}};
}

// Rows that reach the rounding corners: exact ties (scale 1, halves), ties
// under a scale whose reciprocal is inexact (x / s lands on n + 0.5 where
// x * (1 / s) does not: a quantizer that multiplies by the reciprocal fails
// here), an all-zero row (minimum scale), large and tiny magnitudes, a row
// far from zero (a huge asymmetric zero point), noise.
std::vector<float> tricky_rows(int64_t m, int64_t k, std::mt19937& rng) {
  std::vector<float> x = test::random_floats(m * k, rng, -3.0f, 3.0f);
  for (int64_t r = 0; r < m; ++r) {
    float* row = x.data() + r * k;
    switch (r % 7) {
      case 0:
        for (int64_t j = 0; j < k; ++j) row[j] = static_cast<float>(j % 255) * 0.5f - 63.5f;
        row[0] = 127.0f;  // amax 127: scale exactly 1, every .5 a tie
        break;
      case 1: std::fill(row, row + k, 0.0f); break;
      case 2:
        for (int64_t j = 0; j < k; ++j) row[j] *= 3000.0f;
        break;
      case 3:
        for (int64_t j = 0; j < k; ++j) row[j] *= 1e-4f;
        break;
      case 4: {
        const float s = 1.7f;
        for (int64_t j = 0; j < k; ++j) {
          const float tie = static_cast<float>(j % 120) + 0.5f;
          row[j] = tie * s;
          for (int64_t u = 0; u < (j / 120) % 3; ++u) row[j] = std::nextafter(row[j], 0.0f);
        }
        row[0] = 127.0f * s;  // amax: the scale rounds to (about) 1.7
        break;
      }
      case 5:  // far from zero: an asymmetric row's zero point is huge (the quantizers divide there)
        for (int64_t j = 0; j < k; ++j) row[j] = 1000.0f + 0.1f * row[j];
        break;
      default: break;
    }
  }
  return x;
}

// scheme: 0 dynamic symmetric, 1 dynamic asymmetric, 2 static, 3 static with a zero point.
detail::ActQuantScheme scheme_of(int scheme) {
  detail::ActQuantScheme s;
  s.symmetric = scheme == 0 || scheme == 2;
  s.is_static = scheme >= 2;
  s.scale = scheme >= 2 ? 0.0213f : 0.0f;
  s.zero_point = scheme == 3 ? -41 : 0;
  return s;
}

void expect_same_as_reference(const Level& level, DType dtype, int64_t m, int64_t k, int64_t group, bool permuted,
                              int scheme = 0) {
  std::mt19937 rng(static_cast<unsigned>(m * 131 + k * 7 + group));
  const Tensor x = test::to_tensor(tricky_rows(m, k, rng), dtype, {m, k});
  std::vector<int32_t> perm(static_cast<size_t>(k));
  std::iota(perm.begin(), perm.end(), 0);
  if (permuted) std::shuffle(perm.begin(), perm.end(), rng);

  // Reference: quantize in input order, then gather into GEMM order and sum.
  // Dynamic asymmetric rows come back as 0..255; the vector levels store q - 128
  // with the zero point moved by 128 (act_quant_kernels.h).
  const detail::ActQuantScheme sch = scheme_of(scheme);
  const bool unsigned_q = scheme == 1;
  std::vector<int8_t> q_ref(m * k);
  std::vector<float> s_ref(m);
  std::vector<int32_t> zp(m);
  ASSERT_TRUE(cpu::ref::quantize_rows(x.view(), sch, k, TensorView(q_ref.data(), unsigned_q ? DType::u8 : DType::i8, {m, k}),
                                      TensorView(s_ref.data(), DType::f32, {m}),
                                      TensorView(zp.data(), DType::i32, {m}), {})
                  .is_ok());
  if (unsigned_q) {
    for (int8_t& v : q_ref) v = static_cast<int8_t>(static_cast<uint8_t>(v) - 128);
    for (int32_t& z : zp) z -= 128;
  }
  const int64_t groups = k / group;
  std::vector<int8_t> q_want(m * k);
  std::vector<int32_t> sums_want(m * groups, 0);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < k; ++j) {
      q_want[r * k + j] = q_ref[r * k + perm[j]];
      sums_want[r * groups + j / group] += q_want[r * k + j];
    }

  std::vector<int8_t> q(m * k, 99);
  std::vector<float> s(m, -1.0f);
  std::vector<int32_t> sums(m * groups, -7), z_got(m, -99);
  cpu::ActQuantParams p;
  p.scheme = sch;
  p.zp = z_got.data();
  p.x = x.data();
  p.dtype = dtype;
  p.m = m, p.k = k, p.group_size = group;
  p.perm = permuted ? perm.data() : nullptr;
  p.q = q.data(), p.scale = s.data(), p.gsum = sums.data();
  ASSERT_TRUE(level.kernel(p, 0, m));
  const std::string what = std::string(level.name) + " " + dtype_name(dtype) + " m=" + std::to_string(m) +
                           " k=" + std::to_string(k) + " group=" + std::to_string(group) + (permuted ? " act-order" : "") +
                           " scheme=" + std::to_string(scheme);
  EXPECT_EQ(q, q_want) << what;
  EXPECT_EQ(0, std::memcmp(s.data(), s_ref.data(), s.size() * 4)) << what;
  EXPECT_EQ(sums, sums_want) << what;
  EXPECT_EQ(z_got, zp) << what;
}

// One test per vector level: a level this CPU cannot run is reported as
// skipped, with the features it lacks, never folded into a pass.
class CpuActQuantLevel : public ::testing::TestWithParam<int> {
 protected:
  Level level() const { return levels()[static_cast<size_t>(GetParam())]; }
  bool skip_if_unavailable() const {
    return !level().available;
  }
};

TEST_P(CpuActQuantLevel, EqualsTheReference) {
  const Level lv = level();
  if (skip_if_unavailable()) GTEST_SKIP() << lv.name << " is not available on this CPU (" << cpu_features().summary() << ")";
  for (DType dtype : {DType::f16, DType::bf16, DType::f32})
    for (auto [m, k, group] : {std::tuple<int64_t, int64_t, int64_t>{1, 32, 32}, {6, 4096, 128}, {6, 40, 40}, {5, 1024, 1024},
                               {3, 136, 136}, {4, 96, 32}, {2, 264, 264}, {7, 256, 64},
                               // K not a multiple of 8: every level's scalar tail
                               {3, 44, 44}, {2, 13, 13}})
      for (bool permuted : {false, true})
        for (int scheme = 0; scheme < 4; ++scheme) expect_same_as_reference(lv, dtype, m, k, group, permuted, scheme);
}

TEST_P(CpuActQuantLevel, ReportsNonFiniteRows) {
  const Level lv = level();
  if (skip_if_unavailable()) GTEST_SKIP() << lv.name << " is not available on this CPU (" << cpu_features().summary() << ")";
  // Inside a vector step and in the scalar tail of every level: K = 40 has a
  // tail for 16-lane levels only, K = 44 for every level.
  for (auto [k, bad_col] : {std::pair<int64_t, int64_t>{40, 0}, {40, 17}, {40, 39}, {44, 3}, {44, 42}}) {
    for (float bad : {NAN, INFINITY, -INFINITY}) {
      std::vector<float> xv(static_cast<size_t>(3 * k), 0.5f);
      xv[static_cast<size_t>(1 * k + bad_col)] = bad;
      const Tensor x = test::to_tensor(xv, DType::f32, {3, k});
      std::vector<int8_t> q(static_cast<size_t>(3 * k));
      std::vector<float> s(3);
      std::vector<int32_t> sums(3);
      cpu::ActQuantParams p;
      p.x = x.data();
      p.dtype = DType::f32;
      p.m = 3, p.k = k, p.group_size = k;
      p.q = q.data(), p.scale = s.data(), p.gsum = sums.data();
      EXPECT_TRUE(lv.kernel(p, 0, 1)) << lv.name;
      EXPECT_FALSE(lv.kernel(p, 1, 2)) << lv.name << " column " << bad_col << " value " << bad;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, CpuActQuantLevel, ::testing::Values(0, 1),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(levels()[static_cast<size_t>(info.param)].name);
                         });

TEST(CpuStoreFloats, EqualsStoreFromFloatBitForBit) {
  std::mt19937 rng(5);
  std::vector<float> src;
  for (uint32_t bits : {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00001u, 0x7f800001u, 0xffbfffffu,
                        0x477ff000u, 0x477fefffu, 0x33000000u, 0x33000001u, 0x38800000u, 0x387fffffu, 0x00000001u,
                        0x3f808000u, 0x3f818000u, 0x7f7fffffu})
    src.push_back(std::bit_cast<float>(bits));
  for (int i = 0; i < 200000; ++i) src.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));
  for (int i = 0; i < 1000; ++i) src.push_back(test::random_floats(1, rng, -70000.0f, 70000.0f)[0]);
  const int64_t count = static_cast<int64_t>(src.size());
  for (DType dtype : {DType::f16, DType::bf16, DType::f32}) {
    Tensor want(dtype, {count}), got(dtype, {count});
    for (int64_t i = 0; i < count; ++i) store_from_float(want.view(), i, src[i]);
    cpu::store_floats(src.data(), count, dtype, got.data());
    EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.nbytes())) << dtype_name(dtype);
  }
}

}  // namespace
