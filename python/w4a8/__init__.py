"""w4a8 for PyTorch: W4A8 integer linear layers (int4 weights, per-token int8
activations, exact int32 products) on CPUs and NVIDIA GPUs.

- torch.ops.w4a8.int4_gemm_w4a8 / dynamic_per_token_int8_quant: the ops the
  XPU kernel class calls, with the same schemas; static_int8_quant for
  calibrated (static) activation scales;
- W4A8IntLinearKernel: that class's interface (can_implement,
  process_weights_after_loading, apply_weights) for CPU and CUDA;
- W4A8Linear: a drop-in nn.Module, W4A8Linear.from_float(nn.Linear);
- convert(model, checkpoint_dir): a model's nn.Linear layers replaced by
  W4A8Linear layers from a compressed-tensors checkpoint folder.
"""
from ._ops import (cuda_ops_available, dynamic_per_token_int8_quant, int4_gemm_w4a8, pack_int4,
                   pack_int4_zero_points, PreparedLinear, quantize_weights_int4, static_int8_quant)
from .convert import convert
from .kernel import LayerConfig, W4A8IntLinearKernel
from .linear import W4A8Linear

__all__ = [
    "cuda_ops_available", "dynamic_per_token_int8_quant", "int4_gemm_w4a8", "pack_int4", "pack_int4_zero_points",
    "PreparedLinear", "quantize_weights_int4", "static_int8_quant", "LayerConfig", "W4A8IntLinearKernel", "W4A8Linear",
    "convert",
]
