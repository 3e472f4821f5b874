#include "cli/layer_builder.h"

namespace w4a8::cli {

size_t QuantizedLayer::weight_bytes() const { return static_cast<size_t>(n * k / 2) + scales.nbytes(); }

std::vector<float> QuantizedLayer::dequantized() const {
  const int64_t g = group == -1 ? k : group, groups = k / g;
  std::vector<float> out(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i)
      out[r * k + i] = values.data_as<int8_t>()[r * k + i] * load_as_float(scales.view(), r * groups + i / g);
  return out;
}

namespace {
W4A8Linear make_layer(const Tensor& values, const Tensor& scales, int64_t group, const std::string& backend) {
  LinearWeights lw;
  lw.values = values.view();
  lw.scales = scales.view();
  lw.group_size = group;
  LinearOptions lo;
  lo.backend = backend;
  auto layer = W4A8Linear::create(lw, lo);
  throw_if_error(layer.status());
  return std::move(layer.value());
}
}  // namespace

W4A8Linear QuantizedLayer::another(const std::string& backend) const { return make_layer(values, scales, group, backend); }

QuantizedLayer quantize_layer(const std::vector<float>& w, int64_t n, int64_t k, int64_t group,
                              const std::string& backend) {
  Tensor w16(DType::f16, {n, k});
  for (int64_t i = 0; i < n * k; ++i) store_from_float(w16.view(), i, w[i]);
  const int64_t groups = group == -1 ? 1 : k / group;
  Tensor values(DType::i8, {n, k}), scales(DType::f16, {n, groups});
  WeightQuantOptions wq;
  wq.group_size = group;
  throw_if_error(quantize_weights_int4(w16.view(), values.view(), scales.view(), {}, wq));
  W4A8Linear layer = make_layer(values, scales, group, backend);
  return QuantizedLayer{n, k, group, values, scales, std::move(layer)};
}

}  // namespace w4a8::cli
