// w4a8 check: every available backend against the fp64/int64 oracle over a
// sweep of shapes, group sizes, dtypes and the extensions. Two checks per case:
//  - int32: the op with unit scales and fp32 output, whose value is the exact
//    integer sum while |y| < 2^24, compared bit for bit with the oracle;
//  - float: W4A8Linear forward on random activations, relative error against
//    the oracle's fp64 evaluation (SPEC.md: <= 1e-3 of ||y|| for fp16 output).
#include <fmt/core.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <numeric>
#include <cstring>
#include <random>

#include "cli/commands.h"
#include "cli/synthetic.h"
#include "oracle/fp64_oracle.h"
#include "w4a8/w4a8.h"

namespace w4a8::cli {

namespace {

// The seed's scheme and each extension: weight zero points, act-order,
// dynamic asymmetric activations, static activation scales (with and without a
// zero point), and all of them at once.
enum class Act { dynamic, dynamic_asym, static_sym, static_zp };
struct Variant {
  const char* name;
  bool weight_zp, g_idx;
  Act act;
};
constexpr Variant kSymmetric{"sym", false, false, Act::dynamic};
constexpr Variant kExtensions[] = {
    {"zp", true, false, Act::dynamic},          {"g_idx", false, true, Act::dynamic},
    {"a_asym", false, false, Act::dynamic_asym}, {"static", false, false, Act::static_sym},
    {"static_zp", false, false, Act::static_zp}, {"all", true, true, Act::static_zp},
};

// A static scale and zero point "calibrated" on x itself: the range of the
// whole tensor over 255 steps (or |x|max over 127 when symmetric).
void calibrate(const Tensor& x, bool with_zero_point, float* scale, int32_t* zp) {
  float mn = 0, mx = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    mn = std::min(mn, load_as_float(x.view(), i));
    mx = std::max(mx, load_as_float(x.view(), i));
  }
  if (!with_zero_point) {
    *scale = std::max(std::max(mx, -mn) / 127.0f, 1e-5f);
    *zp = 0;
    return;
  }
  *scale = std::max((mx - mn) / 255.0f, 1e-5f);
  *zp = static_cast<int32_t>(std::clamp(-128.0f - std::nearbyint(mn / *scale), -128.0f, 127.0f));
}

struct Case {
  Variant variant;
  int64_t m, n, k, group;  // group -1: per channel
  DType dtype;
};

struct Outcome {
  bool int32_exact = false;
  double max_abs = 0, rel = 0;
  bool pass = false;
  std::string error;
};

double tolerance(DType t) { return t == DType::bf16 ? 4e-3 : 1e-3; }

Tensor floats_to(const std::vector<float>& v, DType t, std::vector<int64_t> shape) {
  Tensor out(t, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) store_from_float(out.view(), static_cast<int64_t>(i), v[i]);
  return out;
}

// `t` on `dev`: itself when it is already there, else a copy.
Tensor on(Device dev, const Tensor& t) { return t.device() == dev ? t : t.to(dev).value(); }
Tensor host_tensor(DType dt, std::vector<int64_t> shape, const void* data) {
  Tensor t(dt, std::move(shape));
  std::memcpy(t.data(), data, t.nbytes());
  return t;
}

Outcome run_case(const std::string& backend, Device dev, const Case& c, uint64_t seed) {
  Outcome o;
  const int64_t g = c.group == -1 ? c.k : c.group, groups = c.k / g;
  const auto w = uniform_int8(c.n * c.k, -8, 7, seed);
  const auto packed = oracle::spec_pack(w, c.n, c.k);
  std::vector<int8_t> zp;  // [N, G] checkpoint layout, signed
  std::vector<int32_t> gidx;
  std::vector<int64_t> perm;
  if (c.variant.weight_zp) zp = uniform_int8(c.n * groups, -8, 7, seed + 1);
  if (c.variant.g_idx) {
    std::vector<int64_t> order(c.k);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed + 2);
    std::shuffle(order.begin(), order.end(), rng);
    gidx.resize(c.k);
    for (int64_t i = 0; i < c.k; ++i) gidx[order[i]] = static_cast<int32_t>(i / g);
    perm.resize(c.k);  // stable argsort of gidx, as SPEC.md prescribes for loaders
    std::iota(perm.begin(), perm.end(), 0);
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return gidx[a] < gidx[b]; });
  }

  // ---- int32 part: the op with unit scales --------------------------------
  {
    // Activations as each scheme stores them: uint8 with a zero point per row
    // (dynamic asymmetric), int8 with one zero point per tensor (static), or
    // plain int8; the scale is per tensor for the static schemes.
    const bool act_unsigned = c.variant.act == Act::dynamic_asym;
    const bool per_tensor = c.variant.act == Act::static_sym || c.variant.act == Act::static_zp;
    auto a = uniform_int8(c.m * c.k, -128, 127, seed + 3);  // the bytes the op reads
    std::vector<int32_t> a_int(a.begin(), a.end());            // their values
    std::vector<int32_t> a_zp;
    if (act_unsigned) {
      for (int8_t& v : a) v = static_cast<int8_t>(static_cast<uint8_t>(v + 128));  // bytes of 0..255
      for (size_t i = 0; i < a.size(); ++i) a_int[i] = static_cast<uint8_t>(a[i]);
      const auto z = uniform_int8(c.m, -128, 127, seed + 6);
      for (int8_t v : z) a_zp.push_back(v + 128);
    } else if (c.variant.act == Act::static_zp) {
      a_zp.push_back(uniform_int8(1, -128, 127, seed + 6)[0]);
    }
    const int64_t scale_rows = per_tensor ? 1 : c.m;
    std::vector<float> ones_m(scale_rows, 1.0f), ones_gn(groups * c.n, 1.0f);
    // GEMM column j holds weight column perm[j] (the loader's reordering).
    std::vector<int8_t> w_cols(w);
    if (!perm.empty())
      for (int64_t r = 0; r < c.n; ++r)
        for (int64_t j = 0; j < c.k; ++j) w_cols[r * c.k + j] = w[r * c.k + perm[j]];
    const auto b_words = oracle::spec_pack(w_cols, c.n, c.k);
    std::vector<int8_t> zp_gn;  // op layout [G, N]
    for (int64_t j = 0; j < groups && !zp.empty(); ++j)
      for (int64_t r = 0; r < c.n; ++r) zp_gn.push_back(zp[r * groups + j]);
    const auto zp_words = zp.empty() ? std::vector<int32_t>{} : oracle::spec_pack(zp_gn, groups, c.n);
    const int8_t eight = 8;
    GemmOptions opt;
    opt.backend = backend;
    const Tensor a_d = on(dev, host_tensor(act_unsigned ? DType::u8 : DType::i8, {c.m, c.k}, a.data()));
    const Tensor as_d = on(dev, host_tensor(DType::f32, {scale_rows}, ones_m.data()));
    const Tensor az_d =
        a_zp.empty() ? Tensor() : on(dev, host_tensor(DType::i32, {static_cast<int64_t>(a_zp.size())}, a_zp.data()));
    const Tensor b_d = on(dev, host_tensor(DType::i32, {c.n, c.k / 8}, b_words.data()));
    const Tensor ws_d = on(dev, host_tensor(DType::f32, {groups, c.n}, ones_gn.data()));
    const Tensor zp_d = zp.empty() ? Tensor() : on(dev, host_tensor(DType::i32, {groups, c.n / 8}, zp_words.data()));
    const Tensor perm_d = perm.empty() ? Tensor() : on(dev, host_tensor(DType::i64, {c.k}, perm.data()));
    Tensor out_d = Tensor::empty(DType::f32, {c.m, c.n}, dev).value();
    const Status s = int4_gemm_w4a8(
        a_d.view(), as_d.view(), a_zp.empty() ? TensorView() : az_d.view(), TensorView(b_d.data(), DType::i32, {c.k / 8, c.n}, {1, c.k / 8}, dev), ws_d.view(),
        zp.empty() ? TensorView(&eight, DType::i8, {1}) : zp_d.view(), c.group,
        perm.empty() ? TensorView() : perm_d.view(), {}, out_d.view(), opt);
    if (!s.is_ok()) {
      o.error = s.to_string();
      return o;
    }
    const Tensor out = on(Device::cpu(), out_d);
    oracle::Oracle orc;
    orc.m = c.m, orc.n = c.n, orc.k = c.k, orc.group = g;
    orc.a = a_int;
    for (int64_t r = 0; r < c.m && !a_zp.empty(); ++r) orc.a_zp.push_back(a_zp[a_zp.size() == 1 ? 0 : r]);
    orc.w.assign(w_cols.begin(), w_cols.end());
    for (int64_t j = 0; j < groups && !zp.empty(); ++j)
      for (int64_t r = 0; r < c.n; ++r) orc.w_zp.push_back(zp[r * groups + j]);
    orc.perm = perm;
    o.int32_exact = true;
    for (int64_t r = 0; r < c.m && o.int32_exact; ++r)
      for (int64_t col = 0; col < c.n; ++col) {
        int64_t want = 0;
        for (int64_t j = 0; j < groups; ++j) want += orc.acc(r, col, j);
        if (static_cast<double>(out.data_as<float>()[r * c.n + col]) != static_cast<double>(want)) {
          o.int32_exact = false;
          break;
        }
      }
  }

  // ---- float part: W4A8Linear forward ---------------------------------------
  {
    Tensor scales = floats_to(uniform_floats(c.n * groups, 0.002f, 0.02f, seed + 4), DType::f16, {c.n, groups});
    LinearWeights lw;
    lw.values = TensorView(w.data(), DType::i8, {c.n, c.k});
    lw.scales = scales.view();
    lw.group_size = c.group;
    if (!zp.empty()) lw.zero_points = TensorView(zp.data(), DType::i8, {c.n, groups});
    if (!gidx.empty()) lw.g_idx = TensorView(gidx.data(), DType::i32, {c.k});
    Tensor x = floats_to(llm_like_activations(c.m, c.k, seed + 5), c.dtype, {c.m, c.k});
    const bool is_static = c.variant.act == Act::static_sym || c.variant.act == Act::static_zp;
    float in_scale = 0;
    int32_t in_zp = 0;
    if (is_static) calibrate(x, c.variant.act == Act::static_zp, &in_scale, &in_zp);
    if (is_static) lw.input_scale = TensorView(&in_scale, DType::f32, {1});
    if (c.variant.act == Act::static_zp) lw.input_zero_point = TensorView(&in_zp, DType::i32, {1});
    lw.act_symmetric = c.variant.act == Act::dynamic || c.variant.act == Act::static_sym;
    LinearOptions lo;
    lo.backend = backend;
    lo.act_type = c.dtype;
    auto layer = W4A8Linear::create(lw, lo);
    if (!layer.is_ok()) {
      o.error = layer.status().to_string();
      return o;
    }
    const Tensor x_d = on(dev, x);
    Tensor y_d = Tensor::empty(c.dtype, {c.m, c.n}, dev).value();
    Status fs = layer->forward(x_d.view(), y_d.view());
    if (fs.is_ok()) fs = layer->poll_errors();
    if (!fs.is_ok()) {
      o.error = fs.to_string();
      return o;
    }
    const Tensor y = on(Device::cpu(), y_d);
    // The activations as SPEC.md quantizes them: the CPU ops on the generic
    // level, whose quantizer is the reference's, never the vector quantizer of
    // the level under test.
    const std::string level_under_test = cpu_kernel();
    throw_if_error(set_cpu_kernel("generic"));
    const bool act_unsigned = c.variant.act == Act::dynamic_asym;
    Tensor q(act_unsigned ? DType::u8 : DType::i8, {c.m, c.k}), sa(DType::f32, {c.m}), za(DType::i32, {c.m});
    Status qs;
    if (is_static) {
      qs = quantize_per_tensor_int8(x.view(), TensorView(&in_scale, DType::f32, {1}),
                                    TensorView(&in_zp, DType::i32, {1}), q.view());
      for (int64_t r = 0; r < c.m; ++r) sa.data_as<float>()[r] = in_scale, za.data_as<int32_t>()[r] = in_zp;
    } else {
      ActQuantOptions qo;
      qo.symmetric = !act_unsigned;
      qs = quantize_per_token_int8(x.view(), q.view(), sa.view(), za.view(), {}, qo);
    }
    throw_if_error(set_cpu_kernel(level_under_test));
    if (!qs.is_ok()) {
      o.error = qs.to_string();
      return o;
    }
    auto q_at = [&](int64_t i) -> int32_t {
      return act_unsigned ? q.data_as<uint8_t>()[i] : q.data_as<int8_t>()[i];
    };
    // y = s_m * sum_k (q[m,k] - z_m) * (w[n,k] - zp[n,grp(k)]) * S[n,grp(k)], grp from g_idx when present.
    double num = 0, den = 0;
    for (int64_t r = 0; r < c.m; ++r)
      for (int64_t col = 0; col < c.n; ++col) {
        double acc = 0;
        for (int64_t i = 0; i < c.k; ++i) {
          const int64_t gi = gidx.empty() ? i / g : gidx[i];
          const double wv = w[col * c.k + i] - (zp.empty() ? 0 : zp[col * groups + gi]);
          acc += (q_at(r * c.k + i) - za.data_as<int32_t>()[r]) * wv * load_as_float(scales.view(), col * groups + gi);
        }
        const double want = sa.data_as<float>()[r] * acc;
        const double got = load_as_float(y.view(), r * c.n + col);
        o.max_abs = std::max(o.max_abs, std::fabs(got - want));
        num += (got - want) * (got - want);
        den += want * want;
      }
    o.rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  }
  o.pass = o.int32_exact && o.rel <= tolerance(c.dtype);
  return o;
}

std::vector<Case> sweep(bool quick) {
  // {24, 200}: per channel only, K a multiple of 8 but not of 32.
  std::vector<std::pair<int64_t, int64_t>> shapes = {{8, 32}, {24, 64}, {40, 256}, {24, 200}};
  std::vector<int64_t> ms = {1, 3, 17};
  if (!quick) {
    shapes.insert(shapes.end(), {{64, 512}, {136, 1024}, {256, 4096}});
    ms.insert(ms.end(), {64, 255});
  }
  std::vector<Case> cases;
  for (auto [n, k] : shapes)
    for (int64_t m : ms)
      for (int64_t group : {-1, 32, 64, 128})
        for (DType dt : {DType::f16, DType::bf16}) {
          if (group != -1 && k % group != 0) continue;
          cases.push_back({kSymmetric, m, n, k, group, dt});
        }
  // The extensions on a smaller set of shapes: group 64 (32 for K = 32) and
  // per channel, fp16 and bf16.
  for (const Variant& v : kExtensions)
    for (auto [n, k] : shapes)
      for (int64_t m : {int64_t{1}, int64_t{17}})
        for (int64_t group : {k >= 64 ? int64_t{64} : int64_t{32}, int64_t{-1}}) {
          if (group != -1 && k % group != 0) continue;
          if (v.g_idx && group == -1) continue;  // act-order needs groups
          cases.push_back({v, m, n, k, group, m == 1 ? DType::f16 : DType::bf16});
        }
  return cases;
}

}  // namespace

void add_check_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("check", "Check every available backend against the fp64/int64 oracle");
  static bool quick = false, failures_only = false;
  static std::string backend = "all", json_path;
  static uint64_t seed = 1;
  cmd->add_flag("--quick", quick, "A smaller sweep (seconds instead of a minute)");
  cmd->add_option("--backend", backend, "Backend name, or 'all' available backends")->capture_default_str();
  cmd->add_option("--seed", seed, "Random seed")->capture_default_str();
  cmd->add_option("--json", json_path, "Also write the results as JSON to this file");
  cmd->add_flag("--failures-only", failures_only, "Print only the rows that fail");
  cmd->callback([] {
    // The cpu backend runs once per kernel level this machine has, so every
    // compiled kernel is judged, not only the one chosen by default.
    struct Target {
      std::string backend, label, cpu_level;
      Device dev;
    };
    std::vector<Target> backends;
    for (const BackendInfo& b : list_backends()) {
      if (!b.available || (backend != "all" && backend != b.name)) continue;
      if (b.name != "cpu") {
        backends.push_back({b.name, b.name, "", b.device});
        continue;
      }
      for (const std::string& level : cpu_kernels()) backends.push_back({b.name, "cpu/" + level, level, b.device});
    }
    if (backends.empty()) throw std::runtime_error("no available backend named '" + backend + "'");
    const std::string cpu_level_before = cpu_kernel();
    const auto cases = sweep(quick);
    fmt::print("{:<14} {:<6} {:>4} {:>5} {:>5} {:>5} {:<5} {:>10} {:>10} {:>6} {}\n", "backend", "kind", "M", "N", "K",
               "group", "dtype", "max_abs", "rel_err", "int32", "result");
    int failures = 0;
    nlohmann::json rows = nlohmann::json::array();
    uint64_t s = seed;
    for (const Target& t : backends) {
      const std::string& b = t.label;
      if (!t.cpu_level.empty()) throw_if_error(set_cpu_kernel(t.cpu_level));
      for (const Case& c : cases) {
        Outcome o;
        try {
          o = run_case(t.backend, t.dev, c, s += 1000);
        } catch (const std::exception& e) {  // e.g. out of device memory
          o.error = e.what();
        }
        failures += !o.pass;
        rows.push_back({{"backend", b}, {"kind", c.variant.name}, {"m", c.m}, {"n", c.n}, {"k", c.k},
                        {"group", c.group}, {"dtype", dtype_name(c.dtype)}, {"max_abs", o.max_abs},
                        {"rel_err", o.rel}, {"int32_exact", o.int32_exact}, {"pass", o.pass}, {"error", o.error}});
        if (failures_only && o.pass) continue;
        fmt::print("{:<14} {:<6} {:>4} {:>5} {:>5} {:>5} {:<5} {:>10.3e} {:>10.3e} {:>6} {}\n", b,
                   c.variant.name, c.m, c.n, c.k, c.group, dtype_name(c.dtype), o.max_abs, o.rel,
                   o.int32_exact ? "exact" : "NO", o.pass ? "ok" : "FAIL " + o.error);
      }
    }
    throw_if_error(set_cpu_kernel(cpu_level_before));
    const size_t total = cases.size() * backends.size();
    fmt::print("\ncheck: {} cases, {} passed, {} failed (int32 part bit-exact; float part within {} (fp16) / {} (bf16) "
               "of ||y||)\n\n",
               total, total - failures, failures, tolerance(DType::f16), tolerance(DType::bf16));
    if (!json_path.empty()) {
      std::ofstream(json_path) << nlohmann::json{{"cases", rows}, {"failures", failures}}.dump(2) << "\n";
    }
    if (failures) throw std::runtime_error(std::to_string(failures) + " check case(s) failed");
  });
}

}  // namespace w4a8::cli
