/* Branch-free float approximations of exp, tanh and the two GELUs for the CPU
 * fast paths (private to kernels/cpu/fast_*.c).
 *
 * Why not libm: expf/erff/tanhf are calls that GCC cannot vectorize without
 * -ffast-math, and a loop with a call in it runs one element at a time. These
 * are plain inline C (fmaf, integer-mask selects, bit casts through memcpy) that
 * the Release
 * build's -O3 -march=x86-64-v3 turns into 8-wide AVX2 code; they stay portable
 * C everywhere else.
 *
 * Accuracy, measured against double-precision libm over dense sweeps (2e7
 * points; tests/kernels/test_elementwise.c checks the bounds in brackets):
 *   lp_fast_expf       max relative error 8.5e-8 [3e-7] on [-87, 88];
 *                      subnormal results below -87.34, exactly 0 below -104,
 *                      +inf above 88.72, NaN in -> NaN out, exp(-inf) = 0.
 *   lp_fast_tanhf      max relative error 1.4e-7 [4e-7] everywhere; exactly
 *                      +-1 past |x| = 10.
 *   lp_fast_gelu_erf   max relative error 1.1e-6 [2e-6] on [-3, 3], 2.9e-6 on
 *                      [-6, 6], 5.3e-6 [1e-5] on [-10, 10] (the far negative
 *                      tail, values below 1e-20, carries rounding of z^2).
 *                      The negative tail is 0.5 x erfc(|x|/sqrt 2) directly,
 *                      so it does not cancel to 0 the way 0.5 x (1 + erf)
 *                      does in float.
 *   lp_fast_gelu_tanh  max relative error 1.0e-6 [2e-6] on [-3, 3], 1.1e-5
 *                      [2e-5] on [-10, 10], computed as x / (1 + exp(-2u)), the
 *                      same function as 0.5 x (1 + tanh u) without the
 *                      cancellation.
 * NMSE against double on N(0, 3^2) data: gelu 6.9e-16, gelu_tanh 1.1e-15,
 * tanh 4.0e-16. */
#ifndef LP_CPU_FAST_MATH_H
#define LP_CPU_FAST_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t lp_fm_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float lp_fm_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* cond ? a : b through integer masks. Both values are computed first; a
 * ternary lets the compiler move the work of the unused side under a branch,
 * and with trapping math on it then cannot turn that branch back into a
 * vector blend. */
static inline float lp_fm_select(int cond, float a, float b) {
    uint32_t m = 0u - (uint32_t)(cond != 0);
    return lp_fm_float((lp_fm_bits(a) & m) | (lp_fm_bits(b) & ~m));
}

/* Cephes' expf: e^x = 2^n e^r, n = round(x / ln 2), |r| <= ln 2 / 2, degree-7
 * polynomial for e^r. The rounding uses the 1.5 * 2^23 trick so n never goes
 * through a float-to-int conversion (undefined for NaN). 2^n is applied as two
 * factors, so the input is only clamped to [-110, 88.8] and overflow to
 * infinity, subnormal results and underflow to exactly 0 (x < -103.98) all
 * come out of the final multiplications, with no select after the work. */
static inline float lp_fast_expf(float x) {
    float xc = lp_fm_select(x > 88.8f, 88.8f, x);
    xc = lp_fm_select(xc < -110.0f, -110.0f, xc); /* NaN passes both */
    const float magic = 12582912.0f;  /* 1.5 * 2^23 */
    float t = fmaf(xc, 1.44269504088896341f, magic);
    uint32_t n = lp_fm_bits(t) - lp_fm_bits(magic); /* n in two's complement */
    float nf = t - magic;
    float r = fmaf(nf, -0.693359375f, xc);
    r = fmaf(nf, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p * r, r, r) + 1.0f;
    /* n in [-159, 128]: both halves are normal exponents */
    uint32_t n1 = (uint32_t)((int32_t)n >> 1);
    uint32_t n2 = n - n1;
    return p * lp_fm_float((n1 + 127u) << 23) * lp_fm_float((n2 + 127u) << 23);
}

/* tanh: x + x^3 Q(x^2) near 0 (least-squares fit, relative error 1.3e-8 in
 * exact arithmetic), 1 - 2 / (e^(2|x|) + 1) elsewhere (no cancellation there:
 * tanh >= 0.55). Exactly +-1 past |x| = 10; NaN stays NaN. */
static inline float lp_fast_tanhf(float x) {
    float a = fabsf(x);
    float s = x * x;
    float q = -0.0057981000281870365f;
    q = fmaf(q, s, 0.020720280706882477f);
    q = fmaf(q, s, -0.053763799369335175f);
    q = fmaf(q, s, 0.13331718742847443f);
    q = fmaf(q, s, -0.33333292603492737f);
    float small = fmaf(x * s, q, x);
    float ac = lp_fm_select(a > 10.0f, 10.0f, a);
    float e = lp_fast_expf(2.0f * ac);
    float big = copysignf(1.0f - 2.0f / (e + 1.0f), x);
    return lp_fm_select(a < 0.625f, small, big);
}

/* erfc(z) for z >= 0 as t Q(t) e^(-z^2), t = 1 / (1 + z/2), Q of degree 8
 * fitted to erfc(z) e^(z^2) / t for minimax relative error over z in [0, 11]
 * (tools/fit_erfc_poly.py: 4.4e-8 in exact arithmetic, 3.3e-7 evaluated in
 * float). The exponential does not wait for the division and the polynomial,
 * which keeps the dependency chain short enough for the out-of-order window
 * to overlap iterations (an e^(poly(t) - z^2) form is ~1.5x slower). z^2 is
 * split with an fma into its float value and rounding error so the
 * exponential does not lose digits for large z. */
static inline float lp_fast_erfcf_pos(float z) {
    float t = 1.0f / fmaf(0.5f, z, 1.0f);
    float q = -0.059276603162288666f;
    q = fmaf(q, t, 0.2855893671512604f);
    q = fmaf(q, t, -0.48930299282073975f);
    q = fmaf(q, t, 0.28047600388526917f);
    q = fmaf(q, t, -0.028286777436733246f);
    q = fmaf(q, t, 0.20339025557041168f);
    q = fmaf(q, t, 0.24292591214179993f);
    q = fmaf(q, t, 0.2823997437953949f);
    q = fmaf(q, t, 0.28208503127098083f);
    float zz = z * z;
    float zz_err = fmaf(z, z, -zz);
    float e = lp_fast_expf(-zz);
    return t * q * fmaf(-zz_err, e, e);
}

/* x * Phi(x) with Phi(x) = 0.5 erfc(-x / sqrt 2), torch's gelu(approximate='none'). */
static inline float lp_fast_gelu_erf(float x) {
    float z = fabsf(x) * 0.70710678118654752f;
    z = lp_fm_select(z > 11.0f, 11.0f, z); /* erfc(11) rounds to 0 in float */
    float half_erfc = 0.5f * lp_fast_erfcf_pos(z);
    /* x > 0: 1 - erfc/2; else erfc/2 (selects of constants only) */
    float sign = lp_fm_select(x > 0.0f, -1.0f, 1.0f);
    float base = lp_fm_select(x > 0.0f, 1.0f, 0.0f);
    return x * fmaf(sign, half_erfc, base);
}

/* 0.5 x (1 + tanh u) = x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3). */
static inline float lp_fast_gelu_tanh(float x) {
    float u = 0.7978845608028654f * fmaf(0.044715f * x, x * x, x);
    float e = lp_fast_expf(-2.0f * u);
    return x / (1.0f + e);
}

#endif
