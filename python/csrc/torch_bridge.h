// The bridge between at::Tensor and the library: dtype and device mapping,
// views that keep torch's strides, and Status -> Python exception.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <string>

#include "w4a8/w4a8.h"

namespace w4a8::torch_op {

// Raises a Python RuntimeError carrying the library's message.
inline void check(const Status& s, const char* op) {
  TORCH_CHECK(s.is_ok(), "w4a8::", op, ": ", s.message());
}

inline DType to_dtype(at::ScalarType t, const char* name, const char* op) {
  switch (t) {
    case at::kFloat: return DType::f32;
    case at::kHalf: return DType::f16;
    case at::kBFloat16: return DType::bf16;
    case at::kChar: return DType::i8;
    case at::kByte: return DType::u8;
    case at::kInt: return DType::i32;
    case at::kLong: return DType::i64;
    default: TORCH_CHECK(false, "w4a8::", op, ": ", name, " has dtype ", t, ", which w4a8 does not take");
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
  TORCH_CHECK(d.is_cuda(), "w4a8::", op, ": tensors on ", d, " are not supported (CPU or CUDA)");
  return Device::cuda(d.has_index() ? d.index() : 0);
}

// A view with torch's shape and strides; the library checks them.
inline TensorView view_of(const at::Tensor& t, const char* name, const char* op) {
  if (!t.defined()) return {};
  TORCH_CHECK(t.dim() <= kMaxRank, "w4a8::", op, ": ", name, " has ", t.dim(), " dimensions (at most ", kMaxRank, ")");
  return TensorView(t.data_ptr(), to_dtype(t.scalar_type(), name, op), t.sizes().vec(), t.strides().vec(),
                    to_device(t.device(), op));
}

inline TensorView view_of(const c10::optional<at::Tensor>& t, const char* name, const char* op) {
  return t.has_value() ? view_of(*t, name, op) : TensorView();
}

// The stream the op must run on: torch's current stream for CUDA tensors.
void* current_stream(const at::Device& d);

}  // namespace w4a8::torch_op
