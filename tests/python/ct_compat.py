"""Imports compressed-tensors on the torch that Debian 12 ships (1.13).

compressed-tensors 0.12 reads two torch >= 2.1 names at import time:
`torch.compile` (a decorator on an fp4 helper) and `torch.float8_e4m3fn`
(its fp8/fp4 lookup tables call torch.finfo on it). The int4/int8 paths our
tests use touch neither. Where they are missing we give `torch.compile` an
identity stand-in and float8_e4m3fn the float64 dtype as a placeholder, so
the package's own packer, quantizer and config models run unchanged; no test
here feeds float64 to compressed-tensors. safetensors builds its dtype tables
from torch when it is imported, so it is imported first and never sees the
placeholder. On a torch that has these names, nothing is changed.
"""
import safetensors.torch  # noqa: F401  (before the placeholder, see above)
import torch

if not hasattr(torch, "compile"):
    def _identity_compile(fn=None, **_kwargs):
        return fn if fn is not None else (lambda f: f)
    torch.compile = _identity_compile

if not hasattr(torch, "float8_e4m3fn"):
    torch.float8_e4m3fn = torch.float64

import compressed_tensors  # noqa: E402,F401
