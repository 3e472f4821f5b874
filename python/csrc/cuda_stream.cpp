// torch's current CUDA stream, for builds against a CUDA torch.
#include <c10/cuda/CUDAStream.h>

#include "torch_bridge.h"

namespace w4a8::torch_op {

void* current_stream(const at::Device& d) {
  if (!d.is_cuda()) return nullptr;
  return c10::cuda::getCurrentCUDAStream(d.index()).stream();
}

}  // namespace w4a8::torch_op
