// torch.ops.w4a8.dynamic_per_token_int8_quant: SPEC.md's per-token
// quantization (symmetric int8 or asymmetric uint8), bit for bit; and
// static_int8_quant: one calibrated scale (and zero point) for the tensor.
#include <torch/library.h>

#include <tuple>

#include "torch_bridge.h"

namespace w4a8::torch_op {
namespace {
constexpr const char* kOp = "dynamic_per_token_int8_quant";

std::tuple<at::Tensor, at::Tensor, at::Tensor> outputs_like(const at::Tensor& x, bool symmetric) {
  W4A8_TORCH_CHECK(x.dim() >= 1, op_prefix(kOp) + "x must have at least one dimension");
  std::vector<int64_t> row_shape = x.sizes().vec();
  row_shape.back() = 1;  // [..., 1], like vLLM's per-token quantizers
  return {at::empty(x.sizes(), x.options().dtype(symmetric ? at::kChar : at::kByte)), at::empty(row_shape, x.options()),
          at::empty(row_shape, x.options().dtype(at::kInt))};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> quant(const at::Tensor& x, bool symmetric) {
  W4A8_TORCH_CHECK(x.is_contiguous(), op_prefix(kOp) + "x must be contiguous (strides " + sizes_str(x.strides()) + ")");
  auto [q, scale, zp] = outputs_like(x, symmetric);
  if (x.numel() == 0) {
    zp.zero_();
    return {q, scale, zp};
  }
  const int64_t k = x.size(-1), m = x.numel() / k;
  ActQuantOptions opt;
  opt.symmetric = symmetric;
  const TensorView xv(x.data_ptr(), to_dtype(x.scalar_type(), "x", kOp), {m, k}, to_device(x.device(), kOp));
  const TensorView qv(q.data_ptr(), symmetric ? DType::i8 : DType::u8, {m, k}, xv.device());
  const TensorView sv(scale.data_ptr(), xv.dtype(), {m}, xv.device());
  const TensorView zv(zp.data_ptr(), DType::i32, {m}, xv.device());
  check(quantize_per_token_int8(xv, qv, sv, zv, {}, opt), kOp);
  return {q, scale, zp};
}
constexpr const char* kStaticOp = "static_int8_quant";

at::Tensor static_outputs_like(const at::Tensor& x, const at::Tensor&, const c10::optional<at::Tensor>&) {
  return at::empty(x.sizes(), x.options().dtype(at::kChar));
}

// The scale and zero point are read on the host (one small copy for GPU
// tensors): the library checks their values before anything runs.
at::Tensor static_quant(const at::Tensor& x, const at::Tensor& scale, const c10::optional<at::Tensor>& zero_point) {
  W4A8_TORCH_CHECK(x.dim() >= 1, op_prefix(kStaticOp) + "x must have at least one dimension");
  W4A8_TORCH_CHECK(x.is_contiguous(), op_prefix(kStaticOp) + "x must be contiguous (strides " + sizes_str(x.strides()) + ")");
  W4A8_TORCH_CHECK(scale.numel() == 1, op_prefix(kStaticOp) + "scale must hold one value, got " + sizes_str(scale.sizes()));
  at::Tensor q = static_outputs_like(x, scale, zero_point);
  const at::Tensor s = scale.detach().to(at::kCPU, at::kFloat).reshape({1});
  at::Tensor z;
  if (zero_point.has_value()) {
    W4A8_TORCH_CHECK(zero_point->numel() == 1,
                     op_prefix(kStaticOp) + "zero_point must hold one value, got " + sizes_str(zero_point->sizes()));
    z = zero_point->detach().to(at::kCPU, at::kInt).reshape({1});
  }
  if (x.numel() == 0) return q;
  const int64_t k = x.size(-1), m = x.numel() / k;
  const TensorView xv(x.data_ptr(), to_dtype(x.scalar_type(), "x", kStaticOp), {m, k}, to_device(x.device(), kStaticOp));
  const TensorView qv(q.data_ptr(), DType::i8, {m, k}, xv.device());
  check(quantize_per_tensor_int8(xv, TensorView(s.data_ptr(), DType::f32, {1}),
                                 z.defined() ? TensorView(z.data_ptr(), DType::i32, {1}) : TensorView(), qv),
        kStaticOp);
  return q;
}
}  // namespace

TORCH_LIBRARY_IMPL(w4a8, CPU, m) {
  m.impl("dynamic_per_token_int8_quant", quant);
  m.impl("static_int8_quant", static_quant);
}
#ifdef W4A8_TORCH_CUDA
TORCH_LIBRARY_IMPL(w4a8, CUDA, m) {
  m.impl("dynamic_per_token_int8_quant", quant);
  m.impl("static_int8_quant", static_quant);
}
#endif
TORCH_LIBRARY_IMPL(w4a8, Meta, m) {
  m.impl("dynamic_per_token_int8_quant", outputs_like);
  m.impl("static_int8_quant", static_outputs_like);
}

}  // namespace w4a8::torch_op
