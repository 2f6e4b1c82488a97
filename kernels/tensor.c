#include "kernels/tensor.h"

#include <stdio.h>
#include <string.h>

lp_tensor lp_tensor_make(void *data, lp_dtype dtype, int ndim, const int64_t *shape) {
    lp_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = dtype;
    t.ndim = ndim;
    t.device.kind = LP_DEVICE_CPU;
    int64_t stride = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t.shape[i] = shape[i];
        t.stride[i] = stride;
        stride *= shape[i];
    }
    return t;
}

lp_tensor lp_tensor_1d(void *data, lp_dtype dtype, int64_t d0) {
    return lp_tensor_make(data, dtype, 1, (int64_t[]){d0});
}
lp_tensor lp_tensor_2d(void *data, lp_dtype dtype, int64_t d0, int64_t d1) {
    return lp_tensor_make(data, dtype, 2, (int64_t[]){d0, d1});
}
lp_tensor lp_tensor_3d(void *data, lp_dtype dtype, int64_t d0, int64_t d1, int64_t d2) {
    return lp_tensor_make(data, dtype, 3, (int64_t[]){d0, d1, d2});
}
lp_tensor lp_tensor_4d(void *data, lp_dtype dtype, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    return lp_tensor_make(data, dtype, 4, (int64_t[]){d0, d1, d2, d3});
}

int64_t lp_tensor_numel(const lp_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t lp_tensor_nbytes(const lp_tensor *t) {
    return (size_t)lp_tensor_numel(t) * lp_dtype_size(t->dtype);
}

bool lp_tensor_is_contiguous(const lp_tensor *t) {
    int64_t stride = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != stride) return false;
        stride *= t->shape[i];
    }
    return true;
}

bool lp_tensor_same_shape(const lp_tensor *a, const lp_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

lp_tensor lp_tensor_narrow(const lp_tensor *t, int dim, int64_t start, int64_t len) {
    lp_tensor v = *t;
    v.data = (char *)t->data + start * t->stride[dim] * (int64_t)lp_dtype_size(t->dtype);
    v.shape[dim] = len;
    return v;
}

lp_tensor lp_tensor_transpose(const lp_tensor *t, int d0, int d1) {
    lp_tensor v = *t;
    v.shape[d0] = t->shape[d1];
    v.shape[d1] = t->shape[d0];
    v.stride[d0] = t->stride[d1];
    v.stride[d1] = t->stride[d0];
    return v;
}

lp_status lp_tensor_reshape(const lp_tensor *t, int ndim, const int64_t *shape, lp_tensor *out,
                            lp_error *err) {
    char desc[128];
    if (ndim < 0 || ndim > LP_MAX_DIMS)
        return lp_fail(err, LP_ERR_SHAPE, "reshape: %d dimensions (at most %d)", ndim, LP_MAX_DIMS);
    if (!lp_tensor_is_contiguous(t))
        return lp_fail(err, LP_ERR_SHAPE, "reshape: tensor %s is not contiguous",
                       lp_tensor_describe(t, desc, sizeof desc));
    lp_tensor v = lp_tensor_make(t->data, t->dtype, ndim, shape);
    v.device = t->device;
    if (lp_tensor_numel(&v) != lp_tensor_numel(t))
        return lp_fail(err, LP_ERR_SHAPE, "reshape: %s has %lld elements, the new shape %lld",
                       lp_tensor_describe(t, desc, sizeof desc), (long long)lp_tensor_numel(t),
                       (long long)lp_tensor_numel(&v));
    *out = v;
    return LP_OK;
}

const char *lp_tensor_describe(const lp_tensor *t, char *buf, size_t size) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (int i = 0; i < t->ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (n < size) snprintf(buf + n, size - n, "] %s", lp_dtype_name(t->dtype));
    return buf;
}

lp_status lp_check_dtype(const char *op, const char *arg, const lp_tensor *t, lp_dtype want,
                         lp_error *err) {
    if (t->dtype == want) return LP_OK;
    return lp_fail(err, LP_ERR_DTYPE, "%s: %s has dtype %s, expected %s", op, arg,
                   lp_dtype_name(t->dtype), lp_dtype_name(want));
}

lp_status lp_check_ndim(const char *op, const char *arg, const lp_tensor *t, int min_ndim,
                        int max_ndim, lp_error *err) {
    if (t->ndim >= min_ndim && t->ndim <= max_ndim) return LP_OK;
    char desc[128];
    return lp_fail(err, LP_ERR_SHAPE, "%s: %s is %s, expected %d to %d dimensions", op, arg,
                   lp_tensor_describe(t, desc, sizeof desc), min_ndim, max_ndim);
}

lp_status lp_check_contiguous(const char *op, const char *arg, const lp_tensor *t, lp_error *err) {
    if (lp_tensor_is_contiguous(t)) return LP_OK;
    char desc[128];
    return lp_fail(err, LP_ERR_SHAPE, "%s: %s (%s) must be contiguous", op, arg,
                   lp_tensor_describe(t, desc, sizeof desc));
}
