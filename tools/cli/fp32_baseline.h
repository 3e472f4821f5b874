// The fp32 baseline every CPU figure is printed beside: OpenBLAS sgemm on the
// dequantized float weights, linked into the tool only (never the library).
#pragma once

#include <cstdint>

namespace w4a8::cli {

// y[M, N] = x[M, K] * w[N, K]^T, row-major.
void sgemm_xwt(const float* x, const float* w, float* y, int64_t m, int64_t n, int64_t k);
// Threads sgemm runs on (OpenBLAS keeps the count process-wide).
void set_fp32_baseline_threads(int threads);
const char* fp32_baseline_name();
bool fp32_baseline_available();

}  // namespace w4a8::cli
