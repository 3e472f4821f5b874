#include "cli/int8_peak.h"

#include <chrono>
#include <cstdint>
#include <map>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "w4a8/device.h"

namespace w4a8::cli {

#if defined(__x86_64__)
namespace {
constexpr int kChains = 12;  // more than latency x throughput of any core so far: the loop runs at issue rate

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

__attribute__((target("avx512f,avx512vnni"))) double vnni_chains(int64_t iterations) {
  __m512i acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_epi32(j);
  __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
    __asm__ volatile("" : "+v"(a));  // keeps the loop from being folded
  }
  const double s = seconds_since(t0);
  __m512i sum = acc[0];
  for (int j = 1; j < kChains; ++j) sum = _mm512_add_epi32(sum, acc[j]);
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, sum);
  volatile int32_t keep = lanes[0];
  (void)keep;
  return static_cast<double>(iterations) * kChains * 64 * 2 / s / 1e9;
}

// The AVX2 kernel's step (gemm_avx2.cpp): two vpmaddubsw (unsigned weights x
// signed tokens, 32 products each, paired into int16), one vpaddw, one
// vpmaddwd with ones (into int32) and one vpaddd into the accumulator: 64
// multiply-adds per step.
__attribute__((target("avx2"))) double avx2_chains(int64_t iterations) {
  __m256i acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm256_set1_epi32(j);
  __m256i w_lo = _mm256_set1_epi8(3), w_hi = _mm256_set1_epi8(5), b_lo = _mm256_set1_epi8(1),
          b_hi = _mm256_set1_epi8(2);
  const __m256i ones = _mm256_set1_epi16(1);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains; ++j) {
      const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(w_lo, b_lo), _mm256_maddubs_epi16(w_hi, b_hi));
      acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(pairs, ones));
    }
    __asm__ volatile("" : "+x"(w_lo), "+x"(w_hi));  // new weights each pass, as in the kernel
  }
  const double s = seconds_since(t0);
  __m256i sum = acc[0];
  for (int j = 1; j < kChains; ++j) sum = _mm256_add_epi32(sum, acc[j]);
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sum);
  volatile int32_t keep = lanes[0];
  (void)keep;
  return static_cast<double>(iterations) * kChains * 64 * 2 / s / 1e9;
}
}  // namespace
#endif

double int8_peak_gops_per_core(const std::string& level) {
  static std::map<std::string, double> measured;  // once per level and process
  if (auto it = measured.find(level); it != measured.end()) return it->second;
  double peak = 0;
#if defined(__x86_64__)
  const CpuFeatures& f = cpu_features();
  if (level == "avx512vnni" && f.avx512_vnni) {
    vnni_chains(1000000);  // clocks up
    peak = vnni_chains(20000000);
  } else if (level == "avx2" && f.avx2) {
    avx2_chains(1000000);
    peak = avx2_chains(20000000);
  }
#endif
  measured[level] = peak;
  return peak;
}

std::string int8_peak_method(const std::string& level) {
  if (level == "avx512vnni") return "vpdpbusd zmm, 12 chains";
  if (level == "avx2") return "vpmaddubsw x2 + vpaddw + vpmaddwd + vpaddd ymm, 12 chains";
  return "none";
}

}  // namespace w4a8::cli
