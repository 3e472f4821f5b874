// GPUs this build can see (empty without CUDA or without a GPU).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace w4a8 {

struct GpuInfo {
  int index = 0;
  std::string name;
  int compute_major = 0, compute_minor = 0;
  int multiprocessors = 0;
  size_t memory_bytes = 0;
  size_t l2_bytes = 0;
};

// The visible GPUs; when there are none, `why_none` (if given) says why
// ("built without CUDA", "no CUDA device: ...").
std::vector<GpuInfo> list_gpus(std::string* why_none = nullptr);

// x86 features the CPU kernels care about, read once with cpuid (and xgetbv,
// so a feature the OS does not save registers for counts as absent).
struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512_vnni = false, avx512_bf16 = false;
  bool avx_vnni = false;
  std::string brand;  // "AMD EPYC ..." or empty
  std::string summary() const;  // "avx2 fma f16c avx512f ..."
};
const CpuFeatures& cpu_features();

}  // namespace w4a8
