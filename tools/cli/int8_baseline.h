// The int8 baseline CPU figures are printed beside: oneDNN's matmul, u8
// activations x s8 weights -> s32, weights reordered once into oneDNN's
// preferred layout (several copies, rotated like ours). Linked into the tool
// only; without oneDNN the bench says so and leaves the column out.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace w4a8::cli {

class Int8Matmul {
 public:
  // w: [N, K] int8 values; `copies` independent reordered copies of them.
  // Runs on `threads` OpenMP threads.
  Int8Matmul(const std::vector<int8_t>& w, int64_t n, int64_t k, int64_t m, size_t copies, int threads);
  ~Int8Matmul();
  void run(size_t copy);  // y[M, N] = x[M, K] * w[copy]^T, synchronous

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

bool int8_baseline_available();
const char* int8_baseline_name();

}  // namespace w4a8::cli
