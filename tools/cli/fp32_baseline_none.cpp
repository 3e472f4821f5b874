// Builds without BLAS (the GPU machine): no fp32 CPU baseline. bench and demo
// check fp32_baseline_available() and say so instead of printing a figure.
#include <stdexcept>

#include "cli/fp32_baseline.h"

namespace w4a8::cli {

void sgemm_xwt(const float*, const float*, float*, int64_t, int64_t, int64_t) {
  throw std::runtime_error("this build has no BLAS: the fp32 CPU baseline is unavailable");
}

void set_fp32_baseline_threads(int) {}

const char* fp32_baseline_name() { return "none (built without BLAS)"; }
bool fp32_baseline_available() { return false; }

}  // namespace w4a8::cli
