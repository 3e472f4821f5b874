#include "cli/int8_baseline.h"

#include <omp.h>

#include <dnnl.hpp>
#include <random>

namespace w4a8::cli {

struct Int8Matmul::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::matmul prim;
  dnnl::memory src, dst;
  std::vector<dnnl::memory> weights;
};

Int8Matmul::Int8Matmul(const std::vector<int8_t>& w, int64_t n, int64_t k, int64_t m, size_t copies, int threads)
    : impl_(std::make_unique<Impl>()) {
  omp_set_num_threads(threads);
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  Impl& s = *impl_;
  const dnnl::memory::desc src_md({m, k}, dt::u8, tag::ab), any_w({k, n}, dt::s8, tag::any),
      dst_md({m, n}, dt::s32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, any_w, dst_md), s.engine);
  s.prim = dnnl::matmul(pd);
  s.src = dnnl::memory(src_md, s.engine);
  s.dst = dnnl::memory(dst_md, s.engine);
  std::mt19937 rng(3);
  auto* x = static_cast<uint8_t*>(s.src.get_data_handle());
  for (int64_t i = 0; i < m * k; ++i) x[i] = static_cast<uint8_t>(rng());
  // The user's [N, K] row-major weights are oneDNN's [K, N] in `ba` order.
  dnnl::memory user(dnnl::memory::desc({k, n}, dt::s8, tag::ba), s.engine, const_cast<int8_t*>(w.data()));
  for (size_t c = 0; c < copies; ++c) {
    s.weights.emplace_back(pd.weights_desc(), s.engine);
    dnnl::reorder(user, s.weights.back()).execute(s.stream, user, s.weights.back());
  }
  s.stream.wait();
}

Int8Matmul::~Int8Matmul() = default;

void Int8Matmul::run(size_t copy) {
  Impl& s = *impl_;
  s.prim.execute(s.stream, {{DNNL_ARG_SRC, s.src},
                            {DNNL_ARG_WEIGHTS, s.weights[copy % s.weights.size()]},
                            {DNNL_ARG_DST, s.dst}});
  s.stream.wait();
}

bool int8_baseline_available() { return true; }
const char* int8_baseline_name() { return "oneDNN matmul u8 x s8 -> s32"; }

}  // namespace w4a8::cli
