// The CPU fast backend: weights repacked once into the VNNI layout
// (x86/vnni_layout.h); forward = the fused vector quantizer + the fastest
// GEMM kernel this CPU runs (AVX-512 VNNI, else AVX2, else the generic twin
// with the reference quantizer), chosen from cpuid, multi-threaded over pairs
// of 16-channel tiles. W4A8_CPU_KERNEL or set_cpu_kernel() override it.
#pragma once

#include "core/backend.h"
#include "w4a8/status.h"
#include "w4a8/tensor.h"

namespace w4a8::cpu {

const Backend& cpu_backend();

// The public quantization ops on the current kernel level: the vector
// quantizer where there is one, else the reference. Inputs are validated by
// the caller; q is uint8 for a dynamic asymmetric scheme, else int8; scale
// and zero_point ([M]) may be undefined (a static scheme's are known). On a
// NaN/Inf the reference reports it; rows before the offending one may
// already hold their (correct) results.
Status quantize_activations(const TensorView& x, const detail::ActQuantScheme& scheme, const TensorView& q,
                            const TensorView& scale, const TensorView& zero_point, const TensorView& group_sums,
                            int64_t group_size);

}  // namespace w4a8::cpu
