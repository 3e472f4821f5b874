// Quantize a float layer to W4A8 and run it: the README's C++ example.
#include <cstdio>
#include <vector>

#include "w4a8/w4a8.h"

int main() {
  using namespace w4a8;
  const int64_t N = 256, K = 512, M = 4, group = 128;

  // A float layer [N, K] and a batch of activations [M, K], in fp16.
  Tensor w(DType::f16, {N, K}), x(DType::f16, {M, K});
  for (int64_t i = 0; i < N * K; ++i) store_from_float(w.view(), i, 0.01f * static_cast<float>((i * 7) % 23 - 11));
  for (int64_t i = 0; i < M * K; ++i) store_from_float(x.view(), i, static_cast<float>((i * 5) % 17 - 8));

  // int4 values + one fp16 scale per 128 inputs (compressed-tensors' rule).
  Tensor values(DType::i8, {N, K}), scales(DType::f16, {N, K / group});
  WeightQuantOptions wq;
  wq.group_size = group;
  Status s = quantize_weights_int4(w.view(), values.view(), scales.view(), {}, wq);
  if (!s.is_ok()) return std::fprintf(stderr, "%s\n", s.to_string().c_str()), 1;

  // Prepare once on the best available backend...
  LinearWeights lw;
  lw.values = values.view();
  lw.scales = scales.view();
  lw.group_size = group;
  Result<W4A8Linear> layer = W4A8Linear::create(lw);
  if (!layer.is_ok()) return std::fprintf(stderr, "%s\n", layer.status().to_string().c_str()), 1;

  // ...then forward many times: x is quantized per token to int8 on the fly.
  Tensor y(DType::f16, {M, N});
  s = layer->forward(x.view(), y.view());
  if (!s.is_ok()) return std::fprintf(stderr, "%s\n", s.to_string().c_str()), 1;
  std::printf("backend %s: y[0,0] = %.4f, y[%lld,%lld] = %.4f\n", layer->backend_name(),
              load_as_float(y.view(), 0), static_cast<long long>(M - 1), static_cast<long long>(N - 1),
              load_as_float(y.view(), M * N - 1));
  return 0;
}
