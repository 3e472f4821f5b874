// The public activation quantization ops: validation, then the CPU fast
// path's quantizer (cpu_backend) or, for tensors on a GPU, the CUDA kernel.
#include <cmath>
#include <limits>

#include "core/act_quant_rule.h"
#include "core/validate.h"
#include "cpu/cpu_backend.h"
#if W4A8_WITH_CUDA_BACKEND
#include "cuda/act_quant.cuh"
#endif
#include "w4a8/ops.h"

namespace w4a8 {

using detail::check_view;
using detail::kAnySize;

namespace {
// Checks q and group_sums for x, and resolves the group size.
Result<int64_t> check_outputs(const TensorView& x, const TensorView& q, DType q_dtype, const TensorView& group_sums,
                              int64_t group_size) {
  const Device dev = x.device();
  const int64_t m = x.size(0), k = x.size(1);
  W4A8_RETURN_IF_ERROR(check_view(q, "q", {q_dtype}, {m, k}, dev));
  const int64_t g = group_size == -1 ? k : group_size;
  if (group_sums.defined()) {
    if (g <= 0 || k % g != 0)
      return invalid_argument("group_size=" + std::to_string(group_size) + " must be -1 or divide K=" +
                              std::to_string(k));
    W4A8_RETURN_IF_ERROR(check_view(group_sums, "group_sums", {DType::i32}, {m, k / g}, dev));
  }
  return g > 0 ? g : int64_t{1};
}

Status run(const TensorView& x, const detail::ActQuantScheme& scheme, const TensorView& q, const TensorView& scale,
           const TensorView& zero_point, const TensorView& group_sums, int64_t g) {
  if (x.device().type == DeviceType::cuda) {
#if W4A8_WITH_CUDA_BACKEND
    return cuda::quantize_activations_device(x, scheme, q, scale, zero_point, group_sums, g);
#else
    return Status(StatusCode::unavailable, "this build has no CUDA support (configure with -DW4A8_CUDA=ON)");
#endif
  }
  const Status st = cpu::quantize_activations(x, scheme, q, scale, zero_point, group_sums, g);
  // The fused quantizer finds a NaN/Inf only when it reaches that row, after
  // other rows were written; rather than a second pass over x to check first,
  // every scale becomes NaN, so outputs made from them anyway are NaN.
  if (st.code() == StatusCode::non_finite && scale.defined())
    for (int64_t r = 0; r < x.size(0); ++r) store_from_float(scale, r, std::numeric_limits<float>::quiet_NaN());
  return st;
}
}  // namespace

Status quantize_per_token_int8(const TensorView& x, const TensorView& q, const TensorView& scale,
                               const TensorView& zero_point, const TensorView& group_sums,
                               const ActQuantOptions& options) {
  W4A8_RETURN_IF_ERROR(check_view(x, "x", {DType::f16, DType::bf16, DType::f32}, {kAnySize, kAnySize}, x.device()));
  const Device dev = x.device();
  const int64_t m = x.size(0);
  auto g = check_outputs(x, q, options.symmetric ? DType::i8 : DType::u8, group_sums, options.group_size);
  W4A8_RETURN_IF_ERROR(g.status());
  W4A8_RETURN_IF_ERROR(check_view(scale, "scale", {x.dtype(), DType::f32}, {m}, dev));
  W4A8_RETURN_IF_ERROR(check_view(zero_point, "zero_point", {DType::i32}, {m}, dev));
  detail::ActQuantScheme scheme;
  scheme.symmetric = options.symmetric;
  return run(x, scheme, q, scale, zero_point, group_sums, *g);
}

Status quantize_per_tensor_int8(const TensorView& x, const TensorView& scale, const TensorView& zero_point,
                                const TensorView& q, const TensorView& group_sums, int64_t group_size) {
  W4A8_RETURN_IF_ERROR(check_view(x, "x", {DType::f16, DType::bf16, DType::f32}, {kAnySize, kAnySize}, x.device()));
  const std::initializer_list<DType> floats = {DType::f16, DType::bf16, DType::f32};
  W4A8_RETURN_IF_ERROR(scale.rank() == 0 ? check_view(scale, "scale", floats, {}) : check_view(scale, "scale", floats, {1}));
  detail::ActQuantScheme scheme;
  scheme.is_static = true;
  scheme.scale = load_as_float(scale, 0);
  if (!std::isfinite(scheme.scale) || !(scheme.scale > 0.0f))
    return invalid_argument("scale: " + std::to_string(scheme.scale) + " is not a finite positive scale");
  if (zero_point.defined()) {
    const std::initializer_list<DType> ints = {DType::i8, DType::i32};
    W4A8_RETURN_IF_ERROR(zero_point.rank() == 0 ? check_view(zero_point, "zero_point", ints, {})
                                                : check_view(zero_point, "zero_point", ints, {1}));
    const int64_t z = zero_point.dtype() == DType::i8 ? zero_point.data_as<const int8_t>()[0]
                                                      : zero_point.data_as<const int32_t>()[0];
    if (z < -128 || z > 127)
      return invalid_argument("zero_point: " + std::to_string(z) + " is outside the int8 range -128..127");
    scheme.zero_point = static_cast<int32_t>(z);
  }
  auto g = check_outputs(x, q, DType::i8, group_sums, group_size);
  W4A8_RETURN_IF_ERROR(g.status());
  return run(x, scheme, q, {}, {}, group_sums, *g);
}

}  // namespace w4a8
