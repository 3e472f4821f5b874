// Builds without ggml: the bench reports the llama.cpp column as unavailable
// and says how to get it.
#include <stdexcept>

#include "cli/ggml_baseline.h"

namespace w4a8::cli {

struct GgmlQ4Matmul::Impl {};
GgmlQ4Matmul::GgmlQ4Matmul(const std::vector<float>&, int64_t, int64_t, const std::vector<float>&, int64_t, size_t,
                           int) {
  throw std::runtime_error(ggml_baseline_missing_reason());
}
GgmlQ4Matmul::~GgmlQ4Matmul() = default;
void GgmlQ4Matmul::run(size_t) {}
void GgmlQ4Matmul::idle() {}
size_t GgmlQ4Matmul::weight_bytes() const { return 0; }
std::string GgmlQ4Matmul::description() const { return ""; }

bool ggml_baseline_available() { return false; }
const char* ggml_baseline_name() { return "none (built without ggml)"; }
const char* ggml_baseline_missing_reason() {
  return "this build has no ggml: run scripts/fetch-ggml (it builds llama.cpp's ggml from PyPI's llama-cpp-python "
         "source) and configure with -DW4A8_GGML_PREFIX=<the prefix it prints>";
}

}  // namespace w4a8::cli
