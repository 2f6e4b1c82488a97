#!/usr/bin/env python3
"""Regenerates tests/fixtures/ops/gemm_*.safetensors: small inputs and the
outputs PyTorch computes for them, for the GEMM-family ops (matmul, linear,
conv2d, batch-norm folding, max pooling, global average pooling);
tests/kernels/test_gemm_fixtures.c reads them back.

Layout of every file: tensors "case<N>.<name>" (inputs and the reference
output), and in __metadata__ one JSON string per case under "case<N>" with the
op and its parameters, e.g. {"op": "conv2d", "stride": [2, 1], ...}. Cases are
numbered from 0 without gaps. Tensors are stored contiguous; a matmul operand
with "a_head_split" / "b_head_split" is stored [B, S, H, D] and viewed as
[B, H, S, D] (attention's layout, no copy).

References:
  matmul           alpha * (op(a) @ op(b)), torch broadcasting of a 2-D b
  linear           act(torch.nn.functional.linear(x, weight, bias))
  conv2d           act(torch.nn.functional.conv2d(x, w, b, stride, padding,
                   dilation, groups) + residual)
  fold_batchnorm   torch.nn.BatchNorm2d (eval, running stats) after
                   torch.nn.Conv2d; the folded weights from
                   torch.nn.utils.fusion.fuse_conv_bn_weights
  maxpool2d        torch.nn.functional.max_pool2d (padding, ceil_mode, NaN)
  global_avgpool2d torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)

Seeded; needs torch, which CI does not have: the outputs are committed.
Usage: python3 tools/make_gemm_fixtures.py
"""
import torch
import torch.nn.functional as F

from op_fixture import Fixture


ACTS = {
    "none": lambda x: x,
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "tanh": torch.tanh,
}


def fixture(name):
    return Fixture("gemm", name, as_float=True)


def randn(g, *shape, scale=1.0):
    return torch.randn(*shape, generator=g) * scale


def matmul(g):
    fx = fixture("matmul")
    # (batch dims, m, n, k, b shared, alpha); every transpose combination
    shapes = [([], 5, 3, 7, False, 1.0), ([], 1, 1, 1, False, 2.0), ([], 13, 31, 33, False, 0.5),
              ([2, 3], 4, 6, 5, False, 0.25), ([3], 7, 9, 11, True, -1.0), ([], 17, 1, 64, False, 1.0)]
    for batch, m, n, k, shared, alpha in shapes:
        for ta in (False, True):
            for tb in (False, True):
                a = randn(g, *batch, *( (k, m) if ta else (m, k) ))
                b = randn(g, *([] if shared else batch), *((n, k) if tb else (k, n)))
                opa = a.transpose(-1, -2) if ta else a
                opb = b.transpose(-1, -2) if tb else b
                out = alpha * torch.matmul(opa, opb)
                fx.case({"op": "matmul", "ta": ta, "tb": tb, "alpha": alpha,
                         "a_head_split": False, "b_head_split": False}, a=a, b=b, out=out)
    # attention on head-split views: q, k, v stored [B, S, H, D]
    B, S, H, D = 2, 9, 3, 8
    q, k, v = randn(g, B, S, H, D), randn(g, B, S, H, D), randn(g, B, S, H, D)
    qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))
    scores = 0.125 * (qh @ kh.transpose(-1, -2))
    fx.case({"op": "matmul", "ta": False, "tb": True, "alpha": 0.125, "a_head_split": True,
             "b_head_split": True}, a=q, b=k, out=scores)
    p = torch.softmax(scores, -1)  # stored [B, H, S, S]: a plain batched operand
    fx.case({"op": "matmul", "ta": False, "tb": False, "alpha": 1.0, "a_head_split": False,
             "b_head_split": True}, a=p, b=v, out=p @ vh)
    fx.save()


def linear(g):
    fx = fixture("linear")
    shapes = [([3, 5], 17, 11), ([1], 1, 1), ([9], 33, 31), ([2, 2, 4], 16, 24), ([5], 40, 24)]
    i = 0
    for lead, fin, fout in shapes:
        for act in ("none", "relu", "gelu", "gelu_tanh", "tanh"):
            x = randn(g, *lead, fin)
            w = randn(g, fout, fin, scale=fin ** -0.5)
            b = randn(g, fout, scale=0.5) if i % 3 != 2 else None
            out = ACTS[act](F.linear(x, w, b))
            fx.case({"op": "linear", "act": act, "bias": b is not None}, x=x, weight=w, bias=b,
                    out=out)
            i += 1
    fx.save()


def conv2d(g):
    fx = fixture("conv2d")
    # (N, C, H, W, Cout, KH, KW, stride, padding, dilation, groups, bias, residual, act)
    cases = [
        (1, 3, 8, 8, 4, 3, 3, [1, 1], [1, 1], [1, 1], 1, True, False, "relu"),
        (2, 4, 11, 7, 6, 3, 5, [2, 1], [0, 2], [2, 1], 2, True, True, "gelu"),
        (1, 6, 10, 9, 12, 3, 3, [2, 2], [1, 1], [1, 1], 6, True, False, "tanh"),
        (1, 3, 20, 20, 8, 7, 7, [2, 2], [3, 3], [1, 1], 1, True, False, "relu"),
        (2, 8, 9, 9, 16, 1, 1, [2, 2], [0, 0], [1, 1], 1, False, False, "none"),
        (1, 16, 5, 6, 8, 1, 1, [1, 1], [0, 0], [1, 1], 1, True, True, "relu"),
        (3, 2, 4, 5, 3, 2, 2, [1, 2], [1, 0], [1, 1], 1, False, True, "gelu_tanh"),
        (1, 4, 6, 6, 4, 3, 3, [1, 1], [2, 2], [2, 2], 4, True, True, "none"),
        (1, 5, 1, 1, 7, 1, 1, [1, 1], [0, 0], [1, 1], 1, True, False, "tanh"),
    ]
    for n, c, h, w, cout, kh, kw, stride, pad, dil, groups, bias, res, act in cases:
        x = randn(g, n, c, h, w)
        wt = randn(g, cout, c // groups, kh, kw, scale=(c // groups * kh * kw) ** -0.5)
        b = randn(g, cout, scale=0.5) if bias else None
        y = F.conv2d(x, wt, b, stride, pad, dil, groups)
        r = randn(g, *y.shape) if res else None
        out = ACTS[act](y + r if res else y)
        fx.case({"op": "conv2d", "stride": stride, "padding": pad, "dilation": dil,
                 "groups": groups, "act": act, "bias": bias, "residual": res},
                x=x, weight=wt, bias=b, residual=r, out=out)
    fx.save()


def fold_batchnorm(g):
    fx = fixture("fold")
    for cin, cout, k, conv_bias, eps in [(3, 5, 3, False, 1e-5), (4, 6, 1, True, 1e-3)]:
        conv = torch.nn.Conv2d(cin, cout, k, padding=k // 2, bias=conv_bias)
        bn = torch.nn.BatchNorm2d(cout, eps=eps)
        with torch.no_grad():
            conv.weight.copy_(randn(g, *conv.weight.shape, scale=0.4))
            if conv_bias:
                conv.bias.copy_(randn(g, cout, scale=0.5))
            bn.weight.copy_(torch.rand(cout, generator=g) + 0.5)
            bn.bias.copy_(randn(g, cout, scale=0.3))
            bn.running_mean.copy_(randn(g, cout, scale=0.3))
            bn.running_var.copy_(torch.rand(cout, generator=g) * 2 + 0.05)
        conv.eval(), bn.eval()
        x = randn(g, 2, cin, 7, 6)
        with torch.no_grad():
            out = bn(conv(x))
            fw, fb = torch.nn.utils.fusion.fuse_conv_bn_weights(
                conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight,
                bn.bias)
        fx.case({"op": "fold_batchnorm", "eps": eps, "conv_bias": conv_bias,
                 "padding": [k // 2, k // 2]},
                x=x, weight=conv.weight, bias=conv.bias if conv_bias else None, gamma=bn.weight,
                beta=bn.bias, mean=bn.running_mean, var=bn.running_var, folded_weight=fw,
                folded_bias=fb, out=out)
    fx.save()


def pool(g):
    fx = fixture("pool")
    # (N, C, H, W, kernel, stride, padding, ceil_mode, shift)
    cases = [
        (1, 4, 12, 12, [3, 3], [2, 2], [1, 1], False, 0.0),
        (2, 3, 7, 13, [2, 3], [2, 1], [1, 0], False, -10.0),
        (2, 3, 7, 13, [2, 3], [2, 1], [1, 0], True, -10.0),
        (1, 2, 5, 5, [2, 2], [2, 2], [0, 0], True, 0.0),
        (1, 2, 3, 3, [2, 2], [2, 2], [1, 1], True, -5.0),
        (2, 5, 6, 6, [4, 2], [3, 5], [2, 1], True, 0.0),
        (1, 1, 1, 1, [1, 1], [1, 1], [0, 0], False, 0.0),
    ]
    for n, c, h, w, k, s, p, ceil, shift in cases:
        x = randn(g, n, c, h, w) + shift
        out = F.max_pool2d(x, k, s, p, ceil_mode=ceil)
        fx.case({"op": "maxpool2d", "kernel": k, "stride": s, "padding": p, "ceil_mode": ceil},
                x=x, out=out)
    x = randn(g, 1, 2, 4, 4)
    x[0, 0, 1, 1] = float("nan")
    fx.case({"op": "maxpool2d", "kernel": [2, 2], "stride": [2, 2], "padding": [0, 0],
             "ceil_mode": False}, x=x, out=F.max_pool2d(x, 2, 2))
    for shape in [(2, 3, 7, 5), (1, 16, 1, 1), (3, 8, 14, 14)]:
        x = randn(g, *shape) + 1.0
        fx.case({"op": "global_avgpool2d"}, x=x, out=F.adaptive_avg_pool2d(x, 1).flatten(1))
    fx.save()


def main():
    g = torch.Generator().manual_seed(20240611)
    matmul(g)
    linear(g)
    conv2d(g)
    fold_batchnorm(g)
    pool(g)


if __name__ == "__main__":
    main()
