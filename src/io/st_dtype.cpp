// The safetensors dtype table: names, sizes, and the mapping to the dtypes
// w4a8 computes with.
#include <array>
#include <cstring>

#include "w4a8/io.h"

namespace w4a8::io {

namespace {
struct DTypeRow {
  StDType dtype;
  const char* name;
  size_t size;
};
constexpr std::array<DTypeRow, 15> kRows = {{
    {StDType::BOOL, "BOOL", 1}, {StDType::U8, "U8", 1},   {StDType::I8, "I8", 1},
    {StDType::I16, "I16", 2},   {StDType::U16, "U16", 2}, {StDType::F16, "F16", 2},
    {StDType::BF16, "BF16", 2}, {StDType::I32, "I32", 4}, {StDType::U32, "U32", 4},
    {StDType::F32, "F32", 4},   {StDType::F64, "F64", 8}, {StDType::I64, "I64", 8},
    {StDType::U64, "U64", 8},   {StDType::F8_E4M3, "F8_E4M3", 1}, {StDType::F8_E5M2, "F8_E5M2", 1},
}};
const DTypeRow& row(StDType t) { return kRows[static_cast<size_t>(t)]; }
}  // namespace

const char* st_dtype_name(StDType t) { return row(t).name; }
size_t st_dtype_size(StDType t) { return row(t).size; }

bool parse_st_dtype(const std::string& name, StDType* out) {
  for (const DTypeRow& r : kRows) {
    if (name == r.name) {
      *out = r.dtype;
      return true;
    }
  }
  return false;
}

bool to_dtype(StDType t, DType* out) {
  switch (t) {
    case StDType::F32: *out = DType::f32; return true;
    case StDType::F16: *out = DType::f16; return true;
    case StDType::BF16: *out = DType::bf16; return true;
    case StDType::I8: *out = DType::i8; return true;
    case StDType::U8: *out = DType::u8; return true;
    case StDType::I32: *out = DType::i32; return true;
    case StDType::I64: *out = DType::i64; return true;
    default: return false;
  }
}

StDType from_dtype(DType t) {
  switch (t) {
    case DType::f32: return StDType::F32;
    case DType::f16: return StDType::F16;
    case DType::bf16: return StDType::BF16;
    case DType::i8: return StDType::I8;
    case DType::u8: return StDType::U8;
    case DType::i32: return StDType::I32;
    case DType::i64: return StDType::I64;
  }
  return StDType::U8;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated against overflow when the file was opened
  return n;
}

std::string TensorInfo::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace w4a8::io
