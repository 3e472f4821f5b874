// Device micro-benchmark: how the order in which warps stream a layer's
// prepared weights sets the read bandwidth. The buffer is viewed the way the
// decode kernels see it - [N/16 tiles][K/64 chunks][512 bytes], one block per
// 16-channel tile, its warps splitting the tile's K - and each pattern reads
// all of it and computes nothing but an XOR (kept alive through `sink`).
// Patterns differ in how bytes are put in flight (a per-lane cp.async ring as
// small_m does, plain 16-byte loads into registers, per-warp bulk copies as
// TMA does) and in which chunks a warp takes (a contiguous K slice, or units
// of U chunks dealt round-robin so that a block's warps read adjacent bytes).
// The `work` patterns add small_m's per-chunk work to its ring one piece at
// a time (unpack, MMAs, token fragments, promotion): which piece leaves the
// floor.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

namespace w4a8::bench {

struct StreamPattern {
  std::string name;  // e.g. "ring w8 d4 slice"
  int warps = 8;     // per block (split of K)
  int depth = 4;     // chunks in flight per warp (ring, regs) or stages (bulk)
  int unit = 0;      // 0: a contiguous K slice per warp; U: units of U chunks, round-robin
  int kind = 0;      // 0 ring, 1 regs, 2 bulk (sm_90), 3 ring plus small_m's work (`work`)
  int work = 0;      // kind 3: 1 unpack, 2 + two MMAs, 3 + token fragments from memory, 4 + group-128 promotion, 5 + block reduction and store
  int stage_chunks = 1;  // bulk: chunks per copy
};

std::vector<StreamPattern> stream_patterns();

// What the kind-3 patterns read besides the weights, as small_m at M = 1:
// one token row of chunks * 64 int8 values, and group-128 scales
// [chunks / 2][tiles * 16] (fp32); `work 5` writes one output per channel.
struct StreamExtras {
  const int8_t* q = nullptr;
  const float* scales = nullptr;
  float* out = nullptr;  // tiles * 16
};

// Reads tiles * chunks * 512 bytes from buf with pattern `p`. Bulk patterns
// need sm_90; elsewhere they return cudaErrorNotSupported.
cudaError_t launch_stream_read(const StreamPattern& p, const void* buf, int tiles, int chunks, unsigned* sink,
                               cudaStream_t stream, const StreamExtras& extras = {});

// Resident blocks per SM of the pattern's kernel (0 when it cannot run).
int stream_pattern_blocks_per_sm(const StreamPattern& p);

}  // namespace w4a8::bench
