/* Shared set-up for the non-GEMM op tests (tests/kernels/test_{elementwise,
 * norm,attention,embedding,cast,select}.c): a "cpu-ref" context and "cpu"
 * contexts on 1-, 2- and 3-thread pools, and small allocation helpers.
 * Header-only: each test is its own executable. */
#ifndef LP_TESTS_ELEM_TEST_ENV_H
#define LP_TESTS_ELEM_TEST_ENV_H

#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/ops.h"
#include "tests/test_util.h"

#define ELEM_NFAST 3

typedef struct elem_env {
    lp_threadpool *pool[ELEM_NFAST];
    lp_ctx ref;              /* cpu-ref, no pool */
    lp_ctx fast[ELEM_NFAST]; /* cpu, pools of 1, 2 and 3 threads */
} elem_env;

static inline void elem_env_init(elem_env *e) {
    lp_error err = {0};
    CHECK_OK(lp_ctx_init(&e->ref, lp_backend_cpu_ref(), NULL, &err), &err);
    for (int i = 0; i < ELEM_NFAST; i++) {
        e->pool[i] = lp_threadpool_create(i + 1);
        CHECK(e->pool[i] != NULL);
        CHECK_OK(lp_ctx_init(&e->fast[i], lp_backend_cpu(), e->pool[i], &err), &err);
    }
}

static inline void elem_env_release(elem_env *e) {
    lp_ctx_release(&e->ref);
    for (int i = 0; i < ELEM_NFAST; i++) {
        lp_ctx_release(&e->fast[i]);
        lp_threadpool_destroy(e->pool[i]);
    }
}

/* malloc that the test cannot go on without. */
static inline void *elem_alloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

static inline float *elem_normal(lp_rng *rng, size_t n, float scale) {
    float *x = elem_alloc(n * sizeof *x);
    lp_rng_fill_normal(rng, x, n, scale);
    return x;
}

static inline float *elem_floats(size_t n, float fill) {
    float *x = elem_alloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = fill;
    return x;
}

static inline bool elem_bits_equal(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof *a) == 0;
}

#endif
