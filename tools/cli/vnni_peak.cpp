#include "cli/vnni_peak.h"

#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "w4a8/device.h"

namespace w4a8::cli {

#if defined(__x86_64__)
namespace {
// 12 accumulators: more than the latency x throughput of any core so far,
// so the loop runs at the issue rate.
__attribute__((target("avx512f,avx512vnni"))) double run_chains(int64_t iterations) {
  __m512i acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm512_set1_epi32(j);
  __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
    __asm__ volatile("" : "+v"(a));  // keeps the loop from being folded
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  __m512i sum = acc[0];
  for (int j = 1; j < 12; ++j) sum = _mm512_add_epi32(sum, acc[j]);
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, sum);
  volatile int32_t keep = lanes[0];
  (void)keep;
  return static_cast<double>(iterations) * 12 * 64 * 2 / s / 1e9;
}
}  // namespace
#endif

double vnni_peak_gops_per_core() {
#if defined(__x86_64__)
  if (!cpu_features().avx512_vnni) return 0;
  run_chains(1000000);  // clocks up
  return run_chains(20000000);
#else
  return 0;
#endif
}

}  // namespace w4a8::cli
