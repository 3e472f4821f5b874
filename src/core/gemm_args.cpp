#include "core/gemm_args.h"

#include <vector>

#include "core/validate.h"

namespace w4a8::detail {

namespace {
const std::initializer_list<DType> kFloats = {DType::f16, DType::bf16, DType::f32};

Status check_permutation(const TensorView& p, int64_t k) {
  std::vector<bool> seen(static_cast<size_t>(k), false);
  for (int64_t i = 0; i < k; ++i) {
    const int64_t v = p.dtype() == DType::i32 ? p.data_as<const int32_t>()[i] : p.data_as<const int64_t>()[i];
    if (v < 0 || v >= k || seen[v])
      return invalid_argument("g_idx: must be a permutation of 0..K-1; entry " + std::to_string(i) + " = " +
                              std::to_string(v) + (v >= 0 && v < k ? " repeats" : " is out of range"));
    seen[v] = true;
  }
  return Status::ok();
}
}  // namespace

Result<GemmArgs> validate_gemm_args(const TensorView& A, const TensorView& A_scale, const TensorView& A_zp,
                                    const TensorView& B, const TensorView& B_scale, const TensorView& B_zp,
                                    int64_t group_size, const TensorView& g_idx, const TensorView& bias,
                                    const TensorView& out) {
  GemmArgs g;
  W4A8_RETURN_IF_ERROR(check_view(A, "A", {DType::i8, DType::u8}, {kAnySize, kAnySize}, A.device()));
  const Device dev = A.device();
  const bool host = dev.type == DeviceType::cpu;
  g.a = A;
  g.m = A.size(0);
  g.k = A.size(1);
  W4A8_RETURN_IF_ERROR(check_multiple(g.k, 8, "K", "in/out sizes must be multiples of 8"));
  W4A8_RETURN_IF_ERROR(check_view(B, "B", {DType::i32}, {g.k / 8, kAnySize}, dev, /*contiguous=*/false));
  g.b = B;
  g.n = B.size(1);
  W4A8_RETURN_IF_ERROR(check_multiple(g.n, 8, "N", "in/out sizes must be multiples of 8"));
  if (g.k == 0 || g.n == 0) return invalid_argument("K and N must be positive, got K=" + std::to_string(g.k) + ", N=" + std::to_string(g.n));

  g.group_size = group_size == -1 ? g.k : group_size;
  if (g.group_size <= 0 || g.k % g.group_size != 0 || (group_size != -1 && group_size % 32 != 0))
    return invalid_argument("group_size=" + std::to_string(group_size) +
                            " must be -1 or a multiple of 32 that divides K=" + std::to_string(g.k));
  g.num_groups = g.k / g.group_size;

  // Per token ([M]) or per tensor ([1]) activation scale and zero point.
  const int64_t a_rows = A_scale.defined() && A_scale.rank() == 1 && A_scale.size(0) == 1 ? 1 : g.m;
  W4A8_RETURN_IF_ERROR(check_view(A_scale, "A_scale", kFloats, {a_rows}, dev));
  g.a_scale = A_scale;
  if (A_zp.defined()) {
    const int64_t zp_rows = A_zp.rank() == 1 && A_zp.size(0) == 1 ? 1 : g.m;
    W4A8_RETURN_IF_ERROR(check_view(A_zp, "A_zp", {DType::i32}, {zp_rows}, dev));
    g.a_zp = A_zp;
  }
  if (A.dtype() == DType::u8 && !A_zp.defined())
    return invalid_argument("A: uint8 activations need a zero point A_zp (asymmetric quantization)");

  W4A8_RETURN_IF_ERROR(check_view(B_scale, "B_scale", kFloats, {g.num_groups, g.n}, dev));
  g.b_scale = B_scale;

  if (!B_zp.defined()) return invalid_argument("B_zp: required (pass the constant 8 for symmetric weights)");
  // Rank decides, not size: a packed [1, 1] (one group, N = 8) is not the constant.
  if (B_zp.rank() <= 1) {
    if (B_zp.numel() != 1)
      return invalid_argument("B_zp: expected one constant zero point (shape [1]) or packed [K/g, N/8], got " +
                              B_zp.shape_string());
    W4A8_RETURN_IF_ERROR(check_view(B_zp, "B_zp", {DType::i8, DType::u8, DType::i32}, {kAnySize}, Device::cpu()));
    switch (B_zp.dtype()) {
      case DType::i8: g.b_zp_const = B_zp.data_as<const int8_t>()[0]; break;
      case DType::u8: g.b_zp_const = B_zp.data_as<const uint8_t>()[0]; break;
      default: g.b_zp_const = B_zp.data_as<const int32_t>()[0]; break;
    }
    if (g.b_zp_const < 0 || g.b_zp_const > 15)
      return invalid_argument("B_zp: the constant zero point must be in 0..15 (8 for symmetric int4), got " +
                              std::to_string(g.b_zp_const));
  } else {
    W4A8_RETURN_IF_ERROR(check_view(B_zp, "B_zp", {DType::i32}, {g.num_groups, g.n / 8}, dev));
    g.b_zp_packed = B_zp;
  }

  if (g_idx.defined()) {
    W4A8_RETURN_IF_ERROR(check_view(g_idx, "g_idx", {DType::i32, DType::i64}, {g.k}, dev));
    if (host) W4A8_RETURN_IF_ERROR(check_permutation(g_idx, g.k));
    g.perm = g_idx;
  }
  if (bias.defined()) {
    W4A8_RETURN_IF_ERROR(check_view(bias, "bias", kFloats, {g.n}, dev));
    g.bias = bias;
  }
  W4A8_RETURN_IF_ERROR(check_view(out, "out", kFloats, {g.m, g.n}, dev));
  g.out = out;

  if (host) {
    W4A8_RETURN_IF_ERROR(check_finite(A_scale, "A_scale"));
    W4A8_RETURN_IF_ERROR(check_finite(B_scale, "B_scale"));
    if (bias.defined()) W4A8_RETURN_IF_ERROR(check_finite(bias, "bias"));
  }
  return g;
}

}  // namespace w4a8::detail
