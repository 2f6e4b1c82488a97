/* Front-end of lp_cast (ops.h): f32, f16 and bf16, any pair (the same dtype
 * is a copy), same shape, contiguous; out may not overlap x unless it is x
 * with the same dtype. */
#include "kernels/op_elem_checks.h"

static lp_status check_float(const char *arg, const lp_tensor *t, lp_error *err) {
    if (t->dtype == LP_F32 || t->dtype == LP_F16 || t->dtype == LP_BF16) return LP_OK;
    return lp_fail(err, LP_ERR_DTYPE, "cast: %s has dtype %s; cast converts between f32, f16 and bf16",
                   arg, lp_dtype_name(t->dtype));
}

lp_status lp_cast(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err) {
    const char *op = "cast";
    lp_status st = lp_op_check_ctx(ctx, LP_OP_CAST, err);
    if (st == LP_OK) st = lp_ec_tensor(ctx, op, "x", x, err);
    if (st == LP_OK) st = check_float("x", x, err);
    if (st == LP_OK) st = lp_check_contiguous(op, "x", x, err);
    if (st == LP_OK) st = lp_ec_tensor(ctx, op, "out", out, err);
    if (st == LP_OK) st = check_float("out", out, err);
    if (st == LP_OK) st = lp_check_contiguous(op, "out", out, err);
    if (st == LP_OK) st = lp_ec_same_shape(op, "x", x, "out", out, err);
    if (st == LP_OK) st = lp_ec_no_partial_alias(op, "out", out, "x", x, err);
    if (st != LP_OK) return st;
    if (!ctx->backend->cast) return lp_op_missing(ctx, LP_OP_CAST, err);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_CAST, 0, scope, ctx->backend->cast(ctx, x, out, err));
}
