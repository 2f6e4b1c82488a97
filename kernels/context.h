/* The context an op runs in: which backend, which threads, scratch memory for
 * temporaries (im2col buffers and the like) and an optional per-op profile.
 * A context is used by one thread at a time; a server worker owns one. */
#ifndef LP_CONTEXT_H
#define LP_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/arena.h"
#include "kernels/threadpool.h"

typedef struct lp_backend lp_backend;

/* Per-op totals, filled when a context has profiling on. */
typedef struct lp_op_profile {
    uint64_t calls;
    uint64_t nanoseconds;
    double flops; /* where the op can count them (GEMMs, convolutions) */
} lp_op_profile;

typedef struct lp_ctx {
    const lp_backend *backend;
    lp_threadpool *pool;   /* NULL runs single-threaded */
    lp_arena *scratch;     /* owned: op temporaries, rewound after each op */
    lp_op_profile *profile; /* NULL = off; else an array of LP_OP_COUNT */
} lp_ctx;

/* backend: lp_backend_cpu() or lp_backend_cpu_ref(); pool may be NULL. */
lp_status lp_ctx_init(lp_ctx *ctx, const lp_backend *backend, lp_threadpool *pool, lp_error *err);
void lp_ctx_release(lp_ctx *ctx);

/* Turns per-op timing on (allocates the table) or off. */
lp_status lp_ctx_enable_profile(lp_ctx *ctx, bool on, lp_error *err);

#endif
