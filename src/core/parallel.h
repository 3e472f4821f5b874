// A minimal parallel-for over an index range for the CPU backends: static
// chunks on std::threads, no pool, no nesting. Enough for the reference; the
// SIMD backend may bring its own pool later.
#pragma once

#include <cstdint>
#include <functional>

namespace w4a8::detail {

// Calls body(begin, end) on disjoint chunks covering [0, count), using at most
// num_threads() threads and chunks of at least `grain` indices.
void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

}  // namespace w4a8::detail
