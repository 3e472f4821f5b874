// Reference W4A8 GEMM: SPEC.md "The GEMM" as plain loops over validated args.
#pragma once

#include "core/gemm_args.h"

namespace w4a8::cpu::ref {

// Integer part in int64 (exact for any zero point), group scales in fp32:
// y = a_scale * sum_g b_scale[g,n] * acc[g] + bias, cast to out's dtype.
void gemm(const detail::GemmArgs& args);

}  // namespace w4a8::cpu::ref
