// The seed's capability rules (SPEC.md "Capability check"), with its messages,
// plus the extensions this project supports when the config asks for them.
#include <string>

#include "w4a8/linear.h"

namespace w4a8 {

const char* weight_type_name(WeightType t) {
  switch (t) {
    case WeightType::int4: return "int4";
    case WeightType::uint4: return "uint4";
    case WeightType::uint4b8: return "uint4b8";
    case WeightType::int8: return "int8";
    case WeightType::uint8: return "uint8";
    case WeightType::fp8_e4m3: return "float8_e4m3fn";
  }
  return "?";
}

Status can_implement(const LinearConfig& c) {
  const bool act_ok = c.act_type == DType::f16 || c.act_type == DType::bf16 ||
                      (!c.seed_rules && c.act_type == DType::f32);
  if (!act_ok) {
    return unsupported(c.seed_rules ? "W4A8Int requires BF16/FP16 activations"
                                    : std::string("W4A8Int requires BF16/FP16/FP32 activations, got ") +
                                          dtype_name(c.act_type));
  }
  if (c.weight_type != WeightType::int4)
    return unsupported(std::string("W4A8Int requires int4 weights, got ") + weight_type_name(c.weight_type));
  if (c.zero_points && c.seed_rules)
    return unsupported("W4A8Int only supports symmetric weight quantization");
  if (c.has_g_idx && c.seed_rules)
    return unsupported("W4A8Int does not support act-order (g_idx) weights");
  if (c.act_static && c.seed_rules)
    return unsupported("W4A8Int only supports dynamic per-token activation quantization, not static scales");
  if (c.act_asymmetric && c.seed_rules)
    return unsupported("W4A8Int only supports symmetric activation quantization");
  if (c.group_size != -1 && (c.group_size <= 0 || c.group_size % 32 != 0)) {
    return unsupported("Group size (" + std::to_string(c.group_size) +
                       ") not supported by W4A8Int, must be a multiple of 32");
  }
  const std::string sizes = "in/out sizes (" + std::to_string(c.in_features) + ", " +
                            std::to_string(c.out_features) + ")";
  if (c.in_features <= 0 || c.out_features <= 0) return unsupported(sizes + " must be positive multiples of 8");
  if (c.in_features % 8 != 0 || c.out_features % 8 != 0) return unsupported(sizes + " must be multiples of 8");
  if (c.group_size != -1 && c.in_features % c.group_size != 0) {
    return unsupported("Group size (" + std::to_string(c.group_size) + ") must divide the in size (" +
                       std::to_string(c.in_features) + ")");
  }
  return Status::ok();
}

}  // namespace w4a8
