// The CPU fast path's kernels against each other: the AVX-512 VNNI kernel
// must give bit-identical outputs to its generic twin (same integers, same
// fp32 operation order), on every machine that can run it.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "cpu/x86/gemm_kernels.h"
#include "cpu/x86/vnni_layout.h"
#include "test_util.h"

using namespace w4a8;

namespace {
// Runs `kernel` and the generic twin on random problems; they must agree bit
// for bit, and the twin must match the fp64 oracle.
void expect_equal_to_generic(cpu::CpuGemmKernel kernel) {
  std::mt19937 rng(61);
  // Token counts cover every micro-kernel height (1..8, and near-equal
  // blocks above 8); channel counts cover odd tile counts (the one-tile tail).
  for (auto [m, n, k, g, asym] : {std::tuple<int64_t, int64_t, int64_t, int64_t, bool>{1, 16, 32, 32, false},
                                  {3, 24, 128, 64, true}, {8, 48, 256, 128, false}, {19, 40, 512, 128, true},
                                  {5, 8, 64, 64, false}, {12, 64, 96, 32, true}, {11, 80, 64, 64, false},
                                  {2, 32, 64, 32, true}, {4, 16, 32, 32, false}, {6, 48, 64, 32, true},
                                  {7, 32, 64, 64, false}, {9, 16, 64, 32, false}, {10, 32, 64, 64, true},
                                  {25, 56, 128, 128, false}, {16, 8, 256, 256, true}, {13, 40, 64, 32, false},
                                  {14, 32, 64, 64, true}, {15, 48, 32, 32, false}, {17, 32, 64, 32, true},
                                  {33, 24, 64, 64, false}}) {
    const int64_t n_pad = (n + 15) / 16 * 16, groups = k / g;
    auto w = test::random_int4(n * k, rng);
    auto packed = test::spec_pack(w, n, k);
    const auto prepared = cpu::repack_for_vnni(packed.data(), n, k);
    auto q = test::random_int8(m * k, rng);
    std::vector<int32_t> gsum(m * groups, 0);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < k; ++j) gsum[r * groups + j / g] += q[r * k + j];
    auto scales = test::random_floats(groups * n_pad, rng, 0.001f, 0.02f);
    auto a_scale = test::random_floats(m, rng, 0.01f, 0.1f);
    auto bias = test::random_floats(n, rng, -1, 1);
    std::vector<uint8_t> zp(groups * n_pad);
    for (auto& z : zp) z = static_cast<uint8_t>(rng() % 16);
    cpu::CpuGemmParams p;
    p.w = prepared.data();
    p.n = n, p.n_pad = n_pad, p.k = k, p.group_size = g, p.groups = groups;
    p.w_scale = scales.data();
    p.w_zp = asym ? zp.data() : nullptr;
    p.bias = bias.data();
    p.q = q.data(), p.m = m, p.a_scale = a_scale.data(), p.gsum = gsum.data();
    std::vector<int8_t> q_packed(q.size());
    cpu::pack_tokens_for_vnni(q.data(), m, k, q_packed.data());
    p.q_packed = q_packed.data();
    std::vector<float> y1(m * n, -1.0f), y2(m * n, -2.0f);
    p.y = y1.data();
    cpu::gemm_generic(p, 0, n_pad / 16);
    p.y = y2.data();
    kernel(p, 0, n_pad / 16);
    ASSERT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * 4)) << "m=" << m << " n=" << n << " k=" << k;
    // And the twin against the spec: unit scales would be exact; here within fp32 rounding.
    test::Oracle o;
    o.m = m, o.n = n, o.k = k, o.group = g;
    o.a.assign(q.begin(), q.end());
    o.w.assign(w.begin(), w.end());
    o.a_scale.assign(a_scale.begin(), a_scale.end());
    for (int64_t gg = 0; gg < groups; ++gg)
      for (int64_t c = 0; c < n; ++c) {
        o.w_scale.push_back(scales[cpu::tile_major_index(gg, c, groups)]);
        if (asym) o.w_zp.push_back(zp[cpu::tile_major_index(gg, c, groups)] - 8);
      }
    o.bias.assign(bias.begin(), bias.end());
    EXPECT_LT(test::relative_error(y1, o.y()), 1e-5);
  }
}
}  // namespace

TEST(CpuKernels, Avx512VnniEqualsGenericBitForBit) {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx512f && f.avx512bw && f.avx512vl && f.avx512_vnni))
    GTEST_SKIP() << "this CPU lacks avx512f/bw/vl/vnni (" << f.summary() << ")";
  expect_equal_to_generic(cpu::gemm_avx512_vnni);
}

TEST(CpuKernels, Avx2EqualsGenericBitForBit) {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx2 && f.fma)) GTEST_SKIP() << "this CPU lacks avx2/fma (" << f.summary() << ")";
  expect_equal_to_generic(cpu::gemm_avx2);
}

TEST(CpuKernels, AvxVnniEqualsGenericBitForBit) {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx_vnni && f.avx2 && f.fma)) GTEST_SKIP() << "this CPU lacks avx_vnni/avx2/fma (" << f.summary() << ")";
  expect_equal_to_generic(cpu::gemm_avx_vnni);
}
