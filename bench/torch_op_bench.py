"""The PyTorch op's speed from Python against the C++ benchmark of the same run.

Times torch.ops.w4a8.linear (what W4A8IntLinearKernel.apply_weights calls)
the way bench/cuda_bench.cpp times W4A8Linear::forward: weights rotated
through 4x the L2 cache, calls captured in a CUDA graph, fp16 activations.
Also reports eager calls (Python dispatch included). With --cpp-json (the C++
benchmark's JSON from the same run) it prints the ratio python / C++.
"""
import argparse
import json
import math

import torch

import w4a8


def time_graph(fn, calls, reps=20):
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for i in range(min(calls, 3)):
            fn(i)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for i in range(calls):
            fn(i)
    graph.replay()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3 / calls)
    return sorted(times)[len(times) // 2]


def time_eager(fn, calls, reps=5):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        start.record()
        for i in range(calls):
            fn(i)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3 / calls)
    return sorted(times)[len(times) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shapes", default="4096x4096,28672x4096,4096x14336")
    p.add_argument("--m", default="1,4,16")
    p.add_argument("--group", type=int, default=128)
    p.add_argument("--cpp-json")
    p.add_argument("--json")
    a = p.parse_args()
    cpp = {}
    if a.cpp_json:
        for r in json.load(open(a.cpp_json))["results"]:
            cpp[(r["n"], r["k"], r["group"], r["m"])] = r["w4a8_us"]
    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    rows = []
    print(f"{'N':>6} {'K':>6} {'M':>4} {'graph us':>9} {'eager us':>9} {'C++ us':>8} {'py/C++':>7}")
    for shape in a.shapes.split(","):
        n, k = map(int, shape.split("x"))
        groups = 1 if a.group == -1 else k // a.group
        weight_bytes = n * k // 2 + n * groups * 2
        copies = max(1, min(64, math.ceil(4 * l2 / weight_bytes)))
        g = torch.Generator().manual_seed(0)
        layers = []
        for c in range(copies):
            packed = torch.randint(-2**31, 2**31 - 1, (n, k // 8), generator=g, dtype=torch.int32)
            scale = (torch.rand(n, groups, generator=g) * 0.01 + 0.001).half()
            layers.append(w4a8.PreparedLinear(packed.cuda(), scale.cuda(), a.group, max_tokens=1024))  # as the C++ benchmark sizes its layers
        for m in map(int, a.m.split(",")):
            x = torch.randn(m, k, device="cuda", dtype=torch.float16)
            fn = lambda i: layers[i % copies](x)  # noqa: E731
            calls = max(copies, 8)
            graph_us, eager_us = time_graph(fn, calls), time_eager(fn, calls)
            ref = cpp.get((n, k, a.group, m))
            ratio = graph_us / ref if ref else None
            print(f"{n:>6} {k:>6} {m:>4} {graph_us:>9.1f} {eager_us:>9.1f} "
                  f"{(f'{ref:.1f}' if ref else '-'):>8} {(f'{ratio:.3f}' if ratio else '-'):>7}")
            rows.append(dict(n=n, k=k, m=m, group=a.group, graph_us=graph_us, eager_us=eager_us, cpp_us=ref,
                             python_over_cpp=ratio))
        del layers
    if a.json:
        json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "rows": rows},
                  open(a.json, "w"), indent=2)


if __name__ == "__main__":
    main()
