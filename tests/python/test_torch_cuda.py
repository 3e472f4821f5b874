"""The PyTorch op on a GPU: CUDA results equal the CPU ones, the seed's flow
on a CUDA layer, CUDA graph capture and replay of apply_weights, and
torch.compile of a module that uses the op (torch 2.x)."""
import copy

import pytest
import torch

import w4a8
from spec_reference import SeedKernel
from test_torch_ops import make_layer, random_op_operands, rel

CUDA = torch.device("cuda")


def test_per_token_quant_on_the_gpu_equals_the_cpu():
    x = (torch.randn(37, 4096) * 4).half()
    for a, b in zip(w4a8.dynamic_per_token_int8_quant(x.to(CUDA)), w4a8.dynamic_per_token_int8_quant(x)):
        assert torch.equal(a.cpu(), b)


def test_asymmetric_and_static_quant_on_the_gpu_equal_the_cpu():
    x = (torch.rand(37, 4096) * 5 - 1).half()
    for a, b in zip(w4a8.dynamic_per_token_int8_quant(x.to(CUDA), False), w4a8.dynamic_per_token_int8_quant(x, False)):
        assert torch.equal(a.cpu(), b)
    scale, zp = torch.tensor([0.021], dtype=torch.float16), torch.tensor([-13], dtype=torch.int8)
    assert torch.equal(w4a8.static_int8_quant(x.to(CUDA), scale.to(CUDA), zp.to(CUDA)).cpu(),
                       w4a8.static_int8_quant(x, scale, zp))


@pytest.mark.parametrize("scheme", ["dynamic_asym", "static", "static_zp"])
def test_activation_schemes_on_the_gpu_equal_the_cpu(scheme):
    n, k, group = 256, 1024, 128
    g = torch.Generator().manual_seed(21)
    packed = w4a8.pack_int4(torch.randint(-8, 8, (n, k), generator=g, dtype=torch.int8))
    scale_ng = (torch.rand(n, k // group, generator=g) * 0.02 + 0.001).half()
    kw = {"act_symmetric": scheme == "static"}
    if scheme != "dynamic_asym":
        kw["input_scale"] = torch.tensor([0.02], dtype=torch.float16)
    if scheme == "static_zp":
        kw["input_zero_point"] = torch.tensor([-21], dtype=torch.int8)
    cpu = w4a8.PreparedLinear(packed, scale_ng, group, **kw)
    gpu = w4a8.PreparedLinear(packed.to(CUDA), scale_ng.to(CUDA), group, **kw)
    for m in (1, 19, 300):
        x = (torch.rand(m, k, generator=g) * 3 - 0.5).half()
        assert rel(gpu(x.to(CUDA)).cpu(), cpu(x).double()) <= 2e-3


@pytest.mark.parametrize("asym", [False, True])
def test_int4_gemm_w4a8_on_the_gpu_equals_the_cpu(asym):
    g = torch.Generator().manual_seed(5)
    ops = random_op_operands(19, 256, 1024, 128, asym, g)
    cpu = w4a8.int4_gemm_w4a8(*ops, 128)
    gpu = w4a8.int4_gemm_w4a8(*[t.to(CUDA) for t in ops], 128)
    assert gpu.device.type == "cuda" and rel(gpu.cpu(), cpu.double()) <= 1e-3


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_seed_flow_on_a_cuda_layer(dtype):
    g = torch.Generator().manual_seed(9)
    n, k, group = 512, 1024, 128
    config = w4a8.LayerConfig(partition_weight_shape=(k, n), act_type=dtype, group_size=group)
    layer = make_layer(n, k, group, dtype, g)
    seed_layer = copy.deepcopy(layer)
    layer = layer.to(CUDA)
    kernel, seed = w4a8.W4A8IntLinearKernel(config), SeedKernel(config)
    kernel.process_weights_after_loading(layer)
    seed.process_weights_after_loading(seed_layer)
    for m in (1, 16, 300):
        x = torch.randn(m, k, generator=g).to(dtype)
        y = kernel.apply_weights(layer, x.to(CUDA), layer.bias)
        assert y.device.type == "cuda"
        assert rel(y.cpu(), seed.apply_weights(seed_layer, x, seed_layer.bias)) <= (1e-3 if dtype == torch.float16 else 4e-3)


def test_act_order_layer_on_the_gpu_equals_the_cpu():
    g = torch.Generator().manual_seed(13)
    n, k, group = 256, 1024, 128
    layer = make_layer(n, k, group, torch.float16, g)
    perm = torch.randperm(k, generator=g)
    g_idx = torch.empty(k, dtype=torch.int32)
    g_idx[perm] = (torch.arange(k) // group).to(torch.int32)
    layer.weight_g_idx = torch.nn.Parameter(g_idx, requires_grad=False)
    gpu_layer = copy.deepcopy(layer).to(CUDA)
    config = w4a8.LayerConfig(partition_weight_shape=(k, n), group_size=group, has_g_idx=True)
    x = torch.randn(9, k, generator=g).half()
    ys = []
    for lay, dev in ((layer, "cpu"), (gpu_layer, CUDA)):
        kernel = w4a8.W4A8IntLinearKernel(config, w_gidx_param_name="weight_g_idx")
        kernel.process_weights_after_loading(lay)
        ys.append(kernel.apply_weights(lay, x.to(dev), lay.bias).cpu())
        lay._w4a8_prepared = None  # and through the seed's two ops
        ys.append(kernel.apply_weights(lay, x.to(dev), lay.bias).cpu())
    for y in ys[1:]:
        assert rel(y, ys[0]) <= 1e-3


def test_apply_weights_replays_in_a_cuda_graph():
    g = torch.Generator().manual_seed(11)
    n, k = 1024, 2048
    config = w4a8.LayerConfig(partition_weight_shape=(k, n), act_type=torch.float16, group_size=128)
    layer = make_layer(n, k, 128, torch.float16, g).to(CUDA)
    kernel = w4a8.W4A8IntLinearKernel(config)
    kernel.process_weights_after_loading(layer)
    static_x = torch.randn(8, k, generator=g).half().to(CUDA)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside the graph, as torch asks
        kernel.apply_weights(layer, static_x, layer.bias)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_y = kernel.apply_weights(layer, static_x, layer.bias)
    for seed in range(3):
        x = torch.randn(8, k, generator=torch.Generator().manual_seed(seed)).half().to(CUDA)
        static_x.copy_(x)
        graph.replay()
        torch.cuda.synchronize()
        assert torch.equal(static_y, kernel.apply_weights(layer, x, layer.bias))


@pytest.mark.skipif(not hasattr(torch, "compile"), reason="torch.compile needs torch 2.x")
def test_torch_compile_runs_a_module_with_the_op():
    torch.manual_seed(0)
    model = torch.nn.Sequential(w4a8.W4A8Linear.from_float(torch.nn.Linear(1024, 512)), torch.nn.ReLU(),
                                w4a8.W4A8Linear.from_float(torch.nn.Linear(512, 256))).to(CUDA)
    x = torch.randn(4, 1024, device=CUDA, dtype=torch.float16)
    eager = model(x)
    compiled = torch.compile(model, fullgraph=True)
    assert torch.equal(compiled(x), eager)
