#include "core/validate.h"

#include <cmath>

namespace w4a8::detail {

std::string dtype_list(std::initializer_list<DType> dtypes) {
  std::string s;
  for (DType d : dtypes) s += (s.empty() ? "" : "/") + std::string(dtype_name(d));
  return s;
}

Status check_view(const TensorView& v, const std::string& name, std::initializer_list<DType> dtypes,
                  std::initializer_list<int64_t> shape, Device device, bool contiguous) {
  if (v.rank() < 0) return invalid_argument(name + ": rank above " + std::to_string(kMaxRank) + " or strides/shape mismatch");
  if (!v.defined()) return invalid_argument(name + ": required tensor is missing");
  bool dtype_ok = false;
  for (DType d : dtypes) dtype_ok |= (d == v.dtype());
  if (!dtype_ok)
    return invalid_argument(name + ": expected dtype " + dtype_list(dtypes) + ", got " + dtype_name(v.dtype()));
  bool shape_ok = v.rank() == static_cast<int>(shape.size());
  if (shape_ok) {
    int i = 0;
    for (int64_t s : shape) {
      if (s != kAnySize && v.size(i) != s) shape_ok = false;
      ++i;
    }
  }
  if (!shape_ok) {
    std::string want = "[";
    int i = 0;
    for (int64_t s : shape) want += (i++ ? ", " : "") + (s == kAnySize ? std::string("*") : std::to_string(s));
    return invalid_argument(name + ": expected shape " + want + "], got " + v.shape_string());
  }
  for (int i = 0; i < v.rank(); ++i)
    if (v.size(i) < 0) return invalid_argument(name + ": negative size in shape " + v.shape_string());
  if (v.numel() > 0 && v.data() == nullptr) return invalid_argument(name + ": data pointer is null");
  if (!(v.device() == device))
    return invalid_argument(name + ": expected a tensor on " + device_name(device) + ", got one on " +
                            device_name(v.device()));
  if (contiguous && !v.is_contiguous())
    return invalid_argument(name + ": must be contiguous, got strides that are not row-major for shape " +
                            v.shape_string());
  return Status::ok();
}

Status check_finite(const TensorView& v, const std::string& name) {
  const int64_t n = v.numel();
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(load_as_float(v, i)))
      return {StatusCode::non_finite, name + ": element " + std::to_string(i) + " is NaN or Inf"};
  }
  return Status::ok();
}

Status check_multiple(int64_t value, int64_t divisor, const std::string& what, const std::string& why) {
  if (divisor <= 0 || value % divisor != 0)
    return invalid_argument(what + "=" + std::to_string(value) + " is not a multiple of " + std::to_string(divisor) +
                            " (" + why + ")");
  return Status::ok();
}

}  // namespace w4a8::detail
