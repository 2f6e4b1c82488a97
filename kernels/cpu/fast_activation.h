/* The vectorized activations of the CPU fast paths (kernels/cpu/fast_math.h
 * approximations), for any fast op that fuses one: lp_unary, lp_add, and the
 * epilogue of a GEMM. Single-threaded; callers split the work. */
#ifndef LP_CPU_FAST_ACTIVATION_H
#define LP_CPU_FAST_ACTIVATION_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/ops.h"

/* y[i] = act(x[i]) for i < n; y may be x (exactly, or not overlapping). */
void lp_cpu_fast_activation(lp_activation act, const float *x, float *y, int64_t n);

/* On x86-64 CPUs with AVX-512 (F, VL, BW, DQ) the loops run as 16-float
 * vectors (~1.5x faster for GELU than the build's 8-float AVX2 code), unless
 * the environment sets LEPTON_NO_AVX512=1. Same formulas, same accuracy. The
 * setter lets tests check both versions; call it before running ops. */
bool lp_cpu_fast_activation_avx512(void);
void lp_cpu_fast_activation_allow_avx512(bool allow);

#endif
