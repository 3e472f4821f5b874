"""Writes tests/data/ct_golden.safetensors once: float weights and what
compressed-tensors' own quantizer makes of them (int4 values, scales, zero
points), for fp16 and bf16, group 128 symmetric, group 64 asymmetric and per
channel. tests/test_weight_quant.cpp compares quantize_weights_int4 with it
bit for bit, so the rounding rule is checked on machines without PyPI.

    PY tests/python/make_ct_golden.py
with a Python that has torch >= 2.1, safetensors and compressed-tensors
(the one scripts/vllm-env prints; written with compressed-tensors 0.17.0 and
torch 2.13.0 - Debian's torch 1.13 cannot run the package's fp16 path).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ct_compat  # noqa: F401,E402  (before compressed_tensors: see ct_compat.py)
import compressed_tensors  # noqa: E402
import torch  # noqa: E402
from compressed_tensors.quantization import QuantizationArgs  # noqa: E402
from compressed_tensors.quantization.lifecycle.forward import quantize  # noqa: E402
from compressed_tensors.quantization.utils import calculate_qparams  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

N, K = 24, 256
CASES = {"g128_sym": (128, True), "g64_asym": (64, False), "channel_sym": (-1, True)}


def main():
    g = torch.Generator().manual_seed(2026)
    base = torch.randn(N, K, generator=g) * 0.05
    base[0, :8] = torch.tensor([0.7, -0.7, 0.35, -0.35, 0.0, 1e-4, -1e-4, 0.1])  # ties and tiny values
    out = {}
    for dtype_name, dtype in (("f16", torch.float16), ("bf16", torch.bfloat16)):
        w = base.to(dtype)
        out[f"{dtype_name}.w"] = w
        for case, (group, symmetric) in CASES.items():
            args = QuantizationArgs(num_bits=4, type="int", symmetric=symmetric,
                                    strategy="group" if group > 0 else "channel",
                                    group_size=group if group > 0 else None)
            gs = group if group > 0 else K
            grouped = w.reshape(N, K // gs, gs)
            scale, zp = calculate_qparams(grouped.amin(dim=2), grouped.amax(dim=2), args)
            values = quantize(w, scale, zp, args, dtype=torch.int8)
            out[f"{dtype_name}.{case}.values"] = values.contiguous()
            out[f"{dtype_name}.{case}.scales"] = scale.to(dtype).reshape(N, -1).contiguous()
            out[f"{dtype_name}.{case}.zero_points"] = zp.to(torch.int8).reshape(N, -1).contiguous()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "ct_golden.safetensors")
    save_file(out, path, metadata={"producer": f"compressed-tensors {compressed_tensors.__version__}"})
    print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
