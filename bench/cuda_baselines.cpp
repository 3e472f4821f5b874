#include "cuda_baselines.h"

namespace w4a8::bench {

const char* baseline_name(Baseline b) {
  switch (b) {
    case Baseline::fp16: return "cuBLASLt fp16";
    case Baseline::int8: return "cuBLASLt int8";
    case Baseline::fp8: return "cuBLASLt fp8";
  }
  return "?";
}

size_t input_bytes(Baseline b) { return b == Baseline::fp16 ? 2 : 1; }
size_t output_bytes(Baseline b) { return b == Baseline::int8 ? 4 : 2; }

LtGemm::LtGemm(cublasLtHandle_t handle, Baseline kind, int m, int n, int k, void* workspace, size_t workspace_bytes)
    : handle_(handle), kind_(kind), m_(m), n_(n), k_(k), workspace_(workspace), workspace_bytes_(workspace_bytes) {
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cudaDataType_t scale = CUDA_R_32F, ab = CUDA_R_16F, c = CUDA_R_16F;
  if (kind == Baseline::int8) compute = CUBLAS_COMPUTE_32I, scale = CUDA_R_32I, ab = CUDA_R_8I, c = CUDA_R_32I;
  if (kind == Baseline::fp8) ab = CUDA_R_8F_E4M3;
  // Column-major view: C[N, M] = op(A)[N, K] * B[K, M] with A = W stored [N, K] row-major (so
  // "T"), B = x stored [M, K] row-major (so K x M column-major, "N"). The TN form int8/fp8 need.
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  if (cublasLtMatmulDescCreate(&op_, compute, scale) != CUBLAS_STATUS_SUCCESS) {
    why_ = "cublasLtMatmulDescCreate failed";
    return;
  }
  cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta));
  cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb));
  cublasLtMatrixLayoutCreate(&a_, ab, k, n, k);
  cublasLtMatrixLayoutCreate(&b_, ab, k, m, k);
  cublasLtMatrixLayoutCreate(&c_, c, n, m, n);
  cublasLtMatmulPreference_t pref;
  cublasLtMatmulPreferenceCreate(&pref);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                       sizeof(workspace_bytes_));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(handle_, op_, a_, b_, c_, c_, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (st != CUBLAS_STATUS_SUCCESS || found == 0) {
    why_ = "no cuBLASLt algorithm (status " + std::to_string(static_cast<int>(st)) + ")";
    return;
  }
  algo_ = result.algo;
  ok_ = true;
}

LtGemm::~LtGemm() {
  if (c_) cublasLtMatrixLayoutDestroy(c_);
  if (b_) cublasLtMatrixLayoutDestroy(b_);
  if (a_) cublasLtMatrixLayoutDestroy(a_);
  if (op_) cublasLtMatmulDescDestroy(op_);
}

size_t LtGemm::weight_bytes() const { return static_cast<size_t>(n_) * k_ * input_bytes(kind_); }

cudaError_t LtGemm::run(const void* x, const void* w, void* y, cudaStream_t stream) const {
  const float alpha_f = 1.0f, beta_f = 0.0f;
  const int32_t alpha_i = 1, beta_i = 0;
  const void* alpha = kind_ == Baseline::int8 ? static_cast<const void*>(&alpha_i) : &alpha_f;
  const void* beta = kind_ == Baseline::int8 ? static_cast<const void*>(&beta_i) : &beta_f;
  const cublasStatus_t st = cublasLtMatmul(handle_, op_, alpha, w, a_, x, b_, beta, y, c_, y, c_, &algo_, workspace_,
                                           workspace_bytes_, stream);
  return st == CUBLAS_STATUS_SUCCESS ? cudaSuccess : cudaErrorUnknown;
}

}  // namespace w4a8::bench
