// Device micro-benchmark: how the order in which warps stream a layer's
// prepared weights sets the read bandwidth. The buffer is viewed the way the
// decode kernels see it - [N/16 tiles][K/64 chunks][512 bytes], one block per
// 16-channel tile, its warps splitting the tile's K - and each pattern reads
// all of it and computes nothing but an XOR (kept alive through `sink`).
// Patterns differ in how bytes are put in flight (a per-lane cp.async ring as
// small_m does, plain 16-byte loads into registers, per-warp bulk copies as
// TMA does) and in which chunks a warp takes (a contiguous K slice, or units
// of U chunks dealt round-robin so that a block's warps read adjacent bytes).
#pragma once

#include <cuda_runtime.h>

#include <string>
#include <vector>

namespace w4a8::bench {

struct StreamPattern {
  std::string name;  // e.g. "ring w8 d4 slice"
  int warps = 8;     // per block (split of K)
  int depth = 4;     // chunks in flight per warp (ring, regs) or stages (bulk)
  int unit = 0;      // 0: a contiguous K slice per warp; U: units of U chunks, round-robin
  int kind = 0;      // 0 ring, 1 regs, 2 bulk (sm_90)
  int stage_chunks = 1;  // bulk: chunks per copy
};

std::vector<StreamPattern> stream_patterns();

// Reads tiles * chunks * 512 bytes from buf with pattern `p`. Bulk patterns
// need sm_90; elsewhere they return cudaErrorNotSupported.
cudaError_t launch_stream_read(const StreamPattern& p, const void* buf, int tiles, int chunks, unsigned* sink,
                               cudaStream_t stream);

// Resident blocks per SM of the pattern's kernel (0 when it cannot run).
int stream_pattern_blocks_per_sm(const StreamPattern& p);

}  // namespace w4a8::bench
