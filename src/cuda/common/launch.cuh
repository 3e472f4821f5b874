// One kernel launch through cudaLaunchKernelEx, with programmatic stream
// serialization where asked (sm_90+): the kernel then starts while the
// kernel before it still runs, and waits in wait_for_producer() (mma.cuh)
// where it first reads that kernel's output. H100, before the GEMMs used
// it: a 4096x4096 layer at M=1 took 11.9 us for 3.6 us of weight bytes.
// `cluster` > 1 groups that many consecutive blocks (along x) into a
// thread-block cluster (sm_90+).
#pragma once

#include <cuda_runtime.h>

namespace w4a8::cuda {

template <typename Kernel, typename... Args>
cudaError_t launch_kernel_in_clusters(Kernel kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, bool pdl,
                                      int cluster, const Args&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[2];
  unsigned n = 0;
  if (pdl) {
    attr[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[n].val.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  if (cluster > 1) {
    attr[n].id = cudaLaunchAttributeClusterDimension;
    attr[n].val.clusterDim.x = static_cast<unsigned>(cluster);
    attr[n].val.clusterDim.y = 1;
    attr[n].val.clusterDim.z = 1;
    ++n;
  }
  cfg.attrs = attr;
  cfg.numAttrs = n;
  return cudaLaunchKernelEx(&cfg, kernel, args...);
}

template <typename Kernel, typename... Args>
cudaError_t launch_kernel(Kernel kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, bool pdl,
                          const Args&... args) {
  return launch_kernel_in_clusters(kernel, grid, block, smem, stream, pdl, 1, args...);
}

}  // namespace w4a8::cuda
