#include "cli/synthetic.h"

#include <cmath>
#include <random>

namespace w4a8::cli {

namespace {
// splitmix64: fast, good enough for test data, and independent per index so
// that generation order never changes the values.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
double unit(uint64_t seed, uint64_t i) { return (static_cast<double>(mix(seed * 0x100000001b3ull + i) >> 11) + 0.5) * 0x1.0p-53; }
}  // namespace

std::vector<float> heavy_tailed_weights(int64_t n, int64_t k, uint64_t seed, float scale, int64_t outlier_every) {
  std::vector<float> w(static_cast<size_t>(n * k));
  for (size_t i = 0; i < w.size(); ++i) {
    const double u = unit(seed, i) - 0.5;  // (-0.5, 0.5)
    double v = -scale * std::copysign(std::log(1.0 - 2.0 * std::fabs(u)), u);
    if (outlier_every > 0 && mix(seed ^ (i * 31 + 7)) % static_cast<uint64_t>(outlier_every) == 0) v *= 10.0;
    w[i] = static_cast<float>(v);
  }
  return w;
}

std::vector<float> llm_like_activations(int64_t m, int64_t k, uint64_t seed) {
  std::vector<float> x(static_cast<size_t>(m * k));
  for (size_t i = 0; i < x.size(); ++i) {
    // Box-Muller from two uniforms.
    const double r = std::sqrt(-2.0 * std::log(unit(seed, 2 * i)));
    double v = r * std::cos(6.283185307179586 * unit(seed, 2 * i + 1));
    if ((static_cast<int64_t>(i) % k) % 97 == 0) v *= 20.0;
    x[i] = static_cast<float>(v);
  }
  return x;
}

std::vector<int8_t> uniform_int8(int64_t count, int lo, int hi, uint64_t seed) {
  std::vector<int8_t> v(static_cast<size_t>(count));
  const uint64_t span = static_cast<uint64_t>(hi - lo + 1);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int8_t>(lo + static_cast<int>(mix(seed * 7919 + i) % span));
  return v;
}

std::vector<float> uniform_floats(int64_t count, float lo, float hi, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(count));
  for (size_t i = 0; i < v.size(); ++i) v[i] = lo + (hi - lo) * static_cast<float>(unit(seed, i));
  return v;
}

}  // namespace w4a8::cli
