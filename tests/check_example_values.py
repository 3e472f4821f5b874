#!/usr/bin/env python3
"""Runs examples/basic.cpp's binary and checks the two values it prints
against a computation of its own: the example's weights and activations
rebuilt from their formulas, SPEC.md's rules (weights: compressed-tensors'
symmetric int4 rule, group 128, fp16 scales; activations: per-token int8)
written here in numpy, the integer sums in int64 and the scaling in float64.
Usage: check_example_values.py EXAMPLE_BINARY"""
import re
import subprocess
import sys

import numpy as np

N, K, M, GROUP = 256, 512, 4, 128
f16, f32 = np.float16, np.float32

i = np.arange(N * K, dtype=np.int64)
w = (f32(0.01) * ((i * 7) % 23 - 11).astype(f32)).astype(f16).reshape(N, K)
x = (((np.arange(M * K, dtype=np.int64) * 5) % 17) - 8).astype(f16).reshape(M, K)

# Weights: per group, scale = max(|min|, |max|) / 7.5 in the weight dtype (the
# observer's range includes 0), never below fp32's epsilon; q = round(w / scale).
wg = w.astype(f32).reshape(N, K // GROUP, GROUP)
amax = np.maximum(-np.minimum(wg.min(-1), 0), np.maximum(wg.max(-1), 0))
scale = (amax / f32(7.5)).astype(f16)
scale = np.maximum(scale.astype(f32), f32(2.0**-23)).astype(f16)
quot = (wg / scale.astype(f32)[..., None]).astype(f16).astype(f32)
wq = np.rint(np.clip(quot, -8, 7)).astype(np.int64).reshape(N, K)

# Activations: per token, s = max(|x|) / 127 rounded to fp16 (at least 1e-5), q = round(x / s).
xf = x.astype(f32)
s = np.maximum(np.abs(xf).max(-1) / f32(127), f32(1e-5)).astype(f16).astype(f32)
xq = np.clip(np.rint(xf / s[:, None]), -128, 127).astype(np.int64)

sums = np.einsum("mgk,ngk->mng", xq.reshape(M, K // GROUP, GROUP), wq.reshape(N, K // GROUP, GROUP))
y = s.astype(np.float64)[:, None] * (sums * scale.astype(np.float64)[None]).sum(-1)
want = {(0, 0): float(f16(y[0, 0])), (M - 1, N - 1): float(f16(y[M - 1, N - 1]))}

out = subprocess.run([sys.argv[1]], capture_output=True, text=True, check=True).stdout
got = re.search(r"y\[0,0\] = (-?[0-9.]+), y\[(\d+),(\d+)\] = (-?[0-9.]+)", out)
if not got:
    sys.exit(f"the example printed: {out!r}")
got_vals = {(0, 0): float(got.group(1)), (int(got.group(2)), int(got.group(3))): float(got.group(4))}
for key, v in want.items():
    # printed with 4 decimals; the library rounds its fp32 result to fp16 once, this check from float64
    ulp = float(np.spacing(f16(abs(v)))) if v else 1e-4
    if abs(got_vals[key] - v) > ulp + 5e-5:
        sys.exit(f"y{list(key)}: the example printed {got_vals[key]}, the computation here gives {v}")
print(f"example values match: y[0,0] = {want[(0, 0)]:.4f}, y[{M - 1},{N - 1}] = {want[(M - 1, N - 1)]:.4f}")
