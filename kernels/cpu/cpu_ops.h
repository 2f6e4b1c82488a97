/* The CPU implementations behind the backend tables. lp_cpu_ref_* are the
 * oracle: plain loops written to be obviously right, single-threaded. lp_cpu_fast_*
 * are the fast paths (BLAS, blocking, SIMD-friendly loops, the thread pool),
 * tested against the oracle. Arguments arrive validated by the front-end. */
#ifndef LP_CPU_OPS_H
#define LP_CPU_OPS_H

#include "kernels/backend.h"

#define LP_CPU_OP_MATMUL(fn)                                                                     \
    lp_status fn(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, bool trans_a, bool trans_b, \
                 float alpha, lp_tensor *out, lp_error *err)
#define LP_CPU_OP_LINEAR(fn)                                                                      \
    lp_status fn(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight, const lp_tensor *bias, \
                 lp_activation act, lp_tensor *out, lp_error *err)
#define LP_CPU_OP_CONV2D(fn)                                                                      \
    lp_status fn(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight, const lp_tensor *bias, \
                 const lp_tensor *residual, const lp_conv2d_params *params, lp_activation act,    \
                 lp_tensor *out, lp_error *err)
#define LP_CPU_OP_MAXPOOL2D(fn)                                                               \
    lp_status fn(lp_ctx *ctx, const lp_tensor *x, const lp_pool2d_params *params, lp_tensor *out, \
                 lp_error *err)
#define LP_CPU_OP_GLOBAL_AVGPOOL2D(fn) \
    lp_status fn(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err)
#define LP_CPU_OP_UNARY(fn) \
    lp_status fn(lp_ctx *ctx, lp_activation act, const lp_tensor *x, lp_tensor *out, lp_error *err)
#define LP_CPU_OP_ADD(fn)                                                                      \
    lp_status fn(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_activation act,       \
                 lp_tensor *out, lp_error *err)
#define LP_CPU_OP_LAYER_NORM(fn)                                                               \
    lp_status fn(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *gamma, const lp_tensor *beta, \
                 float eps, lp_tensor *out, lp_error *err)
#define LP_CPU_OP_SOFTMAX(fn)                                                               \
    lp_status fn(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *mask, float scale, bool log, \
                 lp_tensor *out, lp_error *err)
#define LP_CPU_OP_ATTENTION(fn)                                                             \
    lp_status fn(lp_ctx *ctx, const lp_tensor *q, const lp_tensor *k, const lp_tensor *v,   \
                 const lp_attention_mask *mask, float scale, lp_tensor *out, lp_error *err)
#define LP_CPU_OP_EMBEDDING(fn)                                                            \
    lp_status fn(lp_ctx *ctx, const lp_tensor *table, const lp_tensor *ids, lp_tensor *out, \
                 lp_error *err)
#define LP_CPU_OP_SINUSOIDAL_POSITIONS(fn) \
    lp_status fn(lp_ctx *ctx, int64_t offset, lp_tensor *out, lp_error *err)
#define LP_CPU_OP_CAST(fn) lp_status fn(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err)
#define LP_CPU_OP_ARGMAX(fn) \
    lp_status fn(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err)
#define LP_CPU_OP_TOPK(fn)                                                                    \
    lp_status fn(lp_ctx *ctx, const lp_tensor *x, int64_t k, lp_tensor *values, lp_tensor *indices, \
                 lp_error *err)

/* the oracle */
LP_CPU_OP_MATMUL(lp_cpu_ref_matmul);
LP_CPU_OP_LINEAR(lp_cpu_ref_linear);
LP_CPU_OP_CONV2D(lp_cpu_ref_conv2d);
LP_CPU_OP_MAXPOOL2D(lp_cpu_ref_maxpool2d);
LP_CPU_OP_GLOBAL_AVGPOOL2D(lp_cpu_ref_global_avgpool2d);
LP_CPU_OP_UNARY(lp_cpu_ref_unary);
LP_CPU_OP_ADD(lp_cpu_ref_add);
LP_CPU_OP_LAYER_NORM(lp_cpu_ref_layer_norm);
LP_CPU_OP_SOFTMAX(lp_cpu_ref_softmax);
LP_CPU_OP_ATTENTION(lp_cpu_ref_attention);
LP_CPU_OP_EMBEDDING(lp_cpu_ref_embedding);
LP_CPU_OP_SINUSOIDAL_POSITIONS(lp_cpu_ref_sinusoidal_positions);
LP_CPU_OP_CAST(lp_cpu_ref_cast);
LP_CPU_OP_ARGMAX(lp_cpu_ref_argmax);
LP_CPU_OP_TOPK(lp_cpu_ref_topk);

/* fast paths; ops without one use the oracle in the "cpu" table */
LP_CPU_OP_MATMUL(lp_cpu_fast_matmul);
LP_CPU_OP_LINEAR(lp_cpu_fast_linear);
LP_CPU_OP_CONV2D(lp_cpu_fast_conv2d);
LP_CPU_OP_MAXPOOL2D(lp_cpu_fast_maxpool2d);
LP_CPU_OP_GLOBAL_AVGPOOL2D(lp_cpu_fast_global_avgpool2d);
LP_CPU_OP_UNARY(lp_cpu_fast_unary);
LP_CPU_OP_ADD(lp_cpu_fast_add);
LP_CPU_OP_LAYER_NORM(lp_cpu_fast_layer_norm);
LP_CPU_OP_SOFTMAX(lp_cpu_fast_softmax);
LP_CPU_OP_ATTENTION(lp_cpu_fast_attention);

#endif
