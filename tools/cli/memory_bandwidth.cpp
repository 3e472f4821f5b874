#include "cli/memory_bandwidth.h"

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "w4a8/device.h"

namespace w4a8::cli {

namespace {
// Sums the words so the loads cannot be dropped; wide loads where the CPU
// has them, as the kernels use.
#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t read_avx2(const uint64_t* p, size_t words) {
  __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
  size_t i = 0;
  for (; i + 8 <= words; i += 8) {
    acc0 = _mm256_add_epi64(acc0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    acc1 = _mm256_add_epi64(acc1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(acc0, acc1));
  uint64_t s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i < words; ++i) s += p[i];
  return s;
}
#endif

uint64_t read_words(const uint64_t* p, size_t words) {
#if defined(__x86_64__)
  if (cpu_features().avx2) return read_avx2(p, words);
#endif
  uint64_t s = 0;
  for (size_t i = 0; i < words; ++i) s += p[i];
  return s;
}
}  // namespace

ReadProbe::ReadProbe(size_t bytes, size_t copies, int threads)
    : words_per_copy_((bytes / 8 + 63) / 64 * 64), copies_(std::max<size_t>(copies, 1)), threads_(std::max(threads, 1)),
      sink_(static_cast<size_t>(threads_) * 8) {
  buf_.resize(words_per_copy_ * copies_);
  for (size_t i = 0; i < buf_.size(); ++i) buf_[i] = i;
  for (int t = 1; t < threads_; ++t)
    workers_.emplace_back([this, t] {
      uint64_t seen = 0;
      for (;;) {
        epoch_.wait(seen, std::memory_order_acquire);  // sleeps: never steals a core from other contenders
        seen = epoch_.load(std::memory_order_acquire);
        if (stop_.load(std::memory_order_acquire)) return;
        work(t, copy_);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
      }
    });
}

ReadProbe::~ReadProbe() {
  stop_ = true;
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  epoch_.notify_all();
  for (auto& w : workers_) w.join();
}

void ReadProbe::work(int t, size_t copy) {
  const size_t share = words_per_copy_ / static_cast<size_t>(threads_) / 8 * 8;
  const size_t begin = share * static_cast<size_t>(t);
  const size_t count = t == threads_ - 1 ? words_per_copy_ - begin : share;
  sink_[static_cast<size_t>(t) * 8] += read_words(buf_.data() + (copy % copies_) * words_per_copy_ + begin, count);
}

void ReadProbe::run(size_t copy) {
  copy_ = copy;
  pending_.store(threads_ - 1, std::memory_order_release);
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  epoch_.notify_all();
  work(0, copy);
  for (int left; (left = pending_.load(std::memory_order_acquire)) != 0;) pending_.wait(left, std::memory_order_acquire);
}

}  // namespace w4a8::cli
