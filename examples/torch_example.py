"""w4a8 from PyTorch: replace an nn.Linear by its W4A8 version, and run the
seed's kernel-class flow on a layer as a compressed-tensors loader leaves it."""
import torch

import w4a8

torch.manual_seed(0)
dense = torch.nn.Linear(4096, 1024)
layer = w4a8.W4A8Linear.from_float(dense, group_size=128)  # int4 weights, one fp16 scale per 128 inputs
x = torch.randn(8, 4096)
y = layer(x.half())  # activations quantized per token to int8 inside the op
err = ((y.float() - dense(x)).norm() / dense(x).norm()).item()
print(f"W4A8Linear.from_float: {layer}\n  relative error vs the float layer: {err:.4f}")

# The seed's interface: weight_packed holds int8 values in -8..7 before processing.
config = w4a8.LayerConfig(partition_weight_shape=(4096, 1024), act_type=torch.float16, group_size=128)
ok, why = w4a8.W4A8IntLinearKernel.can_implement(config)
module = torch.nn.Module()
values, scales, _ = w4a8.quantize_weights_int4(dense.weight.detach().half(), 128)
module.weight_packed = torch.nn.Parameter(values, requires_grad=False)
module.weight_scale = torch.nn.Parameter(scales, requires_grad=False)
module.weight = torch.nn.Parameter(torch.empty(0), requires_grad=False)
kernel = w4a8.W4A8IntLinearKernel(config)
kernel.process_weights_after_loading(module)
y2 = kernel.apply_weights(module, x.half(), dense.bias.detach().half())
print(f"W4A8IntLinearKernel: can_implement={ok}, output {tuple(y2.shape)} {y2.dtype}, "
      f"same as W4A8Linear: {torch.allclose(y2, y, rtol=1e-3, atol=1e-3)}")
