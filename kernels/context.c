#include "kernels/context.h"

#include <stdlib.h>
#include <time.h>

#include "kernels/backend.h"
#include "kernels/op_dispatch.h"

/* Scratch starts small; it grows to the largest op's needs during warm-up. */
#define SCRATCH_INITIAL_BYTES ((size_t)1 << 20)

static const char *const OP_NAMES[LP_OP_COUNT] = {
    [LP_OP_MATMUL] = "matmul",
    [LP_OP_LINEAR] = "linear",
    [LP_OP_CONV2D] = "conv2d",
    [LP_OP_MAXPOOL2D] = "maxpool2d",
    [LP_OP_GLOBAL_AVGPOOL2D] = "global_avgpool2d",
    [LP_OP_UNARY] = "unary",
    [LP_OP_ADD] = "add",
    [LP_OP_LAYER_NORM] = "layer_norm",
    [LP_OP_SOFTMAX] = "softmax",
    [LP_OP_ATTENTION] = "attention",
    [LP_OP_EMBEDDING] = "embedding",
    [LP_OP_SINUSOIDAL_POSITIONS] = "sinusoidal_positions",
    [LP_OP_CAST] = "cast",
    [LP_OP_ARGMAX] = "argmax",
    [LP_OP_TOPK] = "topk",
};

const char *lp_op_name(lp_op_id op) {
    return (unsigned)op < LP_OP_COUNT ? OP_NAMES[op] : "invalid op";
}

const char *lp_activation_name(lp_activation act) {
    switch (act) {
    case LP_ACT_NONE: return "none";
    case LP_ACT_RELU: return "relu";
    case LP_ACT_GELU_ERF: return "gelu";
    case LP_ACT_GELU_TANH: return "gelu_tanh";
    case LP_ACT_TANH: return "tanh";
    case LP_ACT_COUNT: break;
    }
    return "invalid activation";
}

lp_status lp_ctx_init(lp_ctx *ctx, const lp_backend *backend, lp_threadpool *pool, lp_error *err) {
    if (!ctx || !backend) return lp_fail(err, LP_ERR_INVALID_ARG, "context: no backend given");
    ctx->backend = backend;
    ctx->pool = pool;
    ctx->profile = NULL;
    ctx->scratch = lp_arena_create(SCRATCH_INITIAL_BYTES);
    if (!ctx->scratch) return lp_fail(err, LP_ERR_NOMEM, "context: cannot allocate scratch memory");
    return LP_OK;
}

void lp_ctx_release(lp_ctx *ctx) {
    if (!ctx) return;
    lp_arena_destroy(ctx->scratch);
    free(ctx->profile);
    ctx->scratch = NULL;
    ctx->profile = NULL;
}

lp_status lp_ctx_enable_profile(lp_ctx *ctx, bool on, lp_error *err) {
    if (!on) {
        free(ctx->profile);
        ctx->profile = NULL;
        return LP_OK;
    }
    if (ctx->profile) return LP_OK;
    ctx->profile = calloc(LP_OP_COUNT, sizeof *ctx->profile);
    if (!ctx->profile) return lp_fail(err, LP_ERR_NOMEM, "context: cannot allocate the profile");
    return LP_OK;
}

uint64_t lp_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The scratch arena starts small and an op's rewind frees the chunks it grew,
 * so an op whose temporaries exceed the first block would get them from
 * malloc (mmap for MBs) and page-fault them in on every call (measured: 2.8 ms
 * of the ResNet-50 stem's 4 ms at batch 1). When the arena is empty (no
 * enclosing op holds scratch) and smaller than what has been asked of it
 * before, grow it once to that size: one chunk, then a reset, which coalesces
 * the arena into one block of its high-water mark (kernels/arena.h). Every
 * later call of that size allocates nothing. */
static void settle_scratch(lp_arena *a) {
    size_t high = lp_arena_high_water(a);
    if (lp_arena_used(a) != 0 || lp_arena_capacity(a) >= high) return;
    if (lp_arena_alloc(a, high)) lp_arena_reset(a);
}

lp_op_scope lp_op_enter(lp_ctx *ctx) {
    settle_scratch(ctx->scratch);
    lp_op_scope scope = {ctx->profile ? lp_now_ns() : 0, lp_arena_get_mark(ctx->scratch)};
    return scope;
}

lp_status lp_op_leave(lp_ctx *ctx, lp_op_id op, double flops, lp_op_scope scope, lp_status status) {
    lp_arena_rewind(ctx->scratch, scope.mark);
    if (ctx->profile) {
        lp_op_profile *p = &ctx->profile[op];
        p->calls++;
        p->nanoseconds += lp_now_ns() - scope.start_ns;
        p->flops += flops;
    }
    return status;
}

lp_status lp_op_missing(const lp_ctx *ctx, lp_op_id op, lp_error *err) {
    return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: not implemented on the %s backend", lp_op_name(op),
                   ctx->backend->name);
}

lp_status lp_op_check_ctx(const lp_ctx *ctx, lp_op_id op, lp_error *err) {
    if (!ctx || !ctx->backend || !ctx->scratch)
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: context not initialised (lp_ctx_init)",
                       lp_op_name(op));
    return LP_OK;
}
