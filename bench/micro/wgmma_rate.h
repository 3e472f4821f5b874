// Device micro-benchmark for the Hopper kernel's budget: how fast the int8
// wgmma runs with A from registers (the weights, as the sm_90a kernel feeds
// it) and what each piece of the kernel's per-stage chain costs on top -
// nothing in memory, so only the tensor pipe and the issue slots count.
// Each consumer warpgroup runs `stages` stages of four m64nNk32 wgmmas (128
// inputs): kind 0 keeps one stage in flight (wait<1>, two fragment sets:
// the tensor pipe's rate), 1 waits for each stage (wait<0>), 2 also starts a
// fresh sum per stage and promotes it (the grouped kernel's chain: wait,
// exact int->float, FMA per accumulator), 3 also unpacks the A fragments
// from prepared words each stage, 4 promotes stage i - 1's sums (a second
// set) while stage i runs, 5 is 2 with one FMA per sum in place of the exact
// promotion (a cost probe: what an fp32 accumulator would pay).
#pragma once

#include <cuda_runtime.h>

#include <string>
#include <vector>

namespace w4a8::bench {

struct WgmmaRateCase {
  std::string name;
  int tokens = 64;     // N of m64nNk32: 32, 64, 128
  int kind = 0;        // see above
  int consumers = 2;   // warpgroups per block (one block per SM)
};

std::vector<WgmmaRateCase> wgmma_rate_cases();

// Runs `c` on `blocks` blocks for `stages` stages per warpgroup; sm_90 only
// (cudaErrorNotSupported elsewhere).
cudaError_t launch_wgmma_rate(const WgmmaRateCase& c, int blocks, int stages, unsigned* sink, cudaStream_t stream);

}  // namespace w4a8::bench
