// Wall-clock timing for the benchmarks: warm up once, repeat until both a
// minimum count and a minimum time are reached, report the median.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <utility>
#include <vector>

namespace w4a8::cli {

struct Timing {
  double median_s = 0, min_s = 0;
  int iterations = 0;
};

// Appends the seconds of each call of fn (no warm-up) until both a minimum
// count and a minimum time are reached.
inline void add_samples(std::vector<double>& samples, const std::function<void()>& fn, double min_seconds,
                        int min_iters = 3, int max_iters = 10000) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  for (int i = 0; i < max_iters && (i < min_iters || std::chrono::duration<double>(clock::now() - start).count() < min_seconds);
       ++i) {
    const auto t0 = clock::now();
    fn();
    samples.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
}

inline Timing summarize(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples.front(), static_cast<int>(samples.size())};
}

// Warm-up call (first-touch page faults, thread start-up), then samples.
inline Timing time_it(const std::function<void()>& fn, double min_seconds = 0.3, int min_iters = 3,
                      int max_iters = 10000) {
  fn();
  std::vector<double> samples;
  add_samples(samples, fn, min_seconds, min_iters, max_iters);
  return summarize(std::move(samples));
}

}  // namespace w4a8::cli
