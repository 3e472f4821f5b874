// quantize_per_token_int8: validation, then the CPU fast path's quantizer
// (symmetric) or the reference (asymmetric); the CUDA backend has its own
// kernel for device tensors.
#include <limits>

#include "core/validate.h"
#include "cpu/cpu_backend.h"
#include "cpu/ref/act_quant_ref.h"
#if W4A8_WITH_CUDA_BACKEND
#include "cuda/act_quant.cuh"
#endif
#include "w4a8/ops.h"

namespace w4a8 {

using detail::check_view;
using detail::kAnySize;

Status quantize_per_token_int8(const TensorView& x, const TensorView& q, const TensorView& scale,
                               const TensorView& zero_point, const TensorView& group_sums,
                               const ActQuantOptions& options) {
  W4A8_RETURN_IF_ERROR(check_view(x, "x", {DType::f16, DType::bf16, DType::f32}, {kAnySize, kAnySize}, x.device()));
  const Device dev = x.device();
  const int64_t m = x.size(0), k = x.size(1);
  W4A8_RETURN_IF_ERROR(check_view(q, "q", {options.symmetric ? DType::i8 : DType::u8}, {m, k}, dev));
  W4A8_RETURN_IF_ERROR(check_view(scale, "scale", {x.dtype(), DType::f32}, {m}, dev));
  W4A8_RETURN_IF_ERROR(check_view(zero_point, "zero_point", {DType::i32}, {m}, dev));
  const int64_t g = options.group_size == -1 ? k : options.group_size;
  if (group_sums.defined()) {
    if (g <= 0 || k % g != 0)
      return invalid_argument("group_size=" + std::to_string(options.group_size) + " must be -1 or divide K=" +
                              std::to_string(k));
    W4A8_RETURN_IF_ERROR(check_view(group_sums, "group_sums", {DType::i32}, {m, k / g}, dev));
  }
  if (dev.type == DeviceType::cuda) {
#if W4A8_WITH_CUDA_BACKEND
    if (!options.symmetric) return unsupported("asymmetric activation quantization runs on the CPU only (for now)");
    return cuda::quantize_per_token_device(x, q, scale, zero_point, group_sums, g);
#else
    return Status(StatusCode::unavailable, "this build has no CUDA support (configure with -DW4A8_CUDA=ON)");
#endif
  }
  const Status st = options.symmetric
                        ? cpu::quantize_per_token_symmetric(x, q, scale, zero_point, group_sums, g)
                        : cpu::ref::quantize_per_token(x, options.symmetric, g, q, scale, zero_point, group_sums);
  // The fused quantizer finds a NaN/Inf only when it reaches that row, after
  // other rows were written; rather than a second pass over x to check first,
  // every scale becomes NaN, so outputs made from them anyway are NaN.
  if (st.code() == StatusCode::non_finite)
    for (int64_t r = 0; r < m; ++r) store_from_float(scale, r, std::numeric_limits<float>::quiet_NaN());
  return st;
}

}  // namespace w4a8
