"""w4a8.convert(model, checkpoint_dir): a PyTorch model's nn.Linear layers
replaced by W4A8Linear layers read from a compressed-tensors checkpoint
folder (`w4a8 quantize`, llm-compressor), and the checkpoint's other tensors
(embeddings, norms, layers kept dense) loaded into the model.

The checkpoint is read with a small safetensors reader of its own, so the
package needs nothing beyond torch.
"""
import json
import os
import re
import struct
import warnings
from typing import Dict, List, Optional

import torch

from . import _ops
from .linear import W4A8Linear

_ST_DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64,
              "I8": torch.int8, "U8": torch.uint8, "I16": torch.int16, "I32": torch.int32, "I64": torch.int64,
              "BOOL": torch.bool}


def read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """Every tensor of one .safetensors file (copied out of the file)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: {len(data)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} runs past the end of the file ({len(data)} bytes)")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError as e:
        raise ValueError(f"{path}: the header is not JSON ({e})") from None
    base, out = 8 + n, {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dtype = _ST_DTYPES.get(e.get("dtype"))
        if dtype is None:
            raise ValueError(f"{path}: tensor {name!r} has dtype {e.get('dtype')!r}, which w4a8 does not read")
        begin, end = e["data_offsets"]
        if not 0 <= begin <= end <= len(data) - base:
            raise ValueError(f"{path}: tensor {name!r} data_offsets {e['data_offsets']} run past the data")
        raw = bytearray(data[base + begin:base + end])
        t = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(e["shape"])
    return out


def read_checkpoint(folder: str) -> Dict[str, torch.Tensor]:
    """The tensors of a model folder: the shards its index names, else every top-level .safetensors file."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors"))
    if not files:
        raise ValueError(f"{folder}: no .safetensors files")
    tensors: Dict[str, torch.Tensor] = {}
    for f in files:
        for name, t in read_safetensors(os.path.join(folder, f)).items():
            if name in tensors:
                raise ValueError(f"{folder}: tensor {name!r} is in more than one file")
            tensors[name] = t
    return tensors


def _matches(pattern: str, name: str, module: torch.nn.Module) -> bool:
    if pattern.startswith("re:"):
        return re.match(pattern[3:], name) is not None
    return pattern == name or pattern == type(module).__name__


def _scheme_for(qcfg: dict, name: str, module: torch.nn.Module) -> Optional[dict]:
    if any(_matches(p, name, module) for p in qcfg.get("ignore") or []):
        return None
    for group in (qcfg.get("config_groups") or {}).values():
        if any(_matches(p, name, module) for p in group.get("targets") or []):
            return group
    return None


def _unpack_zero_points(words: torch.Tensor, n: int) -> torch.Tensor:
    """[N/8, G] int32 packed along N (compressed-tensors' pack-quantized) -> [N, G] int8."""
    shifts = torch.arange(0, 32, 4, dtype=torch.int32)
    nib = (words.to(torch.int32).unsqueeze(1) >> shifts.view(1, 8, 1)) & 0xF  # [N/8, 8, G]
    return (nib - 8).reshape(-1, words.shape[1])[:n].to(torch.int8)


def _w4a8_layer(name: str, linear: torch.nn.Linear, t: Dict[str, torch.Tensor], scheme: dict, backend: str,
                used: set) -> W4A8Linear:
    def take(suffix):
        key = f"{name}.{suffix}"
        if key in t:
            used.add(key)
            return t[key]
        return None

    n, k = linear.out_features, linear.in_features
    scale = take("weight_scale")
    packed = take("weight_packed")
    if packed is not None:
        shape = take("weight_shape")
        if shape is not None and [int(v) for v in shape.tolist()] != [n, k]:
            raise ValueError(f"{name}: weight_shape {shape.tolist()} but the model's layer is {n}x{k}")
    else:
        values = take("weight")
        if values is None or values.dtype != torch.int8:
            raise ValueError(f"{name}: neither weight_packed nor an int8 weight in the checkpoint")
        packed = _ops.pack_int4(values.contiguous())
    if tuple(packed.shape) != (n, k // 8) or scale is None or scale.dim() != 2 or scale.shape[0] != n:
        raise ValueError(f"{name}: weights {tuple(packed.shape)} and scales "
                         f"{None if scale is None else tuple(scale.shape)} do not fit a {n}x{k} layer")
    groups = scale.shape[1]
    if groups < 1 or k % groups:
        raise ValueError(f"{name}: {groups} scale groups do not divide in_features={k}")
    group_size = -1 if groups == 1 else k // groups
    weights = scheme.get("weights") or {}
    zp = take("weight_zero_point")
    if zp is not None and zp.dtype == torch.int32:  # pack-quantized: packed along N
        zp = _unpack_zero_points(zp, n)
    if zp is not None and weights.get("symmetric", True):
        if torch.any(zp != 0):
            raise ValueError(f"{name}: non-zero weight_zero_point in a layer the config calls symmetric")
        zp = None
    g_idx = take("weight_g_idx")
    if g_idx is not None and bool(torch.all(g_idx == -1)):  # compressed-tensors' "no act-order" fill
        g_idx = None
    acts = scheme.get("input_activations") or {}
    act_symmetric = acts.get("symmetric", True)
    static = bool(acts) and not acts.get("dynamic", True)
    input_scale, input_zp = take("input_scale"), take("input_zero_point")
    if static and input_scale is None:
        raise ValueError(f"{name}: static activations but no input_scale in the checkpoint")
    bias = take("bias")
    if bias is None and linear.bias is not None:
        bias = linear.bias.detach()
    layer = W4A8Linear(k, n, group_size, bias is not None, scale.dtype, zp is not None, act_symmetric, static,
                       g_idx is not None, backend)
    with torch.no_grad():
        layer.weight_packed.copy_(packed)
        layer.weight_scale.copy_(scale)
        if zp is not None:
            layer.weight_zero_point.copy_(zp.reshape(n, groups))
        if g_idx is not None:
            layer.weight_g_idx.copy_(g_idx.to(torch.int32))
        if bias is not None:
            layer.bias.copy_(bias.to(scale.dtype))
        if static:
            layer.input_scale.copy_(input_scale.reshape(1).to(scale.dtype))
            if layer.input_zero_point is not None and input_zp is not None:
                layer.input_zero_point.copy_(input_zp.reshape(1).to(torch.int8))
    return layer


def convert(model: torch.nn.Module, checkpoint_dir: str, backend: str = "auto") -> List[str]:
    """Replaces, in place, every nn.Linear of `model` that the checkpoint stores quantized by a W4A8Linear
    (running on `backend`), and loads the checkpoint's other tensors into the model's parameters and
    buffers of the same name. Returns the names of the converted layers. Raises ValueError, naming the
    tensor, when the checkpoint and the model disagree (shapes, a quantized layer with no nn.Linear);
    warns about tensors that match nothing in the model (they are not loaded)."""
    with open(os.path.join(checkpoint_dir, "config.json")) as f:
        qcfg = json.load(f).get("quantization_config")
    if not qcfg or qcfg.get("quant_method") != "compressed-tensors":
        raise ValueError(f"{checkpoint_dir}: config.json has no compressed-tensors quantization_config")
    tensors = read_checkpoint(checkpoint_dir)
    used: set = set()
    converted = []
    for name, module in list(model.named_modules()):
        if not isinstance(module, torch.nn.Linear) or f"{name}.weight_scale" not in tensors:
            continue
        scheme = _scheme_for(qcfg, name, module)
        if scheme is None:
            raise ValueError(f"{checkpoint_dir}: {name} has a weight_scale but no config group takes it")
        layer = _w4a8_layer(name, module, tensors, scheme, backend, used)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, layer.to(module.weight.device))
        converted.append(name)
    state = model.state_dict()
    unexpected = []
    with torch.no_grad():
        for key, t in tensors.items():
            if key in used:
                continue
            if key.endswith((".weight_scale", ".weight_packed", ".weight_zero_point", ".weight_g_idx")):
                raise ValueError(f"{checkpoint_dir}: tensor {key!r} belongs to a quantized layer that is no "
                                 "nn.Linear of the model")
            if key not in state:
                unexpected.append(key)  # e.g. buffers older library versions saved (position_ids)
                continue
            if tuple(state[key].shape) != tuple(t.shape):
                raise ValueError(f"{checkpoint_dir}: tensor {key!r} is {tuple(t.shape)} but the model's is "
                                 f"{tuple(state[key].shape)}")
            state[key].copy_(t)
    if unexpected:
        warnings.warn(f"{checkpoint_dir}: {len(unexpected)} tensor(s) match no parameter or buffer of the model "
                      f"and were not loaded: {', '.join(unexpected[:8])}{' ...' if len(unexpected) > 8 else ''}")
    return converted
