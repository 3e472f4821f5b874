#include "cpu/ref/gemm_ref.h"

#include <vector>

#include "core/int4.h"
#include "core/parallel.h"

namespace w4a8::cpu::ref {

namespace {
int32_t weight_zero_point(const detail::GemmArgs& g, int64_t group, int64_t col) {
  if (!g.b_zp_packed.defined()) return g.b_zp_const;
  const int32_t word = g.b_zp_packed.data_as<const int32_t>()[group * (g.n / 8) + col / 8];
  return detail::nibble(word, static_cast<int>(col % 8));
}

int32_t activation(const detail::GemmArgs& g, int64_t row, int64_t col) {
  const int64_t i = row * g.k + g.perm_at(col);
  return g.a.dtype() == DType::i8 ? g.a.data_as<const int8_t>()[i] : g.a.data_as<const uint8_t>()[i];
}
}  // namespace

void gemm(const detail::GemmArgs& g) {
  // Parallel over output columns: each thread unpacks its weight column once
  // (w - zero point, per group) and reuses it for every row.
  detail::parallel_for(g.n, 8, [&](int64_t n_begin, int64_t n_end) {
    std::vector<int32_t> w(static_cast<size_t>(g.k));
    for (int64_t col = n_begin; col < n_end; ++col) {
      for (int64_t kk = 0; kk < g.k; ++kk) {
        const int32_t u = detail::nibble(g.b_word(kk / 8, col), static_cast<int>(kk % 8));
        w[kk] = u - weight_zero_point(g, kk / g.group_size, col);
      }
      for (int64_t row = 0; row < g.m; ++row) {
        const int64_t a_zp = g.a_zp_at(row);
        float sum = 0.0f;
        for (int64_t grp = 0; grp < g.num_groups; ++grp) {
          int64_t acc = 0;
          for (int64_t kk = grp * g.group_size; kk < (grp + 1) * g.group_size; ++kk)
            acc += (activation(g, row, kk) - a_zp) * static_cast<int64_t>(w[kk]);
          sum += load_as_float(g.b_scale, grp * g.n + col) * static_cast<float>(acc);
        }
        float y = g.a_scale_at(row) * sum;
        if (g.bias.defined()) y += load_as_float(g.bias, col);
        store_from_float(g.out, row * g.n + col, y);
      }
    }
  });
}

}  // namespace w4a8::cpu::ref
