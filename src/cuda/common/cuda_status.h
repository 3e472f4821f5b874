// CUDA errors as w4a8 Status values.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "w4a8/status.h"

namespace w4a8::cuda {

inline Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::ok();
  const StatusCode code = err == cudaErrorMemoryAllocation ? StatusCode::unavailable : StatusCode::internal;
  return Status(code, std::string(what) + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

}  // namespace w4a8::cuda

#define W4A8_CUDA_RETURN_IF_ERROR(expr) W4A8_RETURN_IF_ERROR(::w4a8::cuda::cuda_status((expr), #expr))
