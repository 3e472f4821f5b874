#include "core/quantized_weight.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/int4.h"
#include "core/validate.h"
#include "w4a8/ops.h"

namespace w4a8::detail {

namespace {
const std::initializer_list<DType> kFloats = {DType::f16, DType::bf16, DType::f32};

// Act-order: g_idx[k] is the group of input column k. Returns the stable
// argsort (GEMM column j reads activation column perm[j]) after checking that
// every group has exactly group_size columns.
Result<std::vector<int32_t>> perm_from_group_index(const TensorView& g_idx, int64_t k, int64_t group_size,
                                                   int64_t groups) {
  W4A8_RETURN_IF_ERROR(check_view(g_idx, "g_idx", {DType::i32, DType::i64}, {k}));
  std::vector<int64_t> gi(static_cast<size_t>(k));
  std::vector<int64_t> count(static_cast<size_t>(groups), 0);
  for (int64_t i = 0; i < k; ++i) {
    gi[i] = g_idx.dtype() == DType::i32 ? g_idx.data_as<const int32_t>()[i] : g_idx.data_as<const int64_t>()[i];
    if (gi[i] < 0 || gi[i] >= groups)
      return invalid_argument("g_idx: entry " + std::to_string(i) + " = " + std::to_string(gi[i]) +
                              " is not a group index in 0.." + std::to_string(groups - 1));
    ++count[gi[i]];
  }
  for (int64_t j = 0; j < groups; ++j)
    if (count[j] != group_size)
      return invalid_argument("g_idx: group " + std::to_string(j) + " has " + std::to_string(count[j]) +
                              " columns, expected group_size=" + std::to_string(group_size));
  std::vector<int32_t> perm(static_cast<size_t>(k));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return gi[a] < gi[b]; });
  return perm;
}

// The activation scheme from LinearWeights' act_symmetric / input_scale / input_zero_point.
Result<ActQuantScheme> act_scheme_of(const LinearWeights& w) {
  ActQuantScheme s;
  s.symmetric = w.act_symmetric;
  if (!w.input_scale.defined()) {
    if (w.input_zero_point.defined())
      return invalid_argument("input_zero_point is given without input_scale; a static zero point needs its scale");
    return s;
  }
  s.is_static = true;
  W4A8_RETURN_IF_ERROR(w.input_scale.rank() == 0 ? check_view(w.input_scale, "input_scale", kFloats, {})
                                                  : check_view(w.input_scale, "input_scale", kFloats, {1}));
  s.scale = load_as_float(w.input_scale, 0);
  if (!std::isfinite(s.scale) || !(s.scale > 0.0f))
    return invalid_argument("input_scale: " + std::to_string(s.scale) + " is not a finite positive scale");
  if (w.input_zero_point.defined()) {
    const TensorView& z = w.input_zero_point;
    W4A8_RETURN_IF_ERROR(z.rank() == 0 ? check_view(z, "input_zero_point", {DType::i8, DType::i32}, {})
                                       : check_view(z, "input_zero_point", {DType::i8, DType::i32}, {1}));
    const int64_t v = z.dtype() == DType::i8 ? z.data_as<const int8_t>()[0] : z.data_as<const int32_t>()[0];
    if (v < -128 || v > 127)
      return invalid_argument("input_zero_point: " + std::to_string(v) + " is outside the int8 range -128..127");
    s.zero_point = static_cast<int32_t>(v);
  }
  if (s.zero_point != 0 && w.act_symmetric)
    return invalid_argument("input_zero_point is " + std::to_string(s.zero_point) +
                            " but act_symmetric is true; set act_symmetric = false for a static zero point");
  return s;
}
}  // namespace

Tensor dequantized_row_sums(const QuantizedWeight& w) {
  Tensor out(DType::f32, {w.n});
  const int64_t words = w.k / 8;
  for (int64_t r = 0; r < w.n; ++r) {
    double sum = 0;
    for (int64_t g = 0; g < w.num_groups; ++g) {
      const int32_t zp = w.zero_points.defined()
                             ? nibble(w.zero_points.data_as<const int32_t>()[g * (w.n / 8) + r / 8], static_cast<int>(r % 8))
                             : kInt4Offset;
      int64_t s = 0;
      for (int64_t kk = g * w.group_size; kk < (g + 1) * w.group_size; ++kk)
        s += nibble(w.packed.data_as<const int32_t>()[r * words + kk / 8], static_cast<int>(kk % 8)) - zp;
      sum += static_cast<double>(w.scales.data_as<const float>()[g * w.n + r]) * static_cast<double>(s);
    }
    out.data_as<float>()[r] = static_cast<float>(sum);
  }
  return out;
}

Result<QuantizedWeight> make_quantized_weight(const LinearWeights& w) {
  QuantizedWeight q;
  if (w.values.defined() == w.packed.defined())
    return invalid_argument("weights: give exactly one of `values` ([N, K] int8) and `packed` ([N, K/8] int32)");
  if (w.values.defined()) {
    W4A8_RETURN_IF_ERROR(check_view(w.values, "values", {DType::i8}, {kAnySize, kAnySize}));
    q.n = w.values.size(0);
    q.k = w.values.size(1);
  } else {
    W4A8_RETURN_IF_ERROR(check_view(w.packed, "packed", {DType::i32}, {kAnySize, kAnySize}));
    q.n = w.packed.size(0);
    q.k = w.packed.size(1) * 8;
  }
  LinearConfig cfg;
  cfg.in_features = q.k;
  cfg.out_features = q.n;
  cfg.group_size = w.group_size;
  cfg.act_type = DType::f16;  // the activation dtype is checked by the caller
  cfg.zero_points = w.zero_points.defined();
  cfg.has_g_idx = w.g_idx.defined();
  auto act = act_scheme_of(w);
  W4A8_RETURN_IF_ERROR(act.status());
  q.act = *act;
  cfg.act_static = q.act.is_static;
  cfg.act_asymmetric = q.act.has_zero_point();
  W4A8_RETURN_IF_ERROR(can_implement(cfg));
  q.group_size = w.group_size == -1 ? q.k : w.group_size;
  q.num_groups = q.k / q.group_size;
  const int64_t n = q.n, k = q.k, groups = q.num_groups;

  // Everything is checked before anything is built.
  W4A8_RETURN_IF_ERROR(check_view(w.scales, "scales", kFloats, {n, groups}));
  W4A8_RETURN_IF_ERROR(check_finite(w.scales, "scales"));
  if (w.zero_points.defined()) W4A8_RETURN_IF_ERROR(check_view(w.zero_points, "zero_points", {DType::i8}, {n, groups}));
  if (w.bias.defined()) {
    W4A8_RETURN_IF_ERROR(check_view(w.bias, "bias", kFloats, {n}));
    W4A8_RETURN_IF_ERROR(check_finite(w.bias, "bias"));
  }
  std::vector<int32_t> perm;
  if (w.g_idx.defined()) {
    auto p = perm_from_group_index(w.g_idx, k, q.group_size, groups);
    W4A8_RETURN_IF_ERROR(p.status());
    perm = std::move(p.value());
  }

  // int4 values in GEMM column order.
  Tensor values(DType::i8, {n, k});
  if (w.values.defined()) {
    std::copy_n(w.values.data_as<const int8_t>(), n * k, values.data_as<int8_t>());
  } else {
    W4A8_RETURN_IF_ERROR(unpack_int4(w.packed, values.view()));
  }
  if (!perm.empty()) {
    std::vector<int8_t> row(static_cast<size_t>(k));
    int8_t* v = values.data_as<int8_t>();
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t j = 0; j < k; ++j) row[j] = v[r * k + perm[j]];
      std::copy(row.begin(), row.end(), v + r * k);
    }
    q.perm = Tensor(DType::i32, {k});
    std::copy(perm.begin(), perm.end(), q.perm.data_as<int32_t>());
  }
  q.packed = Tensor(DType::i32, {n, k / 8});
  W4A8_RETURN_IF_ERROR(pack_int4(values.view(), q.packed.view()));  // also range-checks the values

  q.scales = Tensor(DType::f32, {groups, n});
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < groups; ++j) q.scales.data_as<float>()[j * n + r] = load_as_float(w.scales, r * groups + j);

  if (w.zero_points.defined()) {
    Tensor zp_t(DType::i8, {groups, n});  // [G, N], the op's orientation
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < groups; ++j)
        zp_t.data_as<int8_t>()[j * n + r] = w.zero_points.data_as<const int8_t>()[r * groups + j];
    q.zero_points = Tensor(DType::i32, {groups, n / 8});
    W4A8_RETURN_IF_ERROR(pack_int4_zero_points(zp_t.view(), q.zero_points.view()));
  }
  if (w.bias.defined()) {
    q.bias = Tensor(DType::f32, {n});
    for (int64_t r = 0; r < n; ++r) q.bias.data_as<float>()[r] = load_as_float(w.bias, r);
  }
  if (q.act.has_zero_point()) q.row_sums = dequantized_row_sums(q);
  return q;
}

LinearConfig config_of(const QuantizedWeight& w, DType act_type) {
  LinearConfig c;
  c.in_features = w.k;
  c.out_features = w.n;
  c.group_size = w.group_size == w.k ? -1 : w.group_size;
  c.act_type = act_type;
  c.zero_points = w.zero_points.defined();
  c.has_g_idx = w.perm.defined();
  c.act_static = w.act.is_static;
  c.act_asymmetric = w.act.has_zero_point();
  return c;
}

}  // namespace w4a8::detail
