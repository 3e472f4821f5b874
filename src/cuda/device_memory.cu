// device_allocate / device_copy for CUDA builds.
#include <cstring>

#include "core/device_memory.h"
#include "cuda/common/cuda_status.h"

namespace w4a8::detail {

Result<std::shared_ptr<std::byte[]>> device_allocate(Device device, size_t bytes) {
  if (device.type == DeviceType::cpu) return std::shared_ptr<std::byte[]>(new std::byte[bytes]);
  int previous = 0;
  W4A8_CUDA_RETURN_IF_ERROR(cudaGetDevice(&previous));
  W4A8_CUDA_RETURN_IF_ERROR(cudaSetDevice(device.index));
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes);
  cudaSetDevice(previous);
  W4A8_RETURN_IF_ERROR(cuda::cuda_status(err, "cudaMalloc"));
  const int index = device.index;
  return std::shared_ptr<std::byte[]>(static_cast<std::byte*>(p), [index](std::byte* q) {
    int prev = 0;
    cudaGetDevice(&prev);
    cudaSetDevice(index);
    cudaFree(q);
    cudaSetDevice(prev);
  });
}

Status device_copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (dst_device.type == DeviceType::cpu && src_device.type == DeviceType::cpu) {
    std::memmove(dst, src, bytes);
    return Status::ok();
  }
  W4A8_CUDA_RETURN_IF_ERROR(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
  return Status::ok();
}

}  // namespace w4a8::detail
