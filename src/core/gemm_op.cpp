// int4_gemm_w4a8: validate the seed's operands, pick a backend for their
// device, run it.
#include "core/backend.h"
#include "w4a8/ops.h"

namespace w4a8 {

Status int4_gemm_w4a8(const TensorView& A, const TensorView& A_scale, const TensorView& A_zp, const TensorView& B,
                      const TensorView& B_scale, const TensorView& B_zp, int64_t group_size,
                      const TensorView& g_idx, const TensorView& bias, const TensorView& out,
                      const GemmOptions& options) {
  auto args = detail::validate_gemm_args(A, A_scale, A_zp, B, B_scale, B_zp, group_size, g_idx, bias, out);
  W4A8_RETURN_IF_ERROR(args.status());
  LinearConfig cfg;
  cfg.in_features = args->k;
  cfg.out_features = args->n;
  cfg.group_size = group_size;
  cfg.act_type = out.dtype();
  cfg.zero_points = args->b_zp_packed.defined();
  cfg.has_g_idx = args->perm.defined();
  auto backend = detail::choose_backend(options.backend, cfg, A.device());
  W4A8_RETURN_IF_ERROR(backend.status());
  if ((*backend)->device().type != A.device().type)
    return invalid_argument(std::string("backend '") + (*backend)->name() + "' runs on " +
                            device_name((*backend)->device()) + ", but the operands are on " + device_name(A.device()));
  return (*backend)->gemm(*args, options.stream);
}

}  // namespace w4a8
