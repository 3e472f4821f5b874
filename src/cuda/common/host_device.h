// W4A8_HOST_DEVICE: for the few pure-integer helpers that the kernels use and
// the CPU tests check against the weight layout (k_order.cuh, unpack.h).
#pragma once

#if defined(__CUDACC__)
#define W4A8_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define W4A8_HOST_DEVICE inline
#endif
