// The GPU baselines every w4a8 figure is printed beside: cuBLASLt GEMMs in
// the layouts users run today (fp16, int8 IMMA, FP8 E4M3), y[M,N] = x[M,K] W^T.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <string>

namespace w4a8::bench {

enum class Baseline { fp16, int8, fp8 };
const char* baseline_name(Baseline b);

// One prepared cuBLASLt matmul for fixed (M, N, K); weights passed per call
// so they can rotate. `ok()` is false (with `why`) where cuBLASLt has no
// algorithm for the shape, and the benchmark reports n/a.
class LtGemm {
 public:
  LtGemm(cublasLtHandle_t handle, Baseline kind, int m, int n, int k, void* workspace, size_t workspace_bytes);
  ~LtGemm();
  bool ok() const { return ok_; }
  const std::string& why() const { return why_; }
  size_t weight_bytes() const;
  // x: [M,K] activations, w: [N,K] weights, y: [M,N] output, in the baseline's types.
  cudaError_t run(const void* x, const void* w, void* y, cudaStream_t stream) const;

 private:
  cublasLtHandle_t handle_;
  Baseline kind_;
  int m_, n_, k_;
  void* workspace_;
  size_t workspace_bytes_;
  cublasLtMatmulDesc_t op_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, c_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
  bool ok_ = false;
  std::string why_;
};

// Bytes per element of the baseline's weights and activations, output.
size_t input_bytes(Baseline b);
size_t output_bytes(Baseline b);

}  // namespace w4a8::bench
