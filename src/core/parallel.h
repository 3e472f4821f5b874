// A parallel-for over an index range for the CPU backends, on a persistent
// pool of num_threads() - 1 workers plus the caller. Nested calls, and calls
// made while another thread holds the pool, run inline on the caller.
#pragma once

#include <cstdint>
#include <functional>

namespace w4a8::detail {

// Calls body(begin, end) on disjoint chunks covering [0, count), using at most
// num_threads() threads and chunks of at least `grain` indices. body must not
// throw (kernels report errors before the parallel region).
void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

}  // namespace w4a8::detail
