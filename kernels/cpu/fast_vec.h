/* 8-float vectors for the reductions of the CPU fast paths (private to
 * kernels/cpu/fast_*.c).
 *
 * Why: without -ffast-math the compiler may not reorder a float sum, so a
 * plain `s += x[i]` loop stays scalar. Explicit vectors of independent partial
 * sums are the reordering, written down. GCC/Clang vector extensions compile
 * to AVX in the Release build (-march=x86-64-v3) and to SSE pairs or scalar
 * code elsewhere, so this stays portable C for GCC and Clang. */
#ifndef LP_CPU_FAST_VEC_H
#define LP_CPU_FAST_VEC_H

#include <stdint.h>
#include <string.h>

#if defined(__AVX__)
#include <immintrin.h>
#endif

/* Without AVX (the Asan and Debug builds) GCC notes that passing 32-byte
 * vectors changes the ABI; these are static inline helpers and never cross an
 * ABI boundary, so the note is noise for every file that uses them. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* Always inlined: no vector ever crosses a call, at any optimisation level. */
#define LP_V8_FN static inline __attribute__((always_inline))

typedef float lp_v8f __attribute__((vector_size(32)));
typedef int32_t lp_v8i __attribute__((vector_size(32)));

/* Unaligned load and store (memcpy compiles to one vmovups). */
LP_V8_FN lp_v8f lp_v8_load(const float *p) {
    lp_v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

LP_V8_FN void lp_v8_store(float *p, lp_v8f v) { memcpy(p, &v, sizeof v); }

LP_V8_FN lp_v8f lp_v8_set1(float s) { return (lp_v8f){s, s, s, s, s, s, s, s}; }

/* a * b + c. ISO C mode (-std=c11) keeps GCC from contracting a * b + c into
 * an fma by itself, so the fused form is asked for where the target has it. */
LP_V8_FN lp_v8f lp_v8_fma(lp_v8f a, lp_v8f b, lp_v8f c) {
#if defined(__FMA__) && defined(__AVX__)
    return (lp_v8f)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c;
#endif
}

LP_V8_FN lp_v8f lp_v8_select(lp_v8i mask, lp_v8f yes, lp_v8f no) {
    return (lp_v8f)((mask & (lp_v8i)yes) | (~mask & (lp_v8i)no));
}

/* The larger lane by lane; a NaN in v sticks (so a NaN row is noticed). */
LP_V8_FN lp_v8f lp_v8_max_nan(lp_v8f acc, lp_v8f v) {
    return lp_v8_select((v > acc) | (v != v), v, acc);
}

LP_V8_FN float lp_v8_hsum(lp_v8f v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* e^x on 8 lanes: lp_fast_expf (kernels/cpu/fast_math.h) step for step, for
 * loops that also reduce (a softmax's exp and sum in one pass) and so cannot
 * be left to the auto-vectorizer. Same accuracy; tests check both agree. */
LP_V8_FN lp_v8f lp_v8_exp(lp_v8f x) {
    const lp_v8f hi = lp_v8_set1(88.8f), lo = lp_v8_set1(-110.0f);
    const lp_v8f magic = lp_v8_set1(12582912.0f); /* 1.5 * 2^23 */
    lp_v8f xc = lp_v8_select(x > hi, hi, x);
    xc = lp_v8_select(xc < lo, lo, xc); /* NaN passes both */
    lp_v8f t = lp_v8_fma(xc, lp_v8_set1(1.44269504088896341f), magic);
    lp_v8i n = (lp_v8i)t - (lp_v8i)magic;
    lp_v8f nf = t - magic;
    lp_v8f r = lp_v8_fma(nf, lp_v8_set1(-0.693359375f), xc);
    r = lp_v8_fma(nf, lp_v8_set1(2.12194440e-4f), r);
    lp_v8f p = lp_v8_set1(1.9875691500e-4f);
    p = lp_v8_fma(p, r, lp_v8_set1(1.3981999507e-3f));
    p = lp_v8_fma(p, r, lp_v8_set1(8.3334519073e-3f));
    p = lp_v8_fma(p, r, lp_v8_set1(4.1665795894e-2f));
    p = lp_v8_fma(p, r, lp_v8_set1(1.6666665459e-1f));
    p = lp_v8_fma(p, r, lp_v8_set1(5.0000001201e-1f));
    p = lp_v8_fma(p * r, r, r) + lp_v8_set1(1.0f);
    lp_v8i n1 = n >> 1;
    lp_v8i n2 = n - n1;
    return p * (lp_v8f)((n1 + 127) << 23) * (lp_v8f)((n2 + 127) << 23);
}

/* NaN if any lane is NaN, else the largest lane. */
LP_V8_FN float lp_v8_hmax_nan(lp_v8f v) {
    float m = v[0];
    for (int i = 1; i < 8; i++) m = (v[i] > m || v[i] != v[i]) ? v[i] : m;
    return m;
}

#endif
