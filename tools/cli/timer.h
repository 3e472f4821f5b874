// Wall-clock timing for the benchmarks: warm up once, repeat until both a
// minimum count and a minimum time are reached, report the median.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace w4a8::cli {

struct Timing {
  double median_s = 0, min_s = 0;
  int iterations = 0;
};

inline Timing time_it(const std::function<void()>& fn, double min_seconds = 0.3, int min_iters = 3,
                      int max_iters = 10000) {
  using clock = std::chrono::steady_clock;
  fn();  // warm-up: first-touch page faults, thread start-up
  std::vector<double> samples;
  const auto start = clock::now();
  while (static_cast<int>(samples.size()) < max_iters &&
         (static_cast<int>(samples.size()) < min_iters ||
          std::chrono::duration<double>(clock::now() - start).count() < min_seconds)) {
    const auto t0 = clock::now();
    fn();
    samples.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples.front(), static_cast<int>(samples.size())};
}

}  // namespace w4a8::cli
