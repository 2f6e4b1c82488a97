#!/usr/bin/env python3
"""Regenerates tests/fixtures/ops/elem_*.safetensors: small inputs and the
outputs PyTorch / transformers compute for them, for the non-GEMM ops
(tests/kernels/test_elem_fixtures.c reads them back).

Layout of every file: tensors "case<N>.<name>" (inputs and the reference
output(s)), and in __metadata__ one JSON string per case under "case<N>" with
the op and its parameters, e.g. {"op": "unary", "act": "gelu"}. Cases are
numbered from 0 without gaps.

References:
  unary        torch.nn.functional.relu / gelu / gelu(approximate="tanh") / torch.tanh
  add          act(a + b) with torch broadcasting
  layer_norm   torch.nn.functional.layer_norm (biased variance, eps inside the sqrt)
  softmax      torch.softmax / log_softmax of x * scale + mask
  attention    torch.nn.functional.scaled_dot_product_attention with a boolean
               mask built from the key mask and the causal rule j <= i + Sk - Sq
               (KV-cache alignment, which is not SDPA's is_causal for Sq != Sk);
               rows that see no key are NaN in torch and zeros in lepton
               (documented in ops.h), so the script writes zeros there
  embedding    torch.nn.functional.embedding
  sinusoid     transformers' MarianSinusoidalPositionalEmbedding (verified here
               to be sin in the first half, cos in the second)
  cast         torch's .to(float16 / bfloat16 / float32)
  select       torch.argmax (NaN largest, first maximum) and torch.topk on rows
               without ties (torch leaves the order of ties unspecified)

Seeded; needs torch and transformers, which CI does not have: the outputs are
committed. Usage: python3 tools/make_elementwise_fixtures.py
"""
import math
import os

import torch
import torch.nn.functional as F

from op_fixture import OUT, Fixture


def fixture(name):
    return Fixture("elem", name)


ACTS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "tanh": torch.tanh,
    "none": lambda x: x,
}


def unary(g):
    fx = fixture("unary")
    x = torch.randn(9, 37, generator=g) * 3
    x[0, :6] = torch.tensor([0.0, -0.0, 12.0, -12.0, 1e-3, -1e-3])
    for act in ("relu", "gelu", "gelu_tanh", "tanh"):
        fx.case({"op": "unary", "act": act}, x=x, out=ACTS[act](x))
    fx.save()


def add(g):
    fx = fixture("add")
    shapes = [([5, 13], [13], "gelu"), ([2, 3, 7], [3, 7], "relu"), ([4, 33], [4, 33], "none"),
              ([3, 5], [], "tanh"), ([6, 16], [1, 16], "gelu_tanh")]
    for a_shape, b_shape, act in shapes:
        a = torch.randn(*a_shape, generator=g) * 2
        b = torch.randn(*b_shape, generator=g) if b_shape else torch.tensor(0.75)
        fx.case({"op": "add", "act": act}, a=a, b=b, out=ACTS[act](a + b))
    fx.save()


def layer_norm(g):
    fx = fixture("layer_norm")
    for rows, d, eps, affine, offset in [(6, 768, 1e-12, True, 0.0), (3, 13, 1e-5, False, 0.0),
                                         (4, 127, 1e-5, True, 100.0), (1, 1, 1e-5, True, 0.0)]:
        x = torch.randn(rows, d, generator=g) * 2 + offset
        gamma = torch.randn(d, generator=g) if affine else None
        beta = torch.randn(d, generator=g) if affine else None
        out = F.layer_norm(x, (d,), gamma, beta, eps)
        tensors = {"x": x, "out": out}
        if affine:
            tensors.update(gamma=gamma, beta=beta)
        fx.case({"op": "layer_norm", "eps": eps, "affine": affine}, **tensors)
    fx.save()


def softmax(g):
    fx = fixture("softmax")
    # BERT-style scores with a [B, 1, 1, S] padding mask; batch 1 fully masked
    x = torch.randn(2, 3, 5, 17, generator=g) * 4
    mask = torch.zeros(2, 1, 1, 17)
    mask[0, ..., 11:] = -math.inf
    mask[1] = -math.inf
    for log in (False, True):
        z = x * 0.125 + mask
        out = torch.log_softmax(z, -1) if log else torch.softmax(z, -1)
        # torch gives NaN for all -inf rows; lepton zeros (softmax) / -inf (log)
        out = torch.where(torch.isnan(out), torch.tensor(-math.inf if log else 0.0), out)
        fx.case({"op": "softmax", "scale": 0.125, "log": log}, x=x, mask=mask, out=out)
    # a [S, S] causal mask broadcast over [B, H]
    x = torch.randn(2, 2, 9, 9, generator=g)
    causal = torch.full((9, 9), -math.inf).triu(1)
    fx.case({"op": "softmax", "scale": 1.0, "log": False}, x=x, mask=causal,
            out=torch.softmax(x + causal, -1))
    # vocabulary-like rows, no mask
    x = torch.randn(3, 2001, generator=g) * 5
    for log in (False, True):
        out = torch.log_softmax(x * 0.7, -1) if log else torch.softmax(x * 0.7, -1)
        fx.case({"op": "softmax", "scale": 0.7, "log": log}, x=x, out=out)
    fx.save()


def attention_case(fx, g, b, h, sq, sk, d, dv, key_keep=None, causal=False):
    q = torch.randn(b, h, sq, d, generator=g)
    k = torch.randn(b, h, sk, d, generator=g)
    v = torch.randn(b, h, sk, dv, generator=g)
    allowed = torch.ones(b, 1, sq, sk, dtype=torch.bool)
    key_mask = None
    if key_keep is not None:
        key_mask = torch.zeros(b, sk, dtype=torch.uint8)
        for i, keep in enumerate(key_keep):
            key_mask[i, :keep] = 1
        allowed = allowed & key_mask.bool()[:, None, None, :]
    if causal:
        i = torch.arange(sq)[:, None]
        j = torch.arange(sk)[None, :]
        allowed = allowed & (j <= i + (sk - sq))[None, None]
    scale = 1.0 / math.sqrt(d)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=scale)
    out = torch.nan_to_num(out, nan=0.0)  # a query that sees no key: zeros in lepton
    tensors = {"q": q, "k": k, "v": v, "out": out}
    if key_mask is not None:
        tensors["key_mask"] = key_mask
    fx.case({"op": "attention", "scale": scale, "causal": causal}, **tensors)


def attention(g):
    fx = fixture("attention")
    attention_case(fx, g, 2, 3, 7, 7, 16, 16, key_keep=[7, 4])
    attention_case(fx, g, 3, 2, 13, 13, 8, 8, key_keep=[13, 1, 0])  # batch 2: no key at all
    attention_case(fx, g, 1, 2, 5, 11, 8, 12)  # cross-attention, Dv != D
    attention_case(fx, g, 2, 2, 9, 9, 16, 16, causal=True)
    attention_case(fx, g, 1, 2, 3, 10, 8, 8, causal=True)  # decoder step with a KV cache
    attention_case(fx, g, 2, 2, 4, 6, 8, 8, key_keep=[6, 3], causal=True)
    fx.save()


def embedding(g):
    from transformers.models.marian.modeling_marian import MarianSinusoidalPositionalEmbedding

    fx = fixture("embedding")
    table = torch.randn(50, 8, generator=g)
    ids = torch.tensor([[0, 49, 7, 7, 3], [12, 1, 0, 48, 25]], dtype=torch.int64)
    fx.case({"op": "embedding"}, table=table, ids=ids, out=F.embedding(ids, table))
    fx.case({"op": "embedding"}, table=table, ids=ids.to(torch.int32)[1],
            out=F.embedding(ids[1], table))
    for n_pos, dim, offset, seq in [(64, 32, 0, 20), (64, 32, 5, 20), (600, 512, 500, 12)]:
        module = MarianSinusoidalPositionalEmbedding(n_pos, dim)
        weight = module.create_weight() if hasattr(module, "create_weight") else module.weight
        # the layout ops.h promises: sin of pos / 10000^(2j/D) first, cos second
        pos = torch.arange(n_pos, dtype=torch.float64)[:, None]
        freq = torch.pow(10000.0, 2 * torch.arange(dim // 2, dtype=torch.float64) / dim)
        expect = torch.cat([torch.sin(pos / freq), torch.cos(pos / freq)], 1).float()
        assert torch.allclose(weight, expect, atol=1e-6), "Marian layout changed"
        module.weight.data.copy_(weight)
        out = module(torch.Size([1, seq]), past_key_values_length=offset)
        fx.case({"op": "sinusoid", "offset": offset}, out=out.detach().reshape(seq, dim))
    fx.save()


def cast(g):
    fx = fixture("cast")
    x = torch.randn(3000, generator=g) * torch.pow(10.0, torch.randint(-8, 6, (3000,), generator=g).float())
    edges = torch.tensor([1.0 + 1.0 / 2048, 1.0 + 3.0 / 2048, 65504.0, 65519.0, 65520.0, 1e6, 5.96e-8,
                          2.98e-8, 1e-40, -0.0, math.inf, -math.inf, 3.0e38, 1.00390625, 1.01171875])
    x = torch.cat([edges, x])
    fx.case({"op": "cast", "to": "f16"}, x=x, out=x.to(torch.float16))
    fx.case({"op": "cast", "to": "bf16"}, x=x, out=x.to(torch.bfloat16))
    h = x.to(torch.float16)
    fx.case({"op": "cast", "to": "bf16"}, x=h, out=h.to(torch.bfloat16))
    fx.case({"op": "cast", "to": "f32"}, x=h, out=h.to(torch.float32))
    b = x.to(torch.bfloat16)
    fx.case({"op": "cast", "to": "f16"}, x=b, out=b.to(torch.float16))
    fx.save()


def select(g):
    fx = fixture("select")
    x = torch.randn(4, 1000, generator=g)
    assert all(len(set(row.tolist())) == row.numel() for row in x), "ties in topk input"
    values, indices = torch.topk(x, 5, dim=-1)
    fx.case({"op": "topk", "k": 5}, x=x, values=values, indices=indices)
    values, indices = torch.topk(x, 1000, dim=-1)
    fx.case({"op": "topk", "k": 1000}, x=x, values=values, indices=indices)
    y = torch.tensor([[1.0, 3.0, 3.0, 2.0], [0.0, math.nan, 5.0, math.nan], [-math.inf] * 4,
                      [-1.0, -2.0, -0.5, -0.5]])
    fx.case({"op": "argmax"}, x=y, out=torch.argmax(y, -1))
    fx.case({"op": "argmax"}, x=x, out=torch.argmax(x, -1))
    fx.save()


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(20240611)
    for make in (unary, add, layer_norm, softmax, attention, embedding, cast, select):
        make(g)


if __name__ == "__main__":
    main()
