// DType, Device, the non-owning TensorView every API takes, and the owning
// Tensor the CLI and tests use. Strides are in elements, like PyTorch's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "w4a8/half.h"
#include "w4a8/status.h"

namespace w4a8 {

enum class DType : uint8_t { f32, f16, bf16, i8, u8, i32, i64 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
bool is_floating(DType t);

enum class DeviceType : uint8_t { cpu, cuda };
struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::cuda, i}; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};
std::string device_name(Device d);

inline constexpr int kMaxRank = 6;

// A typed window on memory owned by someone else. `data` may be null only
// when the view is empty ("no tensor", e.g. an absent bias).
class TensorView {
 public:
  TensorView() = default;
  // Contiguous (row-major) view.
  TensorView(const void* data, DType dtype, std::initializer_list<int64_t> shape,
             Device device = Device::cpu());
  TensorView(const void* data, DType dtype, const std::vector<int64_t>& shape,
             Device device = Device::cpu());
  // Strided view.
  TensorView(const void* data, DType dtype, const std::vector<int64_t>& shape,
             const std::vector<int64_t>& strides, Device device = Device::cpu());

  bool defined() const { return data_ != nullptr || rank_ > 0; }
  void* data() const { return data_; }
  template <typename T>
  T* data_as() const { return static_cast<T*>(data_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  int rank() const { return rank_; }
  int64_t size(int dim) const { return shape_[dim < 0 ? dim + rank_ : dim]; }
  int64_t stride(int dim) const { return strides_[dim < 0 ? dim + rank_ : dim]; }
  int64_t numel() const;
  bool is_contiguous() const;
  std::vector<int64_t> shape() const { return {shape_, shape_ + rank_}; }
  std::string shape_string() const;  // "[4, 4096]"
  // Contiguous view of the same data as [prod(shape[:-1]), shape[-1]].
  Result<TensorView> flatten_to_2d() const;

 private:
  void* data_ = nullptr;
  DType dtype_ = DType::f32;
  Device device_{};
  int rank_ = 0;
  int64_t shape_[kMaxRank] = {};
  int64_t strides_[kMaxRank] = {};
};

// Owning, contiguous memory on the CPU (zero-initialised) or on a GPU.
class Tensor {
 public:
  Tensor() = default;
  // CPU tensor, zero-initialised. (Throws std::bad_alloc like any container.)
  Tensor(DType dtype, std::vector<int64_t> shape);
  // Tensor on any device; uninitialised on a GPU. Fails without a GPU or memory.
  static Result<Tensor> empty(DType dtype, std::vector<int64_t> shape, Device device);
  static Tensor empty_like(const TensorView& v) { return Tensor(v.dtype(), v.shape()); }
  // A copy on `device` (synchronous).
  Result<Tensor> to(Device device) const;
  Device device() const { return device_; }

  TensorView view() const;
  void* data() const { return storage_.get(); }
  template <typename T>
  T* data_as() const { return reinterpret_cast<T*>(storage_.get()); }
  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool defined() const { return storage_ != nullptr; }

 private:
  DType dtype_ = DType::f32;
  Device device_{};
  std::vector<int64_t> shape_;
  std::shared_ptr<std::byte[]> storage_;
};

// Synchronous copy between any two devices; same dtype and element count.
Status copy_tensor(const TensorView& dst, const TensorView& src);

// Element access for any floating dtype, as fp32 (exact widening).
float load_as_float(const TensorView& v, int64_t flat_offset);
// Stores f into a floating element, rounding to nearest-even for f16/bf16.
void store_from_float(const TensorView& v, int64_t flat_offset, float f);

}  // namespace w4a8
