// The int8 compute peak of one core: independent chains of vpdpbusd zmm,
// as many as the kernels keep in flight. GEMM figures are read against it.
#pragma once

namespace w4a8::cli {

// int8 GOPS (2 per multiply-add) of one core, or 0 where the CPU lacks
// AVX-512 VNNI.
double vnni_peak_gops_per_core();

}  // namespace w4a8::cli
