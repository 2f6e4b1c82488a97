/* Argument checks shared by the GEMM-family front-ends (op_matmul.c, the plans,
 * op_conv.c, op_pool.c). */
#include "kernels/op_gemm_common.h"

#include <stdint.h>

/* The bytes [lo, hi) a tensor with non-negative strides can touch. */
static void byte_span(const lp_tensor *t, uintptr_t *lo, uintptr_t *hi) {
    int64_t last = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] == 0) {
            *lo = *hi = 0;
            return;
        }
        last += (t->shape[d] - 1) * t->stride[d];
    }
    *lo = (uintptr_t)t->data;
    *hi = *lo + (uintptr_t)(last + 1) * lp_dtype_size(t->dtype);
}

bool lp_gemm_op_overlaps(const lp_tensor *a, const lp_tensor *b) {
    uintptr_t alo, ahi, blo, bhi;
    byte_span(a, &alo, &ahi);
    byte_span(b, &blo, &bhi);
    return alo < ahi && blo < bhi && alo < bhi && blo < ahi;
}

/* f32, on the backend's device, with data when it has elements. */
lp_status lp_gemm_op_check_tensor(const lp_ctx *ctx, const char *op, const char *arg,
                                  const lp_tensor *t, lp_error *err) {
    if (!t) return lp_fail(err, LP_ERR_INVALID_ARG, "%s: %s is NULL", op, arg);
    lp_status st = lp_check_dtype(op, arg, t, LP_F32, err);
    if (st != LP_OK) return st;
    if (t->device.kind != ctx->backend->device)
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: %s is not on the %s backend's device", op, arg,
                       ctx->backend->name);
    if (t->ndim < 0 || t->ndim > LP_MAX_DIMS)
        return lp_fail(err, LP_ERR_SHAPE, "%s: %s has %d dimensions", op, arg, t->ndim);
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 0 || t->stride[d] < 0)
            return lp_fail(err, LP_ERR_SHAPE, "%s: %s has a negative size or stride in dim %d", op,
                           arg, d);
    if (!t->data && lp_tensor_numel(t) > 0)
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: %s has no data", op, arg);
    return LP_OK;
}

/* The last two dims of t form a matrix whose last dim is dense and whose rows
 * do not overlap; the other strides are free. */
lp_status lp_gemm_op_check_matrix(const char *op, const char *arg, const lp_tensor *t,
                                  lp_error *err) {
    int nd = t->ndim;
    int64_t rows = t->shape[nd - 2], cols = t->shape[nd - 1];
    char desc[128];
    if (cols > 1 && t->stride[nd - 1] != 1)
        return lp_fail(err, LP_ERR_SHAPE,
                       "%s: %s (%s) must have stride 1 in its last dim, not %lld", op, arg,
                       lp_tensor_describe(t, desc, sizeof desc), (long long)t->stride[nd - 1]);
    if (rows > 1 && t->stride[nd - 2] < cols)
        return lp_fail(err, LP_ERR_SHAPE,
                       "%s: %s (%s) has row stride %lld, less than its %lld columns", op, arg,
                       lp_tensor_describe(t, desc, sizeof desc), (long long)t->stride[nd - 2],
                       (long long)cols);
    return LP_OK;
}

lp_status lp_gemm_op_check_linear(const lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight,
                                 const lp_tensor *bias, lp_activation act, const lp_tensor *out,
                                 lp_error *err) {
    const char *op = "linear";
    lp_status st;
    if ((st = lp_gemm_op_check_tensor(ctx, op, "x", x, err)) ||
        (st = lp_gemm_op_check_tensor(ctx, op, "weight", weight, err)) ||
        (st = lp_gemm_op_check_tensor(ctx, op, "out", out, err)) ||
        (bias && (st = lp_gemm_op_check_tensor(ctx, op, "bias", bias, err))))
        return st;
    if ((unsigned)act >= LP_ACT_COUNT)
        return lp_fail(err, LP_ERR_INVALID_ARG, "linear: activation %d is not an lp_activation",
                       (int)act);
    if ((st = lp_check_ndim(op, "x", x, 1, LP_MAX_DIMS, err)) ||
        (st = lp_check_ndim(op, "weight", weight, 2, 2, err)) ||
        (st = lp_check_contiguous(op, "x", x, err)) ||
        (st = lp_check_contiguous(op, "out", out, err)) ||
        (st = lp_gemm_op_check_matrix(op, "weight", weight, err)))
        return st;
    char dx[128], dw[128], dout[128];
    lp_tensor_describe(x, dx, sizeof dx);
    lp_tensor_describe(weight, dw, sizeof dw);
    lp_tensor_describe(out, dout, sizeof dout);
    int nd = x->ndim;
    int64_t features = weight->shape[0], in = weight->shape[1];
    if (x->shape[nd - 1] != in)
        return lp_fail(err, LP_ERR_SHAPE,
                       "linear: x is %s but weight is %s: the last dim of x must be %lld", dx, dw,
                       (long long)in);
    bool out_ok = out->ndim == nd && out->shape[nd - 1] == features;
    for (int d = 0; out_ok && d < nd - 1; d++) out_ok = out->shape[d] == x->shape[d];
    if (!out_ok)
        return lp_fail(err, LP_ERR_SHAPE,
                       "linear: out is %s, expected x's leading dims and %lld (x is %s)", dout,
                       (long long)features, dx);
    if (bias) {
        if (bias->ndim != 1 || bias->shape[0] != features)
            return lp_fail(err, LP_ERR_SHAPE, "linear: bias must be [%lld] (weight is %s)",
                           (long long)features, dw);
        if ((st = lp_check_contiguous(op, "bias", bias, err))) return st;
    }
    if (lp_gemm_op_overlaps(out, x) || lp_gemm_op_overlaps(out, weight) ||
        (bias && lp_gemm_op_overlaps(out, bias)))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "linear: out overlaps an input; give it its own memory");
    return LP_OK;
}
