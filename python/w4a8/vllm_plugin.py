"""w4a8 inside vLLM: a general plugin (entry point group `vllm.general_plugins`).

register() runs in every vLLM process (the API server, the engine core, each
tensor-parallel worker) before a model is built. It does two things:

1. puts W4A8LinearKernel, an MPLinearKernel, first in vLLM's mixed-precision
   kernel lists for CUDA and CPU. vLLM's own CompressedTensorsW4A8Int scheme
   (int-quantized W4A8 checkpoints) then runs on w4a8 instead of failing to
   find a kernel (CUDA) or running a scalar reference path (CPU);
2. routes every compressed-tensors layer whose weights are int4 (group or
   channel) and whose input activations are int8, dynamic per token (or
   static per tensor), to W4A8Scheme - `int-quantized` and `pack-quantized`
   alike, symmetric or asymmetric, with act-order where there is no
   row-parallel split. Without this, vLLM gives `pack-quantized` W4A8
   layers to its W4A16 kernels, which ignore the int8 activation scheme.

Both prepare each layer once (process_weights_after_loading: repacked for the
backend on the layer's device) and call the prepared layer in apply_weights
(on the GPU CUDA-graph safe: nothing allocated or synchronised per call but
the output). vLLM is imported lazily and defensively: the paths moved between
0.3x releases. W4A8_VLLM_DISABLE=1 turns the plugin off.
"""
import logging
import os
from typing import Optional

import torch

logger = logging.getLogger("w4a8.vllm")

KERNEL_NAME = "W4A8LinearKernel"
SCHEME_NAME = "W4A8Scheme"
_state = {"registered": False, "kernel": None, "scheme": None}


def _import_vllm():
    """The vLLM pieces the plugin needs, from wherever this release keeps them."""
    from vllm.platforms import PlatformEnum
    from vllm.scalar_type import scalar_types
    try:  # 0.30 and later
        import vllm.model_executor.kernels.linear as kernels
        from vllm.model_executor.kernels.linear import MPLinearKernel, MPLinearLayerConfig
    except ImportError:  # older releases
        import vllm.model_executor.layers.quantization.kernels.mixed_precision as kernels
        from vllm.model_executor.layers.quantization.kernels.mixed_precision.MPLinearKernel import (
            MPLinearKernel, MPLinearLayerConfig)
    from vllm.model_executor.layers.quantization.compressed_tensors import compressed_tensors as ct
    from vllm.model_executor.layers.quantization.compressed_tensors.schemes import CompressedTensorsScheme
    from vllm.model_executor import parameter
    return PlatformEnum, scalar_types, kernels, MPLinearKernel, MPLinearLayerConfig, ct, CompressedTensorsScheme, parameter


def register() -> None:
    """Idempotent; safe to call in any process, with or without vLLM."""
    if _state["registered"] or os.environ.get("W4A8_VLLM_DISABLE") == "1":
        return
    try:
        PlatformEnum, scalar_types, kernels, MPLinearKernel, LayerConfig, ct, Scheme, parameter = _import_vllm()
    except Exception as e:  # no vLLM, or one whose layout this plugin does not know
        logger.warning("w4a8: vLLM plugin not registered (%s: %s)", type(e).__name__, e)
        return
    kernel = _make_kernel_class(MPLinearKernel, scalar_types)
    possible = getattr(kernels, "_POSSIBLE_KERNELS", None)
    if possible is None:
        logger.warning("w4a8: this vLLM has no _POSSIBLE_KERNELS table; the kernel is not listed")
    else:
        for platform in (PlatformEnum.CUDA, PlatformEnum.CPU):
            lst = possible.setdefault(platform, [])
            if not any(getattr(k, "__name__", "") == KERNEL_NAME for k in lst):
                lst.insert(0, kernel)
    scheme = _make_scheme_class(Scheme, kernel, LayerConfig, parameter, scalar_types)
    _route_compressed_tensors(ct.CompressedTensorsConfig, scheme)
    _state.update(registered=True, kernel=kernel, scheme=scheme)
    logger.info("w4a8: vLLM plugin registered (%s first for CUDA and CPU; W4A8-int layers -> %s)", KERNEL_NAME,
                SCHEME_NAME)


# --- the checkpoint's W4A8 tensors as w4a8 takes them -------------------------

def _unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """[R, C/8] int32, eight nibbles u = w + 8 per word (nibble i at bits 4i) -> [R, C] int8 in -8..7."""
    shifts = torch.arange(0, 32, 4, dtype=torch.int32, device=packed.device)
    u = (packed.to(torch.int32).unsqueeze(-1) >> shifts) & 0xF
    return (u - 8).to(torch.int8).reshape(packed.shape[0], -1)


def prepare_w4a8(values: torch.Tensor, scales: torch.Tensor, group_size: int, zero_points=None, g_idx=None,
                 act_symmetric: bool = True, input_scale=None, input_zero_point=None):
    """A w4a8 PreparedLinear from checkpoint tensors: values [N, K] int8 (-8..7), scales [N, G], zero points
    [N, G] int8 (-8..7) or None, g_idx [K] (the group of each input column) or None. On values' device."""
    from . import _ops
    return _ops.PreparedLinear(_ops.pack_int4(values.contiguous()), scales.contiguous(), group_size,
                               None if zero_points is None else zero_points.to(torch.int8).contiguous(),
                               None if g_idx is None else g_idx.to(torch.int32).contiguous(),
                               input_scale=input_scale, input_zero_point=input_zero_point,
                               act_symmetric=act_symmetric)


def _free(layer: torch.nn.Module, name: str) -> None:
    """Replaces a loaded parameter by an empty one: the prepared layer holds its own copy."""
    p = getattr(layer, name, None)
    if isinstance(p, torch.nn.Parameter):
        setattr(layer, name, torch.nn.Parameter(torch.empty(0, dtype=p.dtype, device=p.device), requires_grad=False))


# --- the kernel: vLLM's MPLinearKernel interface ------------------------------

def _make_kernel_class(MPLinearKernel, scalar_types):
    from .kernel import W4A8IntLinearKernel, LayerConfig

    class W4A8LinearKernel(MPLinearKernel):
        """vLLM's MPLinearKernel on w4a8: the seed's rules (can_implement) and its weight layout in, the layer
        prepared once, one call per forward. Takes signed int4 weights (CompressedTensorsW4A8Int) and, through
        W4A8Scheme, the unsigned uint4b8 / uint4 of pack-quantized W4A8 checkpoints; never W4A16 layers."""

        # Set by W4A8Scheme around its own choice, so that unsigned int4 is taken only for W4A8 layers.
        _w4a8_layer = False

        @classmethod
        def get_min_capability(cls) -> int:
            return W4A8IntLinearKernel.get_min_capability()

        @classmethod
        def can_implement(cls, c):
            name = str(getattr(c.weight_type, "name", c.weight_type))
            if name != "int4" and not (cls._w4a8_layer and name in ("uint4b8", "uint4")):
                return False, f"W4A8Int requires int4 weights, got {c.weight_type}"
            return W4A8IntLinearKernel.can_implement(_layer_config(c))

        def __init__(self, c, w_q_param_name, w_s_param_name, w_zp_param_name=None, w_gidx_param_name=None,
                     act_symmetric=True, act_static=False):
            super().__init__(c, w_q_param_name, w_s_param_name, w_zp_param_name)
            self.w_gidx_name = w_gidx_param_name
            self.act_symmetric = act_symmetric
            self.act_static = act_static

        def process_weights_after_loading(self, layer: torch.nn.Module) -> None:
            w_q, w_s, w_zp = self._get_weight_params(layer)
            values = w_q.data if w_q.dtype == torch.int8 else _unpack_int4(w_q.data)  # [N, K]
            n, k = values.shape
            scales = w_s.data.reshape(n, -1)  # [N, G]; [N, 1] per channel
            group = -1 if scales.shape[1] == 1 else self.config.group_size  # one group: per channel
            if group != -1 and scales.shape[1] != k // group:
                raise ValueError(f"w4a8: weight_scale has {scales.shape[1]} groups for K={k}, group {group}")
            zp = None
            if self.config.zero_points and w_zp is not None:
                # Checkpoint zero points are packed along N ([N/8, G] int32), or plain int8 [N, G].
                zp = (_unpack_int4(w_zp.data.t().contiguous()).t() if w_zp.dtype == torch.int32
                      else w_zp.data.to(torch.int8)).reshape(n, -1).contiguous()
            g_idx = getattr(layer, self.w_gidx_name).data if self.w_gidx_name else None
            input_scale = input_zp = None
            if self.act_static:
                input_scale = layer.input_scale.data.reshape(1).float()
                if getattr(layer, "input_zero_point", None) is not None and not self.act_symmetric:
                    input_zp = layer.input_zero_point.data.reshape(1).to(torch.int32)
            layer._w4a8 = prepare_w4a8(values, scales, group, zp, g_idx, self.act_symmetric, input_scale, input_zp)
            for name in (self.w_q_name, self.w_zp_name, "weight"):
                if name:
                    _free(layer, name)

        def apply_weights(self, layer: torch.nn.Module, x: torch.Tensor, bias: Optional[torch.Tensor] = None):
            x2 = x.reshape(-1, x.shape[-1])
            if not x2.is_contiguous():
                x2 = x2.contiguous()
            out = layer._w4a8(x2, bias, out_dtype=x.dtype)
            return out.reshape(*x.shape[:-1], out.shape[-1])

    def _layer_config(c):
        return LayerConfig(partition_weight_shape=tuple(c.partition_weight_shape), act_type=c.act_type,
                           weight_type="int4", zero_points=bool(c.zero_points), group_size=c.group_size)

    W4A8LinearKernel.__name__ = W4A8LinearKernel.__qualname__ = KERNEL_NAME
    return W4A8LinearKernel


# --- the scheme: compressed-tensors W4A8-int layers of either format -----------

def is_w4a8_int(weight_quant, input_quant) -> bool:
    """int4 weights per group or channel (not dynamic), int8 activations per token (dynamic) or per tensor
    (static): the compressed-tensors W4A8 preset and its variants."""
    if weight_quant is None or input_quant is None:
        return False
    def val(v):
        return getattr(v, "value", v)
    return (str(val(weight_quant.type)) == "int" and weight_quant.num_bits == 4 and not weight_quant.dynamic
            and str(val(weight_quant.strategy)) in ("group", "channel")
            and str(val(input_quant.type)) == "int" and input_quant.num_bits == 8
            and ((input_quant.dynamic and str(val(input_quant.strategy)) == "token")
                 or (not input_quant.dynamic and str(val(input_quant.strategy)) == "tensor")))


def _make_scheme_class(Scheme, kernel, MPLinearLayerConfig, parameter, scalar_types):
    class W4A8Scheme(Scheme):
        """A compressed-tensors W4A8-int layer on w4a8: `int-quantized` (weight int8 [N, K]) or
        `pack-quantized` (weight_packed int32 [N, K/8], weight_shape, weight_zero_point [N/8, G] and weight_g_idx
        when present), sharded as vLLM's linear layers shard them."""

        def __init__(self, weight_quant, input_quant, quant_format: str, layer_name: Optional[str] = None):
            self.group_size = -1 if weight_quant.group_size is None or str(
                getattr(weight_quant.strategy, "value", weight_quant.strategy)) == "channel" else weight_quant.group_size
            self.symmetric_weights = bool(weight_quant.symmetric)
            self.act_order = getattr(weight_quant, "actorder", None) is not None and str(
                getattr(weight_quant.actorder, "value", weight_quant.actorder)) in ("group", "weight")
            self.act_symmetric = bool(input_quant.symmetric)
            self.act_static = not input_quant.dynamic
            self.packed = quant_format == "pack-quantized"
            self.layer_name = layer_name

        @classmethod
        def get_min_capability(cls) -> int:
            return 80 if torch.cuda.is_available() else 0

        def create_weights(self, layer, output_size, input_size, output_partition_sizes, input_size_per_partition,
                           params_dtype, weight_loader, **kwargs):
            P = parameter
            n = sum(output_partition_sizes)
            k = input_size_per_partition
            row_parallel = input_size != input_size_per_partition
            if self.act_order and row_parallel:
                raise ValueError(f"w4a8: {self.layer_name}: act-order (weight_g_idx) with a row-parallel split is not "
                                 "supported; run this model without tensor parallelism")
            # Per channel on a row-parallel shard: each rank holds the whole per-channel scale
            # (repeated), and its effective group is its own K.
            per_channel = self.group_size == -1
            group = k if per_channel and row_parallel else (input_size if per_channel else self.group_size)
            if k % group != 0:
                raise ValueError(f"w4a8: {self.layer_name}: group size {group} does not divide this shard's K={k}")
            groups = k // group
            st = scalar_types
            weight_type = st.int4 if not self.packed else (st.uint4b8 if self.symmetric_weights else st.uint4)
            config = MPLinearLayerConfig(full_weight_shape=(input_size, output_size), partition_weight_shape=(k, n),
                                         weight_type=weight_type, act_type=params_dtype,
                                         group_size=group if not per_channel or row_parallel else -1,
                                         zero_points=not self.symmetric_weights)
            kernel._w4a8_layer = True
            try:
                ok, why = kernel.can_implement(config)
            finally:
                kernel._w4a8_layer = False
            if not ok:
                raise ValueError(f"w4a8: {self.layer_name}: {why}")
            if self.packed:
                layer.register_parameter("weight_packed", P.PackedvLLMParameter(
                    input_dim=1, output_dim=0, packed_factor=8, packed_dim=1, weight_loader=weight_loader,
                    data=torch.empty(n, k // 8, dtype=torch.int32)))
                layer.register_parameter("weight_shape", P.BasevLLMParameter(
                    data=torch.empty(2, dtype=torch.int64), weight_loader=weight_loader))
                w_q = "weight_packed"
            else:
                w = P.ModelWeightParameter(data=torch.empty(n, k, dtype=torch.int8), input_dim=1, output_dim=0,
                                           weight_loader=weight_loader)
                layer.register_parameter("weight", w)
                w_q = "weight"
            repeat = per_channel and row_parallel
            scale_data = torch.empty(n, groups, dtype=params_dtype)
            if repeat:
                scale = P.ChannelQuantScaleParameter(data=scale_data, output_dim=0, weight_loader=weight_loader)
            else:
                scale = P.GroupQuantScaleParameter(data=scale_data, output_dim=0, input_dim=1,
                                                   weight_loader=weight_loader)
            layer.register_parameter("weight_scale", scale)
            w_zp = None
            if not self.symmetric_weights:
                if self.packed:
                    zp_data = torch.zeros((n + 7) // 8, groups, dtype=torch.int32)
                    zp = (P.PackedColumnParameter(data=zp_data, output_dim=0, packed_dim=0, packed_factor=8,
                                                  weight_loader=weight_loader) if repeat else
                          P.PackedvLLMParameter(data=zp_data, input_dim=1, output_dim=0, packed_dim=0, packed_factor=8,
                                                weight_loader=weight_loader))
                else:
                    zp_data = torch.zeros(n, groups, dtype=torch.int8)
                    zp = (P.ChannelQuantScaleParameter(data=zp_data, output_dim=0, weight_loader=weight_loader)
                          if repeat else P.GroupQuantScaleParameter(data=zp_data, output_dim=0, input_dim=1,
                                                                    weight_loader=weight_loader))
                layer.register_parameter("weight_zero_point", zp)
                w_zp = "weight_zero_point"
            w_gidx = None
            if self.act_order:
                layer.register_parameter("weight_g_idx", P.RowvLLMParameter(
                    data=torch.empty(k, dtype=torch.int32), input_dim=0, weight_loader=weight_loader))
                w_gidx = "weight_g_idx"
            if self.act_static:
                layer.register_parameter("input_scale", P.PerTensorScaleParameter(
                    data=torch.empty(len(output_partition_sizes), dtype=torch.float32), weight_loader=weight_loader))
                if not self.act_symmetric:
                    layer.register_parameter("input_zero_point", P.PerTensorScaleParameter(
                        data=torch.empty(len(output_partition_sizes), dtype=torch.int32), weight_loader=weight_loader))
            self.kernel = kernel(config, w_q, "weight_scale", w_zp, w_gidx, act_symmetric=self.act_symmetric,
                                 act_static=self.act_static)

        def process_weights_after_loading(self, layer):
            if self.act_static:  # fused projections load one scale per part; w4a8 takes one per layer
                s = layer.input_scale.data
                if s.numel() > 1 and not torch.all(s == s[0]):
                    raise ValueError(f"w4a8: {self.layer_name}: fused parts have different static input scales")
                layer.input_scale = torch.nn.Parameter(s[:1].clone(), requires_grad=False)
                if getattr(layer, "input_zero_point", None) is not None:
                    layer.input_zero_point = torch.nn.Parameter(layer.input_zero_point.data[:1].clone(),
                                                                requires_grad=False)
            self.kernel.process_weights_after_loading(layer)

        def apply_weights(self, layer, x, bias=None):
            return self.kernel.apply_weights(layer, x, bias)

    W4A8Scheme.__name__ = W4A8Scheme.__qualname__ = SCHEME_NAME
    return W4A8Scheme


def _route_compressed_tensors(config_cls, scheme) -> None:
    """Wraps CompressedTensorsConfig._get_scheme_from_parts: W4A8-int layers get W4A8Scheme."""
    original = getattr(config_cls, "_get_scheme_from_parts", None)
    if original is None or getattr(original, "_w4a8_routed", False):
        return

    # (self, weight_quant, input_quant, output_quant=None, format=None, layer_name=None) in 0.32
    def _get_scheme_from_parts(self, weight_quant, input_quant, *args, **kwargs):
        output_quant = kwargs.get("output_quant", args[0] if len(args) > 0 else None)
        if output_quant is None and is_w4a8_int(weight_quant, input_quant):
            fmt = kwargs.get("format", args[1] if len(args) > 1 else None) or getattr(self, "quant_format", None)
            fmt = str(getattr(fmt, "value", fmt))
            if fmt in ("int-quantized", "pack-quantized"):
                name = kwargs.get("layer_name", args[2] if len(args) > 2 else None)
                return scheme(weight_quant, input_quant, fmt, name)
        return original(self, weight_quant, input_quant, *args, **kwargs)

    _get_scheme_from_parts._w4a8_routed = True
    config_cls._get_scheme_from_parts = _get_scheme_from_parts


def layer_kernels(model: torch.nn.Module) -> dict:
    """{layer name: (scheme class name, kernel class name)} of a vLLM model's quantized layers - which of them
    run on w4a8. Module-level, so `vllm.LLM.apply_model(w4a8.vllm_plugin.layer_kernels)` can send it to the
    workers."""
    out = {}
    for name, m in model.named_modules():
        scheme = getattr(m, "scheme", None)
        if scheme is not None:
            out[name] = (type(scheme).__name__, type(getattr(scheme, "kernel", None)).__name__)
    return out
