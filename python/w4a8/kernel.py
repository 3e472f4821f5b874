"""W4A8IntLinearKernel: the XPU W4A8-int kernel class's interface, on CPU and CUDA.

Code written against the seed's class (vLLM's MPLinearKernel interface) runs
unchanged: the same capability rules and messages, the same weight
processing (scale transpose, zero-point tensor, int4 packing, dropping the
unpacked `weight`), and apply_weights computes the same formula - per-token
int8 activations, int32 group sums, fp16 output cast to x's dtype. Three things
differ, all additions: asymmetric weights (config.zero_points) and act-order
(config.has_g_idx, the g_idx parameter named by w_gidx_param_name) are
accepted, and process_weights_after_loading also prepares the layer once for
the extension, so apply_weights is one fused call with no repacking per call.
The seed's remaining TODOs are filled too: asymmetric activations
(config.act_symmetric = False) and static activation scales (config.act_static,
the input_scale / input_zero_point parameters named by the act_s/act_zp names).
"""
import logging
from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from . import _ops

logger = logging.getLogger("w4a8")
_warned_bf16 = False


@dataclass
class LayerConfig:
    """The fields of vLLM's MPLinearLayerConfig that the kernel reads."""
    partition_weight_shape: Tuple[int, int]  # (in_features, out_features) of this partition
    act_type: torch.dtype = torch.float16
    weight_type: object = "int4"              # vLLM's scalar_types.int4 or the string "int4"
    zero_points: bool = False
    group_size: int = 128                     # -1: per output channel
    has_g_idx: bool = False
    # Extensions (not in vLLM's config): how activations are quantized.
    act_symmetric: bool = True                # False: per-token (or static) zero points
    act_static: bool = False                  # one calibrated scale per tensor (input_scale)


def _type_name(t) -> str:
    return str(getattr(t, "name", t))


class W4A8IntLinearKernel:
    def __init__(self, c: LayerConfig, w_q_param_name: str = "weight_packed", w_s_param_name: str = "weight_scale",
                 w_zp_param_name: Optional[str] = None, w_gidx_param_name: Optional[str] = None,
                 max_tokens: int = 1024, act_s_param_name: str = "input_scale",
                 act_zp_param_name: str = "input_zero_point") -> None:
        ok, why = self.can_implement(c)
        if not ok:
            raise ValueError(why)
        self.config = c
        self.w_q_name = w_q_param_name
        self.w_s_name = w_s_param_name
        self.w_zp_name = w_zp_param_name
        self.w_gidx_name = w_gidx_param_name
        self.act_s_name = act_s_param_name
        self.act_zp_name = act_zp_param_name
        self.max_tokens = max_tokens

    @classmethod
    def get_min_capability(cls) -> int:
        # The CUDA kernels use mma.sync on int8 (sm_80 and later). The seed says -1
        # because XPUs have no compute capability; CPUs are not asked.
        return 80

    @classmethod
    def can_implement(cls, c: LayerConfig) -> Tuple[bool, Optional[str]]:
        if c.act_type not in (torch.bfloat16, torch.float16):
            return False, "W4A8Int requires BF16/FP16 activations"
        if _type_name(c.weight_type) != "int4":
            return False, f"W4A8Int requires int4 weights, got {c.weight_type}"
        if getattr(c, "has_g_idx", False) and c.group_size == -1:
            return False, "W4A8Int supports act-order (g_idx) only with a group size, not per channel"
        if c.group_size != -1 and c.group_size % 32 != 0:
            return False, f"Group size ({c.group_size}) not supported by W4A8Int, must be a multiple of 32"
        in_size, out_size = c.partition_weight_shape
        if in_size % 8 != 0 or out_size % 8 != 0:
            return False, f"in/out sizes ({in_size}, {out_size}) must be multiples of 8"
        global _warned_bf16
        if c.act_type != torch.float16 and not _warned_bf16:
            _warned_bf16 = True
            logger.warning("W4A8IntLinearKernel is running with model dtype %s, but int4_gemm_w4a8 produces float16 "
                           "output. Recommend setting --dtype float16 for best performance.", c.act_type)
        return True, None

    def process_weights_after_loading(self, layer: torch.nn.Module) -> None:
        scale_ng = getattr(layer, self.w_s_name).data          # [N, G], the checkpoint's layout
        getattr(layer, self.w_s_name).data = scale_ng.t().contiguous()  # [G, N], the op's layout
        w = getattr(layer, self.w_q_name).data                  # [N, K] int8 in -8..7
        device = w.device
        zp_ng = None
        if self.config.zero_points:
            if self.w_zp_name is None:
                raise ValueError("config.zero_points is set but no w_zp_param_name was given")
            zp_ng = getattr(layer, self.w_zp_name).data.to(torch.int8)  # [N, G] in -8..7
            weight_zero_point = _ops.pack_int4_zero_points(zp_ng)        # [G, N/8]
        else:
            weight_zero_point = torch.tensor([8], dtype=torch.int8, device=device)
        layer.weight_zero_point = torch.nn.Parameter(weight_zero_point, requires_grad=False)
        g_idx = None
        if self.config.has_g_idx:
            if self.w_gidx_name is None:
                raise ValueError("config.has_g_idx is set but no w_gidx_param_name was given")
            g_idx = getattr(layer, self.w_gidx_name).data.to(torch.int32).contiguous()  # [K]: group of column k
            # The op takes act-order as SPEC.md's loader gives it: K reordered so
            # groups are contiguous, and the permutation that gathers x's columns.
            # Kept (as buffers, so they follow layer.to()) for the two-op path only.
            perm = torch.sort(g_idx.cpu().to(torch.int64), stable=True).indices
            layer.register_buffer("_w4a8_op_weight", _ops.pack_int4(w[:, perm.to(device)]), persistent=False)
            layer.register_buffer("_w4a8_op_perm", perm.to(torch.int32).to(device), persistent=False)
        input_scale = input_zp = None
        if self.config.act_static:
            if getattr(layer, self.act_s_name, None) is None:
                raise ValueError(f"config.act_static is set but the layer has no '{self.act_s_name}' parameter")
            input_scale = getattr(layer, self.act_s_name).data.reshape(1)
            zp = getattr(layer, self.act_zp_name, None)
            if zp is not None and not self.config.act_symmetric:
                input_zp = zp.data.reshape(1).to(torch.int32)
        packed = _ops.pack_int4(w)                              # [N, K/8] int32
        setattr(layer, self.w_q_name, torch.nn.Parameter(packed, requires_grad=False))
        # The unpacked weight is not kept twice (the seed does the same).
        layer.register_parameter("weight", None)
        layer._w4a8_prepared = _ops.PreparedLinear(packed, scale_ng, self.config.group_size, zp_ng, g_idx,
                                                   max_tokens=self.max_tokens, input_scale=input_scale,
                                                   input_zero_point=input_zp,
                                                   act_symmetric=self.config.act_symmetric)
        layer._w4a8_act = (input_scale, input_zp)  # for the two-op path

    def apply_weights(self, layer: torch.nn.Module, x: torch.Tensor, bias: Optional[torch.Tensor] = None):
        reshaped_x = x.reshape(-1, x.shape[-1])
        prepared = getattr(layer, "_w4a8_prepared", None)
        if prepared is not None and prepared.device == x.device:
            out = prepared(reshaped_x, bias, out_dtype=torch.float16)
        else:  # the seed's two ops, e.g. after the layer was moved to another device
            quant_x, x_scale, x_zero = self._quantize(layer, reshaped_x)
            act_order = getattr(layer, "_w4a8_op_perm", None) is not None
            weight = layer._w4a8_op_weight if act_order else getattr(layer, self.w_q_name)
            out = _ops.int4_gemm_w4a8(quant_x, x_scale, x_zero, weight.t(), getattr(layer, self.w_s_name),
                                      layer.weight_zero_point, self.config.group_size,
                                      layer._w4a8_op_perm if act_order else None, bias)
        return out.to(x.dtype).reshape(*x.shape[:-1], out.shape[-1])

    def _quantize(self, layer, x):
        """The activations as the layer's scheme quantizes them, for the op: (q, scale, zero point)."""
        if not self.config.act_static:
            return _ops.dynamic_per_token_int8_quant(x, self.config.act_symmetric)
        scale, zp = layer._w4a8_act
        scale = scale.to(x.device)
        zp = torch.zeros(1, dtype=torch.int32, device=x.device) if zp is None else zp.to(x.device)
        return _ops.static_int8_quant(x, scale, zp), scale.float(), zp

