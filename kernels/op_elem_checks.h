/* Argument checks shared by the front-ends of the non-GEMM ops
 * (kernels/op_{elementwise,norm,attention,embedding,cast,select}.c). Each one
 * names the op and the argument in its message, as lp_check_dtype does, so a
 * caller reads "softmax: mask is [2, 3] f32, ..." rather than a bare code.
 * Private to those files: static inline, no symbols. */
#ifndef LP_OP_ELEM_CHECKS_H
#define LP_OP_ELEM_CHECKS_H

#include <stdint.h>

#include "kernels/op_dispatch.h"

/* Present, on the backend's device, with a sane rank and no negative sizes. */
static inline lp_status lp_ec_tensor(const lp_ctx *ctx, const char *op, const char *arg,
                                     const lp_tensor *t, lp_error *err) {
    if (!t) return lp_fail(err, LP_ERR_INVALID_ARG, "%s: %s is NULL", op, arg);
    if (t->ndim < 0 || t->ndim > LP_MAX_DIMS)
        return lp_fail(err, LP_ERR_SHAPE, "%s: %s has %d dimensions (0 to %d allowed)", op, arg,
                       t->ndim, LP_MAX_DIMS);
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] < 0)
            return lp_fail(err, LP_ERR_SHAPE, "%s: %s has a negative size %lld in dimension %d",
                           op, arg, (long long)t->shape[i], i);
    if (t->device.kind != ctx->backend->device)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "%s: %s lives on another device than the %s backend; copy it first", op, arg,
                       ctx->backend->name);
    if (!t->data && lp_tensor_numel(t) > 0)
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: %s has no data", op, arg);
    return LP_OK;
}

/* lp_ec_tensor + dtype + contiguity, the common case for these ops. */
static inline lp_status lp_ec_dense(const lp_ctx *ctx, const char *op, const char *arg,
                                    const lp_tensor *t, lp_dtype dtype, lp_error *err) {
    lp_status st = lp_ec_tensor(ctx, op, arg, t, err);
    if (st == LP_OK) st = lp_check_dtype(op, arg, t, dtype, err);
    if (st == LP_OK) st = lp_check_contiguous(op, arg, t, err);
    return st;
}

static inline lp_status lp_ec_same_shape(const char *op, const char *a_name, const lp_tensor *a,
                                         const char *b_name, const lp_tensor *b, lp_error *err) {
    if (lp_tensor_same_shape(a, b)) return LP_OK;
    char da[128], db[128];
    return lp_fail(err, LP_ERR_SHAPE, "%s: %s is %s but %s is %s; they must have the same shape",
                   op, b_name, lp_tensor_describe(b, db, sizeof db), a_name,
                   lp_tensor_describe(a, da, sizeof da));
}

/* The bytes a view can touch (non-negative strides; an empty view touches none). */
static inline void lp_ec_span(const lp_tensor *t, uintptr_t *lo, uintptr_t *hi) {
    int64_t last = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] == 0) {
            *lo = *hi = (uintptr_t)t->data;
            return;
        }
        last += (t->shape[i] - 1) * (t->stride[i] < 0 ? -t->stride[i] : t->stride[i]);
    }
    *lo = (uintptr_t)t->data;
    *hi = *lo + (uintptr_t)((last + 1) * (int64_t)lp_dtype_size(t->dtype));
}

/* An output may be its input exactly (same start, same layout: "out may be x")
 * or share no byte with it; a partial overlap would read already-written values. */
static inline lp_status lp_ec_no_partial_alias(const char *op, const char *out_name,
                                               const lp_tensor *out, const char *in_name,
                                               const lp_tensor *in, lp_error *err) {
    uintptr_t olo, ohi, ilo, ihi;
    lp_ec_span(out, &olo, &ohi);
    lp_ec_span(in, &ilo, &ihi);
    if (olo >= ihi || ilo >= ohi) return LP_OK;
    bool same = out->data == in->data && out->dtype == in->dtype && lp_tensor_same_shape(out, in);
    for (int i = 0; same && i < out->ndim; i++) same = out->stride[i] == in->stride[i];
    if (same) return LP_OK;
    return lp_fail(err, LP_ERR_INVALID_ARG,
                   "%s: %s overlaps %s without being the same tensor; use separate memory or pass "
                   "the same tensor for in-place use",
                   op, out_name, in_name);
}

#endif
