#include "w4a8/tensor.h"

#include "core/device_memory.h"

#include <cstring>

namespace w4a8 {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f16: return 2;
    case DType::bf16: return 2;
    case DType::i8: return 1;
    case DType::u8: return 1;
    case DType::i32: return 4;
    case DType::i64: return 8;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i8: return "i8";
    case DType::u8: return "u8";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
  }
  return "?";
}

bool is_floating(DType t) { return t == DType::f32 || t == DType::f16 || t == DType::bf16; }

std::string device_name(Device d) {
  return d.type == DeviceType::cpu ? std::string("cpu") : "cuda:" + std::to_string(d.index);
}

TensorView::TensorView(const void* data, DType dtype, std::initializer_list<int64_t> shape,
                       Device device)
    : TensorView(data, dtype, std::vector<int64_t>(shape), device) {}

TensorView::TensorView(const void* data, DType dtype, const std::vector<int64_t>& shape,
                       Device device)
    : TensorView(data, dtype, shape, {}, device) {}

TensorView::TensorView(const void* data, DType dtype, const std::vector<int64_t>& shape,
                       const std::vector<int64_t>& strides, Device device)
    : data_(const_cast<void*>(data)), dtype_(dtype), device_(device) {
  // A rank above kMaxRank cannot be represented: keep the view undefined-shaped
  // (rank 0 with data) so validation reports it instead of overflowing.
  if (shape.size() > static_cast<size_t>(kMaxRank) ||
      (!strides.empty() && strides.size() != shape.size())) {
    rank_ = -1;
    return;
  }
  rank_ = static_cast<int>(shape.size());
  int64_t running = 1;
  for (int i = rank_ - 1; i >= 0; --i) {
    shape_[i] = shape[i];
    strides_[i] = strides.empty() ? running : strides[i];
    running *= shape[i];
  }
}

int64_t TensorView::numel() const {
  if (rank_ < 0) return 0;
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= shape_[i];
  return n;
}

bool TensorView::is_contiguous() const {
  int64_t expected = 1;
  for (int i = rank_ - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

// No iostreams in the library: inside a Python process that loaded another
// libstdc++ first (torch's), an ostringstream built by a newer g++ crashed on
// the GPU machine; plain string concatenation has no such dependence.
std::string TensorView::shape_string() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string(shape_[i]);
  return s + "]";
}

Result<TensorView> TensorView::flatten_to_2d() const {
  if (rank_ < 1) return invalid_argument("expected a tensor of rank >= 1, got rank " + std::to_string(rank_));
  if (!is_contiguous())
    return invalid_argument("tensor " + shape_string() + " must be contiguous (call .contiguous() first)");
  const int64_t cols = shape_[rank_ - 1];
  const int64_t rows = cols == 0 ? 0 : numel() / cols;
  return TensorView(data_, dtype_, {rows, cols}, device_);
}

Tensor::Tensor(DType dtype, std::vector<int64_t> shape) : dtype_(dtype), shape_(std::move(shape)) {
  const size_t bytes = std::max<size_t>(nbytes(), 1);
  storage_ = std::shared_ptr<std::byte[]>(new std::byte[bytes]);
  std::memset(storage_.get(), 0, bytes);
}

Result<Tensor> Tensor::empty(DType dtype, std::vector<int64_t> shape, Device device) {
  if (device.type == DeviceType::cpu) return Tensor(dtype, std::move(shape));
  Tensor t;
  t.dtype_ = dtype;
  t.device_ = device;
  t.shape_ = std::move(shape);
  auto storage = detail::device_allocate(device, std::max<size_t>(t.nbytes(), 1));
  W4A8_RETURN_IF_ERROR(storage.status());
  t.storage_ = std::move(storage.value());
  return t;
}

Result<Tensor> Tensor::to(Device device) const {
  auto out = Tensor::empty(dtype_, shape_, device);
  W4A8_RETURN_IF_ERROR(out.status());
  W4A8_RETURN_IF_ERROR(copy_tensor(out->view(), view()));
  return out;
}

Status copy_tensor(const TensorView& dst, const TensorView& src) {
  if (dst.dtype() != src.dtype() || dst.numel() != src.numel())
    return invalid_argument("copy_tensor: " + std::string(dtype_name(src.dtype())) + src.shape_string() + " into " +
                            dtype_name(dst.dtype()) + dst.shape_string());
  if (!dst.is_contiguous() || !src.is_contiguous()) return invalid_argument("copy_tensor: both tensors must be contiguous");
  const size_t bytes = static_cast<size_t>(src.numel()) * dtype_size(src.dtype());
  if (bytes == 0) return Status::ok();
  return detail::device_copy(dst.data(), dst.device(), src.data(), src.device(), bytes);
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t s : shape_) n *= s;
  return n;
}

TensorView Tensor::view() const { return TensorView(storage_.get(), dtype_, shape_, device_); }

float load_as_float(const TensorView& v, int64_t i) {
  switch (v.dtype()) {
    case DType::f32: return v.data_as<const float>()[i];
    case DType::f16: return half_bits_to_float(v.data_as<const uint16_t>()[i]);
    case DType::bf16: return bf16_bits_to_float(v.data_as<const uint16_t>()[i]);
    default: return 0.0f;  // callers validate the dtype first
  }
}

void store_from_float(const TensorView& v, int64_t i, float f) {
  switch (v.dtype()) {
    case DType::f32: v.data_as<float>()[i] = f; break;
    case DType::f16: v.data_as<uint16_t>()[i] = float_to_half_bits(f); break;
    case DType::bf16: v.data_as<uint16_t>()[i] = float_to_bf16_bits(f); break;
    default: break;  // callers validate the dtype first
  }
}

}  // namespace w4a8
