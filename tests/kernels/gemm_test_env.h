/* Shared set-up for the GEMM-family op tests (tests/kernels/test_{matmul,conv,
 * pool,gemm_fixtures}.c): a "cpu-ref" context, "cpu" contexts on 1-, 2- and
 * 3-thread pools, strided views over padded storage, and the comparison of a
 * view against the oracle that also proves the op wrote nothing outside it.
 * Header-only: each test is its own executable. */
#ifndef LP_TESTS_GEMM_TEST_ENV_H
#define LP_TESTS_GEMM_TEST_ENV_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/ops.h"
#include "tests/test_util.h"

#define GEMM_NFAST 3

/* The value storage outside an output view keeps; an op that writes past
 * its view changes it. */
#define GEMM_SENTINEL 12345.0f

typedef struct gemm_env {
    lp_threadpool *pool[GEMM_NFAST];
    lp_ctx ref;              /* cpu-ref, no pool */
    lp_ctx fast[GEMM_NFAST]; /* cpu, pools of 1, 2 and 3 threads */
} gemm_env;

static inline void gemm_env_init(gemm_env *e) {
    lp_error err = {0};
    CHECK_OK(lp_ctx_init(&e->ref, lp_backend_cpu_ref(), NULL, &err), &err);
    for (int i = 0; i < GEMM_NFAST; i++) {
        e->pool[i] = lp_threadpool_create(i + 1);
        CHECK(e->pool[i] != NULL);
        CHECK_OK(lp_ctx_init(&e->fast[i], lp_backend_cpu(), e->pool[i], &err), &err);
    }
}

static inline void gemm_env_release(gemm_env *e) {
    lp_ctx_release(&e->ref);
    for (int i = 0; i < GEMM_NFAST; i++) {
        lp_ctx_release(&e->fast[i]);
        lp_threadpool_destroy(e->pool[i]);
    }
}

static inline void *gemm_alloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

static inline float *gemm_normal(lp_rng *rng, size_t n, float scale) {
    float *x = gemm_alloc(n * sizeof *x);
    lp_rng_fill_normal(rng, x, n, scale);
    return x;
}

static inline void gemm_fill(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}

/* Visits every element offset of a view (row-major over its shape). */
typedef void (*gemm_visit_fn)(void *ctx, int64_t offset, int64_t index);
static inline void gemm_visit(const lp_tensor *t, gemm_visit_fn fn, void *ctx) {
    int64_t n = lp_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        int64_t rest = i, off = 0;
        for (int d = t->ndim - 1; d >= 0; d--) {
            off += (rest % t->shape[d]) * t->stride[d];
            rest /= t->shape[d];
        }
        fn(ctx, off, i);
    }
}

typedef struct gemm_gather_ctx {
    const float *base;
    float *dst;          /* gather: dense copy */
    unsigned char *mask; /* or mark: mask[shift + offset] = 1 */
    int64_t shift;
} gemm_gather_ctx;

static inline void gemm_gather_one(void *ctx, int64_t off, int64_t i) {
    gemm_gather_ctx *g = ctx;
    if (g->dst) g->dst[i] = g->base[off];
    if (g->mask) g->mask[g->shift + off] = 1;
}

/* The view's elements, densely, into dst (numel floats). */
static inline void gemm_gather(const lp_tensor *t, float *dst) {
    gemm_gather_ctx g = {t->data, dst, NULL, 0};
    gemm_visit(t, gemm_gather_one, &g);
}

/* Elements of `storage` (n floats) outside view t (which points into it)
 * that no longer hold GEMM_SENTINEL. */
static inline int64_t gemm_count_stray_writes(const lp_tensor *t, const float *storage, size_t n) {
    unsigned char *mask = calloc(n ? n : 1, 1);
    gemm_gather_ctx g = {t->data, NULL, mask, (const float *)t->data - storage};
    gemm_visit(t, gemm_gather_one, &g);
    int64_t stray = 0;
    for (size_t i = 0; i < n; i++)
        if (!mask[i] && storage[i] != GEMM_SENTINEL) stray++;
    free(mask);
    return stray;
}

/* A view [batch..., rows, cols] over fresh storage whose rows are padded by
 * `pad` floats (row stride cols + pad). When `head_split` (two batch dims
 * B, H), the storage is [B, rows, H, cols + pad] viewed as [B, H, rows, cols]:
 * attention's layout. The storage is filled with N(0, 1) when rng is given,
 * else with GEMM_SENTINEL. */
typedef struct gemm_view {
    lp_tensor t;
    float *storage;
    size_t n;
} gemm_view;

static inline gemm_view gemm_make_view(lp_rng *rng, int nbatch, const int64_t *batch, int64_t rows,
                                       int64_t cols, int64_t pad, bool head_split) {
    gemm_view v;
    memset(&v, 0, sizeof v);
    int64_t ld = cols + pad, n = rows * ld;
    for (int d = 0; d < nbatch; d++) n *= batch[d];
    v.n = (size_t)n;
    v.storage = gemm_alloc(v.n * sizeof(float));
    if (rng)
        lp_rng_fill_normal(rng, v.storage, v.n, 1.0f);
    else
        gemm_fill(v.storage, v.n, GEMM_SENTINEL);
    int nd = nbatch + 2;
    v.t.data = v.storage;
    v.t.dtype = LP_F32;
    v.t.ndim = nd;
    v.t.device.kind = LP_DEVICE_CPU;
    for (int d = 0; d < nbatch; d++) v.t.shape[d] = batch[d];
    v.t.shape[nd - 2] = rows;
    v.t.shape[nd - 1] = cols;
    if (head_split && nbatch == 2) {
        int64_t H = batch[1];
        v.t.stride[3] = 1;
        v.t.stride[2] = H * ld;
        v.t.stride[1] = ld;
        v.t.stride[0] = rows * H * ld;
    } else {
        int64_t s = 1;
        v.t.stride[nd - 1] = 1;
        v.t.stride[nd - 2] = ld;
        s = rows * ld;
        for (int d = nbatch - 1; d >= 0; d--) {
            v.t.stride[d] = s;
            s *= batch[d];
        }
    }
    return v;
}

static inline void gemm_view_free(gemm_view *v) {
    free(v->storage);
    v->storage = NULL;
}

/* A contiguous tensor over fresh memory: N(0, scale^2), or `fill` when rng is NULL. */
static inline lp_tensor gemm_tensor(lp_rng *rng, int ndim, const int64_t *shape, float scale,
                                    float fill) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    float *data = gemm_alloc((size_t)n * sizeof(float));
    if (rng)
        lp_rng_fill_normal(rng, data, (size_t)n, scale);
    else
        gemm_fill(data, (size_t)n, fill);
    return lp_tensor_make(data, LP_F32, ndim, shape);
}

#endif
