"""SPEC.md in plain torch, written from the spec for the tests: per-token
quantization, the W4A8 GEMM in float64, and the seed's kernel class with its
XPU ops replaced by these. Nothing here calls w4a8."""
import torch


def round_to(x32, dtype):
    return x32.to(dtype).to(torch.float32)


def per_token_quant(x, symmetric=True):
    x32 = x.float().reshape(-1, x.shape[-1])
    if symmetric:
        s = torch.clamp(x32.abs().amax(dim=1) / 127.0, min=1e-5)
        s = round_to(s, x.dtype)  # the scale is rounded to the activation dtype
        q = torch.clamp(torch.round(x32 / s[:, None]), -128, 127).to(torch.int8)
        z = torch.zeros(x32.shape[0], dtype=torch.int32)
    else:
        mn, mx = x32.amin(dim=1), x32.amax(dim=1)
        s32 = torch.clamp((mx - mn) / 255.0, min=1e-5)
        z = (-torch.round(mn / s32)).to(torch.int32)  # with the fp32 scale, before rounding it
        s = round_to(s32, x.dtype)
        q = torch.clamp(torch.round(x32 / s[:, None] + z[:, None].float()), 0, 255).to(torch.uint8)
    lead = x.shape[:-1]
    return q.reshape(x.shape), s.to(x.dtype).reshape(*lead, 1), z.reshape(*lead, 1)


def static_quant(x, scale, zero_point=0):
    """One calibrated scale (and zero point) for the tensor: clamp(round(x / s + z), -128, 127), in fp32."""
    s = torch.as_tensor(scale).float().reshape(())
    return torch.clamp(torch.round(x.float() / s + float(zero_point)), -128, 127).to(torch.int8)


def unpack_int4(packed, k):
    """[N, K/8] int32 -> [N, K] int64 in -8..7 (SPEC.md's unpack rule)."""
    shifts = torch.arange(0, 32, 4, dtype=torch.int64)
    u = (packed.to(torch.int64)[:, :, None] >> shifts) & 0xF
    return u.reshape(packed.shape[0], k) - 8


def gemm(A, A_scale, A_zp, B, B_scale, B_zp, group_size, bias=None, g_idx=None):
    """The seed's op in float64: B = w_packed.t() [K/8, N], B_scale [G, N], B_zp [1] (8) or packed [G, N/8];
    g_idx [K] (act-order): column k belongs to group g_idx[k] instead of k // group_size."""
    m, k = A.shape
    n = B.shape[1]
    w = unpack_int4(B.t().contiguous(), k) + 8  # unsigned u
    g = k if group_size == -1 else group_size
    if B_zp.dim() == 2:
        zp_u = unpack_int4(B_zp, n) + 8  # [G, N] unsigned zero points
    else:
        zp_u = torch.full((k // g, n), int(B_zp.reshape(-1)[0]), dtype=torch.int64)
    a = A.to(torch.int64) - A_zp.reshape(-1, 1).to(torch.int64)
    y = torch.zeros(m, n, dtype=torch.float64)
    group_of = torch.arange(k) // g if g_idx is None else g_idx.to(torch.int64)
    for gi in range(k // g):
        cols = group_of == gi
        wg = w[:, cols] - zp_u[gi][:, None]
        acc = a[:, cols] @ wg.t()  # exact in int64
        y += acc.double() * B_scale[gi].double()[None, :]
    y = y * A_scale.reshape(-1, 1).double()
    if bias is not None:
        y = y + bias.double()[None, :]
    return y


class SeedKernel:
    """The seed's XPU kernel class, step for step, with its two XPU ops
    (dynamic_per_token_int8_quant_ref, _xpu_C.int4_gemm_w4a8) replaced by the
    float64 reference above (rounded to fp16 as the op's output is)."""

    def __init__(self, config):
        self.config = config

    def _pack_int4_weight(self, w):
        w_u4 = w.to(torch.int32) + 8
        w_u4 = w_u4.reshape(w.shape[0], w.shape[1] // 8, 8)
        shifts = torch.arange(0, 32, 4, dtype=torch.int32, device=w.device)
        return ((w_u4 & 0xF) << shifts[None, None, :]).sum(dim=2).to(torch.int32)

    def process_weights_after_loading(self, layer):
        layer.weight_scale.data = layer.weight_scale.data.t().contiguous()
        layer.weight_zero_point = torch.nn.Parameter(torch.tensor([8], dtype=torch.int8), requires_grad=False)
        layer.weight_packed = torch.nn.Parameter(self._pack_int4_weight(layer.weight_packed.data), requires_grad=False)
        layer.register_parameter("weight", None)

    def apply_weights(self, layer, x, bias=None):
        reshaped_x = x.reshape(-1, x.shape[-1])
        quant_x, x_scale, x_zero = per_token_quant(reshaped_x, True)
        out = gemm(quant_x, x_scale, x_zero, layer.weight_packed.t(), layer.weight_scale, layer.weight_zero_point,
                   self.config.group_size, bias).to(torch.float16)
        return out.to(x.dtype)
