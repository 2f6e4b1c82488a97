/* Model memory on a backend's device (backend_memory.h). */
#include "kernels/backend_memory.h"

#include <pthread.h>
#include <string.h>

bool lp_backend_on_host(const lp_backend *b) { return !b || b->device == LP_DEVICE_CPU; }

lp_tensor lp_tensor_on(lp_tensor t, lp_device device) {
    t.device = device;
    return t;
}

/* The device backends that hold uploaded weights, so lp_backend_forget_weights
 * reaches their caches without the model remembering which backends its
 * sessions used. A process has one or two (the CUDA plugin; a test's tables). */
#define MAX_WEIGHT_BACKENDS 8
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static const lp_backend *g_uploaders[MAX_WEIGHT_BACKENDS];
static int g_nuploaders;

static lp_status remember_uploader(const lp_backend *b, lp_error *err) {
    lp_status st = LP_OK;
    pthread_mutex_lock(&g_mu);
    int i = 0;
    while (i < g_nuploaders && g_uploaders[i] != b) i++;
    if (i == g_nuploaders) {
        if (g_nuploaders < MAX_WEIGHT_BACKENDS)
            g_uploaders[g_nuploaders++] = b;
        else
            st = lp_fail(err, LP_ERR_UNSUPPORTED,
                         "backend %s: more than %d device backends hold model weights", b->name,
                         MAX_WEIGHT_BACKENDS);
    }
    pthread_mutex_unlock(&g_mu);
    return st;
}

lp_status lp_backend_weight(const lp_backend *b, const lp_tensor *host, lp_tensor *out,
                            lp_error *err) {
    *out = *host;
    if (lp_backend_on_host(b) || !host->data) return LP_OK;
    if (!b->device_weight || !b->device_weight_forget)
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "backend %s keeps tensors in device memory but has no weight cache "
                       "(device_weight); models cannot run on it",
                       b->name);
    lp_status st = remember_uploader(b, err);
    return st != LP_OK ? st : b->device_weight(host, host->dtype, out, err);
}

void lp_backend_forget_weights(const void *host, size_t bytes) {
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nuploaders; i++) g_uploaders[i]->device_weight_forget(host, bytes);
    pthread_mutex_unlock(&g_mu);
}

lp_arena *lp_backend_arena_create(const lp_backend *b, size_t initial_bytes) {
    if (lp_backend_on_host(b)) return lp_arena_create(initial_bytes);
    if (!b->device_alloc || !b->device_free) return NULL;
    lp_arena_memory mem = {b->device_alloc, b->device_free, {b->device, 0}};
    return lp_arena_create_in(initial_bytes, &mem);
}

lp_status lp_backend_upload(const lp_backend *b, lp_arena *arena, const lp_tensor *host,
                            lp_tensor *out, lp_error *err) {
    if (host->device.kind != LP_DEVICE_CPU || !lp_tensor_is_contiguous(host))
        return lp_fail(err, LP_ERR_INVALID_ARG, "upload: the input must be a contiguous host tensor");
    if (lp_backend_on_host(b)) {
        *out = *host;
        return LP_OK;
    }
    if (!b->copy)
        return lp_fail(err, LP_ERR_UNSUPPORTED, "backend %s cannot copy to its device", b->name);
    lp_status st = lp_arena_tensor(arena, host->dtype, host->ndim, host->shape, out, err);
    if (st != LP_OK) return st;
    size_t bytes = lp_tensor_nbytes(host);
    return bytes ? b->copy(out->data, host->data, bytes, true, err) : LP_OK;
}

lp_status lp_backend_download(const lp_backend *b, const lp_tensor *src, void *dst, lp_error *err) {
    if (!lp_tensor_is_contiguous(src))
        return lp_fail(err, LP_ERR_INVALID_ARG, "download: the tensor must be contiguous");
    size_t bytes = lp_tensor_nbytes(src);
    if (!bytes) return LP_OK;
    if (lp_backend_on_host(b) || src->device.kind == LP_DEVICE_CPU) {
        if (dst != src->data) memcpy(dst, src->data, bytes);
        return LP_OK;
    }
    if (!b->copy)
        return lp_fail(err, LP_ERR_UNSUPPORTED, "backend %s cannot copy from its device", b->name);
    return b->copy(dst, src->data, bytes, false, err);
}

lp_status lp_backend_weight_in_place(lp_tensor *t, const lp_backend *b, lp_error *err) {
    lp_tensor dev;
    lp_status st = lp_backend_weight(b, t, &dev, err);
    if (st == LP_OK) *t = dev;
    return st;
}

lp_status lp_backend_forget_tensor(lp_tensor *t, const lp_backend *b, lp_error *err) {
    (void)b;
    (void)err;
    if (t->data) lp_backend_forget_weights(t->data, lp_tensor_nbytes(t));
    return LP_OK;
}
