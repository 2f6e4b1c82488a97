#!/usr/bin/env python3
"""Regenerates tests/fixtures/safetensors/: small files written by the Python
`safetensors` package (the reference writer), and for each one a manifest
`<file>.expected` that the C tests compare against bit for bit.

Manifest lines (tab-separated, UTF-8):
    tensor  NAME  DTYPE  SHAPE(comma-separated, empty for a scalar)  HEX-BYTES
    meta    KEY   VALUE
The bytes come from numpy/torch directly (arr.tobytes()), not from the file,
so a reader that takes the wrong bytes out of the file is caught.

Needs torch (bf16, float8, uint16/32/64) and safetensors; the outputs are
committed, so CI never runs this. Usage: python3 tools/make_safetensors_fixtures.py
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "safetensors")

# Every dtype lepton's reader supports, as torch spells it.
DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U64": torch.uint64,
    "U32": torch.uint32,
    "U16": torch.uint16,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def float_values(n):
    """Multiples of 0.5 in [-4, 4]: exact in every float dtype, even F8_E5M2.
    The C test recomputes this formula: ((k * 7) % 17 - 8) * 0.5."""
    return np.array([((k * 7) % 17 - 8) * 0.5 for k in range(n)], dtype=np.float64)


def int_values(n, bits, signed):
    """Bit patterns that fill the whole width (so byte order is tested)."""
    mask = (1 << bits) - 1
    vals = [((k + 1) * 0x9E3779B97F4A7C15 >> (64 - bits)) & mask for k in range(n)]
    if signed:
        vals = [v - (1 << bits) if v >> (bits - 1) else v for v in vals]
    return vals


def make(dtype_name, shape):
    dt = DTYPES[dtype_name]
    n = int(np.prod(shape)) if shape else 1
    if dt == torch.bool:
        t = torch.tensor([(k * 5) % 3 == 0 for k in range(n)], dtype=torch.bool)
    elif dt.is_floating_point:
        t = torch.tensor(float_values(n), dtype=torch.float64).to(dt)
    else:
        bits = torch.iinfo(dt).bits
        signed = torch.iinfo(dt).min < 0
        vals = int_values(n, bits, signed)
        if dt == torch.uint64:  # torch cannot build uint64 from large Python ints
            t = torch.from_numpy(np.array(vals, dtype=np.uint64))
        else:
            t = torch.tensor(vals, dtype=dt)
    return t.reshape(shape)


def raw_bytes(t):
    if t.numel() == 0:
        return b""
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def write(name, tensors, metadata=None):
    path = os.path.join(OUT, name)
    save_file(tensors, path, metadata=metadata)
    lines = []
    for key in sorted(tensors):
        t = tensors[key]
        dtype = [k for k, v in DTYPES.items() if v == t.dtype][0]
        shape = ",".join(str(d) for d in t.shape)
        lines.append(f"tensor\t{key}\t{dtype}\t{shape}\t{raw_bytes(t).hex()}")
    for key in sorted(metadata or {}):
        lines.append(f"meta\t{key}\t{metadata[key]}")
    with open(path + ".expected", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


def specials():
    """NaNs with payloads, infinities, signed zeros, subnormals, extremes."""
    f32_bits = [0x7FC00000, 0x7FA00001, 0xFFC12345, 0x7F800000, 0xFF800000, 0x80000000,
                0x00000001, 0x807FFFFF, 0x7F7FFFFF, 0x3F800000]
    f16_bits = [0x7E00, 0x7C01, 0xFE55, 0x7C00, 0xFC00, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0x3C00]
    f64_bits = [0x7FF8000000000000, 0x7FF0000000000001, 0xFFF8DEADBEEF0000, 0x7FF0000000000000,
                0xFFF0000000000000, 0x8000000000000000, 0x0000000000000001, 0x7FEFFFFFFFFFFFFF]
    return {
        "f32_specials": torch.from_numpy(np.array(f32_bits, dtype=np.uint32).view(np.float32)),
        "f16_specials": torch.from_numpy(np.array(f16_bits, dtype=np.uint16).view(np.float16)),
        "bf16_specials": torch.from_numpy(np.array(f16_bits, dtype=np.uint16)).view(torch.bfloat16),
        "f64_specials": torch.from_numpy(np.array(f64_bits, dtype=np.uint64).view(np.float64)),
        "f8_e4m3_all": torch.arange(256, dtype=torch.uint8).view(torch.float8_e4m3fn),
        "f8_e5m2_all": torch.arange(256, dtype=torch.uint8).view(torch.float8_e5m2),
    }


def tiny_bert_tensors(hidden=8, layers=2, vocab=24, inter=16, positions=16):
    """The tensor names and shapes of a HF BertModel checkpoint, small."""
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g) * 0.02

    t = {
        "embeddings.word_embeddings.weight": r(vocab, hidden),
        "embeddings.position_embeddings.weight": r(positions, hidden),
        "embeddings.token_type_embeddings.weight": r(2, hidden),
        "embeddings.LayerNorm.weight": torch.ones(hidden),
        "embeddings.LayerNorm.bias": torch.zeros(hidden),
        "embeddings.position_ids": torch.arange(positions, dtype=torch.int64).reshape(1, positions),
    }
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for m in ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense"):
            t[p + m + ".weight"] = r(hidden, hidden)
            t[p + m + ".bias"] = r(hidden)
        t[p + "attention.output.LayerNorm.weight"] = torch.ones(hidden)
        t[p + "attention.output.LayerNorm.bias"] = torch.zeros(hidden)
        t[p + "intermediate.dense.weight"] = r(inter, hidden)
        t[p + "intermediate.dense.bias"] = r(inter)
        t[p + "output.dense.weight"] = r(hidden, inter)
        t[p + "output.dense.bias"] = r(hidden)
        t[p + "output.LayerNorm.weight"] = torch.ones(hidden)
        t[p + "output.LayerNorm.bias"] = torch.zeros(hidden)
    t["pooler.dense.weight"] = r(hidden, hidden)
    t["pooler.dense.bias"] = r(hidden)
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": 2,
        "intermediate_size": inter,
        "max_position_embeddings": positions,
        "vocab_size": vocab,
        "type_vocab_size": 2,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-12,
    }
    return t, config


def write_model_dirs():
    tensors, config = tiny_bert_tensors()
    d = os.path.join(OUT, "tiny_bert")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write("tiny_bert/model.safetensors", tensors, {"format": "pt"})

    # The sharded layout transformers writes for large models: an index
    # naming, for each tensor, the shard that holds it.
    d = os.path.join(OUT, "tiny_sharded")
    os.makedirs(d, exist_ok=True)
    config = dict(config, architectures=["BertForMaskedLM"])
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    names = sorted(tensors)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half],
              "model-00002-of-00002.safetensors": names[half:]}
    weight_map, total = {}, 0
    for shard, keys in shards.items():
        write("tiny_sharded/" + shard, {k: tensors[k] for k in keys}, {"format": "pt"})
        for k in keys:
            weight_map[k] = shard
            total += tensors[k].numel() * tensors[k].element_size()
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def main():
    os.makedirs(OUT, exist_ok=True)
    shapes = [[2, 3, 4], [5, 3], [7], [3, 1, 2], [1, 1, 1, 1, 2, 3]]
    all_dtypes = {}
    for i, name in enumerate(DTYPES):
        all_dtypes[name.lower()] = make(name, shapes[i % len(shapes)])
    # a non-ASCII name, to test UTF-8 names end to end
    all_dtypes["ünïcode.名前.weight"] = make("F32", [2, 2])
    write("all_dtypes.safetensors", all_dtypes,
          {"format": "pt", "note": "every dtype lepton reads", "ünï": "名前"})

    write("scalars_empty.safetensors", {
        "scalar_f32": make("F32", []),
        "scalar_i64": make("I64", []),
        "scalar_bool": make("BOOL", []),
        "empty_f32": make("F32", [0]),
        "empty_f16_3x0x2": make("F16", [3, 0, 2]),
        "empty_bool": make("BOOL", [0]),
    })
    write("specials.safetensors", specials())
    write("metadata_only.safetensors", {}, {"format": "pt", "empty": ""})

    # Valid safetensors dtypes lepton does not hold: the reader must refuse
    # them with a clear message, not misread them.
    save_file({"x": torch.ones(3, dtype=torch.float8_e8m0fnu)},
              os.path.join(OUT, "unsupported_f8_e8m0.safetensors"))
    write_model_dirs()
    return 0


if __name__ == "__main__":
    sys.exit(main())
