"""torch.ops.w4a8 and the Python package against SPEC.md written in plain
torch (spec_reference.py), the seed's kernel flow end to end, error cases,
tracing and Meta shapes. CPU; the GPU half is test_torch_cuda.py."""
import copy

import pytest
import torch

import w4a8
from spec_reference import SeedKernel, gemm, per_token_quant, static_quant

DTYPES = [torch.float16, torch.bfloat16]


def rel(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm().clamp(min=1e-30)).item()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("symmetric", [True, False])
def test_per_token_quant_is_the_spec_bit_for_bit(dtype, symmetric):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(2, 5, 96, generator=g) * 3).to(dtype)
    x[0, 1] = 0  # an all-zero row
    x[1, 2, 7] = 400  # an outlier
    q, s, z = w4a8.dynamic_per_token_int8_quant(x, symmetric)
    rq, rs, rz = per_token_quant(x, symmetric)
    assert q.dtype == rq.dtype and q.shape == x.shape and s.shape == (2, 5, 1) and z.shape == (2, 5, 1)
    assert torch.equal(q, rq) and torch.equal(s, rs) and torch.equal(z, rz)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("zero_point", [None, -37])
def test_static_quant_is_the_spec_bit_for_bit(dtype, zero_point):
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(3, 4, 128, generator=g) * 2).to(dtype)
    scale = torch.tensor([0.0173], dtype=dtype)  # as a checkpoint stores it: one value in the model dtype
    zp = None if zero_point is None else torch.tensor([zero_point], dtype=torch.int8)
    q = w4a8.static_int8_quant(x, scale, zp)
    assert q.dtype == torch.int8 and q.shape == x.shape
    assert torch.equal(q, static_quant(x, scale, zero_point or 0))
    with pytest.raises(RuntimeError, match="not a finite positive scale"):
        w4a8.static_int8_quant(x, torch.tensor([0.0]))
    with pytest.raises(RuntimeError, match="outside the int8 range"):
        w4a8.static_int8_quant(x, scale, torch.tensor([300]))


# Each activation scheme through the op: uint8 with a zero point per token, and
# one scale (with or without a zero point) per tensor.
@pytest.mark.parametrize("scheme", ["dynamic_asym", "static", "static_zp"])
@pytest.mark.parametrize("asym_weights", [False, True])
def test_int4_gemm_w4a8_takes_every_activation_scheme(scheme, asym_weights):
    m, n, k, group = 5, 64, 256, 64
    g = torch.Generator().manual_seed(3)
    _, _, _, B, B_scale, B_zp = random_op_operands(m, n, k, group, asym_weights, g)
    x = (torch.rand(m, k, generator=g) * 2.5 - 0.5).half()
    if scheme == "dynamic_asym":
        q, s, z = w4a8.dynamic_per_token_int8_quant(x, False)
    else:
        s = torch.tensor([0.0125])
        z = torch.tensor([-29 if scheme == "static_zp" else 0], dtype=torch.int32)
        q = w4a8.static_int8_quant(x, s, z)
    y = w4a8.int4_gemm_w4a8(q, s, z, B, B_scale, B_zp, group, None, None, out_dtype=torch.float32)
    assert rel(y, gemm(q, s, z, B, B_scale, B_zp, group)) <= 1e-5


@pytest.mark.parametrize("scheme", ["dynamic_asym", "static", "static_zp"])
@pytest.mark.parametrize("group", [128, -1])
def test_prepared_layer_and_module_with_every_activation_scheme(scheme, group):
    n, k = 48, 256
    g = torch.Generator().manual_seed(4)
    values = torch.randint(-8, 8, (n, k), generator=g, dtype=torch.int8)
    groups = 1 if group == -1 else k // group
    scale_ng = (torch.rand(n, groups, generator=g) * 0.02 + 0.001).half()
    packed = w4a8.pack_int4(values)
    x = (torch.rand(7, k, generator=g) * 3 - 0.5).half()
    static = scheme != "dynamic_asym"
    in_scale = torch.tensor([0.0125], dtype=torch.float16)
    in_zp = torch.tensor([-29], dtype=torch.int8) if scheme == "static_zp" else None
    layer = w4a8.PreparedLinear(packed, scale_ng, group, input_scale=in_scale if static else None,
                                input_zero_point=in_zp, act_symmetric=scheme == "static")
    if static:
        z = torch.tensor([0 if in_zp is None else int(in_zp)], dtype=torch.int32)
        q, s = static_quant(x, in_scale, int(z)), in_scale.float()
    else:
        q, s, z = per_token_quant(x, symmetric=False)
    want = gemm(q, s, z, packed.t(), scale_ng.t(), torch.tensor([8]), group)
    assert rel(layer(x), want) <= 1e-3
    # The nn.Module with the same buffers gives the same result.
    mod = w4a8.W4A8Linear(k, n, group, bias=False, act_symmetric=scheme == "static", static_activations=static)
    mod.weight_packed.copy_(packed)
    mod.weight_scale.copy_(scale_ng)
    if static:
        mod.input_scale.copy_(in_scale)
    if in_zp is not None:
        mod.input_zero_point.copy_(in_zp)
    assert torch.equal(mod(x), layer(x))


def test_kernel_class_with_static_activations():
    """The seed's class with the static TODO filled: input_scale / input_zero_point parameters, prepared
    and through the two ops."""
    n, k, group = 64, 256, 128
    g = torch.Generator().manual_seed(5)
    layer = make_layer(n, k, group, torch.float16, g)
    layer.input_scale = torch.nn.Parameter(torch.tensor([0.02], dtype=torch.float16), requires_grad=False)
    layer.input_zero_point = torch.nn.Parameter(torch.tensor([11], dtype=torch.int8), requires_grad=False)
    values, scale_ng = layer.weight_packed.data.clone(), layer.weight_scale.data.clone()
    config = w4a8.LayerConfig(partition_weight_shape=(k, n), group_size=group, act_static=True, act_symmetric=False)
    kernel = w4a8.W4A8IntLinearKernel(config)
    kernel.process_weights_after_loading(layer)
    x = (torch.rand(5, k, generator=g) * 2).half()
    q = static_quant(x, layer.input_scale.data, 11)
    want = gemm(q, layer.input_scale.data.float(), torch.tensor([11]), w4a8.pack_int4(values).t(), scale_ng.t(),
                torch.tensor([8]), group, layer.bias)
    assert rel(kernel.apply_weights(layer, x, layer.bias), want) <= 1e-3
    layer._w4a8_prepared = None  # the two ops
    assert rel(kernel.apply_weights(layer, x, layer.bias), want) <= 1e-3
    missing = make_layer(n, k, group, torch.float16, g)
    with pytest.raises(ValueError, match="input_scale"):
        w4a8.W4A8IntLinearKernel(config).process_weights_after_loading(missing)


def random_op_operands(m, n, k, group, asym_weights, g):
    values = torch.randint(-8, 8, (n, k), generator=g, dtype=torch.int8)
    groups = 1 if group == -1 else k // group
    scale_ng = (torch.rand(n, groups, generator=g) * 0.02 + 0.001).half()
    x = torch.randn(m, k, generator=g).half()
    q, s, z = w4a8.dynamic_per_token_int8_quant(x)
    B = w4a8.pack_int4(values).t()  # the seed's w_packed.t()
    if asym_weights:
        zp = torch.randint(-8, 8, (n, groups), generator=g, dtype=torch.int8)
        B_zp = w4a8.pack_int4_zero_points(zp)
    else:
        B_zp = torch.tensor([8], dtype=torch.int8)
    return q, s, z, B, scale_ng.t().contiguous(), B_zp


@pytest.mark.parametrize("m,n,k,group", [(1, 8, 32, -1), (3, 64, 256, 128), (7, 40, 192, 64), (16, 128, 512, 32)])
@pytest.mark.parametrize("asym_weights", [False, True])
def test_int4_gemm_w4a8_is_the_spec(m, n, k, group, asym_weights):
    g = torch.Generator().manual_seed(m * 1000 + n)
    q, s, z, B, B_scale, B_zp = random_op_operands(m, n, k, group, asym_weights, g)
    bias = torch.randn(n, generator=g).half()
    y = w4a8.int4_gemm_w4a8(q, s, z, B, B_scale, B_zp, group, None, bias)
    ref = gemm(q, s, z, B, B_scale, B_zp, group, bias)
    assert y.dtype == torch.float16 and y.shape == (m, n)
    assert rel(y, ref) <= 1e-3
    y_bf16 = w4a8.int4_gemm_w4a8(q, s, z, B, B_scale, B_zp, group, None, bias, out_dtype=torch.bfloat16)
    assert y_bf16.dtype == torch.bfloat16 and rel(y_bf16, ref) <= 4e-3


def make_layer(n, k, group, dtype, g, with_bias=True):
    """A plain module with what the seed reads: weight_packed (int8 [N,K] before processing),
    weight_scale [N, K/g], a `weight` parameter that processing drops."""
    layer = torch.nn.Module()
    groups = 1 if group == -1 else k // group
    layer.weight_packed = torch.nn.Parameter(torch.randint(-8, 8, (n, k), generator=g, dtype=torch.int8),
                                             requires_grad=False)
    layer.weight_scale = torch.nn.Parameter((torch.rand(n, groups, generator=g) * 0.02 + 0.001).to(dtype),
                                            requires_grad=False)
    layer.weight = torch.nn.Parameter(torch.zeros(1), requires_grad=False)
    layer.bias = torch.nn.Parameter(torch.randn(n, generator=g).to(dtype), requires_grad=False) if with_bias else None
    return layer


@pytest.mark.parametrize("n,k,group", [(64, 256, 128), (128, 512, -1), (48, 96, 32)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_seed_flow_gives_the_seeds_output(n, k, group, dtype):
    g = torch.Generator().manual_seed(n + k)
    config = w4a8.LayerConfig(partition_weight_shape=(k, n), act_type=dtype, group_size=group)
    ours_layer = make_layer(n, k, group, dtype, g)
    seed_layer = copy.deepcopy(ours_layer)
    kernel, seed = w4a8.W4A8IntLinearKernel(config), SeedKernel(config)
    kernel.process_weights_after_loading(ours_layer)
    seed.process_weights_after_loading(seed_layer)
    # The same state after processing: packed weights, transposed scales, zero point 8, no `weight`.
    assert ours_layer.weight is None and seed_layer.weight is None
    assert torch.equal(ours_layer.weight_packed, seed_layer.weight_packed)
    assert torch.equal(ours_layer.weight_scale, seed_layer.weight_scale)
    assert torch.equal(ours_layer.weight_zero_point, seed_layer.weight_zero_point)
    for m in (1, 5, 33):
        x = torch.randn(m, k, generator=g).to(dtype)
        for bias in (None, ours_layer.bias):
            y = kernel.apply_weights(ours_layer, x, bias)
            want = seed.apply_weights(seed_layer, x, bias)
            assert y.dtype == dtype and y.shape == (m, n)
            assert rel(y, want) <= (1e-3 if dtype == torch.float16 else 4e-3)
    # 3-D activations keep their leading dimensions.
    x3 = torch.randn(2, 3, k, generator=g).to(dtype)
    assert kernel.apply_weights(ours_layer, x3).shape == (2, 3, n)


@pytest.mark.parametrize("n,k,group", [(64, 256, 128), (40, 192, 64)])
@pytest.mark.parametrize("asym", [False, True])
def test_act_order_layer_through_the_class(n, k, group, asym):
    """g_idx (GPTQ act-order: column perm[i] in group i // group) through the seed's flow, prepared
    and through the seed's two ops, against the float64 spec with the same g_idx."""
    g = torch.Generator().manual_seed(n * 7 + k)
    layer = make_layer(n, k, group, torch.float16, g)
    perm = torch.randperm(k, generator=g)
    g_idx = torch.empty(k, dtype=torch.int32)
    g_idx[perm] = (torch.arange(k) // group).to(torch.int32)
    layer.weight_g_idx = torch.nn.Parameter(g_idx, requires_grad=False)
    zp = torch.randint(-8, 8, (n, k // group), generator=g, dtype=torch.int8)
    if asym:
        layer.weight_zero_point = torch.nn.Parameter(zp, requires_grad=False)
    values, scale_ng = layer.weight_packed.data.clone(), layer.weight_scale.data.clone()
    config = w4a8.LayerConfig(partition_weight_shape=(k, n), group_size=group, has_g_idx=True, zero_points=asym)
    kernel = w4a8.W4A8IntLinearKernel(config, w_gidx_param_name="weight_g_idx",
                                      w_zp_param_name="weight_zero_point" if asym else None)
    kernel.process_weights_after_loading(layer)
    B_zp = w4a8.pack_int4_zero_points(zp) if asym else torch.tensor([8], dtype=torch.int8)
    x = torch.randn(5, k, generator=g).half()
    q, s, z = per_token_quant(x)
    want = gemm(q, s, z, w4a8.pack_int4(values).t(), scale_ng.t(), B_zp, group, layer.bias, g_idx)
    contiguous = gemm(q, s, z, w4a8.pack_int4(values).t(), scale_ng.t(), B_zp, group, layer.bias)
    assert rel(contiguous, want) > 1e-2, "the permutation must matter, or this test checks nothing"
    assert rel(kernel.apply_weights(layer, x, layer.bias), want) <= 1e-3
    layer._w4a8_prepared = None  # the seed's two ops, as after a move to another device
    assert rel(kernel.apply_weights(layer, x, layer.bias), want) <= 1e-3


def test_act_order_needs_its_parameter_and_a_group():
    c = w4a8.LayerConfig(partition_weight_shape=(256, 64), has_g_idx=True, group_size=-1)
    assert w4a8.W4A8IntLinearKernel.can_implement(c) == (
        False, "W4A8Int supports act-order (g_idx) only with a group size, not per channel")
    kernel = w4a8.W4A8IntLinearKernel(w4a8.LayerConfig(partition_weight_shape=(256, 64), has_g_idx=True))
    with pytest.raises(ValueError, match="w_gidx_param_name"):
        kernel.process_weights_after_loading(make_layer(64, 256, 128, torch.float16, torch.Generator().manual_seed(1)))


def test_can_implement_speaks_like_the_seed():
    ok = w4a8.LayerConfig(partition_weight_shape=(256, 64))
    assert w4a8.W4A8IntLinearKernel.can_implement(ok) == (True, None)
    cases = [
        (dict(act_type=torch.float32), "W4A8Int requires BF16/FP16 activations"),
        (dict(weight_type="int8"), "W4A8Int requires int4 weights, got int8"),
        (dict(group_size=48), "Group size (48) not supported by W4A8Int, must be a multiple of 32"),
        (dict(partition_weight_shape=(250, 64)), "in/out sizes (250, 64) must be multiples of 8"),
    ]
    for change, message in cases:
        c = copy.replace(ok, **change) if hasattr(copy, "replace") else w4a8.LayerConfig(**{**ok.__dict__, **change})
        assert w4a8.W4A8IntLinearKernel.can_implement(c) == (False, message)
    assert w4a8.W4A8IntLinearKernel.get_min_capability() == 80


def test_errors_raise_with_the_librarys_message():
    g = torch.Generator().manual_seed(3)
    q, s, z, B, B_scale, B_zp = random_op_operands(4, 16, 64, 32, False, g)
    with pytest.raises(RuntimeError, match="group_size"):
        w4a8.int4_gemm_w4a8(q, s, z, B, B_scale, B_zp, 48)
    with pytest.raises(RuntimeError, match="A"):
        w4a8.int4_gemm_w4a8(q.float(), s, z, B, B_scale, B_zp, 32)
    with pytest.raises(RuntimeError, match="B_scale"):
        w4a8.int4_gemm_w4a8(q, s, z, B, B_scale[:1], B_zp, 32)
    with pytest.raises(RuntimeError, match="contiguous"):
        w4a8.dynamic_per_token_int8_quant(torch.randn(8, 64).half().t())
    with pytest.raises(RuntimeError, match="NaN|Inf|finite"):
        w4a8.dynamic_per_token_int8_quant(torch.tensor([[1.0, float("nan")] * 4]).half())
    lin = w4a8.W4A8Linear.from_float(torch.nn.Linear(64, 16), group_size=32)
    with pytest.raises(RuntimeError, match="in_features=64"):
        lin(torch.randn(2, 32).half())
    prepared = lin._prepared_for(torch.device("cpu"))
    handle = prepared.handle.clone()
    torch.ops.w4a8.release_linear(handle)
    with pytest.raises(RuntimeError, match="released or never prepared"):
        torch.ops.w4a8.linear(torch.randn(1, 64).half(), handle, 16)
    prepared.handle = None  # already released above
    with pytest.raises(RuntimeError, match="handle"):
        torch.ops.w4a8.linear(torch.randn(1, 64).half(), torch.zeros(2), 16)
    with pytest.raises(ValueError, match="Group size"):
        w4a8.W4A8IntLinearKernel(w4a8.LayerConfig(partition_weight_shape=(64, 16), group_size=40))


@pytest.mark.parametrize("symmetric", [True, False])
def test_from_float_and_tracing(symmetric):
    torch.manual_seed(0)
    dense = torch.nn.Linear(256, 96)
    layer = w4a8.W4A8Linear.from_float(dense, group_size=128, symmetric=symmetric)
    values, scales, zp = w4a8.quantize_weights_int4(dense.weight.detach().half(), 128, symmetric)
    assert torch.equal(layer.weight_packed, w4a8.pack_int4(values)) and torch.equal(layer.weight_scale, scales)
    x = torch.randn(4, 256)
    y = layer(x.half())
    assert rel(y, dense(x)) < 0.1  # int4 quantization error of random weights, not a bug bound
    traced = torch.jit.trace(torch.nn.Sequential(layer), (x.half(),))
    assert torch.equal(traced(x.half()), y)


def test_meta_tensors_give_shapes_without_running():
    x = torch.empty(3, 5, 256, device="meta", dtype=torch.float16)
    q, s, z = torch.ops.w4a8.dynamic_per_token_int8_quant(x, True)
    assert q.shape == x.shape and q.device.type == "meta" and s.shape == (3, 5, 1) and z.dtype == torch.int32
    A = torch.empty(7, 256, device="meta", dtype=torch.int8)
    B = torch.empty(32, 48, device="meta", dtype=torch.int32)
    y = torch.ops.w4a8.int4_gemm_w4a8(A, torch.empty(7, 1, device="meta"), torch.empty(7, 1, device="meta"), B,
                                      torch.empty(2, 48, device="meta"), torch.empty(1, device="meta"), 128)
    assert y.shape == (7, 48) and y.dtype == torch.float16
    h = torch.empty((), device="meta", dtype=torch.int64)
    assert torch.ops.w4a8.linear(x, h, 64).shape == (3, 5, 64)


# ---- w4a8.convert: a model's nn.Linear layers from a compressed-tensors folder ----

_ST = {torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32", torch.int8: "I8", torch.int32: "I32",
       torch.int64: "I64"}


def write_safetensors(path, tensors):
    """A minimal safetensors writer, independent of the package's reader."""
    import json
    import struct
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _ST[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def ct_config(fmt, group, symmetric, act_symmetric=True):
    weights = {"num_bits": 4, "type": "int", "symmetric": symmetric, "strategy": "group" if group > 0 else "channel",
               "group_size": group if group > 0 else None, "dynamic": False}
    acts = {"num_bits": 8, "type": "int", "symmetric": act_symmetric, "strategy": "token", "dynamic": True}
    return {"quantization_config": {"quant_method": "compressed-tensors", "format": fmt, "ignore": ["head"],
                                    "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights,
                                                                  "input_activations": acts}}}}


def pack_words(u):
    """[R, C] unsigned nibbles -> [R, C/8] int32 words."""
    shifts = torch.arange(0, 32, 4, dtype=torch.int64)
    words = (u.reshape(u.shape[0], -1, 8) << shifts).sum(-1)
    return (words - (words >= 2**31).to(torch.int64) * 2**32).to(torch.int32)


class TinyModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch.nn.Linear(128, 64)
        self.norm = torch.nn.LayerNorm(64)
        self.down = torch.nn.Linear(64, 128, bias=False)
        self.head = torch.nn.Linear(128, 16)  # kept dense (the config's ignore list)

    def forward(self, x):
        return self.head(self.down(self.norm(self.up(x))))


@pytest.mark.parametrize("fmt,group,symmetric,act_order",
                         [("pack-quantized", 32, True, False), ("int-quantized", -1, True, False),
                          ("pack-quantized", 64, False, True), ("int-quantized", 32, False, False)])
def test_convert_builds_the_layers_a_checkpoint_describes(tmp_path, fmt, group, symmetric, act_order):
    import json
    g = torch.Generator().manual_seed(5)
    dtype = torch.float16
    tensors, layers = {}, {}
    for name, (n, k, bias) in {"up": (64, 128, True), "down": (128, 64, False)}.items():
        groups = 1 if group == -1 else k // group
        values = torch.randint(-8, 8, (n, k), generator=g, dtype=torch.int8)
        scales = (torch.rand(n, groups, generator=g) * 0.05 + 0.01).to(dtype)
        zp = torch.randint(-8, 8, (n, groups), generator=g, dtype=torch.int8) if not symmetric else None
        g_idx = (torch.arange(k) * 5 % groups).to(torch.int32) if act_order else None
        b = (torch.randn(n, generator=g) * 0.1).to(dtype) if bias else None
        layers[name] = (values, scales, zp, g_idx, b)
        if fmt == "pack-quantized":  # eight values per int32, value i at bits 4i..4i+3, stored as value + 8
            tensors[f"{name}.weight_packed"] = pack_words(values.to(torch.int64) + 8)
            tensors[f"{name}.weight_shape"] = torch.tensor([n, k], dtype=torch.int64)
            if zp is not None:  # packed along N: [N/8, G]
                tensors[f"{name}.weight_zero_point"] = pack_words(zp.t().to(torch.int64) + 8).t().contiguous()
        else:
            tensors[f"{name}.weight"] = values
            if zp is not None:
                tensors[f"{name}.weight_zero_point"] = zp
        tensors[f"{name}.weight_scale"] = scales
        if g_idx is not None:
            tensors[f"{name}.weight_g_idx"] = g_idx
        if b is not None:
            tensors[f"{name}.bias"] = b
    norm_w, head_w = (torch.rand(64, generator=g) + 0.5).to(dtype), (torch.randn(16, 128, generator=g) * 0.1).to(dtype)
    tensors.update({"norm.weight": norm_w, "norm.bias": torch.zeros(64, dtype=dtype), "head.weight": head_w,
                    "head.bias": torch.zeros(16, dtype=dtype)})
    write_safetensors(str(tmp_path / "model.safetensors"), tensors)
    (tmp_path / "config.json").write_text(json.dumps(ct_config(fmt, group, symmetric)))

    model = TinyModel().to(dtype)
    assert w4a8.convert(model, str(tmp_path), backend="cpu") == ["up", "down"]
    assert isinstance(model.up, w4a8.W4A8Linear) and isinstance(model.down, w4a8.W4A8Linear)
    assert isinstance(model.head, torch.nn.Linear) and torch.equal(model.head.weight, head_w)
    assert torch.equal(model.norm.weight, norm_w)
    # Each converted layer against the float64 evaluation of SPEC.md's formula on the hand-made values.
    for name, (values, scales, zp, g_idx, b) in layers.items():
        n, k = values.shape
        gs = k if group == -1 else group
        grp = g_idx.long() if g_idx is not None else torch.arange(k) // gs
        w = (values.double() - (zp.double()[:, grp] if zp is not None else 0)) * scales.double()[:, grp]
        x = (torch.randn(5, k, generator=g) * 2).to(dtype)
        q, s, _ = per_token_quant(x)
        want = (q.double() * s.double().reshape(-1, 1)) @ w.t() + (b.double() if b is not None else 0)
        got = getattr(model, name)(x)
        assert got.dtype == dtype and rel(got, want) < 1e-3, name


def test_convert_says_where_a_checkpoint_and_the_model_disagree(tmp_path):
    import json
    dtype = torch.float16
    values = torch.zeros(64, 128, dtype=torch.int8)
    tensors = {"up.weight": values, "up.weight_scale": torch.ones(64, 4, dtype=dtype), "stray.weight": torch.ones(3)}
    write_safetensors(str(tmp_path / "model.safetensors"), tensors)
    (tmp_path / "config.json").write_text(json.dumps(ct_config("int-quantized", 32, True)))
    with pytest.warns(UserWarning, match="1 tensor\\(s\\) match no parameter or buffer of the model and were not "
                                         "loaded: stray.weight"):
        w4a8.convert(TinyModel().to(dtype), str(tmp_path))
    tensors["gone.weight_scale"] = torch.ones(8, 1, dtype=dtype)
    write_safetensors(str(tmp_path / "model.safetensors"), tensors)
    with pytest.raises(ValueError, match="'gone.weight_scale' belongs to a quantized layer that is no nn.Linear"):
        w4a8.convert(TinyModel().to(dtype), str(tmp_path))
    tensors = {"up.weight": torch.zeros(64, 64, dtype=torch.int8), "up.weight_scale": torch.ones(64, 2, dtype=dtype)}
    write_safetensors(str(tmp_path / "model.safetensors"), tensors)
    with pytest.raises(ValueError, match="do not fit a 64x128 layer"):
        w4a8.convert(TinyModel().to(dtype), str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["X"]}))
    with pytest.raises(ValueError, match="no compressed-tensors quantization_config"):
        w4a8.convert(TinyModel().to(dtype), str(tmp_path))
