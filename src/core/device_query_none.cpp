// list_gpus for builds without CUDA.
#include "w4a8/device.h"

namespace w4a8 {

std::vector<GpuInfo> list_gpus(std::string* why_none) {
  if (why_none) *why_none = "this build has no CUDA support (configure with -DW4A8_CUDA=ON)";
  return {};
}

}  // namespace w4a8
