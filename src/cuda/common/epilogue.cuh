// Shared epilogue pieces: the weight zero point of (group, channel) and the
// final store in the output dtype.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/common/kernel_params.h"

namespace w4a8::cuda {

// The signed zero point zp = u_zp - 8 of (group, channel): 0 for symmetric weights.
__device__ __forceinline__ int weight_zero_point(const GemmParams& p, int group, int ch) {
  return p.w_zp ? static_cast<int>(p.w_zp[group * p.n_pad + ch]) - 8 : 0;
}

// The output of (tok, ch) from its group-scaled integer sum (already in real
// units): the activation zero point's share z * row_sums (one rounding, as the
// CPU kernels do it), the token scale and the bias.
__device__ __forceinline__ float finish_output(const GemmParams& p, int tok, int ch, float sum, float bias) {
  if (p.a_zp) sum = fmaf(-static_cast<float>(p.a_zp[tok]), p.row_sums[ch], sum);
  return fmaf(p.a_scale[tok], sum, bias);
}

__device__ __forceinline__ void store_output(const GemmParams& p, int tok, int ch, float v) {
  const int64_t i = static_cast<int64_t>(tok) * p.n + ch;
  switch (p.out_type) {
    case OutType::f16: static_cast<__half*>(p.out)[i] = __float2half_rn(v); break;
    case OutType::bf16: static_cast<__nv_bfloat16*>(p.out)[i] = __float2bfloat16_rn(v); break;
    case OutType::f32: static_cast<float*>(p.out)[i] = v; break;
  }
}

}  // namespace w4a8::cuda
