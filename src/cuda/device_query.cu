// list_gpus for CUDA builds: asks the runtime, never fails hard - a machine
// without a GPU or driver simply has none.
#include <cuda_runtime.h>

#include "w4a8/device.h"

namespace w4a8 {

std::vector<GpuInfo> list_gpus(std::string* why_none) {
  std::vector<GpuInfo> gpus;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    if (why_none) *why_none = std::string("no CUDA device: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return gpus;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    gpus.push_back({i, p.name, p.major, p.minor, p.multiProcessorCount, p.totalGlobalMem,
                    static_cast<size_t>(p.l2CacheSize)});
  }
  if (gpus.empty() && why_none) *why_none = "no CUDA device found";
  return gpus;
}

}  // namespace w4a8
