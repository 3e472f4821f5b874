// torch.ops.w4a8.int4_gemm_w4a8: the seed's operands, straight into the
// library's int4_gemm_w4a8 (which validates them).
#include <torch/library.h>

#include "torch_bridge.h"

namespace w4a8::torch_op {
namespace {
constexpr const char* kOp = "int4_gemm_w4a8";

at::Tensor gemm(const at::Tensor& A, const at::Tensor& A_scale, const at::Tensor& A_zp, const at::Tensor& B,
                const at::Tensor& B_scale, const at::Tensor& B_zp, int64_t group_size,
                const c10::optional<at::Tensor>& g_idx, const c10::optional<at::Tensor>& bias,
                at::ScalarType out_dtype) {
  W4A8_TORCH_CHECK(A.dim() == 2, op_prefix(kOp) + "A must be [M, K], got " + sizes_str(A.sizes()));
  W4A8_TORCH_CHECK(B.dim() == 2, op_prefix(kOp) + "B must be [K/8, N], got " + sizes_str(B.sizes()));
  for (const at::Tensor* t : {&A_scale, &B, &B_scale})
    W4A8_TORCH_CHECK(t->device() == A.device(), op_prefix(kOp) + "every tensor must be on " + A.device().str() +
                                                    ", one is on " + t->device().str());
  at::Tensor out = at::empty({A.size(0), B.size(1)}, A.options().dtype(out_dtype));
  // vLLM's quantizers return [M, 1] scales and zero points; the library takes [M].
  const at::Tensor a_scale = A_scale.dim() == 2 && A_scale.size(1) == 1 ? A_scale.reshape({-1}) : A_scale;
  at::Tensor a_zp = A_zp.defined() && A_zp.dim() == 2 && A_zp.size(1) == 1 ? A_zp.reshape({-1}) : A_zp;
  at::Tensor b_zp = B_zp;
  if (A.is_cuda()) {
    // The seed passes symmetric activations' zero points (all 0) and the
    // constant weight zero point as device tensors; the library's GPU op takes
    // the constant on the host and no activation zero point. This op repacks
    // the weights through the host anyway (use linear() for speed), so these
    // small reads cost nothing that matters.
    if (b_zp.defined() && b_zp.dim() <= 1) b_zp = b_zp.cpu();
    if (a_zp.defined() && a_zp.numel() && a_zp.eq(0).all().item<bool>()) a_zp = at::Tensor();
  }
  GemmOptions opt;
  opt.stream = current_stream(A.device());
  check(int4_gemm_w4a8(view_of(A, "A", kOp), view_of(a_scale, "A_scale", kOp),
                       a_zp.defined() && a_zp.numel() ? view_of(a_zp, "A_zp", kOp) : TensorView(),
                       view_of(B, "B", kOp), view_of(B_scale, "B_scale", kOp), view_of(b_zp, "B_zp", kOp), group_size,
                       view_of(g_idx, "g_idx", kOp), view_of(bias, "bias", kOp), view_of(out, "out", kOp), opt),
        kOp);
  return out;
}

at::Tensor gemm_f16(const at::Tensor& A, const at::Tensor& A_scale, const at::Tensor& A_zp, const at::Tensor& B,
                    const at::Tensor& B_scale, const at::Tensor& B_zp, int64_t group_size,
                    const c10::optional<at::Tensor>& g_idx, const c10::optional<at::Tensor>& bias) {
  return gemm(A, A_scale, A_zp, B, B_scale, B_zp, group_size, g_idx, bias, at::kHalf);  // fp16, like the seed's op
}

at::Tensor gemm_meta(const at::Tensor& A, const at::Tensor&, const at::Tensor&, const at::Tensor& B,
                     const at::Tensor&, const at::Tensor&, int64_t, const c10::optional<at::Tensor>&,
                     const c10::optional<at::Tensor>&, at::ScalarType out_dtype) {
  W4A8_TORCH_CHECK(A.dim() == 2 && B.dim() == 2, op_prefix(kOp) + "A must be [M, K] and B [K/8, N]");
  return at::empty({A.size(0), B.size(1)}, A.options().dtype(out_dtype));
}

at::Tensor gemm_meta_f16(const at::Tensor& A, const at::Tensor& A_scale, const at::Tensor& A_zp, const at::Tensor& B,
                         const at::Tensor& B_scale, const at::Tensor& B_zp, int64_t group_size,
                         const c10::optional<at::Tensor>& g_idx, const c10::optional<at::Tensor>& bias) {
  return gemm_meta(A, A_scale, A_zp, B, B_scale, B_zp, group_size, g_idx, bias, at::kHalf);
}
}  // namespace

TORCH_LIBRARY_IMPL(w4a8, CPU, m) {
  m.impl("int4_gemm_w4a8", gemm_f16);
  m.impl("int4_gemm_w4a8.out_dtype", gemm);
}
#ifdef W4A8_TORCH_CUDA
TORCH_LIBRARY_IMPL(w4a8, CUDA, m) {
  m.impl("int4_gemm_w4a8", gemm_f16);
  m.impl("int4_gemm_w4a8.out_dtype", gemm);
}
#endif
TORCH_LIBRARY_IMPL(w4a8, Meta, m) {
  m.impl("int4_gemm_w4a8", gemm_meta_f16);
  m.impl("int4_gemm_w4a8.out_dtype", gemm_meta);
}

}  // namespace w4a8::torch_op
