// The CPU fast backend: weights repacked once into the VNNI layout
// (x86/vnni_layout.h); forward = the reference activation quantizer + the
// fastest GEMM kernel this CPU runs (AVX-512 VNNI, else AVX2, else the
// generic twin), chosen once from cpuid, multi-threaded over 16-channel tiles.
// W4A8_CPU_KERNEL=generic|avx2|avx512vnni overrides the choice.
#pragma once

#include "core/backend.h"

namespace w4a8::cpu {

const Backend& cpu_backend();

}  // namespace w4a8::cpu
