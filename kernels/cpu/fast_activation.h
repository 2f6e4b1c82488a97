/* The vectorized activations of the CPU fast paths (kernels/cpu/fast_math.h
 * approximations), for any fast op that fuses one: lp_unary, lp_add, and the
 * epilogue of a GEMM. Single-threaded; callers split the work. */
#ifndef LP_CPU_FAST_ACTIVATION_H
#define LP_CPU_FAST_ACTIVATION_H

#include <stdint.h>

#include "kernels/ops.h"

/* y[i] = act(x[i]) for i < n; y may be x. */
void lp_cpu_fast_activation(lp_activation act, const float *x, float *y, int64_t n);

#endif
