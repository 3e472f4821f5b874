// encode_layer: a LoadedLayer as the tensors compressed-tensors stores for it,
// in int-quantized or pack-quantized format (SPEC.md "Checkpoints").
#include <cstring>

#include "core/int4.h"
#include "w4a8/io.h"
#include "w4a8/ops.h"

namespace w4a8::io {

namespace {
void add(EncodedLayer& e, const std::string& name, StDType dtype, std::vector<int64_t> shape, const void* data,
         size_t nbytes) {
  e.specs.push_back({name, dtype, std::move(shape)});
  const auto* p = static_cast<const std::byte*>(data);
  e.data.emplace_back(p, p + nbytes);
}
void add(EncodedLayer& e, const std::string& name, const Tensor& t) {
  add(e, name, from_dtype(t.dtype()), t.shape(), t.data(), t.nbytes());
}
}  // namespace

Result<EncodedLayer> encode_layer(const LoadedLayer& layer, const std::string& format) {
  if (format != "int-quantized" && format != "pack-quantized")
    return invalid_argument("format '" + format + "': w4a8 writes int-quantized or pack-quantized");
  if (!layer.values.defined() || layer.values.dtype() != DType::i8 || layer.values.shape().size() != 2)
    return invalid_argument(layer.name + ": values must be an int8 [N, K] tensor");
  const int64_t n = layer.values.shape()[0], k = layer.values.shape()[1];
  if (!layer.scales.defined() || layer.scales.shape().size() != 2 || layer.scales.shape()[0] != n)
    return invalid_argument(layer.name + ": scales must be [N, G]");
  const int64_t groups = layer.scales.shape()[1];
  const std::string p = layer.name + ".";
  EncodedLayer e;
  if (format == "int-quantized") {
    add(e, p + "weight", layer.values);
  } else {
    Tensor packed(DType::i32, {n, k / 8});
    W4A8_RETURN_IF_ERROR(pack_int4(layer.values.view(), packed.view()));
    add(e, p + "weight_packed", packed);
    const int64_t shape[2] = {n, k};
    add(e, p + "weight_shape", StDType::I64, {2}, shape, sizeof shape);
  }
  add(e, p + "weight_scale", layer.scales);
  if (layer.zero_points.defined()) {
    if (layer.zero_points.dtype() != DType::i8 || layer.zero_points.shape() != std::vector<int64_t>{n, groups})
      return invalid_argument(layer.name + ": zero_points must be int8 [N, G]");
    const int8_t* z = layer.zero_points.data_as<int8_t>();
    if (format == "int-quantized") {
      add(e, p + "weight_zero_point", layer.zero_points);
    } else {
      // Packed along N (compressed-tensors' packed_dim=0), rows padded to a multiple of 8.
      const int64_t words = (n + 7) / 8;
      std::vector<int32_t> packed(static_cast<size_t>(words * groups));
      for (int64_t w = 0; w < words; ++w) {
        for (int64_t g = 0; g < groups; ++g) {
          uint8_t u[w4a8::detail::kNibblesPerWord] = {};
          for (int i = 0; i < w4a8::detail::kNibblesPerWord && 8 * w + i < n; ++i) {
            const int v = z[(8 * w + i) * groups + g];
            if (v < -8 || v > 7) return invalid_argument(layer.name + ": zero point outside -8..7");
            u[i] = static_cast<uint8_t>(v + w4a8::detail::kInt4Offset);
          }
          packed[static_cast<size_t>(w * groups + g)] = w4a8::detail::pack_nibbles(u);
        }
      }
      add(e, p + "weight_zero_point", StDType::I32, {words, groups}, packed.data(), packed.size() * 4);
    }
  }
  if (layer.g_idx.defined()) add(e, p + "weight_g_idx", layer.g_idx);
  if (layer.bias.defined()) add(e, p + "bias", layer.bias);
  if (layer.input_scale.defined()) add(e, p + "input_scale", layer.input_scale);
  if (layer.input_zero_point.defined()) {
    if (layer.input_zero_point.dtype() != DType::i32 || layer.input_zero_point.numel() != 1)
      return invalid_argument(layer.name + ": input_zero_point must be one int32");
    const int8_t z = static_cast<int8_t>(layer.input_zero_point.data_as<int32_t>()[0]);  // compressed-tensors: I8
    add(e, p + "input_zero_point", StDType::I8, {1}, &z, 1);
  }
  return e;
}

}  // namespace w4a8::io
