// Which weight group the k32 step a warp is on belongs to, walked one step at
// a time. The streaming kernels used to find it with `(step * 32) /
// group_size` and `% group_size` at every step: a division by a run-time
// value is ~25 instructions (a reciprocal and its corrections), and with two
// per step they were most of the decode loop's instructions (SASS of
// small_m<1, 8, 4>). The cursor divides once, where a warp's slice starts.
// It also counts the step that holds a per-channel K's tail (K a multiple of
// 8, not of 32) as real: the kernels' old `steps_real = K / 32` left that
// step's products out of the sum.
// Plain integer code, checked on the CPU (tests/test_cuda_group_cursor.cpp).
#pragma once

#include "cuda/common/host_device.h"

namespace w4a8::cuda {

struct GroupCursor {
  int group = 0;      // group of the current step
  int left = 0;       // steps of that group from the current one on, the current one included
  int per_group = 0;  // group_size / 32; one group (per channel) never ends by count
  int step = 0;
  int steps_real = 0;  // k32 steps holding real inputs: K / 32 rounded up

  // At step `first_step` of a layer with `groups` groups of `group_size`
  // inputs (a multiple of 32 where groups > 1; per channel, group_size = K,
  // any multiple of 8).
  W4A8_HOST_DEVICE GroupCursor(int first_step, int group_size, int groups)
      : step(first_step), steps_real((groups * group_size + 31) / 32) {
    per_group = groups > 1 ? group_size / 32 : 0x3fffffff;
    group = groups > 1 ? first_step / per_group : 0;
    left = groups > 1 ? per_group - first_step % per_group : per_group;
  }

  // Whether the current step is the last of its group: the count runs out,
  // or it is the last step holding real inputs (per channel, the one that
  // holds K's tail).
  W4A8_HOST_DEVICE bool ends_group() const { return left == 1 || step + 1 == steps_real; }

  W4A8_HOST_DEVICE void advance() {
    ++step;
    if (--left == 0) {
      ++group;
      left = per_group;
    }
  }
};

}  // namespace w4a8::cuda
