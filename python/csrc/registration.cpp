// The op schemas of torch.ops.w4a8, in one place. int4_gemm_w4a8 has the
// schema of the op the seed calls (torch.ops._xpu_C.int4_gemm_w4a8).
#include <torch/library.h>

TORCH_LIBRARY(w4a8, m) {
  m.def(
      "int4_gemm_w4a8(Tensor A, Tensor A_scale, Tensor A_zp, Tensor B, Tensor B_scale, Tensor B_zp, "
      "int group_size, Tensor? g_idx=None, Tensor? bias=None) -> Tensor");
  m.def(
      "int4_gemm_w4a8.out_dtype(Tensor A, Tensor A_scale, Tensor A_zp, Tensor B, Tensor B_scale, Tensor B_zp, "
      "int group_size, Tensor? g_idx=None, Tensor? bias=None, *, ScalarType out_dtype) -> Tensor");
  m.def("quantize_weights_int4(Tensor w, int group_size=128, bool symmetric=True) -> (Tensor, Tensor, Tensor)");
  m.def("dynamic_per_token_int8_quant(Tensor x, bool symmetric=True) -> (Tensor, Tensor, Tensor)");
  m.def("static_int8_quant(Tensor x, Tensor scale, Tensor? zero_point=None) -> Tensor");
  // Weights prepared once into a W4A8Linear held by the extension; the handle
  // is a 0-dim CPU int64 tensor, its id (see ops_linear.cpp).
  m.def(
      "prepare_linear(Tensor weight_packed, Tensor weight_scale, int group_size, Tensor? zero_points=None, "
      "Tensor? g_idx=None, str backend=\"auto\", int max_tokens=1024, Tensor? input_scale=None, "
      "Tensor? input_zero_point=None, bool act_symmetric=True) -> Tensor");
  m.def("linear(Tensor x, Tensor handle, int out_features, Tensor? bias=None, ScalarType? out_dtype=None) -> Tensor");
  m.def("release_linear(Tensor handle) -> ()");
}

// None of the ops has a gradient: autograd passes them through on every
// backend (torch 1.13 has no such fallthrough for Meta tensors by itself).
TORCH_LIBRARY_IMPL(w4a8, Autograd, m) {
  for (const char* op : {"int4_gemm_w4a8", "int4_gemm_w4a8.out_dtype", "quantize_weights_int4",
                         "dynamic_per_token_int8_quant", "static_int8_quant", "prepare_linear", "linear",
                         "release_linear"})
    m.impl(op, torch::CppFunction::makeFallthrough());
}
