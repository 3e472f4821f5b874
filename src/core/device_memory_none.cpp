// device_allocate / device_copy for builds without CUDA: only the CPU exists.
#include <cstring>

#include "core/device_memory.h"

namespace w4a8::detail {

Result<std::shared_ptr<std::byte[]>> device_allocate(Device device, size_t bytes) {
  if (device.type == DeviceType::cpu) return std::shared_ptr<std::byte[]>(new std::byte[bytes]);
  return Status(StatusCode::unavailable, "this build has no CUDA support (configure with -DW4A8_CUDA=ON)");
}

Status device_copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (dst_device.type != DeviceType::cpu || src_device.type != DeviceType::cpu)
    return Status(StatusCode::unavailable, "this build has no CUDA support (configure with -DW4A8_CUDA=ON)");
  std::memmove(dst, src, bytes);
  return Status::ok();
}

}  // namespace w4a8::detail
