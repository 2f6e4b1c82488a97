/* Front-ends of lp_argmax and lp_topk (ops.h). x: f32 [..., N], N >= 1,
 * contiguous. argmax's out is i64 with x's shape minus the last dimension (a
 * 0-d tensor for a 1-d x); topk's values (f32) and indices (i64) are
 * [..., k], 1 <= k <= N, apart from x and from each other.
 *
 * Order: NaN counts as the largest value (as torch); equal values (and NaNs
 * among themselves) rank by lower index first. torch.topk leaves the order of
 * ties unspecified (it returns them in any order), so that rule is lepton's:
 * deterministic, and what torch.argmax (first maximum) also does. */
#include <inttypes.h>

#include "kernels/op_elem_checks.h"

static lp_status check_rows(const lp_ctx *ctx, const char *op, const lp_tensor *x, lp_error *err) {
    lp_status st = lp_ec_dense(ctx, op, "x", x, LP_F32, err);
    if (st == LP_OK) st = lp_check_ndim(op, "x", x, 1, LP_MAX_DIMS, err);
    if (st == LP_OK && x->shape[x->ndim - 1] == 0)
        st = lp_fail(err, LP_ERR_SHAPE, "%s: x has an empty last dimension; nothing to select from",
                     op);
    return st;
}

/* t must be x's shape with the last dimension replaced by `last` (or dropped
 * when last < 0). */
static lp_status check_result_shape(const char *op, const char *arg, const lp_tensor *x,
                                    const lp_tensor *t, int64_t last, lp_error *err) {
    int want_ndim = last < 0 ? x->ndim - 1 : x->ndim;
    bool ok = t->ndim == want_ndim;
    for (int d = 0; ok && d < x->ndim - 1; d++) ok = t->shape[d] == x->shape[d];
    if (ok && last >= 0) ok = t->shape[x->ndim - 1] == last;
    if (ok) return LP_OK;
    char dx[128], dt[128];
    if (last < 0)
        return lp_fail(err, LP_ERR_SHAPE, "%s: %s is %s, expected x's shape %s without its last "
                                          "dimension",
                       op, arg, lp_tensor_describe(t, dt, sizeof dt),
                       lp_tensor_describe(x, dx, sizeof dx));
    return lp_fail(err, LP_ERR_SHAPE,
                   "%s: %s is %s, expected x's shape %s with the last dimension %" PRId64, op, arg,
                   lp_tensor_describe(t, dt, sizeof dt), lp_tensor_describe(x, dx, sizeof dx),
                   last);
}

static lp_status check_apart(const char *op, const char *a_name, const lp_tensor *a,
                             const char *b_name, const lp_tensor *b, lp_error *err) {
    uintptr_t alo, ahi, blo, bhi;
    lp_ec_span(a, &alo, &ahi);
    lp_ec_span(b, &blo, &bhi);
    if (alo >= bhi || blo >= ahi) return LP_OK;
    return lp_fail(err, LP_ERR_INVALID_ARG, "%s: %s overlaps %s; give it its own memory", op,
                   a_name, b_name);
}

lp_status lp_argmax(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err) {
    const char *op = "argmax";
    lp_status st = lp_op_check_ctx(ctx, LP_OP_ARGMAX, err);
    if (st == LP_OK) st = check_rows(ctx, op, x, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "out", out, LP_I64, err);
    if (st == LP_OK) st = check_result_shape(op, "out", x, out, -1, err);
    if (st == LP_OK) st = check_apart(op, "out", out, "x", x, err);
    if (st != LP_OK) return st;
    if (!ctx->backend->argmax) return lp_op_missing(ctx, LP_OP_ARGMAX, err);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_ARGMAX, 0, scope, ctx->backend->argmax(ctx, x, out, err));
}

lp_status lp_topk(lp_ctx *ctx, const lp_tensor *x, int64_t k, lp_tensor *values,
                  lp_tensor *indices, lp_error *err) {
    const char *op = "topk";
    lp_status st = lp_op_check_ctx(ctx, LP_OP_TOPK, err);
    if (st == LP_OK) st = check_rows(ctx, op, x, err);
    if (st != LP_OK) return st;
    int64_t n = x->shape[x->ndim - 1];
    if (k < 1 || k > n)
        return lp_fail(err, LP_ERR_INVALID_ARG, "topk: k is %" PRId64 ", expected 1 <= k <= %" PRId64
                                                " (the last dimension of x)",
                       k, n);
    st = lp_ec_dense(ctx, op, "values", values, LP_F32, err);
    if (st == LP_OK) st = lp_ec_dense(ctx, op, "indices", indices, LP_I64, err);
    if (st == LP_OK) st = check_result_shape(op, "values", x, values, k, err);
    if (st == LP_OK) st = check_result_shape(op, "indices", x, indices, k, err);
    if (st == LP_OK) st = check_apart(op, "values", values, "x", x, err);
    if (st == LP_OK) st = check_apart(op, "indices", indices, "x", x, err);
    if (st == LP_OK) st = check_apart(op, "values", values, "indices", indices, err);
    if (st != LP_OK) return st;
    if (!ctx->backend->topk) return lp_op_missing(ctx, LP_OP_TOPK, err);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_TOPK, 0, scope,
                       ctx->backend->topk(ctx, x, k, values, indices, err));
}
