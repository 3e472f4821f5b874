// The CUDA backend: weights repacked once into the MMA fragment layout
// (weight_layout.h) on the GPU; forward = activation quantization kernel +
// the mma.sync GEMM (sm80/), launched on the caller's stream with no
// allocation and no synchronisation.
#pragma once

#include "core/backend.h"

namespace w4a8::cuda {

const Backend& cuda_backend();

}  // namespace w4a8::cuda
