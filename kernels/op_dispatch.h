/* Private to the op front-ends (kernels/op_*.c): the bracket around a backend
 * call that rewinds scratch memory and records the per-op profile.
 *
 *   if (!ctx->backend->matmul) return lp_op_missing(ctx, LP_OP_MATMUL, err);
 *   lp_op_scope scope = lp_op_enter(ctx);
 *   return lp_op_leave(ctx, LP_OP_MATMUL, flops, scope, ctx->backend->matmul(...));
 */
#ifndef LP_OP_DISPATCH_H
#define LP_OP_DISPATCH_H

#include "kernels/backend.h"

typedef struct lp_op_scope {
    uint64_t start_ns;
    lp_arena_mark mark;
} lp_op_scope;

lp_op_scope lp_op_enter(lp_ctx *ctx);
lp_status lp_op_leave(lp_ctx *ctx, lp_op_id op, double flops, lp_op_scope scope, lp_status status);
lp_status lp_op_missing(const lp_ctx *ctx, lp_op_id op, lp_error *err);

/* Common front-end checks: the context is usable and every tensor lives on
 * the backend's device. */
lp_status lp_op_check_ctx(const lp_ctx *ctx, lp_op_id op, lp_error *err);

uint64_t lp_now_ns(void);

#endif
