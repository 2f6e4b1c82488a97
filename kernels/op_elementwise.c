/* Front-ends of the elementwise ops: lp_unary and lp_add (ops.h).
 *
 * lp_add's broadcast: b's shape, after dropping leading dimensions of size 1,
 * must equal the trailing dimensions of a (a bias over the last dims, a
 * residual of the same shape, a scalar); b is then repeated over a's leading
 * dims. Backends may therefore treat b as one contiguous block of numel(b)
 * values repeated numel(a) / numel(b) times. */
#include "kernels/op_elem_checks.h"

static lp_status check_activation(const char *op, lp_activation act, lp_error *err) {
    if ((unsigned)act < LP_ACT_COUNT) return LP_OK;
    return lp_fail(err, LP_ERR_INVALID_ARG, "%s: activation %d is not an lp_activation", op,
                   (int)act);
}

lp_status lp_unary(lp_ctx *ctx, lp_activation act, const lp_tensor *x, lp_tensor *out,
                   lp_error *err) {
    const char *op = "unary";
    lp_status st = lp_op_check_ctx(ctx, LP_OP_UNARY, err);
    if (st == LP_OK) st = check_activation(op, act, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "x", x, LP_F32, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "out", out, LP_F32, err);
    if (st == LP_OK) st = lp_ec_same_shape(op, "x", x, "out", out, err);
    if (st == LP_OK) st = lp_ec_no_partial_alias(op, "out", out, "x", x, err);
    if (st != LP_OK) return st;
    if (!ctx->backend->unary) return lp_op_missing(ctx, LP_OP_UNARY, err);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_UNARY, 0, scope, ctx->backend->unary(ctx, act, x, out, err));
}

/* b's shape without leading 1s must be a's trailing dims. */
static lp_status check_broadcast(const char *op, const lp_tensor *a, const lp_tensor *b,
                                 lp_error *err) {
    int first = 0;
    while (first < b->ndim && b->shape[first] == 1) first++;
    int rank = b->ndim - first;
    bool ok = rank <= a->ndim;
    for (int i = 0; ok && i < rank; i++)
        ok = b->shape[first + i] == a->shape[a->ndim - rank + i];
    if (ok) return LP_OK;
    char da[128], db[128];
    return lp_fail(err, LP_ERR_SHAPE,
                   "%s: b is %s, which is not a trailing part of a's shape %s (b repeats over a's "
                   "leading dims only)",
                   op, lp_tensor_describe(b, db, sizeof db), lp_tensor_describe(a, da, sizeof da));
}

lp_status lp_add(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_activation act,
                 lp_tensor *out, lp_error *err) {
    const char *op = "add";
    lp_status st = lp_op_check_ctx(ctx, LP_OP_ADD, err);
    if (st == LP_OK) st = check_activation(op, act, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "a", a, LP_F32, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "b", b, LP_F32, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "out", out, LP_F32, err);
    if (st == LP_OK) st = lp_ec_same_shape(op, "a", a, "out", out, err);
    if (st == LP_OK) st = check_broadcast(op, a, b, err);
    if (st == LP_OK) st = lp_ec_no_partial_alias(op, "out", out, "a", a, err);
    if (st == LP_OK) st = lp_ec_no_partial_alias(op, "out", out, "b", b, err);
    if (st != LP_OK) return st;
    if (!ctx->backend->add) return lp_op_missing(ctx, LP_OP_ADD, err);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_ADD, 0, scope, ctx->backend->add(ctx, a, b, act, out, err));
}
