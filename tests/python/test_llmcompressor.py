"""Checkpoints from the real producer and the current format package.

llm-compressor's own `oneshot` (RTN and GPTQ, group and channel, symmetric and
asymmetric, GPTQ with activation ordering) quantizes a tiny Llama to W4A8;
each checkpoint must pass `w4a8 inspect`, run in `w4a8 run` on every CPU
backend, and, through `w4a8.convert`, give per layer what compressed-tensors'
own decompression (transformers' loader, run_compressed=False) followed by a
float matmul gives, within SPEC.md's 1e-3. The other way round, checkpoints
written by `w4a8 quantize` load in the current compressed-tensors and
decompress to exactly the weights they hold.

Runs with the Python of scripts/llmc-env (w4a8 installed into it); W4A8_CLI
names the `w4a8` tool.
"""
import json
import os
import subprocess

import pytest
import torch

transformers = pytest.importorskip("transformers")
pytest.importorskip("llmcompressor")
pytest.importorskip("compressed_tensors")
import w4a8  # noqa: E402
from datasets import Dataset  # noqa: E402
from llmcompressor import oneshot  # noqa: E402
from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HIDDEN, INTER, LAYERS, VOCAB = 256, 512, 2, 512
QUANTIZED = 7 * LAYERS
DTYPE = torch.float16
BACKENDS = ["cpu", "reference"]


def cli():
    path = os.environ.get("W4A8_CLI")
    if not path or not os.path.exists(path):
        pytest.skip("W4A8_CLI does not name the w4a8 tool")
    return path


def run_cli(*args):
    r = subprocess.run([cli(), *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, f"w4a8 {' '.join(map(str, args))}: {r.stdout}{r.stderr}"
    return r.stdout


@pytest.fixture(scope="session")
def dense(tmp_path_factory):
    """A tiny Llama in fp16 with biases, and a word-level tokenizer (llm-compressor wants a processor)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    d = tmp_path_factory.mktemp("dense")
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=LAYERS,
                                   num_attention_heads=4, num_key_value_heads=4, vocab_size=VOCAB,
                                   max_position_embeddings=256, attention_bias=True, mlp_bias=True,
                                   tie_word_embeddings=False, initializer_range=0.05)
    model = transformers.LlamaForCausalLM(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.normal_(0.0, 0.05)
    model.to(DTYPE).save_pretrained(d)
    tk = Tokenizer(models.WordLevel({f"t{i}": i for i in range(VOCAB)}, unk_token="t0"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    transformers.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="t0", pad_token="t0", bos_token="t1",
                                         eos_token="t2").save_pretrained(d)
    return d


def scheme(strategy, group=None, symmetric=True):
    return {"group_0": {"targets": ["Linear"],
                        "weights": {"num_bits": 4, "type": "int", "symmetric": symmetric, "strategy": strategy,
                                    "group_size": group},
                        "input_activations": {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "token",
                                              "dynamic": True}}}


# name -> (recipe, format). "W4A8" is compressed-tensors' preset (group 128, symmetric).
RECIPES = {
    "rtn-preset": (lambda: QuantizationModifier(targets="Linear", scheme="W4A8", ignore=["lm_head"]), None),
    "rtn-preset-packed": (lambda: QuantizationModifier(targets="Linear", scheme="W4A8", ignore=["lm_head"]),
                          "pack-quantized"),
    "rtn-channel": (lambda: QuantizationModifier(config_groups=scheme("channel"), ignore=["lm_head"]), None),
    "rtn-group64-asym-packed": (lambda: QuantizationModifier(config_groups=scheme("group", 64, False),
                                                             ignore=["lm_head"]), "pack-quantized"),
    "gptq-preset": (lambda: GPTQModifier(targets="Linear", scheme="W4A8", ignore=["lm_head"]), None),
    "gptq-preset-actorder": (lambda: GPTQModifier(targets="Linear", scheme="W4A8", ignore=["lm_head"],
                                                  actorder="weight"), "pack-quantized"),
    "gptq-channel": (lambda: GPTQModifier(config_groups=scheme("channel"), ignore=["lm_head"]), None),
}


@pytest.fixture(scope="session")
def produced(dense, tmp_path_factory):
    """Every recipe run once by llm-compressor on the dense model, saved compressed."""
    root = tmp_path_factory.mktemp("llmc")
    tok = transformers.AutoTokenizer.from_pretrained(dense)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, VOCAB, (8, 32), generator=g)
    data = Dataset.from_dict({"input_ids": ids.tolist(), "attention_mask": torch.ones_like(ids).tolist()})
    out = {}
    for name, (recipe, fmt) in RECIPES.items():
        model = transformers.AutoModelForCausalLM.from_pretrained(dense, dtype=DTYPE)
        oneshot(model=model, processor=tok, dataset=data, recipe=recipe(), max_seq_length=32,
                num_calibration_samples=8)
        model.save_pretrained(root / name, save_compressed=True, quantization_format=fmt)
        out[name] = root / name
    return out


def decompressed(folder):
    """compressed-tensors' own reading of a checkpoint: transformers' loader, weights decompressed."""
    return transformers.AutoModelForCausalLM.from_pretrained(
        folder, dtype=DTYPE, quantization_config=transformers.CompressedTensorsConfig(run_compressed=False))


def fake_quant(x):
    """SPEC.md's per-token int8 rule in float64: the scale rounded to x's dtype, round half to even."""
    x32 = x.float()
    s = torch.clamp(x32.abs().amax(-1, keepdim=True) / 127.0, min=1e-5).to(x.dtype).double()
    return torch.clamp(torch.round(x.double() / s), -128, 127) * s


def rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


@pytest.mark.parametrize("name", list(RECIPES))
def test_llm_compressor_checkpoint_runs_on_w4a8(produced, name):
    folder = produced[name]
    qcfg = json.loads((folder / "config.json").read_text())["quantization_config"]
    assert qcfg["quant_method"] == "compressed-tensors"
    out = run_cli("inspect", folder)
    assert f"{QUANTIZED} of {QUANTIZED + 2} layers run on w4a8" in out, out
    for backend in BACKENDS:
        out = run_cli("run", folder, "--layer", "model.layers.1.mlp.down_proj", "--tokens", 4, "--backend", backend)
        assert f"on backend '{backend}'" in out, out

    theirs = decompressed(folder)
    layers = {n: m for n, m in theirs.named_modules() if isinstance(m, torch.nn.Linear) and n != "lm_head"}
    assert len(layers) == QUANTIZED
    g = torch.Generator().manual_seed(2)
    for backend in BACKENDS:
        ours = transformers.AutoModelForCausalLM.from_config(theirs.config).to(DTYPE)
        assert len(w4a8.convert(ours, str(folder), backend=backend)) == QUANTIZED
        for lname, ref in layers.items():
            layer = ours.get_submodule(lname)
            assert isinstance(layer, w4a8.W4A8Linear), lname
            x = (torch.randn(5, ref.in_features, generator=g) * 2).to(DTYPE)
            want = fake_quant(x) @ ref.weight.double().t()
            if ref.bias is not None:
                want += ref.bias.double()
            err = rel(layer(x), want)
            assert err < 1e-3, f"{name} {backend} {lname}: relative error {err:.2e}"


@pytest.mark.parametrize("fmt,group,symmetric", [("pack-quantized", 128, True), ("int-quantized", -1, True),
                                                 ("pack-quantized", 64, False), ("int-quantized", 128, False)])
def test_w4a8_checkpoints_load_in_current_compressed_tensors(dense, tmp_path, fmt, group, symmetric):
    out = tmp_path / "w4a8"
    args = ["quantize", dense, out, "--format", fmt, "--group-size", group]
    run_cli(*args, *([] if symmetric else ["--asymmetric"]))
    ours = {}
    for f in os.listdir(out):
        if f.endswith(".safetensors"):
            ours.update(load_file(str(out / f)))
    theirs = decompressed(out)
    checked = 0
    for lname, mod in theirs.named_modules():
        if not isinstance(mod, torch.nn.Linear) or lname + ".weight_scale" not in ours:
            continue
        n, k = mod.weight.shape
        if fmt == "pack-quantized":
            shifts = torch.arange(0, 32, 4, dtype=torch.int32)
            values = (((ours[lname + ".weight_packed"].unsqueeze(-1) >> shifts) & 0xF) - 8).reshape(n, k)
        else:
            values = ours[lname + ".weight"]
        scale = ours[lname + ".weight_scale"]
        gs = k // scale.shape[1]
        zp = torch.zeros_like(scale, dtype=torch.int32)
        if not symmetric:
            z = ours[lname + ".weight_zero_point"]
            if fmt == "pack-quantized":  # [N/8, G] packed along N
                z = (((z.unsqueeze(1) >> torch.arange(0, 32, 4, dtype=torch.int32).view(1, 8, 1)) & 0xF) - 8)
                z = z.reshape(n, -1)
            zp = z.to(torch.int32)
        expect = ((values.float() - zp.float().repeat_interleave(gs, 1)) * scale.float().repeat_interleave(gs, 1))
        diff = (mod.weight.float() - expect.to(DTYPE).float()).abs().max().item()
        assert diff == 0.0, f"{fmt} group {group} {'sym' if symmetric else 'asym'} {lname}: max difference {diff}"
        checked += 1
    assert checked == QUANTIZED
