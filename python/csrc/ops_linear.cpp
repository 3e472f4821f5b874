// torch.ops.w4a8.prepare_linear / linear / release_linear: weights prepared
// once (repacked for the backend, on the weights' device) and run many times.
//
// Why a handle and not a custom class: the prepared layer lives in a registry
// here and torch sees only a 0-dim CPU int64 tensor holding its id. Plain
// tensors pass through torch.jit.trace, torch.compile (the Meta kernel needs
// only out_features, which the call passes; a 0-dim CPU tensor may sit beside
// CUDA tensors in fake-tensor propagation) and CUDA graphs without any
// framework support for opaque objects, which torch 1.13 and 2.x provide
// differently. Ids are never reused, so a released or forged
// handle is an error with a message, never a dangling pointer.
#include <torch/library.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "torch_bridge.h"

namespace w4a8::torch_op {
namespace {

struct Registry {
  std::mutex mu;
  std::unordered_map<int64_t, std::shared_ptr<const W4A8Linear>> layers;
  int64_t next_id = 1;
};
Registry& registry() {
  static Registry r;  // leaked on purpose: handles may outlive static destruction order
  return r;
}

std::shared_ptr<const W4A8Linear> lookup(const at::Tensor& handle, const char* op) {
  W4A8_TORCH_CHECK(handle.device().is_cpu() && handle.scalar_type() == at::kLong && handle.dim() == 0,
                   op_prefix(op) + "handle must be the 0-dim CPU int64 tensor prepare_linear returned");
  const int64_t id = handle.item<int64_t>();
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.layers.find(id);
  W4A8_TORCH_CHECK(it != r.layers.end(), op_prefix(op) + "handle " + std::to_string(id) + " was released or never prepared");
  return it->second;
}

at::Tensor prepare(const at::Tensor& weight_packed, const at::Tensor& weight_scale, int64_t group_size,
                   const c10::optional<at::Tensor>& zero_points, const c10::optional<at::Tensor>& g_idx,
                   c10::string_view backend, int64_t max_tokens, const c10::optional<at::Tensor>& input_scale,
                   const c10::optional<at::Tensor>& input_zero_point, bool act_symmetric) {
  constexpr const char* kOp = "prepare_linear";
  // Preparation reads host copies; the prepared layer lives on the weights' device.
  const at::Tensor packed = weight_packed.cpu().contiguous(), scales = weight_scale.cpu().contiguous();
  at::Tensor zp, gi, in_scale, in_zp;
  LinearWeights w;
  w.packed = view_of(packed, "weight_packed", kOp);
  w.scales = view_of(scales, "weight_scale", kOp);
  w.group_size = group_size;
  if (zero_points.has_value()) {
    zp = zero_points->cpu().contiguous();
    w.zero_points = view_of(zp, "zero_points", kOp);
  }
  if (g_idx.has_value()) {
    gi = g_idx->cpu().contiguous();
    w.g_idx = view_of(gi, "g_idx", kOp);
  }
  // Static activations: one calibrated scale (and zero point) per tensor.
  w.act_symmetric = act_symmetric;
  if (input_scale.has_value()) {
    in_scale = input_scale->detach().cpu().reshape({-1}).contiguous();  // [1] or [1, 1] as checkpoints store it
    w.input_scale = view_of(in_scale, "input_scale", kOp);
  }
  if (input_zero_point.has_value()) {
    in_zp = input_zero_point->detach().cpu().reshape({-1}).contiguous();
    w.input_zero_point = view_of(in_zp, "input_zero_point", kOp);
  }
  LinearOptions opt;
  opt.backend = std::string(backend);
  opt.device = to_device(weight_packed.device(), kOp);
  opt.act_type = weight_scale.scalar_type() == at::kBFloat16 ? DType::bf16 : DType::f16;
  opt.max_tokens = max_tokens;
  if (opt.device.type == DeviceType::cuda && opt.backend == "auto") opt.backend = "cuda";
  auto layer = W4A8Linear::create(w, opt);
  check(layer.status(), kOp);
  auto shared = std::make_shared<const W4A8Linear>(std::move(layer).value());
  Registry& r = registry();
  int64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    id = r.next_id++;
    r.layers.emplace(id, shared);
  }
  return at::scalar_tensor(id, at::TensorOptions().dtype(at::kLong));
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& handle, int64_t out_features,
                  const c10::optional<at::Tensor>& bias, c10::optional<at::ScalarType> out_dtype) {
  constexpr const char* kOp = "linear";
  auto layer = lookup(handle, kOp);
  W4A8_TORCH_CHECK(out_features == layer->out_features(),
                   op_prefix(kOp) + "out_features=" + std::to_string(out_features) + " but the prepared layer has " +
                       std::to_string(layer->out_features()));
  W4A8_TORCH_CHECK(x.dim() >= 1 && x.size(-1) == layer->in_features(),
                   op_prefix(kOp) + "x " + sizes_str(x.sizes()) + " does not end in in_features=" +
                       std::to_string(layer->in_features()));
  W4A8_TORCH_CHECK(to_device(x.device(), kOp) == layer->device(),
                   op_prefix(kOp) + "x is on " + x.device().str() + " but the layer was prepared on " +
                       device_name(layer->device()));
  W4A8_TORCH_CHECK(x.is_contiguous(), op_prefix(kOp) + "x must be contiguous (strides " + sizes_str(x.strides()) + ")");
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = out_features;
  const at::ScalarType dtype = out_dtype.value_or(x.scalar_type());
  // With a bias given per call: the product in fp32, the bias added in fp32,
  // one rounding to the output dtype - the seed's epilogue.
  at::Tensor y = at::empty(shape, x.options().dtype(bias.has_value() ? at::kFloat : dtype));
  if (x.numel() == 0) return y.to(dtype);
  const int64_t m = x.numel() / x.size(-1);
  const Device dev = layer->device();
  ForwardOptions fo;
  fo.stream = current_stream(x.device());
  check(layer->forward(TensorView(x.data_ptr(), to_dtype(x.scalar_type(), "x", kOp), {m, x.size(-1)}, dev),
                       TensorView(y.data_ptr(), to_dtype(y.scalar_type(), "y", kOp), {m, out_features}, dev), fo),
        kOp);
  if (!bias.has_value()) return y;
  W4A8_TORCH_CHECK(bias->dim() == 1 && bias->size(0) == out_features && bias->device() == x.device(),
                   op_prefix(kOp) + "bias must be [" + std::to_string(out_features) + "] on " + x.device().str());
  return y.add_(bias->to(at::kFloat)).to(dtype);
}

at::Tensor linear_meta(const at::Tensor& x, const at::Tensor&, int64_t out_features,
                       const c10::optional<at::Tensor>&, c10::optional<at::ScalarType> out_dtype) {
  std::vector<int64_t> shape = x.sizes().vec();
  W4A8_TORCH_CHECK(!shape.empty(), "w4a8::linear: x must have at least one dimension");
  shape.back() = out_features;
  return at::empty(shape, x.options().dtype(out_dtype.value_or(x.scalar_type())));
}

void release(const at::Tensor& handle) {
  lookup(handle, "release_linear");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.layers.erase(handle.item<int64_t>());
}
}  // namespace

TORCH_LIBRARY_IMPL(w4a8, CPU, m) {
  m.impl("prepare_linear", prepare);
  m.impl("linear", linear);
  m.impl("release_linear", release);
}
#ifdef W4A8_TORCH_CUDA
TORCH_LIBRARY_IMPL(w4a8, CUDA, m) {
  m.impl("prepare_linear", prepare);
  m.impl("linear", linear);
}
#endif
TORCH_LIBRARY_IMPL(w4a8, Meta, m) { m.impl("linear", linear_meta); }

}  // namespace w4a8::torch_op
