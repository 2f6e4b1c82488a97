/* The device weight cache (weight_cache.h): a list of uploaded tensors under
 * one mutex. A model has hundreds of tensors and each is looked up once per
 * session, so a linear scan is not worth a hash table. The upload happens
 * under the mutex: two sessions asking for the same weight must not both
 * upload it, and uploads happen once per process. */
#include "kernels/cuda/weight_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_runtime_glue.h"

typedef struct entry {
    const void *host;
    size_t host_bytes;
    lp_dtype host_dtype, dtype;
    void *dev;
    struct entry *next;
} entry;

struct lp_cuda_weights {
    pthread_mutex_t mu;
    entry *head;
    size_t bytes, uploads;
};

lp_status lp_cuda_weights_create(lp_cuda_weights **out, lp_error *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return lp_fail(err, LP_ERR_NOMEM, "weight cache: out of host memory");
    pthread_mutex_init(&(*out)->mu, NULL);
    return LP_OK;
}

void lp_cuda_weights_destroy(lp_cuda_weights *w) {
    if (!w) return;
    for (entry *e = w->head, *next; e; e = next) {
        next = e->next;
        lp_cuda_rt_free(e->dev);
        free(e);
    }
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* The bytes to upload: the tensor itself, or its f16 / bf16 rounding in
 * *staging (malloc'd; the caller frees it). */
static lp_status device_bytes(const lp_tensor *host, lp_dtype dtype, const void **src, void **staging,
                              lp_error *err) {
    *staging = NULL;
    *src = host->data;
    if (dtype == host->dtype) return LP_OK;
    if (host->dtype != LP_F32 || (dtype != LP_F16 && dtype != LP_BF16))
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "weight cache: %s weights cannot be stored as %s (f32 -> f16 / bf16 only)",
                       lp_dtype_name(host->dtype), lp_dtype_name(dtype));
    int64_t n = lp_tensor_numel(host);
    uint16_t *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    if (!h) return lp_fail(err, LP_ERR_NOMEM, "weight cache: out of host memory converting weights");
    const float *x = host->data;
    for (int64_t i = 0; i < n; i++) h[i] = dtype == LP_F16 ? lp_f32_to_f16(x[i]) : lp_f32_to_bf16(x[i]);
    *src = h;
    *staging = h;
    return LP_OK;
}

static lp_status upload(lp_cuda_weights *w, const lp_tensor *host, lp_dtype dtype, entry **out,
                        lp_error *err) {
    const void *src;
    void *staging;
    lp_status st = device_bytes(host, dtype, &src, &staging, err);
    if (st != LP_OK) return st;
    size_t bytes = (size_t)lp_tensor_numel(host) * lp_dtype_size(dtype);
    entry *e = calloc(1, sizeof *e);
    if (!e) st = lp_fail(err, LP_ERR_NOMEM, "weight cache: out of host memory");
    if (st == LP_OK) st = lp_cuda_rt_alloc(bytes, &e->dev, err);
    if (st == LP_OK) st = lp_cuda_rt_copy(e->dev, src, bytes, LP_CUDA_H2D, err);
    /* other workers read it on their own streams: the copy must have landed */
    if (st == LP_OK) st = lp_cuda_rt_synchronize(err);
    free(staging);
    if (st != LP_OK) {
        if (e) lp_cuda_rt_free(e->dev);
        free(e);
        return st;
    }
    e->host = host->data;
    e->host_bytes = lp_tensor_nbytes(host);
    e->host_dtype = host->dtype;
    e->dtype = dtype;
    e->next = w->head;
    w->head = e;
    w->bytes += bytes;
    w->uploads++;
    *out = e;
    return LP_OK;
}

lp_status lp_cuda_weights_get(lp_cuda_weights *w, const lp_tensor *host, lp_dtype dtype,
                              lp_tensor *dev, lp_error *err) {
    if (!w || !host || !dev) return lp_fail(err, LP_ERR_INVALID_ARG, "weight cache: NULL argument");
    if (host->device.kind != LP_DEVICE_CPU || !lp_tensor_is_contiguous(host) ||
        (!host->data && lp_tensor_numel(host) > 0))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "weight cache: weights must be a contiguous host tensor with data");
    pthread_mutex_lock(&w->mu);
    entry *e = w->head;
    while (e && !(e->host == host->data && e->host_bytes == lp_tensor_nbytes(host) && e->dtype == dtype))
        e = e->next;
    lp_status st = e ? LP_OK : upload(w, host, dtype, &e, err);
    pthread_mutex_unlock(&w->mu);
    if (st != LP_OK) return st;
    *dev = *host;
    dev->data = e->dev;
    dev->dtype = dtype;
    dev->device.kind = LP_DEVICE_CUDA;
    dev->device.index = 0;
    return LP_OK;
}

void lp_cuda_weights_forget(lp_cuda_weights *w, const void *host, size_t bytes) {
    if (!w || !host || !bytes) return;
    const char *lo = host, *hi = lo + bytes;
    pthread_mutex_lock(&w->mu);
    for (entry **p = &w->head; *p;) {
        entry *e = *p;
        const char *elo = e->host, *ehi = elo + e->host_bytes;
        if (elo < hi && lo < ehi) {
            *p = e->next;
            w->bytes -= (size_t)(e->host_bytes / lp_dtype_size(e->host_dtype)) * lp_dtype_size(e->dtype);
            lp_cuda_rt_free(e->dev);
            free(e);
        } else {
            p = &e->next;
        }
    }
    pthread_mutex_unlock(&w->mu);
}

size_t lp_cuda_weights_bytes(lp_cuda_weights *w) {
    pthread_mutex_lock(&w->mu);
    size_t n = w->bytes;
    pthread_mutex_unlock(&w->mu);
    return n;
}

size_t lp_cuda_weights_uploads(lp_cuda_weights *w) {
    pthread_mutex_lock(&w->mu);
    size_t n = w->uploads;
    pthread_mutex_unlock(&w->mu);
    return n;
}
