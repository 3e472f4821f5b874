// The streaming kernels' group cursor (cuda/common/group_cursor.h), checked
// on the CPU against the divisions it replaces: from any starting step, the
// group of each step and whether the step ends its group.
#include <gtest/gtest.h>

#include <string>

#include "cuda/common/group_cursor.h"

using namespace w4a8;

namespace {

// What the kernels computed at every step before the cursor, with the last
// real step rounded up (per channel, K's tail of 8-24 inputs is a step too).
int group_by_division(int step, int group_size) { return (step * 32) / group_size; }
bool ends_by_division(int step, int group_size, int steps_real) {
  return ((step + 1) * 32) % group_size == 0 || step + 1 == steps_real;
}

}  // namespace

TEST(CudaGroupCursor, MatchesTheDivisionsFromEveryStartingStep) {
  struct Layer {
    int k, group_size;
  };
  // Group sizes that are multiples of 32, and per channel (group_size = K)
  // with K a multiple of 64, of 32 only, and of 8 only.
  const Layer layers[] = {{4096, 128}, {4096, 32}, {4096, 4096}, {1024, 512}, {1056, 1056}, {4104, 4104}, {200, 200},
                          {384, 96},   {8192, 2048}};
  for (const Layer& l : layers) {
    const int groups = l.k / l.group_size;
    const int steps_real = (l.k + 31) / 32;
    const int steps_padded = (l.k + 63) / 64 * 2;  // the kernels walk K padded to 64
    for (int first = 0; first < steps_padded; ++first) {
      cuda::GroupCursor c(first, l.group_size, groups);
      for (int step = first; step < steps_padded; ++step) {
        const std::string what = "k=" + std::to_string(l.k) + " group " + std::to_string(l.group_size) + " from " +
                                 std::to_string(first) + " at " + std::to_string(step);
        ASSERT_EQ(c.step, step) << what;
        if (step < steps_real) {
          if (step == steps_real - 1) {
            ASSERT_TRUE(c.ends_group()) << "the step holding K's tail, " << what;
          }
          ASSERT_EQ(c.group, group_by_division(step, l.group_size)) << what;
          ASSERT_EQ(c.ends_group(), ends_by_division(step, l.group_size, steps_real)) << what;
        } else if (groups > 1) {
          // K padding: past the last group, where the kernels skip the promotion.
          ASSERT_GE(c.group, groups) << what;
        } else {
          // Per channel the padding stays in the one group: its weights are 0,
          // so promoting it adds nothing.
          ASSERT_EQ(c.group, 0) << what;
          ASSERT_FALSE(c.ends_group()) << what;
        }
        c.advance();
      }
    }
  }
}
