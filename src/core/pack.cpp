// pack_int4 / unpack_int4 / pack_int4_zero_points: the public layout.
#include "core/int4.h"
#include "core/validate.h"
#include "w4a8/ops.h"

namespace w4a8 {

using detail::check_view;
using detail::kAnySize;

namespace {
// Packs rows of int8 values in -8..7 (row length `cols`) into words; returns the
// first out-of-range element as an error before writing anything.
Status pack_rows(const int8_t* v, int64_t rows, int64_t cols, int32_t* out, const char* what) {
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (v[i] < -8 || v[i] > 7)
      return invalid_argument(std::string(what) + ": element [" + std::to_string(i / cols) + ", " +
                              std::to_string(i % cols) + "] = " + std::to_string(v[i]) +
                              " is outside the int4 range -8..7");
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols / detail::kNibblesPerWord; ++j) {
      uint8_t u[detail::kNibblesPerWord];
      for (int i = 0; i < detail::kNibblesPerWord; ++i)
        u[i] = static_cast<uint8_t>(v[r * cols + 8 * j + i] + detail::kInt4Offset);
      out[r * (cols / 8) + j] = detail::pack_nibbles(u);
    }
  }
  return Status::ok();
}
}  // namespace

Status pack_int4(const TensorView& values, const TensorView& packed) {
  W4A8_RETURN_IF_ERROR(check_view(values, "values", {DType::i8}, {kAnySize, kAnySize}));
  const int64_t n = values.size(0), k = values.size(1);
  W4A8_RETURN_IF_ERROR(detail::check_multiple(k, 8, "K", "eight int4 values per int32 word"));
  W4A8_RETURN_IF_ERROR(check_view(packed, "packed", {DType::i32}, {n, k / 8}));
  return pack_rows(values.data_as<const int8_t>(), n, k, packed.data_as<int32_t>(), "values");
}

Status unpack_int4(const TensorView& packed, const TensorView& values) {
  W4A8_RETURN_IF_ERROR(check_view(packed, "packed", {DType::i32}, {kAnySize, kAnySize}));
  const int64_t n = packed.size(0), kw = packed.size(1);
  W4A8_RETURN_IF_ERROR(check_view(values, "values", {DType::i8}, {n, kw * 8}));
  const int32_t* p = packed.data_as<const int32_t>();
  int8_t* v = values.data_as<int8_t>();
  for (int64_t i = 0; i < n * kw; ++i)
    for (int j = 0; j < detail::kNibblesPerWord; ++j)
      v[i * 8 + j] = static_cast<int8_t>(detail::nibble(p[i], j) - detail::kInt4Offset);
  return Status::ok();
}

Status pack_int4_zero_points(const TensorView& zero_points, const TensorView& packed) {
  W4A8_RETURN_IF_ERROR(check_view(zero_points, "zero_points", {DType::i8}, {kAnySize, kAnySize}));
  const int64_t g = zero_points.size(0), n = zero_points.size(1);
  W4A8_RETURN_IF_ERROR(detail::check_multiple(n, 8, "N", "zero points are packed eight per int32 along N"));
  W4A8_RETURN_IF_ERROR(check_view(packed, "packed zero points", {DType::i32}, {g, n / 8}));
  return pack_rows(zero_points.data_as<const int8_t>(), g, n, packed.data_as<int32_t>(), "zero_points");
}

}  // namespace w4a8
