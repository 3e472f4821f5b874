// W4A8Linear end to end on the CPU, against the tests' fp64 evaluation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

#include "cpu/ref/act_quant_ref.h"
#include "test_util.h"

using namespace w4a8;

namespace {
struct Layer {
  int64_t n, k, group;
  std::vector<int8_t> w;       // [N, K]
  std::vector<float> scales;   // [N, G] (stored f16 values)
  std::vector<int8_t> zp;      // [N, G] or empty
  std::vector<int32_t> g_idx;  // [K] or empty
  std::vector<float> bias;     // [N] or empty
  Tensor scales_t, bias_t;
  // Activation scheme: dynamic per token (symmetric unless act_asymmetric), or
  // static with input_scale > 0 and input_zero_point.
  bool act_asymmetric = false;
  float input_scale = 0.0f;
  int32_t input_zero_point = 0;

  int64_t g() const { return group == -1 ? k : group; }
  int64_t groups() const { return k / g(); }
  int64_t group_of(int64_t col) const { return g_idx.empty() ? col / g() : g_idx[col]; }

  Layer(int64_t n_, int64_t k_, int64_t group_, std::mt19937& rng, bool asym = false, bool act_order = false,
        bool with_bias = false)
      : n(n_), k(k_), group(group_) {
    w = test::random_int4(n * k, rng);
    scales_t = test::to_tensor(test::random_floats(n * groups(), rng, 0.001f, 0.01f), DType::f16, {n, groups()});
    scales = test::to_floats(scales_t);
    if (asym) zp = test::random_int4(n * groups(), rng);
    if (act_order) {
      for (int64_t i = 0; i < k; ++i) g_idx.push_back(static_cast<int32_t>(i / g()));
      std::shuffle(g_idx.begin(), g_idx.end(), rng);
    }
    if (with_bias) {
      bias_t = test::to_tensor(test::random_floats(n, rng, -1, 1), DType::f16, {n});
      bias = test::to_floats(bias_t);
    }
  }

  LinearWeights weights() const {
    LinearWeights lw;
    lw.values = TensorView(w.data(), DType::i8, {n, k});
    lw.scales = scales_t.view();
    lw.group_size = group;
    if (!zp.empty()) lw.zero_points = TensorView(zp.data(), DType::i8, {n, groups()});
    if (!g_idx.empty()) lw.g_idx = TensorView(g_idx.data(), DType::i32, {k});
    if (!bias.empty()) lw.bias = bias_t.view();
    lw.act_symmetric = !act_asymmetric;
    if (input_scale > 0) lw.input_scale = TensorView(const_cast<float*>(&input_scale), DType::f32, {1});
    if (input_zero_point != 0)
      lw.input_zero_point = TensorView(const_cast<int32_t*>(&input_zero_point), DType::i32, {1});
    return lw;
  }

  // y = s_m * sum_k (q[m,k] - z_m) * (w[n,k] - zp[n, group(k)]) * S[n, group(k)] + bias,
  // in fp64, with the activations quantized by the reference backend's
  // quantizer (SPEC.md made executable), never by the fast path under test.
  std::vector<double> expected(const Tensor& x2d) const {
    const int64_t m = x2d.shape()[0];
    const bool unsigned_q = act_asymmetric && input_scale == 0;
    Tensor q(unsigned_q ? DType::u8 : DType::i8, {m, k}), s(DType::f32, {m}), z(DType::i32, {m});
    detail::ActQuantScheme scheme;
    scheme.symmetric = !unsigned_q;
    if (input_scale > 0) {
      scheme.is_static = true;
      scheme.scale = input_scale;
      scheme.zero_point = input_zero_point;
    }
    EXPECT_TRUE(cpu::ref::quantize_rows(x2d.view(), scheme, -1, q.view(), s.view(), z.view(), {}).is_ok());
    auto q_at = [&](int64_t i) -> double {
      return (unsigned_q ? q.data_as<uint8_t>()[i] : q.data_as<int8_t>()[i]) - z.data_as<int32_t>()[i / k];
    };
    std::vector<double> y(static_cast<size_t>(m * n));
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double acc = 0;
        for (int64_t i = 0; i < k; ++i) {
          const int64_t gi = group_of(i);
          const double wv = w[c * k + i] - (zp.empty() ? 0 : zp[c * groups() + gi]);
          acc += q_at(r * k + i) * wv * scales[c * groups() + gi];
        }
        y[r * n + c] = s.data_as<float>()[r] * acc + (bias.empty() ? 0.0 : bias[c]);
      }
    return y;
  }
};
}  // namespace

TEST(Linear, ForwardMatchesFp64ForEveryConfiguration) {
  std::mt19937 rng(21);
  for (const char* backend : {"reference", "cpu"})
  for (int64_t group : {-1, 32, 128}) {
    for (int variant = 0; variant < 8; ++variant) {
      Layer layer(48, 256, group, rng, variant & 1, variant & 2, variant & 4);
      LinearOptions opt;
      opt.backend = backend;
      auto lin = W4A8Linear::create(layer.weights(), opt);
      ASSERT_TRUE(lin.is_ok()) << lin.status().to_string();
      EXPECT_STREQ(lin->backend_name(), backend);
      for (DType dt : {DType::f16, DType::bf16, DType::f32}) {
        for (int64_t m : {1, 3, 17}) {
          Tensor x = test::to_tensor(test::random_floats(m * layer.k, rng, -2, 2), dt, {m, layer.k});
          auto y = lin->forward(x.view());
          ASSERT_TRUE(y.is_ok()) << y.status().to_string();
          EXPECT_EQ(y->dtype(), dt);
          const double bound = dt == DType::bf16 ? 4e-3 : 1e-3;
          EXPECT_LT(test::relative_error(test::to_floats(*y), layer.expected(x)), bound)
              << backend << " group " << group << " variant " << variant << " " << dtype_name(dt) << " m=" << m;
        }
      }
    }
  }
}

// The smallest layers the contract allows (SPEC.md: K and N multiples of 8,
// groups multiples of 32): K = 8 per channel, K = 32 in one group of 32, and
// N = 8 (one packed word of zero points), on every CPU kernel level.
TEST(Linear, SmallestLayersMatchFp64) {
  std::mt19937 rng(31);
  const std::string before = cpu_kernel();
  std::vector<std::pair<std::string, std::string>> runs = {{"reference", ""}};
  for (const std::string& level : cpu_kernels()) runs.push_back({"cpu", level});
  for (auto [n, k, group] : {std::tuple<int64_t, int64_t, int64_t>{8, 8, -1}, {8, 32, 32}, {16, 32, -1}, {8, 64, 32}})
    for (int variant = 0; variant < 8; ++variant) {
      Layer layer(n, k, group, rng, variant & 1, variant & 2, variant & 4);
      for (const auto& [backend, level] : runs) {
        if (!level.empty()) {
          ASSERT_TRUE(set_cpu_kernel(level).is_ok());
        }
        LinearOptions opt;
        opt.backend = backend;
        auto lin = W4A8Linear::create(layer.weights(), opt);
        ASSERT_TRUE(lin.is_ok()) << lin.status().to_string();
        for (int64_t m : {1, 2, 9}) {
          Tensor x = test::to_tensor(test::random_floats(m * k, rng, -2, 2), DType::f16, {m, k});
          auto y = lin->forward(x.view());
          ASSERT_TRUE(y.is_ok()) << y.status().to_string();
          EXPECT_LT(test::relative_error(test::to_floats(*y), layer.expected(x)), 1e-3)
              << backend << "/" << level << " " << n << "x" << k << " group " << group << " variant " << variant
              << " m=" << m;
        }
      }
    }
  ASSERT_TRUE(set_cpu_kernel(before).is_ok());
}

// Each activation scheme (dynamic asymmetric, static with and without a zero
// point) on its own and with every weight extension, on both CPU backends.
TEST(Linear, ActivationSchemesMatchFp64) {
  std::mt19937 rng(27);
  for (const char* backend : {"reference", "cpu"})
    for (int scheme = 1; scheme < 4; ++scheme)
      for (int64_t group : {-1, 64})
        for (int variant : {0, 7}) {
          if (group == -1 && (variant & 2)) continue;
          Layer layer(40, 192, group, rng, variant & 1, variant & 2, variant & 4);
          layer.act_asymmetric = scheme != 2;
          if (scheme >= 2) layer.input_scale = 0.0173f;  // |x| up to 2: some values clamp
          if (scheme == 3) layer.input_zero_point = -37;
          LinearOptions opt;
          opt.backend = backend;
          auto lin = W4A8Linear::create(layer.weights(), opt);
          ASSERT_TRUE(lin.is_ok()) << lin.status().to_string();
          for (DType dt : {DType::f16, DType::bf16})
            for (int64_t m : {1, 4, 19}) {
              // Shifted activations (mostly positive), where an asymmetric scheme pays off.
              Tensor x = test::to_tensor(test::random_floats(m * layer.k, rng, -0.5f, 2.0f), dt, {m, layer.k});
              auto y = lin->forward(x.view());
              ASSERT_TRUE(y.is_ok()) << y.status().to_string();
              const double bound = dt == DType::bf16 ? 4e-3 : 1e-3;
              EXPECT_LT(test::relative_error(test::to_floats(*y), layer.expected(x)), bound)
                  << backend << " scheme " << scheme << " group " << group << " variant " << variant << " "
                  << dtype_name(dt) << " m=" << m;
            }
        }
}

TEST(Linear, BadActivationSchemesAreRejected) {
  std::mt19937 rng(28);
  Layer layer(8, 64, 32, rng);
  LinearWeights lw = layer.weights();
  const float bad_scales[] = {0.0f, -1.0f, NAN, INFINITY};
  for (float s : bad_scales) {
    lw.input_scale = TensorView(const_cast<float*>(&s), DType::f32, {1});
    EXPECT_EQ(W4A8Linear::create(lw).status().code(), StatusCode::invalid_argument) << s;
  }
  const float good = 0.05f;
  lw.input_scale = TensorView(const_cast<float*>(&good), DType::f32, {});
  EXPECT_TRUE(W4A8Linear::create(lw).is_ok()) << "a 0-dim scale is one value";
  int32_t zp = 5;
  lw.input_zero_point = TensorView(&zp, DType::i32, {1});
  EXPECT_EQ(W4A8Linear::create(lw).status().message(),
            "input_zero_point is 5 but act_symmetric is true; set act_symmetric = false for a static zero point");
  lw.act_symmetric = false;
  EXPECT_TRUE(W4A8Linear::create(lw).is_ok());
  zp = 200;
  EXPECT_EQ(W4A8Linear::create(lw).status().message(), "input_zero_point: 200 is outside the int8 range -128..127");
  const float two[2] = {0.1f, 0.2f};
  lw.input_scale = TensorView(const_cast<float*>(two), DType::f32, {2});
  EXPECT_EQ(W4A8Linear::create(lw).status().message(), "input_scale: expected shape [1], got [2]");
  lw = layer.weights();
  zp = 0;
  lw.input_zero_point = TensorView(&zp, DType::i32, {1});
  EXPECT_EQ(W4A8Linear::create(lw).status().message(),
            "input_zero_point is given without input_scale; a static zero point needs its scale");
  // The seed's rules refuse both extensions with their own reasons.
  LinearConfig c;
  c.in_features = c.out_features = 64;
  c.seed_rules = true;
  c.act_static = true;
  EXPECT_EQ(can_implement(c).message(),
            "W4A8Int only supports dynamic per-token activation quantization, not static scales");
  c.act_static = false;
  c.act_asymmetric = true;
  EXPECT_EQ(can_implement(c).message(), "W4A8Int only supports symmetric activation quantization");
}

TEST(Linear, PackedAndUnpackedWeightsGiveIdenticalResults) {
  std::mt19937 rng(22);
  Layer layer(32, 128, 64, rng);
  std::vector<int32_t> packed = test::spec_pack(layer.w, layer.n, layer.k);
  LinearWeights lw = layer.weights();
  lw.values = {};
  lw.packed = TensorView(packed.data(), DType::i32, {layer.n, layer.k / 8});
  auto a = W4A8Linear::create(layer.weights());
  auto b = W4A8Linear::create(lw);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  Tensor x = test::to_tensor(test::random_floats(5 * layer.k, rng), DType::f16, {5, layer.k});
  EXPECT_EQ(test::to_floats(*a->forward(x.view())), test::to_floats(*b->forward(x.view())));
}

TEST(Linear, ActOrderEqualsPermutingTheInputColumns) {
  // A layer with g_idx applied to x equals the same layer with its columns
  // sorted by group applied to x with its columns sorted the same way.
  std::mt19937 rng(23);
  Layer layer(16, 128, 32, rng, false, true);
  std::vector<int32_t> perm(layer.k);
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int a, int b) { return layer.g_idx[a] < layer.g_idx[b]; });
  Layer sorted = layer;
  sorted.g_idx.clear();
  for (int64_t r = 0; r < layer.n; ++r)
    for (int64_t j = 0; j < layer.k; ++j) sorted.w[r * layer.k + j] = layer.w[r * layer.k + perm[j]];
  auto with_gidx = W4A8Linear::create(layer.weights());
  auto plain = W4A8Linear::create(sorted.weights());
  ASSERT_TRUE(with_gidx.is_ok() && plain.is_ok());
  const int64_t m = 3;
  auto xv = test::random_floats(m * layer.k, rng);
  std::vector<float> xp(xv.size());
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < layer.k; ++j) xp[r * layer.k + j] = xv[r * layer.k + perm[j]];
  Tensor x = test::to_tensor(xv, DType::f32, {m, layer.k}), xs = test::to_tensor(xp, DType::f32, {m, layer.k});
  EXPECT_EQ(test::to_floats(*with_gidx->forward(x.view())), test::to_floats(*plain->forward(xs.view())));
}

TEST(Linear, LeadingDimensionsAreKept) {
  std::mt19937 rng(24);
  Layer layer(8, 64, 32, rng);
  auto lin = W4A8Linear::create(layer.weights());
  ASSERT_TRUE(lin.is_ok());
  Tensor x = test::to_tensor(test::random_floats(2 * 3 * 64, rng), DType::bf16, {2, 3, 64});
  auto y = lin->forward(x.view());
  ASSERT_TRUE(y.is_ok());
  EXPECT_EQ(y->shape(), (std::vector<int64_t>{2, 3, 8}));
}

TEST(Linear, BadInputsAreRejectedBeforeAnythingIsWritten) {
  std::mt19937 rng(25);
  Layer layer(8, 64, 32, rng);
  auto lin = W4A8Linear::create(layer.weights());
  ASSERT_TRUE(lin.is_ok());
  auto x = test::random_floats(2 * 64, rng);
  x[70] = NAN;
  Tensor xt = test::to_tensor(x, DType::f16, {2, 64}), y(DType::f16, {2, 8});
  std::fill_n(y.data_as<uint16_t>(), 16, uint16_t{0x5555});
  const Status s = lin->forward(xt.view(), y.view());
  EXPECT_EQ(s.code(), StatusCode::non_finite);
  EXPECT_EQ(s.message(), "x: row 1 column 6 is NaN or Inf; activations must be finite");
  for (int i = 0; i < 16; ++i) ASSERT_EQ(y.data_as<uint16_t>()[i], 0x5555);

  Tensor wrong_k(DType::f16, {2, 32});
  EXPECT_EQ(lin->forward(wrong_k.view(), y.view()).message(), "x: last dimension is 32, the layer's in_features is 64");
  Tensor wrong_y(DType::f16, {2, 9});
  EXPECT_EQ(lin->forward(xt.view(), wrong_y.view()).message(), "y: expected shape [2, 8], got [2, 9]");
  Tensor xi(DType::i8, {2, 64});
  EXPECT_EQ(lin->forward(xi.view(), y.view()).message(), "x: expected dtype f16/bf16/f32, got i8");
}

TEST(Linear, BadWeightsAreRejected) {
  std::mt19937 rng(26);
  Layer layer(8, 64, 32, rng);
  LinearWeights lw = layer.weights();
  lw.group_size = 48;
  EXPECT_EQ(W4A8Linear::create(lw).status().message(), "Group size (48) not supported by W4A8Int, must be a multiple of 32");
  lw = layer.weights();
  layer.w[5] = 9;
  EXPECT_EQ(W4A8Linear::create(lw).status().message(), "values: element [0, 5] = 9 is outside the int4 range -8..7");
  layer.w[5] = 0;
  Tensor nan_scales = test::to_tensor(std::vector<float>(16, INFINITY), DType::f16, {8, 2});
  lw.scales = nan_scales.view();
  EXPECT_EQ(W4A8Linear::create(lw).status().code(), StatusCode::non_finite);
  lw = layer.weights();
  lw.packed = lw.values;
  EXPECT_EQ(W4A8Linear::create(lw).status().message(),
            "weights: give exactly one of `values` ([N, K] int8) and `packed` ([N, K/8] int32)");
  lw = layer.weights();
  std::vector<int32_t> uneven(64, 0);  // every column in group 0
  lw.g_idx = TensorView(uneven.data(), DType::i32, {64});
  EXPECT_EQ(W4A8Linear::create(lw).status().message(), "g_idx: group 0 has 64 columns, expected group_size=32");
  lw = layer.weights();
  LinearOptions opt;
  opt.backend = "cuda-does-not-exist";
  EXPECT_EQ(W4A8Linear::create(lw, opt).status().code(), StatusCode::unavailable);
  opt.backend = "reference";
  EXPECT_TRUE(W4A8Linear::create(lw, opt).is_ok());
}

TEST(Linear, BackendsAreListed) {
  const auto backends = list_backends();
  ASSERT_FALSE(backends.empty());
  EXPECT_EQ(backends.back().name, "reference");
  EXPECT_TRUE(backends.back().available);
  // The fast CPU backend runs everywhere (its generic kernel at least) and is
  // what "auto" picks on the CPU.
  std::mt19937 rng(27);
  Layer layer(16, 64, 32, rng);
  auto lin = W4A8Linear::create(layer.weights());
  ASSERT_TRUE(lin.is_ok());
  EXPECT_STREQ(lin->backend_name(), "cpu");
}

// Every CPU kernel level this machine has (vector quantizer, GEMM, output
// narrowing) gives the same bytes as the generic level, on every variant.
// One test per SIMD level, against the generic twin: a level this CPU cannot
// run is reported as skipped with the reason, never folded into a pass.
class LinearCpuLevel : public ::testing::TestWithParam<const char*> {};

TEST_P(LinearCpuLevel, GivesTheGenericTwinsOutputs) {
  const std::string before = cpu_kernel();
  const Status usable = set_cpu_kernel(GetParam());
  if (!usable.is_ok()) GTEST_SKIP() << GetParam() << " does not run here: " << usable.message();
  ASSERT_TRUE(set_cpu_kernel(before).is_ok());
  EXPECT_EQ(cpu_kernels().back(), "generic");
  const std::vector<std::string> levels = {GetParam(), "generic"};
  std::mt19937 rng(23);
  for (int64_t group : {-1, 32, 128})
    for (int variant = 0; variant < 8; ++variant) {
      Layer layer(72, 384, group, rng, variant & 1, variant & 2, variant & 4);
      // Every activation scheme meets several weight variants: 0 dynamic, 1
      // dynamic asymmetric, 2 static, 3 static with a zero point.
      const int scheme = (variant + variant / 2) % 4;
      layer.act_asymmetric = scheme == 1 || scheme == 3;
      if (scheme >= 2) layer.input_scale = 0.031f;
      if (scheme == 3) layer.input_zero_point = 11;
      LinearOptions opt;
      opt.backend = "cpu";
      auto lin = W4A8Linear::create(layer.weights(), opt);
      ASSERT_TRUE(lin.is_ok()) << lin.status().to_string();
      for (DType dt : {DType::f16, DType::bf16, DType::f32})
        for (int64_t m : {1, 5, 13, 30}) {
          Tensor x = test::to_tensor(test::random_floats(m * layer.k, rng, -4, 4), dt, {m, layer.k});
          std::vector<Tensor> outs;
          for (const std::string& level : levels) {
            ASSERT_TRUE(set_cpu_kernel(level).is_ok());
            auto y = lin->forward(x.view());
            ASSERT_TRUE(y.is_ok()) << level << ": " << y.status().to_string();
            outs.push_back(std::move(*y));
          }
          for (size_t i = 0; i + 1 < outs.size(); ++i)
            EXPECT_EQ(0, std::memcmp(outs[i].data(), outs.back().data(), outs.back().nbytes()))
                << levels[i] << " vs generic, group " << group << " variant " << variant << " scheme " << scheme << " "
                << dtype_name(dt)
                << " m=" << m;
        }
    }
  ASSERT_TRUE(set_cpu_kernel(before).is_ok());
}

INSTANTIATE_TEST_SUITE_P(Levels, LinearCpuLevel, ::testing::Values("avx512vnni", "avxvnni", "avx2"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

TEST(Linear, SetCpuKernelRefusesUnknownOrUnsupportedLevels) {
  const std::string before = cpu_kernel();
  const Status bad = set_cpu_kernel("avx9000");
  EXPECT_FALSE(bad.is_ok());
  EXPECT_NE(bad.message().find("not a kernel"), std::string::npos) << bad.to_string();
  EXPECT_EQ(cpu_kernel(), before);  // a refusal changes nothing
  const auto usable = cpu_kernels();
  for (const char* level : {"avx512vnni", "avxvnni", "avx2"})
    if (std::find(usable.begin(), usable.end(), level) == usable.end()) {
      const Status s = set_cpu_kernel(level);
      EXPECT_FALSE(s.is_ok()) << level;
      EXPECT_NE(s.message().find("lacks"), std::string::npos) << s.to_string();
    }
  ASSERT_TRUE(set_cpu_kernel("").is_ok());
  EXPECT_EQ(cpu_kernel(), usable.front());
  ASSERT_TRUE(set_cpu_kernel(before).is_ok());
}
