// The machine's memory read bandwidth, measured the way the CPU kernels read
// weights: every thread streams its own share of a buffer far larger than
// the last-level cache. The floor of a memory-bound GEMM is its bytes
// divided by this.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace w4a8::cli {

// Reads `bytes` (one of several copies, rotated through more memory than the
// cache) on `threads` persistent threads: the time a memory-bound kernel
// could not beat, measured beside it in the same rounds. Its workers sleep
// between calls, so for reads of a few microseconds their wake-up dominates
// and the floor is too high (x floor < 1): it is meant for layer-sized reads.
class ReadProbe {
 public:
  ReadProbe(size_t bytes, size_t copies, int threads);
  ~ReadProbe();
  void run(size_t copy);
  size_t bytes() const { return words_per_copy_ * 8; }

 private:
  void work(int t, size_t copy);
  std::vector<uint64_t> buf_;
  size_t words_per_copy_ = 0, copies_ = 0;
  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  size_t copy_ = 0;
  std::vector<uint64_t> sink_;
};

}  // namespace w4a8::cli
