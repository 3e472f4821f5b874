// torch without CUDA: there is no stream, and CUDA tensors cannot exist.
#include "torch_bridge.h"

namespace w4a8::torch_op {

void* current_stream(const at::Device&) { return nullptr; }

}  // namespace w4a8::torch_op
