"""w4a8 inside the real vLLM (vllm-cpu, x86): checkpoints made and quantized by
this project are served by vllm.LLM and `vllm serve`, every quantized layer runs
on w4a8, and the logits match a plain-torch evaluation of the same checkpoint.

Runs with the Python of scripts/vllm-env, the w4a8 package installed into it
(`pip install .`); W4A8_CLI names the `w4a8` tool.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import torch

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")  # apply_model sends a function to the workers
os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "0|1" if (os.cpu_count() or 1) >= 2 else "0")

vllm = pytest.importorskip("vllm")
transformers = pytest.importorskip("transformers")

HIDDEN, INTER, LAYERS, VOCAB = 256, 512, 2, 512
PROMPT = [1, 17, 250, 33, 401, 7, 99, 300, 12, 64, 128, 5]
# The model runs in fp16, the seed's recommended dtype (and in bf16 vLLM's CPU
# attention takes its AMX path, which some virtual machines trap as an illegal
# instruction). The reference is plain torch in fp16 with the checkpoint's
# dequantized weights and SPEC.md's per-token int8 rule on every quantized
# layer's input. The dense model in vLLM and in torch agree within 0.02 here;
# the quantized ones differ more, because a last-bit difference in the fp16
# residual stream (vLLM's fused kernels against torch's) moves an activation
# across an int8 rounding boundary now and then, and the wide lm_head (x8, so
# greedy choices are clear) amplifies it: measured up to 0.42, mean 0.16, on
# log-probabilities between -3 and -30. Quantization itself moves them by 1.5
# on average, so a layer that ran unquantized or as W4A16, or with wrong
# weights, fails RATIO.
LOGPROB_MAX, LOGPROB_MEAN, RATIO = 0.75, 0.3, 0.3
MARGIN = 0.5


def w4a8_cli():
    cli = os.environ.get("W4A8_CLI")
    if not cli or not os.path.exists(cli):
        pytest.skip("W4A8_CLI does not name the w4a8 tool")
    return cli


@pytest.fixture(scope="session")
def dense_model(tmp_path_factory):
    """A tiny Llama with biases, its logits spread wide (a large lm_head) so greedy choices are clear."""
    d = tmp_path_factory.mktemp("dense")
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=LAYERS,
                                   num_attention_heads=4, num_key_value_heads=4, vocab_size=VOCAB,
                                   max_position_embeddings=256, attention_bias=True, mlp_bias=True,
                                   torch_dtype="bfloat16", tie_word_embeddings=False, initializer_range=0.05)
    model = transformers.LlamaForCausalLM(cfg)
    with torch.no_grad():
        model.lm_head.weight.mul_(8.0)
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.normal_(0.0, 0.05)
    model.to(torch.bfloat16).save_pretrained(d, safe_serialization=True)
    return d


def quantize(dense, out, fmt, group):
    subprocess.run([w4a8_cli(), "quantize", str(dense), str(out), "--format", fmt, "--group-size", str(group),
                    "--overwrite"], check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def checkpoints(dense_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("w4a8")
    return {(fmt, g): quantize(dense_model, root / f"{fmt}-{g}", fmt, g)
            for fmt in ("pack-quantized", "int-quantized") for g in (128, -1)}


def reference_logprobs(dense_dir, quant_dir, tokens, dtype=torch.float16):
    """Plain torch in the model's dtype: the dense model with each quantized layer's weight replaced by the
    checkpoint's dequantized weight (w * s), its input quantized per token to int8 by SPEC.md's rule (the
    scale max|x| / 127 rounded to the activation dtype, q = round-half-even(x / s))."""
    from safetensors.torch import load_file
    model = transformers.LlamaForCausalLM.from_pretrained(dense_dir, torch_dtype=dtype)
    tensors = {}
    for f in os.listdir(quant_dir):
        if f.endswith(".safetensors"):
            tensors.update(load_file(os.path.join(quant_dir, f)))
    with open(os.path.join(quant_dir, "config.json")) as f:
        qcfg = json.load(f)["quantization_config"]
    group = next(iter(qcfg["config_groups"].values()))["weights"].get("group_size") or None

    def unpack(p):  # [R, C/8] int32 -> [R, C] in -8..7
        shifts = torch.arange(0, 32, 4, dtype=torch.int32)
        return (((p.unsqueeze(-1) >> shifts) & 0xF) - 8).reshape(p.shape[0], -1)

    def fake_quant_input(module, args):
        x = args[0].float()
        s = torch.clamp(x.abs().amax(-1, keepdim=True) / 127.0, min=1e-5).to(dtype).float()
        return ((torch.clamp(torch.round(x / s), -128, 127) * s).to(dtype),)

    replaced = 0
    for name, mod in model.named_modules():
        if not isinstance(mod, torch.nn.Linear):
            continue
        if name + ".weight_packed" in tensors:
            w = unpack(tensors[name + ".weight_packed"]).float()
        elif name + ".weight_scale" in tensors:
            w = tensors[name + ".weight"].float()
        else:
            continue
        n, k = w.shape
        s = tensors[name + ".weight_scale"].float()
        g = k // s.shape[1]
        w = w * s.repeat_interleave(g, dim=1)
        with torch.no_grad():
            mod.weight.copy_(w.to(dtype))
        mod.register_forward_pre_hook(fake_quant_input)
        replaced += 1
    assert replaced == 7 * LAYERS, f"quantized layers found in the checkpoint: {replaced}"
    with torch.no_grad():
        logits = model(torch.tensor([tokens])).logits[0].float()
    return torch.log_softmax(logits, dim=-1), group


def run_llm(model_dir, tp=1):
    llm = vllm.LLM(model=str(model_dir), enforce_eager=True, skip_tokenizer_init=True, dtype="float16",
                   max_model_len=128, tensor_parallel_size=tp, seed=0)
    params = vllm.SamplingParams(max_tokens=6, temperature=0.0, logprobs=2, prompt_logprobs=1, detokenize=False)
    out = llm.generate([{"prompt_token_ids": PROMPT}], params)[0]
    from w4a8.vllm_plugin import layer_kernels
    kernels = llm.apply_model(layer_kernels)  # one dict per worker
    del llm
    return out, kernels


def check_against_reference(out, dense_dir, quant_dir):
    gen = list(out.outputs[0].token_ids)
    ref, _ = reference_logprobs(dense_dir, quant_dir, PROMPT + gen)
    model = transformers.LlamaForCausalLM.from_pretrained(dense_dir, torch_dtype=torch.float16)
    with torch.no_grad():
        dense = torch.log_softmax(model(torch.tensor([PROMPT])).logits[0].float(), dim=-1)
    # Prompt positions 1..: the log-probability vLLM gives the actual next prompt token.
    diffs, quant_effect = [], []
    for i, lp in enumerate(out.prompt_logprobs):
        if lp is None:
            continue
        tok = PROMPT[i]
        diffs.append(abs(lp[tok].logprob - ref[i - 1, tok].item()))
        quant_effect.append(abs(ref[i - 1, tok].item() - dense[i - 1, tok].item()))
    worst, mean = max(diffs), sum(diffs) / len(diffs)
    effect = sum(quant_effect) / len(quant_effect)
    assert worst < LOGPROB_MAX and mean < LOGPROB_MEAN, (
        f"prompt log-probabilities differ from plain torch by up to {worst:.3f} (mean {mean:.3f})")
    assert mean < RATIO * effect, f"vLLM is {mean:.3f} from the quantized reference, which is {effect:.3f} from dense"
    # Greedy tokens: each one is the reference's argmax wherever that choice is clear.
    for j, tok in enumerate(gen):
        row = ref[len(PROMPT) - 1 + j]
        top2 = torch.topk(row, 2).values
        if (top2[0] - top2[1]).item() > MARGIN:
            assert tok == int(row.argmax()), f"generated token {j}: vLLM {tok}, plain torch {int(row.argmax())}"
    return gen


@pytest.mark.parametrize("fmt,group", [("pack-quantized", 128), ("pack-quantized", -1), ("int-quantized", 128),
                                       ("int-quantized", -1)])
def test_vllm_runs_every_quantized_layer_on_w4a8(checkpoints, dense_model, fmt, group):
    out, kernels = run_llm(checkpoints[(fmt, group)])
    layers = kernels[0]
    # vLLM fuses q/k/v and gate/up: qkv_proj, o_proj, gate_up_proj, down_proj per layer.
    assert len(layers) == 4 * LAYERS, layers
    for name, (scheme, kernel) in layers.items():
        assert (scheme, kernel) == ("W4A8Scheme", "W4A8LinearKernel"), f"{name}: {scheme} / {kernel}"
    check_against_reference(out, dense_model, checkpoints[(fmt, group)])


def test_tensor_parallel_two_gives_the_tokens_of_one(checkpoints, dense_model):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("tensor parallelism on the CPU needs two cores")
    ckpt = checkpoints[("pack-quantized", 128)]
    one, _ = run_llm(ckpt, tp=1)
    two, kernels = run_llm(ckpt, tp=2)
    assert len(kernels) == 2 and all(len(k) == 4 * LAYERS for k in kernels)
    assert all(v == ("W4A8Scheme", "W4A8LinearKernel") for k in kernels for v in k.values())
    # A row-parallel shard quantizes its own slice of each token (vLLM's rule for every dynamic int8
    # scheme), so TP = 2's logits differ slightly from TP = 1's: the tokens must agree up to the first
    # step where TP = 1's top two candidates are within MARGIN (after that the sequences may part).
    a, b = list(one.outputs[0].token_ids), list(two.outputs[0].token_ids)
    for j, (ta, tb) in enumerate(zip(a, b)):
        top2 = sorted((lp.logprob for lp in one.outputs[0].logprobs[j].values()), reverse=True)[:2]
        if len(top2) == 2 and top2[0] - top2[1] < MARGIN:
            break
        assert ta == tb, f"TP 2 token {j} is {tb}, TP 1 gave {ta}: {b} against {a}"
    check_against_reference(two, dense_model, ckpt)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_vllm_serve_answers_a_completion(checkpoints, tmp_path):
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    # The OpenAI server that `vllm serve` starts. vllm-cpu 0.32.0's `vllm` command itself stops at once:
    # it asks importlib.metadata for the version of a distribution named "vllm", and this one is "vllm-cpu".
    proc = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model",
                             str(checkpoints[("pack-quantized", 128)]), "--host", "127.0.0.1", "--port", str(port),
                             "--enforce-eager", "--skip-tokenizer-init", "--dtype", "float16", "--max-model-len",
                             "128", "--served-model-name", "w4a8-tiny"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while True:
            assert proc.poll() is None, "vllm serve exited: " + (tmp_path / "serve.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                assert time.time() < deadline, "vllm serve did not come up in 300 s"
                time.sleep(2)
        body = json.dumps({"model": "w4a8-tiny", "prompt": PROMPT, "max_tokens": 4, "temperature": 0,
                           "return_token_ids": True}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            answer = json.load(r)
        choice = answer["choices"][0]
        assert choice["finish_reason"] in ("length", "stop"), answer
        assert len(choice.get("token_ids") or []) == 4, answer
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
