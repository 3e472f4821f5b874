#include "cli/fp32_baseline.h"

#include <cblas.h>

namespace w4a8::cli {

void sgemm_xwt(const float* x, const float* w, float* y, int64_t m, int64_t n, int64_t k) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), 1.0f, x, static_cast<int>(k), w, static_cast<int>(k), 0.0f, y,
              static_cast<int>(n));
}

void set_fp32_baseline_threads(int threads) { openblas_set_num_threads(threads); }

const char* fp32_baseline_name() { return "OpenBLAS sgemm (fp32)"; }
bool fp32_baseline_available() { return true; }

}  // namespace w4a8::cli
