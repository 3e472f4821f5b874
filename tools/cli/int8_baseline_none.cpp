// Built when oneDNN is absent: the bench prints "n/a" in the int8 columns.
#include <stdexcept>

#include "cli/int8_baseline.h"

namespace w4a8::cli {

struct Int8Matmul::Impl {};
Int8Matmul::Int8Matmul(const std::vector<int8_t>&, int64_t, int64_t, int64_t, size_t, int) {
  throw std::runtime_error("this build has no oneDNN");
}
Int8Matmul::~Int8Matmul() = default;
void Int8Matmul::run(size_t) {}
bool int8_baseline_available() { return false; }
const char* int8_baseline_name() { return "none (no oneDNN in this build)"; }

}  // namespace w4a8::cli
