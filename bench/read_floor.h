// The memory floor of a layer, measured: a plain kernel that streams exactly
// `bytes` from device memory (16-byte loads, 8 in flight per thread, one block
// per 32 KiB) and writes nothing. Timed like the layers, it is what the
// memory gives for that size, launch included.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace w4a8::bench {

// buf: 16-byte aligned, bytes a multiple of 16. sink: one device word, written
// only on a value the data never XORs to (keeps the loads alive).
cudaError_t launch_read_floor(const void* buf, size_t bytes, unsigned* sink, cudaStream_t stream);

}  // namespace w4a8::bench
