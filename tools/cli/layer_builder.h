// Builds a W4A8Linear and its float twin from float weights, the way a user
// would: quantize_weights_int4, then W4A8Linear::create. Shared by bench and demo.
#pragma once

#include <string>
#include <vector>

#include "w4a8/w4a8.h"

namespace w4a8::cli {

struct QuantizedLayer {
  int64_t n = 0, k = 0, group = -1;
  Tensor values;   // [N, K] i8
  Tensor scales;   // [N, G] f16
  W4A8Linear layer;
  // Another independent layer from the same values (for rotating copies).
  W4A8Linear another(const std::string& backend) const;
  size_t weight_bytes() const;  // int4 values + fp16 scales, what a forward streams
  std::vector<float> dequantized() const;  // [N, K] values * scales, fp32
};

// w: [N, K] fp32 values (rounded to fp16 first, as a checkpoint would hold them).
QuantizedLayer quantize_layer(const std::vector<float>& w, int64_t n, int64_t k, int64_t group,
                              const std::string& backend);

}  // namespace w4a8::cli
