// The layer: capability check (the seed's can_implement), the weights a
// checkpoint provides, and W4A8Linear (prepare once, forward many).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "w4a8/status.h"
#include "w4a8/tensor.h"

namespace w4a8 {

enum class WeightType { int4, uint4, uint4b8, int8, uint8, fp8_e4m3 };
const char* weight_type_name(WeightType t);

struct LinearConfig {
  int64_t in_features = 0;   // K of this partition
  int64_t out_features = 0;  // N of this partition
  int64_t group_size = -1;   // -1: per output channel
  DType act_type = DType::f16;
  WeightType weight_type = WeightType::int4;
  bool zero_points = false;  // asymmetric weights (an extension of the seed)
  bool has_g_idx = false;    // act-order (an extension of the seed)
  bool act_asymmetric = false;  // activations with a zero point (an extension of the seed)
  bool act_static = false;      // one calibrated per-tensor activation scale (an extension of the seed)
  // Apply the seed's rules only: no extensions, fp16/bf16 activations only.
  bool seed_rules = false;
};

// Status::ok(), or the reason the configuration is refused, worded like the
// seed's (e.g. "Group size (48) not supported by W4A8Int, must be a multiple
// of 32").
Status can_implement(const LinearConfig& config);

// What a checkpoint provides for one linear layer. Views are read during
// W4A8Linear::create only; nothing is kept.
struct LinearWeights {
  TensorView values;       // [N, K] int8 in -8..7 - or -
  TensorView packed;       // [N, K/8] int32, the public packing
  TensorView scales;       // [N, G] f16/bf16/f32 (checkpoint layout), G = K/group or 1
  int64_t group_size = -1;
  TensorView zero_points;  // optional [N, G] int8 in -8..7 (compressed-tensors' zero points)
  TensorView g_idx;        // optional [K] int32/int64: the group of input column k
  TensorView bias;         // optional [N] f16/bf16/f32

  // How activations are quantized (SPEC.md). The seed's scheme, and the
  // default: dynamic per-token symmetric int8. act_symmetric = false: dynamic
  // per-token asymmetric (uint8 with a zero point per token).
  bool act_symmetric = true;
  // Static activations (an extension): a calibrated per-tensor scale ([1] or
  // [], f16/bf16/f32, finite and > 0, widened to fp32 exactly) replaces the
  // per-token maximum, with an optional zero point ([1] or [], int8/int32 in
  // -128..127; absent means 0, and a nonzero one needs act_symmetric = false):
  //   q = clamp(round_half_even(x / input_scale + input_zero_point), -128, 127)
  // and the GEMM uses q - input_zero_point (compressed-tensors' input_scale /
  // input_zero_point with dynamic: false).
  TensorView input_scale;
  TensorView input_zero_point;
};

struct LinearOptions {
  // "auto" picks the best available backend on `device`; a named backend
  // ("reference", "cuda", ...) implies its own device.
  std::string backend = "auto";
  Device device = Device::cpu();
  DType act_type = DType::f16;  // the activation dtype the layer is checked for
  // GPU backends size their activation workspace (max_tokens x K bytes plus
  // scales and group sums) at create time, so forward never allocates
  // (CUDA-graph safe); a forward with more tokens runs in chunks of this size.
  // 1024 keeps a model's worth of layers small (4 MiB each at K = 4096).
  int64_t max_tokens = 1024;
};

struct ForwardOptions {
  void* stream = nullptr;  // cudaStream_t for CUDA backends
};

class Backend;
struct PreparedWeight;

class W4A8Linear {
 public:
  // Validates the weights (values range, scales finite and positive-or-zero,
  // shapes, g_idx groups of equal size), then prepares them for the backend.
  static Result<W4A8Linear> create(const LinearWeights& weights, const LinearOptions& options = {});

  // x: [..., K] f16/bf16/f32, contiguous; y: [..., N], contiguous, any float dtype
  // (x's dtype is the natural choice). Nothing is written to y unless x is valid.
  Status forward(const TensorView& x, const TensorView& y, const ForwardOptions& options = {}) const;
  // CPU convenience: allocates y in x's dtype.
  Result<Tensor> forward(const TensorView& x) const;
  // GPU backends cannot return a bad-input Status from an asynchronous forward:
  // a row with NaN/Inf gets NaN outputs, and this call (which synchronizes
  // `stream`) reports it as non_finite and clears the flag. CPU: always ok.
  Status poll_errors(void* stream = nullptr) const;
  Device device() const;

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  int64_t group_size() const { return group_size_; }
  const char* backend_name() const;

  W4A8Linear(W4A8Linear&&) noexcept;
  W4A8Linear& operator=(W4A8Linear&&) noexcept;
  ~W4A8Linear();

 private:
  W4A8Linear() = default;
  const Backend* backend_ = nullptr;
  std::unique_ptr<PreparedWeight> prepared_;
  int64_t in_features_ = 0, out_features_ = 0, group_size_ = -1;
};

// The backends this build knows, and whether each can run here.
struct BackendInfo {
  std::string name;         // "reference", ...
  std::string description;
  Device device;
  bool available = false;
  std::string unavailable_reason;  // empty when available
};
std::vector<BackendInfo> list_backends();

// Threads the CPU backends may use (default: W4A8_NUM_THREADS, else all cores).
void set_num_threads(int n);
int num_threads();

// The "cpu" backend's kernel levels: those this machine can run, best first
// ("avx512vnni", "avxvnni", "avx2", "generic"); the one in use; and a way to force one,
// as W4A8_CPU_KERNEL does at start-up ("" returns to the best level). All
// levels read the same prepared weights, so layers need no re-preparation.
// A level this CPU cannot run is refused with the missing features named.
std::vector<std::string> cpu_kernels();
std::string cpu_kernel();
Status set_cpu_kernel(const std::string& name);

}  // namespace w4a8
