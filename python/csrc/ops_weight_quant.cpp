// torch.ops.w4a8.quantize_weights_int4: float weights -> int4 values, scales
// (and zero points) with compressed-tensors' rule (the library's, CPU only).
#include <torch/library.h>

#include <tuple>

#include "torch_bridge.h"

namespace w4a8::torch_op {
namespace {
constexpr const char* kOp = "quantize_weights_int4";

std::tuple<at::Tensor, at::Tensor, at::Tensor> quantize(const at::Tensor& w, int64_t group_size, bool symmetric) {
  W4A8_TORCH_CHECK(w.dim() == 2, op_prefix(kOp) + "w must be [N, K], got " + sizes_str(w.sizes()));
  const at::Tensor wc = w.contiguous();
  const int64_t n = w.size(0), k = w.size(1);
  const int64_t groups = group_size == -1 ? 1 : (group_size > 0 ? k / group_size : 0);
  at::Tensor values = at::empty({n, k}, w.options().dtype(at::kChar));
  at::Tensor scales = at::empty({n, std::max<int64_t>(groups, 1)}, w.options());
  at::Tensor zp = symmetric ? at::zeros({0}, w.options().dtype(at::kChar)) : at::empty({n, groups}, w.options().dtype(at::kChar));
  WeightQuantOptions opt;
  opt.group_size = group_size;
  opt.symmetric = symmetric;
  check(quantize_weights_int4(view_of(wc, "w", kOp), view_of(values, "values", kOp), view_of(scales, "scales", kOp),
                              symmetric ? TensorView() : view_of(zp, "zero_points", kOp), opt),
        kOp);
  return {values, scales, zp};
}
}  // namespace

TORCH_LIBRARY_IMPL(w4a8, CPU, m) { m.impl("quantize_weights_int4", quantize); }

}  // namespace w4a8::torch_op
