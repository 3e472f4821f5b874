#include "core/quantized_weight.h"

#include <algorithm>
#include <numeric>
#include <vector>

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
}  // namespace

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
  return c;
}

}  // namespace w4a8::detail
