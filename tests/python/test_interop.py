"""w4a8's checkpoint code against the format owners' own Python packages.

- safetensors: files it writes load in w4a8 and w4a8 rewrites them byte for
  byte; files w4a8 writes load in it.
- compressed-tensors: checkpoints its compressors write (int-quantized and
  pack-quantized, symmetric and asymmetric, group and channel) load in w4a8
  with the same int4 values, scales and zero points, and w4a8 writes them back
  identically; checkpoints `w4a8 quantize` writes pass its config validation,
  decompress with its decompressor, and hold exactly the values its own
  quantizer computes from the same float weights.
"""
import json
import os
import subprocess

import ct_compat  # noqa: F401  (must come before compressed_tensors)
import pytest
import torch
from safetensors.torch import load_file, save_file

from compressed_tensors.compressors import BaseCompressor
from compressed_tensors.quantization import (QuantizationArgs, QuantizationConfig,
                                             QuantizationScheme)
from compressed_tensors.quantization.lifecycle.forward import quantize
from compressed_tensors.quantization.utils import calculate_qparams

W4A8 = os.environ["W4A8_BIN"]
PROBE = os.environ["W4A8_IO_PROBE"]


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def weight_args(group_size, symmetric):
    return QuantizationArgs(num_bits=4, type="int", symmetric=symmetric,
                            strategy="group" if group_size > 0 else "channel",
                            group_size=group_size if group_size > 0 else None)


ACT_ARGS = QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="token", dynamic=True)


def package_qparams(w, args):
    """Scales and zero points as compressed-tensors computes them (min/max per group)."""
    n, k = w.shape
    g = args.group_size or k
    grouped = w.reshape(n, k // g, g)
    return calculate_qparams(grouped.amin(dim=2), grouped.amax(dim=2), args)


# ---- safetensors -------------------------------------------------------------

def test_safetensors_files_round_trip_byte_for_byte(tmp_path):
    g = torch.Generator().manual_seed(0)
    tensors = {
        "f32": torch.randn(3, 5, generator=g),
        "f16": torch.randn(7, generator=g).half(),
        "bf16": torch.randn(2, 2, 2, generator=g).bfloat16(),
        "f64": torch.randn(3, generator=g).double(),
        "i8": torch.randint(-128, 127, (9,), generator=g, dtype=torch.int8),
        "u8": torch.randint(0, 255, (4, 1), generator=g, dtype=torch.uint8),
        "i16": torch.randint(-999, 999, (3,), generator=g, dtype=torch.int16),
        "i32": torch.randint(-2**31, 2**31 - 1, (6,), generator=g, dtype=torch.int32),
        "i64": torch.tensor([1, -2, 2**40]),
        "bool": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 4),
        "scalar": torch.tensor(3.5),
    }
    theirs = tmp_path / "theirs.safetensors"
    save_file(tensors, str(theirs), metadata={"format": "pt"})
    ours = tmp_path / "ours.safetensors"
    run(PROBE, "copy", theirs, ours)
    assert ours.read_bytes() == theirs.read_bytes()
    back = load_file(str(ours))
    assert back.keys() == tensors.keys()
    for name, t in tensors.items():
        assert back[name].dtype == t.dtype and torch.equal(back[name], t), name


# ---- compressed-tensors checkpoints into w4a8 --------------------------------

CASES = [("int-quantized", 128, True), ("pack-quantized", 128, True),
         ("pack-quantized", -1, True), ("int-quantized", 64, False), ("pack-quantized", 32, False)]


@pytest.mark.parametrize("fmt,group,symmetric", CASES)
def test_package_checkpoints_load_exactly(tmp_path, fmt, group, symmetric):
    g = torch.Generator().manual_seed(1)
    n, k = 48, 256
    w = (torch.randn(n, k, generator=g) * 0.05).bfloat16()
    args = weight_args(group, symmetric)
    scale, zp = package_qparams(w, args)
    scheme = QuantizationScheme(targets=["Linear"], weights=args, input_activations=ACT_ARGS)
    bias = torch.randn(n, generator=g).bfloat16()
    state = {"layer.weight": w, "layer.weight_scale": scale, "layer.weight_zero_point": zp, "layer.bias": bias}
    config = QuantizationConfig(config_groups={"group_0": scheme}, format=fmt, quantization_status="compressed")
    compressor = BaseCompressor.load_from_registry(fmt, config=config)
    compressed = compressor.compress(state, names_to_scheme={"layer": scheme})
    save_file({kk: v.contiguous() for kk, v in compressed.items()}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"quantization_config": config.model_dump()}))

    table = run(W4A8, "inspect", tmp_path)
    assert "1 of 1 layers run on w4a8" in table, table

    run(PROBE, "dump-layer", tmp_path, "layer", tmp_path / "ours.safetensors")
    ours = load_file(str(tmp_path / "ours.safetensors"))
    expected_values = quantize(w, scale, zp, args, dtype=torch.int8)
    assert torch.equal(ours["values"], expected_values)
    assert ours["scales"].dtype == scale.dtype and torch.equal(ours["scales"], scale)
    assert torch.equal(ours["bias"], bias)
    if symmetric:
        assert "zero_points" not in ours
    else:
        assert torch.equal(ours["zero_points"], zp.to(torch.int8))

    # Written back by w4a8: every tensor the package wrote, identical.
    run(PROBE, "reencode", tmp_path, "layer", fmt, tmp_path / "again.safetensors")
    again = load_file(str(tmp_path / "again.safetensors"))
    theirs = load_file(str(tmp_path / "model.safetensors"))
    assert again.keys() == theirs.keys()
    for name in theirs:
        assert again[name].dtype == theirs[name].dtype, name
        assert torch.equal(again[name], theirs[name]), name


# ---- w4a8 quantize into compressed-tensors -----------------------------------

@pytest.mark.parametrize("fmt,group,symmetric", CASES)
def test_w4a8_quantize_is_what_the_package_computes(tmp_path, fmt, group, symmetric):
    g = torch.Generator().manual_seed(2)
    dense = {
        "model.embed_tokens.weight": torch.randn(64, 256, generator=g).bfloat16(),
        "model.layers.0.mlp.up_proj.weight": (torch.randn(96, 256, generator=g) * 0.03).bfloat16(),
        "model.layers.0.mlp.down_proj.weight": (torch.randn(256, 96 if group <= 32 else 128, generator=g) * 0.03).bfloat16(),
        "model.layers.0.input_layernorm.weight": torch.ones(256).bfloat16(),
        "lm_head.weight": torch.randn(64, 256, generator=g).bfloat16(),
    }
    src, out = tmp_path / "dense", tmp_path / "w4a8"
    src.mkdir()
    save_file(dense, str(src / "model.safetensors"), metadata={"format": "pt"})
    (src / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    cmd = [W4A8, "quantize", src, out, "--format", fmt, "--group-size", str(group)]
    if not symmetric:
        cmd.append("--asymmetric")
    run(*cmd)

    cfg = json.loads((out / "config.json").read_text())
    assert cfg["architectures"] == ["LlamaForCausalLM"]
    qcfg = QuantizationConfig.model_validate(cfg["quantization_config"])  # the package's own validation
    assert qcfg.format == fmt and "lm_head" in qcfg.ignore
    scheme = qcfg.config_groups["group_0"]
    assert scheme.input_activations.num_bits == 8 and scheme.input_activations.dynamic
    assert scheme.input_activations.strategy == "token"

    ours = load_file(str(out / "model.safetensors"))
    linears = ["model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj"]
    for name in dense:
        if not any(name.startswith(m + ".") for m in linears):
            assert torch.equal(ours[name], dense[name]), name  # kept as it was
    compressor = BaseCompressor.load_from_registry(fmt, config=qcfg)
    for m in linears:
        w = dense[m + ".weight"]
        scale, zp = package_qparams(w, scheme.weights)
        assert torch.equal(ours[m + ".weight_scale"], scale), m
        values = quantize(w, scale, zp, scheme.weights, dtype=torch.int8)
        # The package's own compressor, fed its own parameters, writes what we wrote.
        state = {m + ".weight": w, m + ".weight_scale": scale, m + ".weight_zero_point": zp}
        theirs = compressor.compress(state, names_to_scheme={m: scheme})
        for key, value in theirs.items():
            assert torch.equal(ours[key], value), key
        if fmt == "int-quantized":
            assert torch.equal(ours[m + ".weight"], values), m
    if symmetric:  # the package cannot decompress packed zero points (it says so itself)
        weights = dict(compressor.decompress(str(out), names_to_scheme={m: scheme for m in linears}))
        for m in linears:
            w = dense[m + ".weight"]
            scale, zp = package_qparams(w, scheme.weights)
            values = quantize(w, scale, zp, scheme.weights, dtype=torch.int8)
            n, k = w.shape
            gs = scheme.weights.group_size or k
            expect = (values.reshape(n, k // gs, gs).float() * scale.float().unsqueeze(-1)).reshape(n, k)
            assert torch.allclose(weights[m]["weight"].float(), expect, rtol=1e-2, atol=0), m
