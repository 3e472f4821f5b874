// The device side of SPEC.md's activation rule, shared by the quantizer
// kernel (act_quant.cu) and the decode GEMM that quantizes its own slice of
// the tokens (sm80/gemm_w4a8_decode.cuh): element loads as floats, a row's
// statistics, its rule, and q = clamp(rhe(x / s + z), lo, hi) - shift with
// the CPU reference's exact arithmetic (core/act_quant_rule.h): IEEE
// division, round-half-even, the dynamic scale rounded to the activation dtype.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/common/kernel_params.h"

namespace w4a8::cuda {

template <typename T>
__device__ __forceinline__ float to_float(T v);
template <>
__device__ __forceinline__ float to_float<__half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <>
__device__ __forceinline__ float to_float<float>(float v) { return v; }

template <typename T>
__device__ __forceinline__ float round_to(float v);
template <>
__device__ __forceinline__ float round_to<__half>(float v) { return __half2float(__float2half_rn(v)); }
template <>
__device__ __forceinline__ float round_to<__nv_bfloat16>(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }
template <>
__device__ __forceinline__ float round_to<float>(float v) { return v; }

// Eight consecutive elements of T as they lie in memory: one or two 16-byte
// words, loaded now and converted when used.
template <typename T>
struct Piece {
  uint4 raw[sizeof(T) / 2];
};

template <typename T>
__device__ __forceinline__ Piece<T> load_piece(const T* p) {
  Piece<T> pc;
#pragma unroll
  for (int i = 0; i < static_cast<int>(sizeof(T)) / 2; ++i) pc.raw[i] = reinterpret_cast<const uint4*>(p)[i];
  return pc;
}

template <typename T>
__device__ __forceinline__ void piece_floats(const Piece<T>& pc, float (&v)[8]) {
  const T* e = reinterpret_cast<const T*>(pc.raw);
#pragma unroll
  for (int i = 0; i < 8; ++i) v[i] = to_float(e[i]);
}

// Eight consecutive elements as floats, with 16-byte loads.
template <typename T>
__device__ __forceinline__ void load8(const T* p, float (&v)[8]) {
  piece_floats(load_piece(p), v);
}

// Eight elements x[perm[0..7]] as floats (act-order: the prepared weights'
// k order): the eight indices in two 16-byte loads, then eight independent
// gathers in flight at once.
template <typename T>
__device__ __forceinline__ void gather8(const T* x, const int32_t* perm, float (&v)[8]) {
  const int4 a = *reinterpret_cast<const int4*>(perm), b = *reinterpret_cast<const int4*>(perm + 4);
  const int idx[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
  T e[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) e[i] = x[idx[i]];
#pragma unroll
  for (int i = 0; i < 8; ++i) v[i] = to_float(e[i]);
}

// What pass 1 learns of a row (or of a part of it): max |x|, min, max, and
// whether every element was finite. Max and min are exact in any order, so
// parts merge to the same statistics however the row was split.
struct RowStats {
  float amax = 0.0f, mn = INFINITY, mx = -INFINITY;
  bool finite = true;
  __device__ __forceinline__ void take(float v) {
    finite &= isfinite(v);
    amax = fmaxf(amax, fabsf(v));
    mn = fminf(mn, v);
    mx = fmaxf(mx, v);
  }
  __device__ __forceinline__ void merge(const RowStats& o) {
    finite &= o.finite;
    amax = fmaxf(amax, o.amax);
    mn = fminf(mn, o.mn);
    mx = fmaxf(mx, o.mx);
  }
  // The same over the 32 lanes of a warp: every lane gets the warp's statistics.
  __device__ __forceinline__ void merge_warp() {
    for (int o = 16; o > 0; o /= 2) {
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
      mn = fminf(mn, __shfl_xor_sync(0xffffffffu, mn, o));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    }
    finite = __all_sync(0xffffffffu, finite);
  }
};

// One row's rule (core/act_quant_rule.h): q = clamp(rhe(x / s + z), lo, hi)
// - shift, and the zero point of the stored q.
struct RowRule {
  float s, z;
  int lo, hi, shift;
  int zp_out;
};

__device__ __forceinline__ int quantize_one(float v, const RowRule& r) {
  return max(r.lo, min(r.hi, __float2int_rn(__fadd_rn(__fdiv_rn(v, r.s), r.z)))) - r.shift;
}

// The rule of a row of K elements of type T under `mode`, from its whole
// statistics (dynamic modes; ActMode::fixed uses the static scale and zero
// point). Asymmetric rows (0..255) are stored as q - 128 unless unsigned_q.
// *bad gets kErrorZeroPointRange where the asymmetric zero point does not fit
// int32 (the caller treats that row like a non-finite one).
template <typename T>
__device__ __forceinline__ RowRule row_rule(ActMode mode, RowStats st, float fixed_scale, int fixed_zp, bool unsigned_q,
                                            int k, int* bad) {
  RowRule r{fixed_scale, static_cast<float>(fixed_zp), -128, 127, 0, fixed_zp};
  if (mode == ActMode::symmetric) {
    r.s = round_to<T>(fmaxf(st.amax / 127.0f, 1e-5f));
    r.z = 0.0f;
    r.zp_out = 0;
  } else if (mode == ActMode::asymmetric) {
    if (k == 0) st.mn = st.mx = 0.0f;
    const float sf = fmaxf(__fdiv_rn(__fsub_rn(st.mx, st.mn), 255.0f), 1e-5f);
    const float z = -rintf(__fdiv_rn(st.mn, sf));  // from the fp32 scale, before rounding (SPEC.md)
    if (!(fabsf(z) <= 2147483520.0f)) *bad |= kErrorZeroPointRange;
    r.s = round_to<T>(sf);
    r.z = z;
    r.lo = 0;
    r.hi = 255;
    r.shift = unsigned_q ? 0 : 128;
    r.zp_out = *bad ? 0 : static_cast<int>(z) - r.shift;
  }
  return r;
}

// Quantizes eight values of one row into eight bytes (lo: the first four);
// returns the sum of their q.
__device__ __forceinline__ int quantize8(const float (&v)[8], const RowRule& rule, uint32_t& lo, uint32_t& hi) {
  lo = hi = 0;
  int sum = 0;
#pragma unroll
  for (int e = 0; e < 8; ++e) {
    const int qi = quantize_one(v[e], rule);
    sum += qi;
    const uint32_t byte = static_cast<uint32_t>(qi) & 0xFFu;
    if (e < 4) lo |= byte << (8 * e); else hi |= byte << (8 * (e - 4));
  }
  return sum;
}

}  // namespace w4a8::cuda
