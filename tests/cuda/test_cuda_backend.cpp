// The CUDA backend against the CPU reference. Every test skips, with the
// reason, on a machine without a suitable GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <utility>

#include "test_util.h"

using namespace w4a8;

namespace {
std::string cuda_unavailable() {
  for (const BackendInfo& b : list_backends())
    if (b.name == "cuda") return b.available ? "" : b.unavailable_reason;
  return "this build has no CUDA backend";
}
#define REQUIRE_GPU()                                             \
  do {                                                            \
    const std::string why = cuda_unavailable();                   \
    if (!why.empty()) GTEST_SKIP() << "no usable GPU: " << why;   \
  } while (0)

Tensor on_gpu(const Tensor& t) { return t.to(Device::cuda(0)).value(); }
Tensor on_cpu(const Tensor& t) { return t.to(Device::cpu()).value(); }

struct Layer {
  int64_t n, k, group;
  std::vector<int8_t> w, zp;
  std::vector<int32_t> g_idx;
  Tensor scales, bias;
  // Activation scheme: 0 dynamic, 1 dynamic asymmetric, 2 static, 3 static with a zero point.
  int scheme = 0;
  float input_scale = 0.0213f;
  int32_t input_zero_point = -41;
  LinearWeights weights() const {
    LinearWeights lw;
    lw.values = TensorView(w.data(), DType::i8, {n, k});
    lw.scales = scales.view();
    lw.group_size = group;
    if (!zp.empty()) lw.zero_points = TensorView(zp.data(), DType::i8, {n, k / (group == -1 ? k : group)});
    if (!g_idx.empty()) lw.g_idx = TensorView(g_idx.data(), DType::i32, {k});
    if (bias.defined()) lw.bias = bias.view();
    lw.act_symmetric = scheme == 0 || scheme == 2;
    if (scheme >= 2) lw.input_scale = TensorView(const_cast<float*>(&input_scale), DType::f32, {1});
    if (scheme == 3) lw.input_zero_point = TensorView(const_cast<int32_t*>(&input_zero_point), DType::i32, {1});
    return lw;
  }
};

Layer make_layer(int64_t n, int64_t k, int64_t group, std::mt19937& rng, bool asym, bool act_order, bool with_bias) {
  Layer l{n, k, group, test::random_int4(n * k, rng), {}, {}, {}, {}};
  const int64_t g = group == -1 ? k : group, groups = k / g;
  l.scales = test::to_tensor(test::random_floats(n * groups, rng, 0.002f, 0.02f), DType::f16, {n, groups});
  if (asym) l.zp = test::random_int4(n * groups, rng);
  if (act_order) {
    for (int64_t i = 0; i < k; ++i) l.g_idx.push_back(static_cast<int32_t>(i / g));
    std::shuffle(l.g_idx.begin(), l.g_idx.end(), rng);
  }
  if (with_bias) l.bias = test::to_tensor(test::random_floats(n, rng, -1, 1), DType::f16, {n});
  return l;
}
// The layer prepared on the reference backend and on the GPU.
std::pair<Result<W4A8Linear>, Result<W4A8Linear>> reference_and_gpu(const Layer& l) {
  LinearOptions o;
  o.backend = "cuda";
  return {W4A8Linear::create(l.weights()), W4A8Linear::create(l.weights(), o)};
}

// Random activations in [lo, hi) through the reference layer and the GPU
// layer: the GPU output's relative error against the reference (NaN, and a
// test failure, where the GPU call fails).
double gpu_error_vs_reference(const W4A8Linear& ref, const W4A8Linear& gpu, int64_t n, int64_t k, DType dt,
                              int64_t m, std::mt19937& rng, float lo, float hi) {
  Tensor x = test::to_tensor(test::random_floats(m * k, rng, lo, hi), dt, {m, k});
  Tensor y_ref = ref.forward(x.view()).value();
  Tensor xd = on_gpu(x), yd = Tensor::empty(dt, {m, n}, Device::cuda(0)).value();
  const Status st = gpu.forward(xd.view(), yd.view());
  const Status errors = gpu.poll_errors();
  if (!st.is_ok() || !errors.is_ok()) {
    ADD_FAILURE() << "forward: " << st.to_string() << "; poll_errors: " << errors.to_string();
    return NAN;
  }
  const auto want = test::to_floats(y_ref), got = test::to_floats(on_cpu(yd));
  return test::relative_error(got, std::vector<double>(want.begin(), want.end()));
}
// Records the calls `record` makes on stream s into a CUDA graph, then
// replays the graph once and waits for it.
void replay_as_graph(cudaStream_t s, const std::function<Status()>& record) {
  cudaGraph_t graph;
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  const Status st = record();
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  cudaGraphExec_t exec;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}
}  // namespace

TEST(CudaActQuant, BitIdenticalToTheReference) {
  REQUIRE_GPU();
  std::mt19937 rng(51);
  for (DType dt : {DType::f16, DType::bf16, DType::f32})
    // K <= 8192 rows are held in registers (1, 2 and 4 pieces a thread
    // here, 6144 with one piece past the row); so are the rows of calls of
    // at most 32 tokens up to K = 32768 (8 and 16 pieces: 8320, 12288,
    // 20480, 28672); 64 rows of 14336 are streamed.
    // Group sums per lane (32, 96), per half warp (128) and per warp (256,
    // 2048, 6144).
    for (auto [m, k, g] : {std::tuple<int64_t, int64_t, int64_t>{1, 32, 32}, {3, 4096, 128}, {17, 96, -1}, {64, 14336, 128},
                           {9, 2048, -1}, {4, 6144, -1}, {2, 20480, 256},
                           // decode rows held in 8 and 16 pieces a thread (a partial last piece too)
                           {5, 28672, 128}, {3, 12288, -1}, {32, 8320, 128}}) {
      auto xv = test::random_floats(m * k, rng, -4, 4);
      xv[0] = 300.0f;  // an outlier
      if (m > 2) std::fill(xv.begin() + k, xv.begin() + 2 * k, 0.0f);  // an all-zero row
      Tensor x = test::to_tensor(xv, dt, {m, k});
      const int64_t groups = k / (g == -1 ? k : g);
      Tensor q(DType::i8, {m, k}), s(dt, {m}), z(DType::i32, {m}), gs(DType::i32, {m, groups});
      ActQuantOptions opt;
      opt.group_size = g;
      ASSERT_TRUE(quantize_per_token_int8(x.view(), q.view(), s.view(), z.view(), gs.view(), opt).is_ok());
      Tensor xd = on_gpu(x), qd = on_gpu(q), sd = on_gpu(s), zd = on_gpu(z), gd = on_gpu(gs);
      const Status st = quantize_per_token_int8(xd.view(), qd.view(), sd.view(), zd.view(), gd.view(), opt);
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      const Tensor qh = on_cpu(qd), sh = on_cpu(sd), gh = on_cpu(gd);
      ASSERT_EQ(0, std::memcmp(qh.data(), q.data(), q.nbytes())) << dtype_name(dt) << " m=" << m << " k=" << k;
      ASSERT_EQ(0, std::memcmp(sh.data(), s.data(), s.nbytes()));
      ASSERT_EQ(0, std::memcmp(gh.data(), gs.data(), gs.nbytes()));
    }
}

// Dynamic asymmetric (uint8 + zero point per row) and static per-tensor
// quantization: the same bytes, scales, zero points and sums as the CPU.
TEST(CudaActQuant, EverySchemeBitIdenticalToTheReference) {
  REQUIRE_GPU();
  std::mt19937 rng(56);
  for (DType dt : {DType::f16, DType::bf16, DType::f32})
    for (auto [m, k, g] : {std::tuple<int64_t, int64_t, int64_t>{1, 32, 32}, {5, 4096, 128}, {17, 96, -1},
                           {3, 16384, 128} /* rows in 8 pieces a thread */}) {
      auto xv = test::random_floats(m * k, rng, -1, 3);
      xv[0] = 40.0f;
      if (m > 2) std::fill(xv.begin() + k, xv.begin() + 2 * k, 0.5f);  // a constant row: the minimum scale
      Tensor x = test::to_tensor(xv, dt, {m, k});
      Tensor xd = on_gpu(x);
      const int64_t groups = k / (g == -1 ? k : g);
      const std::string what = std::string(dtype_name(dt)) + " m=" + std::to_string(m) + " k=" + std::to_string(k);
      {  // dynamic asymmetric
        Tensor q(DType::u8, {m, k}), s(dt, {m}), z(DType::i32, {m}), gs(DType::i32, {m, groups});
        ActQuantOptions opt;
        opt.symmetric = false;
        opt.group_size = g;
        ASSERT_TRUE(quantize_per_token_int8(x.view(), q.view(), s.view(), z.view(), gs.view(), opt).is_ok());
        Tensor qd = on_gpu(q), sd = on_gpu(s), zd = on_gpu(z), gd = on_gpu(gs);
        const Status st = quantize_per_token_int8(xd.view(), qd.view(), sd.view(), zd.view(), gd.view(), opt);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        ASSERT_EQ(0, std::memcmp(on_cpu(qd).data(), q.data(), q.nbytes())) << "asymmetric q, " << what;
        ASSERT_EQ(0, std::memcmp(on_cpu(sd).data(), s.data(), s.nbytes())) << what;
        ASSERT_EQ(0, std::memcmp(on_cpu(zd).data(), z.data(), z.nbytes())) << what;
        ASSERT_EQ(0, std::memcmp(on_cpu(gd).data(), gs.data(), gs.nbytes())) << what;
      }
      for (int32_t zp : {0, -41}) {  // static
        const float scale = 0.0213f;
        Tensor q(DType::i8, {m, k}), gs(DType::i32, {m, groups});
        const TensorView sv(const_cast<float*>(&scale), DType::f32, {1}), zv(&zp, DType::i32, {1});
        ASSERT_TRUE(quantize_per_tensor_int8(x.view(), sv, zv, q.view(), gs.view(), g).is_ok());
        Tensor qd = on_gpu(q), gd = on_gpu(gs);
        const Status st = quantize_per_tensor_int8(xd.view(), sv, zv, qd.view(), gd.view(), g);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        ASSERT_EQ(0, std::memcmp(on_cpu(qd).data(), q.data(), q.nbytes())) << "static q, zp " << zp << ", " << what;
        ASSERT_EQ(0, std::memcmp(on_cpu(gd).data(), gs.data(), gs.nbytes())) << what;
      }
    }
}

TEST(CudaActQuant, NonFiniteIsReported) {
  REQUIRE_GPU();
  std::vector<float> xv(2 * 64, 1.0f);
  xv[70] = NAN;
  Tensor x = on_gpu(test::to_tensor(xv, DType::f16, {2, 64}));
  Tensor q = Tensor::empty(DType::i8, {2, 64}, Device::cuda(0)).value();
  Tensor s = Tensor::empty(DType::f16, {2}, Device::cuda(0)).value();
  Tensor z = Tensor::empty(DType::i32, {2}, Device::cuda(0)).value();
  EXPECT_EQ(quantize_per_token_int8(x.view(), q.view(), s.view(), z.view()).code(), StatusCode::non_finite);
}

// The op with unit scales and fp32 output: bit-exact integer sums.
TEST(CudaGemm, IntegerPartBitExactAgainstReference) {
  REQUIRE_GPU();
  std::mt19937 rng(52);
  struct Shape { int64_t m, n, k, g; bool zp, perm; };
  for (Shape sh : {Shape{1, 8, 32, 32, false, false}, {3, 24, 96, 32, true, false}, {17, 40, 256, -1, false, true},
                   {33, 136, 512, 64, true, true}, {64, 256, 1024, 128, false, false}, {255, 72, 4096, 128, true, false},
                   {300, 520, 384, 128, false, true}, {8, 4096, 4096, 128, false, false},
                   {1100, 4096, 256, 128, true, false} /* enough blocks for the 128x128 tile */,
                   {40, 200, 2048, -1, true, false} /* per channel, K long enough to split */,
                   {1, 24, 200, -1, false, false}, {17, 40, 4104, -1, true, false} /* per channel, K not a multiple of 32 */,
                   // Up to 8 tokens (the gemv kernel when forced): per channel with zero points split over the
                   // warps, groups of 256 (two pairs a promotion), fewer groups than warps, odd M.
                   {3, 40, 2048, -1, true, false}, {5, 24, 1024, 256, true, false}, {7, 72, 640, 128, true, true},
                   {2, 16, 128, 128, false, false},
                   // 9-32 tokens (gemv's two and four token tiles when forced).
                   {12, 40, 1024, 128, true, false}, {31, 24, 2048, -1, true, true}, {16, 72, 512, 256, false, false}}) {
    const int64_t g = sh.g == -1 ? sh.k : sh.g, groups = sh.k / g;
    auto a = test::random_int8(sh.m * sh.k, rng);
    auto w = test::random_int4(sh.n * sh.k, rng);
    auto packed = test::spec_pack(w, sh.n, sh.k);
    std::vector<float> ones_m(sh.m, 1.0f), ones(groups * sh.n, 1.0f);
    std::vector<int8_t> zp = test::random_int4(groups * sh.n, rng);
    auto zp_words = test::spec_pack(zp, groups, sh.n);
    std::vector<int64_t> perm(sh.k);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    const int8_t eight = 8;
    Tensor a_t(DType::i8, {sh.m, sh.k}), b_t(DType::i32, {sh.n, sh.k / 8}), as_t(DType::f32, {sh.m}),
        ws_t(DType::f32, {groups, sh.n}), zp_t(DType::i32, {groups, sh.n / 8}), perm_t(DType::i64, {sh.k});
    std::memcpy(a_t.data(), a.data(), a.size());
    std::memcpy(b_t.data(), packed.data(), packed.size() * 4);
    std::memcpy(as_t.data(), ones_m.data(), ones_m.size() * 4);
    std::memcpy(ws_t.data(), ones.data(), ones.size() * 4);
    std::memcpy(zp_t.data(), zp_words.data(), zp_words.size() * 4);
    std::memcpy(perm_t.data(), perm.data(), perm.size() * 8);
    Tensor out_ref(DType::f32, {sh.m, sh.n});
    auto run = [&](const Tensor& A, const Tensor& B, const Tensor& AS, const Tensor& WS, const Tensor& ZP,
                   const Tensor& P, const Tensor& out, const char* backend) {
      GemmOptions o;
      o.backend = backend;
      TensorView b(B.data(), DType::i32, {sh.k / 8, sh.n}, {1, sh.k / 8}, B.device());
      return int4_gemm_w4a8(A.view(), AS.view(), {}, b, WS.view(),
                            sh.zp ? ZP.view() : TensorView(&eight, DType::i8, {1}), sh.g,
                            sh.perm ? P.view() : TensorView(), {}, out.view(), o);
    };
    ASSERT_TRUE(run(a_t, b_t, as_t, ws_t, zp_t, perm_t, out_ref, "reference").is_ok());
    Tensor out_gpu = Tensor::empty(DType::f32, {sh.m, sh.n}, Device::cuda(0)).value();
    const Status st = run(on_gpu(a_t), on_gpu(b_t), on_gpu(as_t), on_gpu(ws_t), on_gpu(zp_t), on_gpu(perm_t), out_gpu, "cuda");
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    const Tensor got = on_cpu(out_gpu);
    ASSERT_EQ(0, std::memcmp(got.data(), out_ref.data(), out_ref.nbytes()))
        << "m=" << sh.m << " n=" << sh.n << " k=" << sh.k << " g=" << sh.g;
  }
}

TEST(CudaLinear, ForwardMatchesReferenceForEveryConfiguration) {
  REQUIRE_GPU();
  std::mt19937 rng(53);
  for (int64_t group : {-1, 32, 128})
    for (int variant = 0; variant < 8; ++variant) {
      const Layer l = make_layer(72, 512, group, rng, variant & 1, variant & 2, variant & 4);
      auto [ref, gpu] = reference_and_gpu(l);
      ASSERT_TRUE(ref.is_ok() && gpu.is_ok()) << gpu.status().to_string();
      for (DType dt : {DType::f16, DType::bf16})
        for (int64_t m : {1, 5, 16, 31, 33, 129}) {
          // Same integers, fp32 sums in another order: differences are output roundings.
          EXPECT_LT(gpu_error_vs_reference(*ref, *gpu, l.n, l.k, dt, m, rng, -3, 3), dt == DType::bf16 ? 8e-3 : 2e-3)
              << "group " << group << " variant " << variant << " m=" << m << " " << dtype_name(dt);
        }
    }
}

// An output view that starts 2 bytes off 16-byte alignment, on layers whose
// width is no multiple of the kernels' channel tiles (72, 136): every output
// is the reference's, and nothing on either side of the view changes.
TEST(CudaLinear, OffsetOutputViewMatchesReference) {
  REQUIRE_GPU();
  std::mt19937 rng(59);
  for (int64_t n : {72, 136, 256})
    for (int64_t group : {128, -1}) {
      const Layer l = make_layer(n, 512, group, rng, false, false, true);
      auto [ref, gpu] = reference_and_gpu(l);
      ASSERT_TRUE(ref.is_ok() && gpu.is_ok()) << gpu.status().to_string();
      for (int64_t offset : {0, 1})
        for (int64_t m : {1, 33, 129, 200}) {
          Tensor x = test::to_tensor(test::random_floats(m * l.k, rng, -3, 3), DType::f16, {m, l.k});
          const auto want = test::to_floats(ref->forward(x.view()).value());
          // The output view sits `offset` elements into a buffer with room on both sides.
          const int64_t total = m * n + 2 * 8;
          Tensor buf = Tensor::empty(DType::f16, {total}, Device::cuda(0)).value();
          // 0x7C7C, an fp16 NaN: compared as bits outside the view; inside, an unwritten output fails the error check.
          ASSERT_EQ(cudaMemset(buf.data(), 0x7C, buf.nbytes()), cudaSuccess);
          auto* base = static_cast<uint16_t*>(buf.data()) + 8 + offset;
          const TensorView y(base, DType::f16, {m, n}, Device::cuda(0));
          ASSERT_TRUE(gpu->forward(on_gpu(x).view(), y).is_ok());
          const Tensor host = on_cpu(buf);
          const auto* h = static_cast<const uint16_t*>(host.data());
          for (int64_t i = 0; i < 8 + offset; ++i) ASSERT_EQ(h[i], 0x7C7C) << "before the output, n=" << n << " m=" << m;
          for (int64_t i = 8 + offset + m * n; i < total; ++i) ASSERT_EQ(h[i], 0x7C7C) << "after, n=" << n << " m=" << m;
          Tensor got(DType::f16, {m, n});
          std::memcpy(got.data(), h + 8 + offset, got.nbytes());
          EXPECT_LT(test::relative_error(test::to_floats(got), std::vector<double>(want.begin(), want.end())), 2e-3)
              << "n=" << n << " group " << group << " offset " << offset << " m=" << m;
        }
    }
}

TEST(CudaLinear, ActivationSchemesMatchReference) {
  REQUIRE_GPU();
  std::mt19937 rng(57);
  for (int scheme = 1; scheme < 4; ++scheme)
    for (int64_t group : {-1, 128})
      for (int variant : {0, 5, 7}) {
        if (group == -1 && (variant & 2)) continue;
        Layer l = make_layer(72, 512, group, rng, variant & 1, variant & 2, variant & 4);
        l.scheme = scheme;
        auto [ref, gpu] = reference_and_gpu(l);
        ASSERT_TRUE(ref.is_ok() && gpu.is_ok()) << gpu.status().to_string();
        for (DType dt : {DType::f16, DType::bf16})
          for (int64_t m : {1, 5, 33, 129}) {
            EXPECT_LT(gpu_error_vs_reference(*ref, *gpu, l.n, l.k, dt, m, rng, -0.5f, 2.5f),
                      dt == DType::bf16 ? 8e-3 : 2e-3)
                << "scheme " << scheme << " group " << group << " variant " << variant << " m=" << m << " "
                << dtype_name(dt);
          }
      }
}

// A static scheme reads x once, so it finds a NaN/Inf row while quantizing.
TEST(CudaLinear, StaticSchemeReportsNonFiniteRows) {
  REQUIRE_GPU();
  std::mt19937 rng(58);
  Layer l = make_layer(32, 128, 64, rng, false, false, false);
  l.scheme = 3;
  LinearOptions o;
  o.backend = "cuda";
  auto gpu = W4A8Linear::create(l.weights(), o);
  ASSERT_TRUE(gpu.is_ok());
  auto xv = test::random_floats(3 * l.k, rng);
  xv[2 * l.k + 100] = NAN;
  Tensor x = on_gpu(test::to_tensor(xv, DType::f16, {3, l.k}));
  Tensor y = Tensor::empty(DType::f16, {3, l.n}, Device::cuda(0)).value();
  ASSERT_TRUE(gpu->forward(x.view(), y.view()).is_ok());
  EXPECT_EQ(gpu->poll_errors().code(), StatusCode::non_finite);
  const auto yh = test::to_floats(on_cpu(y));
  for (int64_t c = 0; c < l.n; ++c) {
    EXPECT_TRUE(std::isfinite(yh[c]));
    EXPECT_TRUE(std::isfinite(yh[l.n + c]));
    EXPECT_TRUE(std::isnan(yh[2 * l.n + c]));
  }
}

// Also the small test that scripts/device-check runs under racecheck with
// each kernel forced: per channel too, so the per-channel-only kernels
// (wgmma_128x3) are covered.
TEST(CudaLinear, ChunkedTokensEqualOneCall) {
  REQUIRE_GPU();
  std::mt19937 rng(54);
  for (int64_t group : {128, -1}) {
    const Layer l = make_layer(64, 256, group, rng, false, false, true);
    LinearOptions big, small;
    big.backend = small.backend = "cuda";
    small.max_tokens = 16;
    auto a = W4A8Linear::create(l.weights(), big), b = W4A8Linear::create(l.weights(), small);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    Tensor x = on_gpu(test::to_tensor(test::random_floats(40 * l.k, rng), DType::f16, {40, l.k}));
    Tensor ya = Tensor::empty(DType::f16, {40, l.n}, Device::cuda(0)).value();
    Tensor yb = Tensor::empty(DType::f16, {40, l.n}, Device::cuda(0)).value();
    ASSERT_TRUE(a->forward(x.view(), ya.view()).is_ok());
    ASSERT_TRUE(b->forward(x.view(), yb.view()).is_ok());
    // 40 tokens: one tiled call vs chunks of 16 + 16 + 8 through the small-M kernel.
    const auto fa = test::to_floats(on_cpu(ya)), fb = test::to_floats(on_cpu(yb));
    std::vector<double> fa_d(fa.begin(), fa.end());
    EXPECT_LT(test::relative_error(fb, fa_d), 2e-3) << "group " << group;
  }
}

TEST(CudaLinear, NaNRowsBecomeNaNAndAreReported) {
  REQUIRE_GPU();
  std::mt19937 rng(55);
  const Layer l = make_layer(32, 128, 64, rng, false, false, false);
  LinearOptions o;
  o.backend = "cuda";
  auto gpu = W4A8Linear::create(l.weights(), o);
  ASSERT_TRUE(gpu.is_ok());
  auto xv = test::random_floats(3 * l.k, rng);
  xv[l.k + 5] = INFINITY;
  Tensor x = on_gpu(test::to_tensor(xv, DType::f16, {3, l.k}));
  Tensor y = Tensor::empty(DType::f16, {3, l.n}, Device::cuda(0)).value();
  ASSERT_TRUE(gpu->forward(x.view(), y.view()).is_ok());
  EXPECT_EQ(gpu->poll_errors().code(), StatusCode::non_finite);
  EXPECT_TRUE(gpu->poll_errors().is_ok()) << "the flag is cleared once reported";
  const auto yh = test::to_floats(on_cpu(y));
  for (int64_t c = 0; c < l.n; ++c) {
    EXPECT_TRUE(std::isfinite(yh[c]));
    EXPECT_TRUE(std::isnan(yh[l.n + c]));
    EXPECT_TRUE(std::isfinite(yh[2 * l.n + c]));
  }
}

TEST(CudaLinear, ForwardCanBeCapturedInACudaGraph) {
  REQUIRE_GPU();
  std::mt19937 rng(56);
  const Layer l = make_layer(128, 512, 128, rng, false, false, false);
  LinearOptions o;
  o.backend = "cuda";
  auto gpu = W4A8Linear::create(l.weights(), o);
  ASSERT_TRUE(gpu.is_ok());
  for (int64_t m : {4, 64}) {
    Tensor x = on_gpu(test::to_tensor(test::random_floats(m * l.k, rng), DType::f16, {m, l.k}));
    Tensor y1 = Tensor::empty(DType::f16, {m, l.n}, Device::cuda(0)).value();
    Tensor y2 = Tensor::empty(DType::f16, {m, l.n}, Device::cuda(0)).value();
    ASSERT_TRUE(gpu->forward(x.view(), y1.view()).is_ok());
    cudaStream_t s;
    ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
    ForwardOptions fo;
    fo.stream = s;
    ASSERT_NO_FATAL_FAILURE(replay_as_graph(s, [&] { return gpu->forward(x.view(), y2.view(), fo); }));
    const Tensor h1 = on_cpu(y1), h2 = on_cpu(y2);
    EXPECT_EQ(0, std::memcmp(h1.data(), h2.data(), h1.nbytes())) << "graph replay equals the direct call, m=" << m;
    cudaStreamDestroy(s);
  }
}

// A layer with few output tiles (on Hopper the wgmma kernel splits K across
// blocks and the last block of each tile adds the partial sums): every output
// written on every call, the same bytes each time (the partials are added in a
// fixed order and the tile counters reset themselves), and the reference's
// values. Also runs with W4A8_CUDA_SPLITK forcing other split counts.
TEST(CudaLinear, RepeatedCallsGiveTheSameBytes) {
  REQUIRE_GPU();
  std::mt19937 rng(57);
  for (int64_t group : {128, -1}) {
    const Layer l = make_layer(256, 4096, group, rng, group == 128, false, true);
    auto [ref, gpu] = reference_and_gpu(l);
    ASSERT_TRUE(ref.is_ok() && gpu.is_ok()) << gpu.status().to_string();
    for (int64_t m : {64, 100}) {
      Tensor x = test::to_tensor(test::random_floats(m * l.k, rng, -3, 3), DType::f16, {m, l.k});
      const auto want = test::to_floats(ref->forward(x.view()).value());
      const std::vector<double> want_d(want.begin(), want.end());
      Tensor xd = on_gpu(x);
      Tensor first;
      for (int call = 0; call < 3; ++call) {
        Tensor yd = Tensor::empty(DType::f16, {m, l.n}, Device::cuda(0)).value();
        ASSERT_EQ(cudaMemset(yd.data(), 0xFF, yd.nbytes()), cudaSuccess);  // NaN: an unwritten output shows
        ASSERT_TRUE(gpu->forward(xd.view(), yd.view()).is_ok());
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
        Tensor yh = on_cpu(yd);
        EXPECT_LT(test::relative_error(test::to_floats(yh), want_d), 2e-3) << "group " << group << " m=" << m;
        if (call == 0) {
          first = std::move(yh);
        } else {
          EXPECT_EQ(0, std::memcmp(first.data(), yh.data(), yh.nbytes())) << "call " << call << " group " << group << " m=" << m;
        }
      }
    }
  }
}

// A decode step runs layer after layer in one CUDA graph; on sm_90 each
// kernel may start before the one before it has finished (programmatic
// dependent launch) and must read its input only after. Four square layers
// (each output is the next input: symmetric, asymmetric weights, act-order,
// bias) captured once: the same bytes as calling them one by one with a
// synchronisation between, and each layer the reference's values for the
// input it got.
TEST(CudaLinear, ChainedLayersInAGraphEqualOneByOne) {
  REQUIRE_GPU();
  std::mt19937 rng(60);
  const int64_t d = 1024;
  std::vector<Layer> layers;
  std::vector<W4A8Linear> ref, gpu;
  for (int i = 0; i < 4; ++i) {
    layers.push_back(make_layer(d, d, 128, rng, i == 1, i == 2, i == 3));
    auto [r, g] = reference_and_gpu(layers.back());
    ASSERT_TRUE(r.is_ok() && g.is_ok()) << g.status().to_string();
    ref.push_back(std::move(*r));
    gpu.push_back(std::move(*g));
  }
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  ForwardOptions fo;
  fo.stream = s;
  for (int64_t m : {1, 3, 16, 32}) {
    std::vector<Tensor> eager, graphed;
    eager.push_back(on_gpu(test::to_tensor(test::random_floats(m * d, rng, -1, 1), DType::f16, {m, d})));
    graphed.push_back(eager.front().to(Device::cuda(0)).value());
    for (int i = 0; i < 4; ++i) {
      eager.push_back(Tensor::empty(DType::f16, {m, d}, Device::cuda(0)).value());
      graphed.push_back(Tensor::empty(DType::f16, {m, d}, Device::cuda(0)).value());
      ASSERT_EQ(cudaMemset(graphed.back().data(), 0xFF, graphed.back().nbytes()), cudaSuccess);  // NaN until written
    }
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(gpu[i].forward(eager[i].view(), eager[i + 1].view(), fo).is_ok());
      ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    }
    ASSERT_NO_FATAL_FAILURE(replay_as_graph(s, [&] {
      Status st;
      for (int i = 0; i < 4 && st.is_ok(); ++i) st = gpu[i].forward(graphed[i].view(), graphed[i + 1].view(), fo);
      return st;
    }));
    for (int i = 1; i <= 4; ++i) {
      const Tensor a = on_cpu(eager[i]), b = on_cpu(graphed[i]);
      EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.nbytes())) << "layer " << i - 1 << " m=" << m;
      const auto want = test::to_floats(ref[i - 1].forward(on_cpu(eager[i - 1]).view()).value());
      EXPECT_LT(test::relative_error(test::to_floats(a), std::vector<double>(want.begin(), want.end())), 2e-3)
          << "layer " << i - 1 << " m=" << m;
    }
    EXPECT_TRUE(gpu[0].poll_errors().is_ok());
  }
  cudaStreamDestroy(s);
}

// The op with device tensors prepares its operands on the GPU (no host round
// trip): it can be captured in a CUDA graph, whose replay gives the direct
// call's bytes and the reference's values; a g_idx that is no permutation
// gives NaN outputs, never plausible ones.
TEST(CudaGemm, OpRunsInACudaGraphAndRejectsABadPermutationWithNaN) {
  REQUIRE_GPU();
  std::mt19937 rng(61);
  const int64_t m = 5, n = 136, k = 512, g = 128, groups = k / g;
  auto a = test::random_int8(m * k, rng);
  auto packed = test::spec_pack(test::random_int4(n * k, rng), n, k);
  auto zp_words = test::spec_pack(test::random_int4(groups * n, rng), groups, n);
  std::vector<int64_t> perm(k);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  Tensor a_t(DType::i8, {m, k}), b_t(DType::i32, {n, k / 8}), as_t(DType::f32, {m}), ws_t(DType::f16, {groups, n}),
      zp_t(DType::i32, {groups, n / 8}), perm_t(DType::i64, {k}), bias_t(DType::f16, {n});
  std::memcpy(a_t.data(), a.data(), a.size());
  std::memcpy(b_t.data(), packed.data(), packed.size() * 4);
  std::memcpy(zp_t.data(), zp_words.data(), zp_words.size() * 4);
  std::memcpy(perm_t.data(), perm.data(), perm.size() * 8);
  for (int64_t i = 0; i < m; ++i) store_from_float(as_t.view(), i, 0.01f + 0.001f * static_cast<float>(i));
  for (int64_t i = 0; i < groups * n; ++i) store_from_float(ws_t.view(), i, 0.002f + 0.0001f * static_cast<float>(i % 13));
  for (int64_t i = 0; i < n; ++i) store_from_float(bias_t.view(), i, 0.1f * static_cast<float>(i % 7) - 0.3f);
  auto run = [&](const Tensor& A, const Tensor& B, const Tensor& AS, const Tensor& WS, const Tensor& ZP,
                 const Tensor& P, const Tensor& bias, const Tensor& out, const char* backend, void* stream) {
    GemmOptions o;
    o.backend = backend;
    o.stream = stream;
    TensorView b(B.data(), DType::i32, {k / 8, n}, {1, k / 8}, B.device());
    return int4_gemm_w4a8(A.view(), AS.view(), {}, b, WS.view(), ZP.view(), g, P.view(), bias.view(), out.view(), o);
  };
  Tensor want(DType::f32, {m, n});
  ASSERT_TRUE(run(a_t, b_t, as_t, ws_t, zp_t, perm_t, bias_t, want, "reference", nullptr).is_ok());
  const Tensor A = on_gpu(a_t), B = on_gpu(b_t), AS = on_gpu(as_t), WS = on_gpu(ws_t), ZP = on_gpu(zp_t),
               P = on_gpu(perm_t), BIAS = on_gpu(bias_t);
  Tensor direct = Tensor::empty(DType::f32, {m, n}, Device::cuda(0)).value();
  Tensor graphed = Tensor::empty(DType::f32, {m, n}, Device::cuda(0)).value();
  ASSERT_EQ(cudaMemset(graphed.data(), 0xFF, graphed.nbytes()), cudaSuccess);
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  ASSERT_TRUE(run(A, B, AS, WS, ZP, P, BIAS, direct, "cuda", s).is_ok());
  replay_as_graph(s, [&] { return run(A, B, AS, WS, ZP, P, BIAS, graphed, "cuda", s); });
  const Tensor d = on_cpu(direct), r = on_cpu(graphed);
  EXPECT_EQ(0, std::memcmp(d.data(), r.data(), d.nbytes())) << "graph replay against the direct call";
  const auto got = test::to_floats(d), ref = test::to_floats(want);
  EXPECT_LT(test::relative_error(got, std::vector<double>(ref.begin(), ref.end())), 1e-5);
  // Column 3 named twice, column 7 never: NaN everywhere.
  perm_t.data_as<int64_t>()[std::find(perm.begin(), perm.end(), 7) - perm.begin()] = 3;
  Tensor bad = Tensor::empty(DType::f32, {m, n}, Device::cuda(0)).value();
  ASSERT_TRUE(run(A, B, AS, WS, ZP, on_gpu(perm_t), BIAS, bad, "cuda", s).is_ok());
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  for (float v : test::to_floats(on_cpu(bad))) ASSERT_TRUE(std::isnan(v));
  cudaStreamDestroy(s);
}
