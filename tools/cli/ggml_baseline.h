// llama.cpp's CPU matmul as a bench baseline: ggml's q4_0 weights in its
// CPU_REPACK buffer (repacked at load into interleaved q4_0x8 blocks, the
// path llama.cpp runs 4-bit models with on x86) times f32 activations, which
// ggml quantizes to q8_0 itself. Linked into the tool only, and only when the
// build found a ggml that scripts/fetch-ggml built; otherwise the bench says so.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace w4a8::cli {

class GgmlQ4Matmul {
 public:
  // w: [N, K] float weights, quantized to q4_0 by ggml; `copies` independent
  // repacked copies (rotated like ours); x: [M, K]. Runs on `threads` threads
  // of ggml's own pool. Checks once that ggml's result equals the q4_0 x q8_0
  // product computed in double from ggml's own dequantized blocks, and throws
  // if it does not, or if the weights did not land in the repack buffer.
  GgmlQ4Matmul(const std::vector<float>& w, int64_t n, int64_t k, const std::vector<float>& x, int64_t m,
               size_t copies, int threads);
  ~GgmlQ4Matmul();
  void run(size_t copy);  // y[M, N] = x * w[copy]^T, synchronous
  // Puts ggml's workers to sleep. They poll for new work for a long while
  // after each graph (its default polling level: about a second of spinning),
  // which took a core from the contender timed next and halved our 2-thread
  // figures; the next run() wakes them.
  void idle();
  size_t weight_bytes() const;  // one copy, as ggml stores it (q4_0: 18 bytes per 32 weights)
  std::string description() const;  // buffer type, repack state, check result

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

bool ggml_baseline_available();
const char* ggml_baseline_name();
// Why it is unavailable, and how to get it.
const char* ggml_baseline_missing_reason();

}  // namespace w4a8::cli
