// Whether the current CUDA device is a Hopper (sm_90) part: the micro-
// benchmarks that use TMA or wgmma run only there.
#pragma once

#include <cuda_runtime.h>

namespace w4a8::bench {

inline bool current_device_is_sm90() {
  int dev = 0, major = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) return false;
  return major == 9;
}

}  // namespace w4a8::bench
