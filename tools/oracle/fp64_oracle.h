// An fp64/int64 evaluation of SPEC.md's formula, written from the spec and
// not from the library: the tests and `w4a8 check` both measure against it.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace w4a8::oracle {

// Packs int4 values [rows, cols] straight from SPEC.md's formula.
inline std::vector<int32_t> spec_pack(const std::vector<int8_t>& w, int64_t rows, int64_t cols) {
  std::vector<int32_t> p(static_cast<size_t>(rows * cols / 8));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols / 8; ++j) {
      uint32_t word = 0;
      for (int i = 0; i < 8; ++i) word += static_cast<uint32_t>(w[r * cols + 8 * j + i] + 8) << (4 * i);
      p[r * (cols / 8) + j] = static_cast<int32_t>(word);
    }
  return p;
}

// fp64 evaluation of y = sa[m] * sum_g S[g,n] * sum_{k in g} (a[m,perm[k]]-za[m]) * (w[n,k]-zw[g,n]) + bias[n].
// w holds signed int4 values (-8..7) and zw signed zero points (0 for symmetric).
struct Oracle {
  int64_t m, n, k, group;
  std::vector<int32_t> a;       // [M, K] activation integers (already q - nothing subtracted)
  std::vector<int32_t> a_zp;    // [M] (empty: 0)
  std::vector<double> a_scale;  // [M]
  std::vector<int32_t> w;       // [N, K] signed int4
  std::vector<int32_t> w_zp;    // [G, N] signed (empty: 0)
  std::vector<double> w_scale;  // [G, N]
  std::vector<int64_t> perm;    // [K] (empty: identity)
  std::vector<double> bias;     // [N] (empty: none)

  int64_t groups() const { return k / group; }
  int64_t acc(int64_t row, int64_t col, int64_t g) const {
    int64_t s = 0;
    for (int64_t kk = g * group; kk < (g + 1) * group; ++kk) {
      const int64_t ak = perm.empty() ? kk : perm[kk];
      const int64_t av = a[row * k + ak] - (a_zp.empty() ? 0 : a_zp[row]);
      const int64_t wv = w[col * k + kk] - (w_zp.empty() ? 0 : w_zp[g * n + col]);
      s += av * wv;
    }
    return s;
  }
  std::vector<double> y() const {
    std::vector<double> out(static_cast<size_t>(m * n));
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double s = 0;
        for (int64_t g = 0; g < groups(); ++g) s += w_scale[g * n + c] * static_cast<double>(acc(r, c, g));
        out[r * n + c] = a_scale[r] * s + (bias.empty() ? 0.0 : bias[c]);
      }
    return out;
  }
};

// ||got - want|| / ||want|| (0 when both are zero).
inline double relative_error(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

}  // namespace w4a8::oracle
