// The seam every backend plugs into: prepare a QuantizedWeight once into a
// private layout, then run forward (quantize + GEMM) and the stand-alone op.
#pragma once

#include <memory>
#include <vector>

#include "core/gemm_args.h"
#include "core/quantized_weight.h"
#include "w4a8/linear.h"

namespace w4a8 {

// Whatever a backend keeps after preparation; opaque to everyone else.
struct PreparedWeight {
  virtual ~PreparedWeight() = default;
  Device device{};  // where forward's tensors must live
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual const char* description() const = 0;
  virtual Device device() const = 0;
  // ok, or why this backend cannot run on this machine.
  virtual Status available() const = 0;
  // ok, or why this backend cannot run this layer configuration.
  virtual Status supports(const LinearConfig& config) const = 0;
  virtual Result<std::unique_ptr<PreparedWeight>> prepare(const detail::QuantizedWeight& w,
                                                          const LinearOptions& options) const = 0;
  // x2d: [M, K] float, y2d: [M, N] float; both validated, on device().
  virtual Status forward(const PreparedWeight& w, const TensorView& x2d, const TensorView& y2d,
                         void* stream) const = 0;
  virtual Status gemm(const detail::GemmArgs& args, void* stream) const = 0;
  // Errors found asynchronously by forward (see W4A8Linear::poll_errors).
  virtual Status poll_errors(const PreparedWeight&, void* /*stream*/) const { return Status::ok(); }
};

namespace detail {

// Every backend compiled into this build, best first.
const std::vector<const Backend*>& all_backends();
// The named backend (whatever its device), or for "auto" the best available
// one on `device` that supports `config`; otherwise an error that says why.
Result<const Backend*> choose_backend(const std::string& name, const LinearConfig& config, Device device);

}  // namespace detail
}  // namespace w4a8
