// The reference backend: the public layout as its "private" layout, the
// reference quantizer and GEMM. Always available; every other backend is
// tested against it.
#pragma once

#include "core/backend.h"

namespace w4a8::cpu::ref {

const Backend& reference_backend();

}  // namespace w4a8::cpu::ref
