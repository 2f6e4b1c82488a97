/* oneDNN's convolution primitive behind lp_conv2d_plan (kernels/conv_plan.h).
 * Private to kernels/cpu.
 *
 * Measured on the 2-core AVX-512 machine (benchmarks/README.md, bench_resnet):
 * oneDNN 2.6 runs ResNet-50's convolutions at ~230 GFLOP/s with channels-last
 * (NHWC) activations (its brgconv kernels), ~195 in its nChw16c blocked
 * layout and ~125 in NCHW (im2col + GEMM, what lp_conv2d already does). Mixed
 * src/dst layouts and the binary-add post-op fall back to slower kernels, so
 * this computes NHWC in, NHWC out, and the residual comes in through the sum
 * post-op (dst is prefilled with it). The exception: 3x3 stride-1
 * convolutions without a residual run oneDNN's Winograd kernel, which takes
 * nChw16c only, between two reorders; with them it still took 0.5-0.6 of the
 * NHWC kernel's time on ResNet-50's 3x3s.
 *
 * A cache holds, per plan, the primitives per (batch, height, width,
 * activation, residual, threads) and the weights reordered into each layout
 * those primitives asked for (one, in practice). It is locked inside; the
 * primitives themselves run concurrently from several threads. */
#ifndef LP_CPU_CONV_DNNL_H
#define LP_CPU_CONV_DNNL_H

#include <stdbool.h>

#include "kernels/ops.h"

typedef struct lp_cpu_conv_cache lp_cpu_conv_cache;

/* NULL when lepton was built without oneDNN or memory ran out; the plan
 * then runs lp_conv2d. */
lp_cpu_conv_cache *lp_cpu_conv_cache_create(void);
void lp_cpu_conv_cache_free(lp_cpu_conv_cache *cache);

/* A dense NHWC problem: x [N, H, W, C], out [N, Ho, Wo, Cout]; weight is
 * the plan's contiguous [Cout, C / groups, KH, KW], bias [Cout] or NULL.
 * accumulate: out already holds the residual, the result is added to it
 * (before act). Returns LP_ERR_UNSUPPORTED with out untouched and err NOT
 * filled when oneDNN has no primitive for the problem (the caller falls
 * back); other failures fill err. */
typedef struct lp_cpu_conv_problem {
    int64_t n, c, h, w, cout, ho, wo;
    const lp_tensor *weight, *bias;
    const lp_conv2d_params *params;
    lp_activation act;
    bool accumulate;
} lp_cpu_conv_problem;

lp_status lp_cpu_conv_dnnl_run(lp_ctx *ctx, lp_cpu_conv_cache *cache, const lp_cpu_conv_problem *pb,
                               const float *x, float *out, lp_error *err);

#endif
