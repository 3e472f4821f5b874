// Synthetic data that looks like an LLM's: weights with heavy tails and
// sparse outliers, activations with a few large channels. Deterministic per seed.
#pragma once

#include <cstdint>
#include <vector>

namespace w4a8::cli {

// Laplace(0, scale) values with one in `outlier_every` multiplied by 10.
std::vector<float> heavy_tailed_weights(int64_t n, int64_t k, uint64_t seed, float scale = 0.02f,
                                        int64_t outlier_every = 10000);
// N(0,1) activations; channels k % 97 == 0 are 20x larger (LLM outlier features).
std::vector<float> llm_like_activations(int64_t m, int64_t k, uint64_t seed);
// Uniform integers in [lo, hi].
std::vector<int8_t> uniform_int8(int64_t count, int lo, int hi, uint64_t seed);
std::vector<float> uniform_floats(int64_t count, float lo, float hi, uint64_t seed);

}  // namespace w4a8::cli
