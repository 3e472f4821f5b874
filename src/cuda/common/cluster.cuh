// Thread-block clusters (sm_90): the block's rank in its cluster, the
// cluster-wide barrier, and loads from another block's shared memory
// (distributed shared memory). One instruction each. On older targets a
// launch never asks for a cluster, so these are the one-block cluster's
// answers there (rank 0, a block barrier, the block's own memory).
#pragma once

#include <cstdint>

namespace w4a8::cuda {

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define W4A8_HAS_CLUSTERS 1
#else
#define W4A8_HAS_CLUSTERS 0
#endif

__device__ __forceinline__ int cluster_rank() {
#if W4A8_HAS_CLUSTERS
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return static_cast<int>(r);
#else
  return 0;
#endif
}

// Every thread of every block of the cluster arrives, then waits: shared
// memory written before it (release) is visible to the other blocks after it
// (acquire). Called by all threads at a uniform point.
__device__ __forceinline__ void cluster_sync() {
#if W4A8_HAS_CLUSTERS
  asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
#else
  __syncthreads();
#endif
}

// The 32-bit word at `local` (this block's shared memory) as it is in the
// shared memory of the cluster's block `rank`.
__device__ __forceinline__ uint32_t load_from_cluster_block(const void* local, int rank) {
#if W4A8_HAS_CLUSTERS
  const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(local));
  uint32_t remote, v;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(remote) : "r"(a), "r"(rank));
  asm volatile("ld.shared::cluster.u32 %0, [%1];\n" : "=r"(v) : "r"(remote) : "memory");
  return v;
#else
  (void)rank;
  return *static_cast<const uint32_t*>(local);
#endif
}

__device__ __forceinline__ float load_float_from_cluster_block(const float* local, int rank) {
  return __uint_as_float(load_from_cluster_block(local, rank));
}

}  // namespace w4a8::cuda
