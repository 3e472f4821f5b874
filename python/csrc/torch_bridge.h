// The bridge between at::Tensor and the library: dtype and device mapping,
// views that keep torch's strides, and Status -> Python exception.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <string>

#include "w4a8/w4a8.h"

namespace w4a8::torch_op {

// Every message is built as one std::string before TORCH_CHECK sees it: with
// anything but strings, c10::str formats through an ostringstream compiled
// into this module, and on the GPU machine (torch 2.11 wheels, g++ 13) that
// crashed inside the error path. Numbers go through std::to_string instead.
#define W4A8_TORCH_CHECK(cond, message) TORCH_CHECK((cond), std::string(message))

inline std::string sizes_str(c10::IntArrayRef v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}
inline std::string op_prefix(const char* op) { return std::string("w4a8::") + op + ": "; }

// Raises a Python RuntimeError carrying the library's message.
inline void check(const Status& s, const char* op) { W4A8_TORCH_CHECK(s.is_ok(), op_prefix(op) + s.message()); }

inline DType to_dtype(at::ScalarType t, const char* name, const char* op) {
  switch (t) {
    case at::kFloat: return DType::f32;
    case at::kHalf: return DType::f16;
    case at::kBFloat16: return DType::bf16;
    case at::kChar: return DType::i8;
    case at::kByte: return DType::u8;
    case at::kInt: return DType::i32;
    case at::kLong: return DType::i64;
    default:
      W4A8_TORCH_CHECK(false, op_prefix(op) + name + " has dtype " + c10::toString(t) + ", which w4a8 does not take");
  }
  return DType::f32;
}

inline at::ScalarType to_scalar_type(DType t) {
  switch (t) {
    case DType::f32: return at::kFloat;
    case DType::f16: return at::kHalf;
    case DType::bf16: return at::kBFloat16;
    case DType::i8: return at::kChar;
    case DType::u8: return at::kByte;
    case DType::i32: return at::kInt;
    case DType::i64: return at::kLong;
  }
  return at::kFloat;
}

inline Device to_device(const at::Device& d, const char* op) {
  if (d.is_cpu()) return Device::cpu();
  W4A8_TORCH_CHECK(d.is_cuda(), op_prefix(op) + "tensors on " + d.str() + " are not supported (CPU or CUDA)");
  return Device::cuda(d.has_index() ? d.index() : 0);
}

// A view with torch's shape and strides; the library checks them.
inline TensorView view_of(const at::Tensor& t, const char* name, const char* op) {
  if (!t.defined()) return {};
  W4A8_TORCH_CHECK(t.dim() <= kMaxRank, op_prefix(op) + name + " has " + std::to_string(t.dim()) +
                                            " dimensions (at most " + std::to_string(kMaxRank) + ")");
  return TensorView(t.data_ptr(), to_dtype(t.scalar_type(), name, op), t.sizes().vec(), t.strides().vec(),
                    to_device(t.device(), op));
}

inline TensorView view_of(const c10::optional<at::Tensor>& t, const char* name, const char* op) {
  return t.has_value() ? view_of(*t, name, op) : TensorView();
}

// The stream the op must run on: torch's current stream for CUDA tensors.
void* current_stream(const at::Device& d);

}  // namespace w4a8::torch_op
