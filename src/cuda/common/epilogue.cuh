// Shared epilogue pieces: the weight zero point of (group, channel) and the
// final store in the output dtype.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "cuda/common/kernel_params.h"

namespace w4a8::cuda {

// The signed zero point zp = u_zp - 8 of (group, channel): 0 for symmetric weights.
__device__ __forceinline__ int weight_zero_point(const GemmParams& p, int group, int ch) {
  return p.w_zp ? static_cast<int>(p.w_zp[group * p.n_pad + ch]) - 8 : 0;
}

// A token's epilogue inputs. Kernels can read them for a batch of outputs
// before storing any: the output goes through a pointer the compiler cannot
// tell apart from these arrays, so a read placed after a store waits for it -
// one memory latency per output element (the sm_90a kernel's SASS had LDG,
// STG, LDG, STG ... through its whole epilogue).
struct TokenInputs {
  float scale = 0.0f;
  int zero_point = 0;  // the activation zero point (asymmetric or static activations), else 0
};

__device__ __forceinline__ TokenInputs token_inputs(const GemmParams& p, int tok) {
  TokenInputs t;
  t.scale = p.a_scale[tok];
  if (p.a_zp) t.zero_point = p.a_zp[tok];
  return t;
}

// The output from its group-scaled integer sum (already in real units): the
// activation zero point's share z * row_sum (one rounding, as the CPU kernels
// do it; row_sum is row_sums[ch], read only when there are zero points), the
// token scale and the bias.
__device__ __forceinline__ float finish_output(const GemmParams& p, const TokenInputs& t, float row_sum, float sum,
                                               float bias) {
  if (p.a_zp) sum = fmaf(-static_cast<float>(t.zero_point), row_sum, sum);
  return fmaf(t.scale, sum, bias);
}

__device__ __forceinline__ float finish_output(const GemmParams& p, int tok, int ch, float sum, float bias) {
  return finish_output(p, token_inputs(p, tok), p.a_zp ? p.row_sums[ch] : 0.0f, sum, bias);
}

// The store in output type T (__half, __nv_bfloat16 or float), for loops
// that choose the type once instead of per element.
template <typename T>
__device__ __forceinline__ void store_output_as(const GemmParams& p, int tok, int ch, float v) {
  const int64_t i = static_cast<int64_t>(tok) * p.n + ch;
  if constexpr (std::is_same_v<T, __half>) {
    static_cast<__half*>(p.out)[i] = __float2half_rn(v);
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    static_cast<__nv_bfloat16*>(p.out)[i] = __float2bfloat16_rn(v);
  } else {
    static_assert(std::is_same_v<T, float>, "outputs are f16, bf16 or f32");
    static_cast<float*>(p.out)[i] = v;
  }
}

// Calls body(T{}) with T the output type of p.
template <typename Body>
__device__ __forceinline__ void with_output_type(const GemmParams& p, Body&& body) {
  switch (p.out_type) {
    case OutType::f16: body(__half{}); break;
    case OutType::bf16: body(__nv_bfloat16{}); break;
    case OutType::f32: body(0.0f); break;
  }
}

// One element, the type chosen at the store.
__device__ __forceinline__ void store_output(const GemmParams& p, int tok, int ch, float v) {
  with_output_type(p, [&](auto out_type) { store_output_as<decltype(out_type)>(p, tok, ch, v); });
}

}  // namespace w4a8::cuda
