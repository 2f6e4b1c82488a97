/* Front-ends of lp_layer_norm and lp_softmax (ops.h).
 *
 * lp_softmax's mask broadcasts like torch: aligned to x from the right, its
 * last dimension equals x's, every other dimension equals x's or is 1, and
 * missing leading dimensions count as 1 (BERT's [B, 1, 1, S] padding mask and
 * a [S, S] causal mask over [B, H, S, S] scores both work). */
#include <math.h>

#include "kernels/op_elem_checks.h"

static lp_status check_param(const char *op, const char *arg, const lp_tensor *p, int64_t d,
                             const lp_ctx *ctx, lp_error *err) {
    lp_status st = lp_ec_dense(ctx, op, arg, p, LP_F32, err);
    if (st != LP_OK) return st;
    if (p->ndim == 1 && p->shape[0] == d) return LP_OK;
    char desc[128];
    return lp_fail(err, LP_ERR_SHAPE, "%s: %s is %s, expected [%lld] (the last dimension of x)", op,
                   arg, lp_tensor_describe(p, desc, sizeof desc), (long long)d);
}

lp_status lp_layer_norm(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *gamma,
                        const lp_tensor *beta, float eps, lp_tensor *out, lp_error *err) {
    const char *op = "layer_norm";
    lp_status st = lp_op_check_ctx(ctx, LP_OP_LAYER_NORM, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "x", x, LP_F32, err);
    if (st == LP_OK) st = lp_check_ndim(op, "x", x, 1, LP_MAX_DIMS, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "out", out, LP_F32, err);
    if (st == LP_OK) st = lp_ec_same_shape(op, "x", x, "out", out, err);
    if (st == LP_OK) st = lp_ec_no_partial_alias(op, "out", out, "x", x, err);
    if (st != LP_OK) return st;
    int64_t d = x->shape[x->ndim - 1];
    if (gamma && (st = check_param(op, "gamma", gamma, d, ctx, err)) != LP_OK) return st;
    if (beta && (st = check_param(op, "beta", beta, d, ctx, err)) != LP_OK) return st;
    if (gamma && (st = lp_ec_no_partial_alias(op, "out", out, "gamma", gamma, err)) != LP_OK)
        return st;
    if (beta && (st = lp_ec_no_partial_alias(op, "out", out, "beta", beta, err)) != LP_OK)
        return st;
    if (!(eps >= 0.0f) || isinf(eps))
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: eps is %g; it must be finite and >= 0", op,
                       (double)eps);
    if (!ctx->backend->layer_norm) return lp_op_missing(ctx, LP_OP_LAYER_NORM, err);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_LAYER_NORM, 0, scope,
                       ctx->backend->layer_norm(ctx, x, gamma, beta, eps, out, err));
}

static lp_status check_mask(const char *op, const lp_tensor *x, const lp_tensor *mask,
                            lp_error *err) {
    bool ok = mask->ndim >= 1 && mask->ndim <= x->ndim &&
              mask->shape[mask->ndim - 1] == x->shape[x->ndim - 1];
    for (int i = 0; ok && i < mask->ndim - 1; i++) {
        int64_t m = mask->shape[i], xd = x->shape[x->ndim - mask->ndim + i];
        ok = m == xd || m == 1;
    }
    if (ok) return LP_OK;
    char dx[128], dm[128];
    return lp_fail(err, LP_ERR_SHAPE,
                   "%s: mask is %s, which does not broadcast to x %s (same last dimension; each "
                   "other dimension equal to x's or 1)",
                   op, lp_tensor_describe(mask, dm, sizeof dm), lp_tensor_describe(x, dx, sizeof dx));
}

lp_status lp_softmax(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *mask, float scale, bool log,
                     lp_tensor *out, lp_error *err) {
    const char *op = log ? "log_softmax" : "softmax";
    lp_status st = lp_op_check_ctx(ctx, LP_OP_SOFTMAX, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "x", x, LP_F32, err);
    if (st == LP_OK) st = lp_check_ndim(op, "x", x, 1, LP_MAX_DIMS, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "out", out, LP_F32, err);
    if (st == LP_OK) st = lp_ec_same_shape(op, "x", x, "out", out, err);
    if (st == LP_OK) st = lp_ec_no_partial_alias(op, "out", out, "x", x, err);
    if (st == LP_OK && mask) st = lp_ec_dense(ctx, op, "mask", mask, LP_F32, err);
    if (st == LP_OK && mask) st = check_mask(op, x, mask, err);
    if (st == LP_OK && mask) st = lp_ec_no_partial_alias(op, "out", out, "mask", mask, err);
    if (st != LP_OK) return st;
    if (!isfinite(scale))
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: scale is %g; it must be finite", op,
                       (double)scale);
    if (!ctx->backend->softmax) return lp_op_missing(ctx, LP_OP_SOFTMAX, err);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_SOFTMAX, 0, scope,
                       ctx->backend->softmax(ctx, x, mask, scale, log, out, err));
}
