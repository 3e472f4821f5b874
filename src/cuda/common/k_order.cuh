// The order of the quantized activations inside each run of 32 inputs.
//
// The mma.sync kernels read q in natural order: lane (gid, tig) takes the 8
// bytes at k = 8 tig .. 8 tig + 7 of a k32 step, matching the weight bytes of
// weight_layout.h. The sm_90a wgmma kernel reads q through the tensor cores'
// own canonical order (position 4 t + b, and 16 + 4 t + b, for the lane with
// tig = t), while its A registers come from the same prepared weights, which
// hold k = 8 t + b and 8 t + 4 + b there. So for that kernel the quantizer
// stores input k = 32 r + 8 t + 4 h + b at position 32 r + 16 h + 4 t + b:
// each product then meets its own weight, and the sums over a run (and over
// any group, a multiple of 32) are unchanged.
#pragma once

#include "cuda/common/host_device.h"  // the CPU tests check the mapping against the weight layout

namespace w4a8::cuda {

W4A8_HOST_DEVICE int wgmma_k_position(int k) {
  return (k & ~31) | (((k >> 2) & 1) << 4) | (((k >> 3) & 3) << 2) | (k & 3);
}

}  // namespace w4a8::cuda
