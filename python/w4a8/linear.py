"""W4A8Linear: an nn.Module that replaces nn.Linear with int4 weights and
per-token int8 activations."""
from typing import Optional

import torch

from . import _ops


class W4A8Linear(torch.nn.Module):
    """y = x . dequant(W)^T + bias, computed as W4A8 (int4 weights, int8 tokens, exact int32 group sums).

    Buffers: weight_packed [N, K/8] int32 (the public packing), weight_scale [N, G], optional
    weight_zero_point [N, G] int8, weight_g_idx [K] int32 (act-order: input k's group) and bias [N];
    with static_activations, input_scale [1] (and input_zero_point [1] int8 when act_symmetric is
    False), as compressed-tensors names them. Activations are otherwise quantized per token
    (asymmetric when act_symmetric is False). The extension prepares the weights once per device
    the first time the layer runs there, on `backend` ("auto": the best one for that device)."""

    def __init__(self, in_features: int, out_features: int, group_size: int = 128, bias: bool = True,
                 dtype: torch.dtype = torch.float16, zero_points: bool = False, act_symmetric: bool = True,
                 static_activations: bool = False, g_idx: bool = False, backend: str = "auto"):
        super().__init__()
        self.in_features, self.out_features, self.group_size = in_features, out_features, group_size
        groups = 1 if group_size == -1 else in_features // group_size
        self.register_buffer("weight_packed", torch.zeros(out_features, in_features // 8, dtype=torch.int32))
        self.register_buffer("weight_scale", torch.ones(out_features, groups, dtype=dtype))
        self.register_buffer("weight_zero_point",
                             torch.zeros(out_features, groups, dtype=torch.int8) if zero_points else None)
        self.register_buffer("weight_g_idx", torch.zeros(in_features, dtype=torch.int32) if g_idx else None)
        self.register_buffer("bias", torch.zeros(out_features, dtype=dtype) if bias else None)
        self.backend = backend
        self.act_symmetric = act_symmetric
        self.register_buffer("input_scale", torch.ones(1, dtype=dtype) if static_activations else None)
        self.register_buffer("input_zero_point",
                             torch.zeros(1, dtype=torch.int8) if static_activations and not act_symmetric else None)
        self._prepared: Optional[_ops.PreparedLinear] = None

    @classmethod
    def from_float(cls, linear: torch.nn.Linear, group_size: int = 128, symmetric: bool = True) -> "W4A8Linear":
        w = linear.weight.detach()
        dtype = w.dtype if w.dtype in (torch.float16, torch.bfloat16) else torch.float16
        values, scales, zp = _ops.quantize_weights_int4(w.to("cpu", dtype), group_size, symmetric)
        m = cls(linear.in_features, linear.out_features, group_size, linear.bias is not None, dtype, not symmetric)
        m.weight_packed.copy_(_ops.pack_int4(values))
        m.weight_scale.copy_(scales)
        if not symmetric:
            m.weight_zero_point.copy_(zp)
        if linear.bias is not None:
            m.bias.copy_(linear.bias.detach().to("cpu", dtype))
        return m.to(w.device)

    def _prepared_for(self, device: torch.device) -> _ops.PreparedLinear:
        if self._prepared is None or self._prepared.device != device:
            self._prepared = _ops.PreparedLinear(self.weight_packed, self.weight_scale, self.group_size,
                                                 self.weight_zero_point, self.weight_g_idx, self.backend,
                                                 input_scale=self.input_scale,
                                                 input_zero_point=self.input_zero_point,
                                                 act_symmetric=self.act_symmetric)
        return self._prepared

    def _load_from_state_dict(self, *args, **kwargs):  # new weights or scales: prepare again
        self._prepared = None
        return super()._load_from_state_dict(*args, **kwargs)

    def _apply(self, fn, *args, **kwargs):  # .to()/.cuda(): prepare again on the new device
        self._prepared = None
        return super()._apply(fn, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._prepared_for(x.device)(x.contiguous(), self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, group_size={self.group_size}, "
                f"bias={self.bias is not None}, zero_points={self.weight_zero_point is not None}, "
                f"act_symmetric={self.act_symmetric}, static_activations={self.input_scale is not None}")
