// The int8 compute peak of one core for each CPU kernel level: independent
// chains of the instructions that level's GEMM spends its time in, as many
// as the kernels keep in flight. GEMM figures are read against it (%peak).
#pragma once

#include <string>

namespace w4a8::cli {

// int8 GOPS (2 per multiply-add) of one core for `level` ("avx512vnni":
// vpdpbusd zmm; "avx2": the vpmaddubsw + vpaddw + vpmaddwd + vpaddd step of
// the AVX2 kernel, 64 multiply-adds per pass), or 0 where the CPU lacks the
// level or the level has no vector peak ("generic").
double int8_peak_gops_per_core(const std::string& level);

// How the peak of `level` is measured, for the report.
std::string int8_peak_method(const std::string& level);

}  // namespace w4a8::cli
