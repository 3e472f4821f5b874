"""Loads the extension (_C.so next to this file) and wraps torch.ops.w4a8."""
import os

import torch

torch.ops.load_library(os.path.join(os.path.dirname(os.path.abspath(__file__)), "_C.so"))
_ops = torch.ops.w4a8


def cuda_ops_available() -> bool:
    """True when this build registered CUDA kernels and a GPU is visible."""
    return torch.cuda.is_available() and torch._C._dispatch_has_kernel_for_dispatch_key("w4a8::linear", "CUDA")


def dynamic_per_token_int8_quant(x, symmetric=True):
    """x [..., K] fp16/bf16/f32 -> (q [..., K] int8 (uint8 if asymmetric), scale [..., 1] in x's dtype,
    zero point [..., 1] int32), SPEC.md's rule bit for bit."""
    return _ops.dynamic_per_token_int8_quant(x, symmetric)


def static_int8_quant(x, scale, zero_point=None):
    """x [..., K] -> q [..., K] int8 = clamp(round_half_even(x / scale + zero_point), -128, 127) with one calibrated
    scale (and zero point) for the whole tensor, the division in fp32. The GEMM then takes A_scale = scale and
    A_zp = zero_point ([1])."""
    return _ops.static_int8_quant(x, scale, zero_point)


def int4_gemm_w4a8(A, A_scale, A_zp, B, B_scale, B_zp, group_size, g_idx=None, bias=None, out_dtype=None):
    """The seed's op: B is w_packed.t() ([K/8, N] view), B_scale [K/g, N], B_zp the constant 8 ([1]) or packed
    per-group zero points [K/g, N/8]. fp16 output like the seed unless out_dtype says otherwise."""
    if out_dtype is None:
        return _ops.int4_gemm_w4a8(A, A_scale, A_zp, B, B_scale, B_zp, group_size, g_idx, bias)
    return _ops.int4_gemm_w4a8.out_dtype(A, A_scale, A_zp, B, B_scale, B_zp, group_size, g_idx, bias,
                                         out_dtype=out_dtype)


def quantize_weights_int4(w, group_size=128, symmetric=True):
    """Float [N, K] -> (values [N, K] int8 in -8..7, scales [N, G] in w's dtype, zero points [N, G] int8 or an
    empty tensor), compressed-tensors' round-to-nearest rule, bit for bit. CPU tensors."""
    return _ops.quantize_weights_int4(w, group_size, symmetric)


def pack_int4(values):
    """[N, K] int8 in -8..7 -> [N, K/8] int32, eight nibbles u = w + 8 per word, nibble i at bits 4i."""
    n, k = values.shape
    u = (values.to(torch.int32) + 8).reshape(n, k // 8, 8)
    shifts = torch.arange(0, 32, 4, dtype=torch.int32, device=values.device)
    return (u << shifts).sum(dim=2, dtype=torch.int32)


def pack_int4_zero_points(zero_points):
    """Checkpoint zero points [N, G] int8 in -8..7 -> the op's B_zp [G, N/8] int32 (packed along N)."""
    return pack_int4(zero_points.t().contiguous())


class PreparedLinear:
    """A W4A8 layer prepared once by the extension (weights repacked for the backend on their device).
    Calling it quantizes x per token and runs the GEMM in one call; nothing is repacked per call."""

    def __init__(self, weight_packed, weight_scale, group_size, zero_points=None, g_idx=None, backend="auto",
                 max_tokens=1024, input_scale=None, input_zero_point=None, act_symmetric=True):
        """Activations: dynamic per token (act_symmetric=False: asymmetric, uint8 with a zero point per token),
        or static when input_scale (one value) is given, with an optional input_zero_point (int8 range,
        which needs act_symmetric=False)."""
        self.handle = _ops.prepare_linear(weight_packed, weight_scale, group_size, zero_points, g_idx, backend,
                                          max_tokens, input_scale, input_zero_point,
                                          act_symmetric)  # a 0-dim CPU int64 tensor: the prepared layer's id
        self.out_features, self.in_features = weight_packed.shape[0], weight_packed.shape[1] * 8
        self.device = weight_packed.device

    def __call__(self, x, bias=None, out_dtype=None):
        return _ops.linear(x, self.handle, self.out_features, bias, out_dtype)

    def __del__(self):
        handle = getattr(self, "handle", None)
        if handle is not None and _ops is not None:
            try:
                _ops.release_linear(handle)
            except Exception:  # interpreter shutdown: the registry goes with the process
                pass
