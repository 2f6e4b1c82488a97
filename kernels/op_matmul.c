/* Front-ends of matmul and linear: validate every argument against ops.h,
 * then run on the context's backend (op_dispatch.h) and count the flops. */
#include "kernels/op_dispatch.h"
#include "kernels/op_gemm_common.h"

static lp_status check_matmul(const lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b,
                              bool trans_a, bool trans_b, const lp_tensor *out, lp_error *err) {
    const char *op = "matmul";
    lp_status st;
    if ((st = lp_gemm_op_check_tensor(ctx, op, "a", a, err)) ||
        (st = lp_gemm_op_check_tensor(ctx, op, "b", b, err)) ||
        (st = lp_gemm_op_check_tensor(ctx, op, "out", out, err)))
        return st;
    if ((st = lp_check_ndim(op, "a", a, 2, LP_MAX_DIMS, err))) return st;
    char da[128], db[128], dout[128];
    lp_tensor_describe(a, da, sizeof da);
    lp_tensor_describe(b, db, sizeof db);
    lp_tensor_describe(out, dout, sizeof dout);
    int nd = a->ndim;
    if (out->ndim != nd)
        return lp_fail(err, LP_ERR_SHAPE, "matmul: out is %s, expected the rank of a (%s)", dout,
                       da);
    if (b->ndim != nd && b->ndim != 2)
        return lp_fail(err, LP_ERR_SHAPE, "matmul: b is %s, expected rank 2 or the rank of a (%s)",
                       db, da);
    for (int d = 0; d < nd - 2; d++) {
        if (out->shape[d] != a->shape[d])
            return lp_fail(err, LP_ERR_SHAPE,
                           "matmul: batch dim %d of out (%s) differs from a (%s)", d, dout, da);
        if (b->ndim == nd && b->shape[d] != a->shape[d])
            return lp_fail(err, LP_ERR_SHAPE, "matmul: batch dim %d of b (%s) differs from a (%s)",
                           d, db, da);
        if (out->shape[d] > 1 && out->stride[d] == 0)
            return lp_fail(err, LP_ERR_SHAPE, "matmul: out (%s) has stride 0 in batch dim %d", dout,
                           d);
    }
    int bn = b->ndim;
    int64_t m = trans_a ? a->shape[nd - 1] : a->shape[nd - 2];
    int64_t k = trans_a ? a->shape[nd - 2] : a->shape[nd - 1];
    int64_t kb = trans_b ? b->shape[bn - 1] : b->shape[bn - 2];
    int64_t n = trans_b ? b->shape[bn - 2] : b->shape[bn - 1];
    if (k != kb)
        return lp_fail(
            err, LP_ERR_SHAPE, "matmul: inner dims differ: a%s is %s (k=%lld), b%s is %s (k=%lld)",
            trans_a ? "^T" : "", da, (long long)k, trans_b ? "^T" : "", db, (long long)kb);
    if (out->shape[nd - 2] != m || out->shape[nd - 1] != n)
        return lp_fail(err, LP_ERR_SHAPE, "matmul: out is %s, expected [..., %lld, %lld]", dout,
                       (long long)m, (long long)n);
    if ((st = lp_gemm_op_check_matrix(op, "a", a, err)) ||
        (st = lp_gemm_op_check_matrix(op, "b", b, err)) ||
        (st = lp_gemm_op_check_matrix(op, "out", out, err)))
        return st;
    if (lp_gemm_op_overlaps(out, a) || lp_gemm_op_overlaps(out, b))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "matmul: out overlaps an input; give it its own memory");
    return LP_OK;
}

lp_status lp_matmul(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, bool trans_a, bool trans_b,
                    float alpha, lp_tensor *out, lp_error *err) {
    lp_status st = lp_op_check_ctx(ctx, LP_OP_MATMUL, err);
    if (st != LP_OK) return st;
    if ((st = check_matmul(ctx, a, b, trans_a, trans_b, out, err))) return st;
    if (!ctx->backend->matmul) return lp_op_missing(ctx, LP_OP_MATMUL, err);
    int nd = a->ndim;
    double flops = 2.0 * (double)lp_tensor_numel(out) *
                   (double)(trans_a ? a->shape[nd - 2] : a->shape[nd - 1]);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_MATMUL, flops, scope,
                       ctx->backend->matmul(ctx, a, b, trans_a, trans_b, alpha, out, err));
}

lp_status lp_linear(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight, const lp_tensor *bias,
                    lp_activation act, lp_tensor *out, lp_error *err) {
    lp_status st = lp_op_check_ctx(ctx, LP_OP_LINEAR, err);
    if (st != LP_OK) return st;
    if ((st = lp_gemm_op_check_linear(ctx, x, weight, bias, act, out, err))) return st;
    if (!ctx->backend->linear) return lp_op_missing(ctx, LP_OP_LINEAR, err);
    double flops = 2.0 * (double)lp_tensor_numel(out) * (double)weight->shape[1];
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_LINEAR, flops, scope,
                       ctx->backend->linear(ctx, x, weight, bias, act, out, err));
}
