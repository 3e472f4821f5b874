// Which 64-input chunks of a 16-channel tile one warp streams in the read
// patterns of stream_read.cu, when a block's warps split the tile's K. kUnit = 0: one contiguous slice per warp (each
// warp its own stream, slices ~K/warps apart). kUnit = U: units of U chunks
// dealt round-robin, so the block's warps read W * U * 512 adjacent bytes at
// a time (stream_read.h measures what each order gives).
#pragma once

namespace w4a8::bench {

template <int kUnit>
struct WarpChunks {
  int warp, warps, chunks, begin, stop;
  __device__ WarpChunks(int w, int ws, int cs) : warp(w), warps(ws), chunks(cs) {
    const int per = (chunks + warps - 1) / warps;
    begin = warp * per;
    stop = min(chunks, begin + per);
  }
  // The warp's j-th chunk, or -1 past its last; increasing in j.
  __device__ int at(int j) const {
    if (j < 0) return -1;
    if constexpr (kUnit == 0) {
      return begin + j < stop ? begin + j : -1;
    } else {
      const int c = ((j / kUnit) * warps + warp) * kUnit + j % kUnit;
      return c < chunks ? c : -1;
    }
  }
  // One past the last chunk of the contiguous run that holds chunk c.
  __device__ int end(int c) const {
    if constexpr (kUnit == 0) return stop;
    else return min(chunks, c - c % kUnit + kUnit);
  }
};

}  // namespace w4a8::bench
