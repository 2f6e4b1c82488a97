#!/usr/bin/env python3
"""Fits the polynomial behind lp_fast_erfcf_pos (kernels/cpu/fast_math.h).

erfc(z) = t * Q(t) * exp(-z^2) with t = 1 / (1 + z/2); Q has degree 8 and is
fitted to erfcx(z) / t = erfc(z) exp(z^2) / t over z in [0, 11] for minimax
*relative* error, by Lawson's iteratively reweighted least squares. Prints the
coefficients (float32, constant term first) and the relative error in exact
and in float32 (Horner) arithmetic. Needs numpy and scipy; offline only.
"""
import numpy as np
from scipy.special import erfcx

DEGREE = 8
P = 0.5


def main():
    zs = np.concatenate([np.linspace(0, 4, 30000), np.linspace(4, 11, 10000)])
    target = erfcx(zs)
    t = 1 / (1 + P * zs)
    y = target / t
    a = np.vstack([t**k for k in range(DEGREE + 1)]).T
    w = 1 / y
    lawson = np.ones_like(zs)
    for _ in range(300):
        ww = w * np.sqrt(lawson)
        coef, *_ = np.linalg.lstsq(a * ww[:, None], y * ww, rcond=None)
        err = np.abs(a @ coef / y - 1)
        lawson = lawson * err
        lawson /= lawson.sum()
    c32 = coef.astype(np.float32)
    z32 = zs.astype(np.float32)
    t32 = (np.float32(1) / (np.float32(1) + np.float32(P) * z32)).astype(np.float32)
    q = np.zeros_like(t32)
    for c in c32[::-1]:
        q = (q * t32 + c).astype(np.float32)
    print("coefficients:", [float(c) for c in c32])
    print("relative error, exact: %.3g" % np.max(np.abs(a @ coef / y - 1)))
    print("relative error, float32: %.3g" % np.max(np.abs((t32 * q).astype(np.float64) / target - 1)))


if __name__ == "__main__":
    main()
