// The one table of backends, best first, and the choice among them.
#include <string>

#include "core/backend.h"
#include "cpu/cpu_backend.h"
#include "cpu/ref/reference_backend.h"
#if W4A8_WITH_CUDA_BACKEND
#include "cuda/cuda_backend.h"
#endif

namespace w4a8 {
namespace detail {

const std::vector<const Backend*>& all_backends() {
  // Faster backends are added in front of the reference as they land.
  static const std::vector<const Backend*> backends = {
#if W4A8_WITH_CUDA_BACKEND
      &cuda::cuda_backend(),
#endif
      &cpu::cpu_backend(), &cpu::ref::reference_backend()};
  return backends;
}

Result<const Backend*> choose_backend(const std::string& name, const LinearConfig& config, Device device) {
  if (name != "auto") {
    for (const Backend* b : all_backends()) {
      if (name != b->name()) continue;
      W4A8_RETURN_IF_ERROR(b->available());
      W4A8_RETURN_IF_ERROR(b->supports(config));
      return b;
    }
    std::string known;
    for (const Backend* b : all_backends()) known += std::string(known.empty() ? "" : ", ") + b->name();
    return Status(StatusCode::unavailable, "unknown backend '" + name + "' (this build has: " + known + ")");
  }
  std::string reasons;
  for (const Backend* b : all_backends()) {
    if (b->device().type != device.type) continue;
    Status s = b->available();
    if (s.is_ok()) s = b->supports(config);
    if (s.is_ok()) return b;
    reasons += std::string("; ") + b->name() + ": " + s.message();
  }
  return Status(StatusCode::unavailable, "no backend can run this layer on " + device_name(device) + reasons);
}

}  // namespace detail

std::vector<BackendInfo> list_backends() {
  std::vector<BackendInfo> out;
  for (const Backend* b : detail::all_backends()) {
    const Status s = b->available();
    out.push_back({b->name(), b->description(), b->device(), s.is_ok(), s.is_ok() ? "" : s.message()});
  }
  return out;
}

}  // namespace w4a8
