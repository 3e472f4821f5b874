// One place for the input checks every public entry point makes, so that each
// problem gets the same clear message wherever it is found.
#pragma once

#include <initializer_list>
#include <string>

#include "w4a8/status.h"
#include "w4a8/tensor.h"

namespace w4a8::detail {

inline constexpr int64_t kAnySize = -1;  // shape wildcard

std::string dtype_list(std::initializer_list<DType> dtypes);

// Checks that `v` is present, not null, of one of `dtypes`, of `shape`
// (kAnySize matches anything), on `device`, and contiguous if asked.
Status check_view(const TensorView& v, const std::string& name, std::initializer_list<DType> dtypes,
                  std::initializer_list<int64_t> shape, Device device = Device::cpu(),
                  bool contiguous = true);

// Checks that every element of a floating tensor is finite.
Status check_finite(const TensorView& v, const std::string& name);

// "K=4100 is not a multiple of 8" style helper.
Status check_multiple(int64_t value, int64_t divisor, const std::string& what, const std::string& why);

}  // namespace w4a8::detail
