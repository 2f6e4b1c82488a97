/* Argument checks shared by the GEMM-family front-ends (op_matmul.c,
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
