// W4A8Linear: validate + canonicalise the weights once, hand them to a
// backend, and check every forward call's tensors before the backend runs.
#include "core/backend.h"
#include "core/validate.h"
#include "w4a8/linear.h"

namespace w4a8 {

W4A8Linear::W4A8Linear(W4A8Linear&&) noexcept = default;
W4A8Linear& W4A8Linear::operator=(W4A8Linear&&) noexcept = default;
W4A8Linear::~W4A8Linear() = default;

const char* W4A8Linear::backend_name() const { return backend_ ? backend_->name() : "none"; }

Result<W4A8Linear> W4A8Linear::create(const LinearWeights& weights, const LinearOptions& options) {
  auto q = detail::make_quantized_weight(weights);
  W4A8_RETURN_IF_ERROR(q.status());
  const LinearConfig cfg = detail::config_of(*q, options.act_type);
  W4A8_RETURN_IF_ERROR(can_implement(cfg));
  if (options.max_tokens <= 0) return invalid_argument("max_tokens must be positive");
  auto backend = detail::choose_backend(options.backend, cfg, options.device);
  W4A8_RETURN_IF_ERROR(backend.status());
  auto prepared = (*backend)->prepare(*q, options);
  W4A8_RETURN_IF_ERROR(prepared.status());
  W4A8Linear layer;
  layer.backend_ = *backend;
  layer.prepared_ = std::move(prepared.value());
  layer.in_features_ = q->k;
  layer.out_features_ = q->n;
  layer.group_size_ = cfg.group_size;
  return layer;
}

Status W4A8Linear::forward(const TensorView& x, const TensorView& y, const ForwardOptions& options) const {
  if (!backend_) return invalid_argument("W4A8Linear: used after it was moved from");
  const Device dev = prepared_->device;
  if (x.rank() < 1) return invalid_argument("x: expected shape [..., " + std::to_string(in_features_) + "], got " + x.shape_string());
  if (x.size(-1) != in_features_)
    return invalid_argument("x: last dimension is " + std::to_string(x.size(-1)) + ", the layer's in_features is " +
                            std::to_string(in_features_));
  auto x2 = x.flatten_to_2d();
  W4A8_RETURN_IF_ERROR(x2.status());
  W4A8_RETURN_IF_ERROR(detail::check_view(*x2, "x", {DType::f16, DType::bf16, DType::f32},
                                          {detail::kAnySize, in_features_}, dev));
  std::vector<int64_t> y_shape = x.shape();
  y_shape.back() = out_features_;
  if (y.shape() != y_shape) {
    return invalid_argument("y: expected shape " + TensorView(nullptr, y.dtype(), y_shape).shape_string() + ", got " +
                            y.shape_string());
  }
  auto y2 = y.flatten_to_2d();
  W4A8_RETURN_IF_ERROR(y2.status());
  W4A8_RETURN_IF_ERROR(detail::check_view(*y2, "y", {DType::f16, DType::bf16, DType::f32},
                                          {x2->size(0), out_features_}, dev));
  return backend_->forward(*prepared_, *x2, *y2, options.stream);
}

Status W4A8Linear::poll_errors(void* stream) const {
  if (!backend_) return invalid_argument("W4A8Linear: used after it was moved from");
  return backend_->poll_errors(*prepared_, stream);
}

Device W4A8Linear::device() const { return prepared_ ? prepared_->device : Device::cpu(); }

Result<Tensor> W4A8Linear::forward(const TensorView& x) const {
  std::vector<int64_t> shape = x.shape();
  if (shape.empty()) return invalid_argument("x: expected shape [..., K], got a scalar");
  shape.back() = out_features_;
  if (device().type != DeviceType::cpu)
    return invalid_argument("forward(x) allocates on the CPU; for a GPU layer pass y (forward(x, y, options))");
  Tensor y(x.dtype(), shape);
  W4A8_RETURN_IF_ERROR(forward(x, y.view()));
  return y;
}

}  // namespace w4a8
