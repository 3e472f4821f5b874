#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define W4A8_CPU_RELAX() _mm_pause()
#else
#define W4A8_CPU_RELAX() std::this_thread::yield()
#endif

#include "w4a8/linear.h"

namespace w4a8 {

namespace {
int default_threads() {
  if (const char* env = std::getenv("W4A8_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}
std::atomic<int> g_threads{0};  // 0: not yet read from the environment
}  // namespace

void set_num_threads(int n) { g_threads = n > 0 ? n : default_threads(); }

int num_threads() {
  int n = g_threads.load();
  if (n == 0) {
    n = default_threads();
    g_threads = n;
  }
  return n;
}

namespace detail {

namespace {

// A persistent pool: starting threads on every call cost tens of microseconds,
// as much as a whole decode-size GEMM. Workers spin briefly after each job
// (calls come back to back in a model) and then sleep, so an idle pool costs
// nothing and never competes with other libraries' threads for long.
class ThreadPool {
 public:
  ~ThreadPool() { resize(0); }

  // Runs body over [0, count) in chunks of `chunk` indices, on the caller and
  // `helpers` workers. The caller must hold run_mutex_.
  void run(int64_t count, int64_t chunk, int helpers, const std::function<void(int64_t, int64_t)>& body) {
    if (static_cast<int>(workers_.size()) != helpers) resize(helpers);
    body_ = &body;
    count_ = count;
    chunk_ = chunk;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(helpers, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      epoch_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    work();
    while (pending_.load(std::memory_order_acquire) != 0) W4A8_CPU_RELAX();
    body_ = nullptr;
  }

  std::mutex run_mutex_;  // one parallel region at a time; others run inline

 private:
  void work() {
    for (;;) {
      const int64_t b = next_.fetch_add(chunk_, std::memory_order_relaxed);
      if (b >= count_) return;
      (*body_)(b, std::min(count_, b + chunk_));
    }
  }

  void worker_loop(uint64_t seen) {
    for (;;) {
      // Spin for about 50 microseconds, then sleep until the next epoch.
      for (int i = 0; i < 20000 && epoch_.load(std::memory_order_acquire) == seen; ++i) W4A8_CPU_RELAX();
      if (epoch_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        wake_.wait(lock, [&] { return epoch_.load(std::memory_order_acquire) != seen; });
      }
      seen = epoch_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_acquire)) return;
      work();
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void resize(int helpers) {
    if (!workers_.empty()) {
      {
        std::lock_guard<std::mutex> lock(sleep_mutex_);
        stop_.store(true, std::memory_order_release);
        epoch_.fetch_add(1, std::memory_order_release);
      }
      wake_.notify_all();
      for (auto& t : workers_) t.join();
      workers_.clear();
      stop_.store(false, std::memory_order_release);
    }
    const uint64_t seen = epoch_.load(std::memory_order_acquire);
    for (int i = 0; i < helpers; ++i) workers_.emplace_back([this, seen] { worker_loop(seen); });
  }

  std::vector<std::thread> workers_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> next_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t count_ = 0, chunk_ = 1;
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
};

ThreadPool& pool() {
  static ThreadPool p;
  return p;
}

}  // namespace

void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (count <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t max_chunks = (count + grain - 1) / grain;
  const int64_t threads = std::min<int64_t>(num_threads(), max_chunks);
  if (threads <= 1) {
    body(0, count);
    return;
  }
  // A nested call, or a call from a second application thread while the pool
  // is busy, runs on its own thread: correct, never a deadlock.
  ThreadPool& p = pool();
  std::unique_lock<std::mutex> lock(p.run_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) {
    body(0, count);
    return;
  }
  // Contiguous chunks (each thread streams a long run of memory), a few per
  // thread so that one slow core does not hold up the others.
  const int64_t chunk = std::max(grain, (count + 4 * threads - 1) / (4 * threads));
  p.run(count, chunk, static_cast<int>(threads - 1), body);
}

}  // namespace detail
}  // namespace w4a8
