#include "cpu/ref/reference_backend.h"

#include "cpu/ref/act_quant_ref.h"
#include "cpu/ref/gemm_ref.h"

namespace w4a8::cpu::ref {

namespace {
struct ReferenceWeight final : PreparedWeight {
  detail::QuantizedWeight w;
};

class ReferenceBackend final : public Backend {
 public:
  const char* name() const override { return "reference"; }
  const char* description() const override { return "plain C++ loops, SPEC.md made executable (CPU)"; }
  Device device() const override { return Device::cpu(); }
  Status available() const override { return Status::ok(); }
  Status supports(const LinearConfig& c) const override { return can_implement(c); }

  Result<std::unique_ptr<PreparedWeight>> prepare(const detail::QuantizedWeight& w,
                                                  const LinearOptions&) const override {
    auto p = std::make_unique<ReferenceWeight>();
    p->w = w;  // Tensors share storage: no copy of the weight bytes
    return std::unique_ptr<PreparedWeight>(std::move(p));
  }

  Status forward(const PreparedWeight& pw, const TensorView& x, const TensorView& y, void*) const override {
    const auto& w = static_cast<const ReferenceWeight&>(pw).w;
    const int64_t m = x.size(0);
    // Dynamic asymmetric activations are uint8 (SPEC.md); the others int8.
    const bool unsigned_q = !w.act.is_static && !w.act.symmetric;
    Tensor q(unsigned_q ? DType::u8 : DType::i8, {m, w.k}), scale(DType::f32, {m}), zp(DType::i32, {m});
    W4A8_RETURN_IF_ERROR(quantize_rows(x, w.act, w.group_size, q.view(), scale.view(), zp.view(), {}));
    detail::GemmArgs g;
    g.m = m;
    g.n = w.n;
    g.k = w.k;
    g.group_size = w.group_size;
    g.num_groups = w.num_groups;
    g.a = q.view();
    g.a_scale = scale.view();
    if (w.act.has_zero_point()) g.a_zp = zp.view();
    g.b = TensorView(w.packed.data(), DType::i32, {w.k / 8, w.n}, {1, w.k / 8});  // the seed's w_packed.t()
    g.b_scale = w.scales.view();
    if (w.zero_points.defined()) g.b_zp_packed = w.zero_points.view();
    if (w.perm.defined()) g.perm = w.perm.view();
    if (w.bias.defined()) g.bias = w.bias.view();
    g.out = y;
    ref::gemm(g);
    return Status::ok();
  }

  Status gemm(const detail::GemmArgs& args, void*) const override {
    ref::gemm(args);
    return Status::ok();
  }
};
}  // namespace

const Backend& reference_backend() {
  static const ReferenceBackend backend;
  return backend;
}

}  // namespace w4a8::cpu::ref
