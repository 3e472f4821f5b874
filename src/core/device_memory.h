// Memory on a device: the one seam between the CPU-only core and the CUDA
// runtime. CPU-only builds report GPUs as unavailable.
#pragma once

#include <cstddef>
#include <memory>

#include "w4a8/status.h"
#include "w4a8/tensor.h"

namespace w4a8::detail {

Result<std::shared_ptr<std::byte[]>> device_allocate(Device device, size_t bytes);
Status device_copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

}  // namespace w4a8::detail
