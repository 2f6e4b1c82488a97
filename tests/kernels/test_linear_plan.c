/* lp_linear_plan (kernels/linear_plan.h) against the "cpu-ref" oracle's
 * lp_linear + lp_add: on the "cpu" backend (oneDNN's packed kernel when built
 * with it) with 1-, 2- and 3-thread pools and on "cpu-ref" (the op route),
 * over awkward shapes (1 row, 1 feature, odd sizes, rows below and above
 * oneDNN's blocking, a weight whose rows are padded apart, BERT-base's and
 * MiniLM's shapes), every activation, with and without bias and residual,
 * 1-D to 3-D inputs, all through the SAME plan (packed once). Also: the first
 * run packs, two threads share a plan while it packs, the weight still holds
 * its values after the page-out advice, the output is written nowhere else,
 * and the refusals.
 *
 * Tolerance: NMSE <= 1e-10, as tests/kernels/test_matmul.c (f32 sums in
 * another order; oneDNN's GELU/tanh are within ~1e-7 relative). */
#include <pthread.h>

#include "kernels/linear_plan.h"
#include "tests/kernels/gemm_test_env.h"

#define NMSE_TOL 1e-10

static gemm_env env;

typedef struct shape {
    int64_t rows, in, out, ldw; /* ldw: the weight's row stride (>= in) */
} shape;

typedef struct layer {
    shape s;
    float *w, *b;
    lp_tensor weight, bias;
    lp_linear_plan *plan;
} layer;

static layer layer_make(lp_rng *rng, shape s, bool bias) {
    layer L = {.s = s};
    L.w = gemm_normal(rng, (size_t)(s.out * s.ldw), 1.0f / sqrtf((float)s.in));
    L.weight = lp_tensor_2d(L.w, LP_F32, s.out, s.in);
    L.weight.stride[0] = s.ldw;
    if (bias) {
        L.b = gemm_normal(rng, (size_t)s.out, 0.5f);
        L.bias = lp_tensor_1d(L.b, LP_F32, s.out);
    }
    lp_error err = {0};
    CHECK_OK(lp_linear_plan_create(&L.weight, bias ? &L.bias : NULL, &L.plan, &err), &err);
    return L;
}

static void layer_free(layer *L) {
    lp_linear_plan_free(L->plan);
    free(L->w);
    free(L->b);
}

/* x's view: rows split over up to three dims as a model's [B, S, H] would be. */
static lp_tensor view_of(float *data, int64_t rows, int64_t cols, int ndim) {
    if (ndim == 1) return lp_tensor_1d(data, LP_F32, cols);
    if (ndim == 2 || rows % 2) return lp_tensor_2d(data, LP_F32, rows, cols);
    return lp_tensor_3d(data, LP_F32, 2, rows / 2, cols);
}

/* The oracle: cpu-ref's lp_linear, then lp_add of the residual with act. */
static void oracle(const layer *L, const lp_tensor *x, const lp_tensor *res, lp_activation act,
                   lp_tensor *want) {
    lp_error err = {0};
    const lp_tensor *bias = L->b ? &L->bias : NULL;
    CHECK_OK(lp_linear(&env.ref, x, &L->weight, bias, res ? LP_ACT_NONE : act, want, &err), &err);
    if (res) CHECK_OK(lp_add(&env.ref, want, res, act, want, &err), &err);
}

/* One input, residual and expected output; every context is checked on it. */
typedef struct run_case {
    const layer *L;
    int ndim;
    lp_activation act;
    int64_t rows;
    float *x, *res, *want;
} run_case;

static run_case case_make(const layer *L, int ndim, bool residual, lp_activation act, lp_rng *rng) {
    const shape *s = &L->s;
    run_case c = {.L = L, .ndim = ndim, .act = act, .rows = ndim == 1 ? 1 : s->rows};
    c.x = gemm_normal(rng, (size_t)(c.rows * s->in), 1.0f);
    c.res = residual ? gemm_normal(rng, (size_t)(c.rows * s->out), 1.0f) : NULL;
    c.want = gemm_alloc((size_t)(c.rows * s->out) * sizeof(float));
    lp_tensor x = view_of(c.x, c.rows, s->in, ndim), want = view_of(c.want, c.rows, s->out, ndim);
    lp_tensor res = residual ? view_of(c.res, c.rows, s->out, ndim) : x;
    oracle(L, &x, residual ? &res : NULL, act, &want);
    return c;
}

static void case_free(run_case *c) {
    free(c->x);
    free(c->res);
    free(c->want);
}

static void check_one(lp_ctx *ctx, const char *ctx_name, const run_case *c) {
    const shape *s = &c->L->s;
    /* out sits inside a larger block: the sentinels around it must survive */
    size_t n = (size_t)(c->rows * s->out);
    float *block = gemm_alloc((n + 32) * sizeof(float));
    gemm_fill(block, n + 32, GEMM_SENTINEL);
    lp_tensor x = view_of(c->x, c->rows, s->in, c->ndim);
    lp_tensor out = view_of(block + 16, c->rows, s->out, c->ndim);
    lp_tensor res = c->res ? view_of(c->res, c->rows, s->out, c->ndim) : x;
    lp_error err = {0};
    CHECK_OK(lp_linear_plan_run(ctx, c->L->plan, &x, c->res ? &res : NULL, c->act, &out, &err),
             &err);
    char what[192];
    snprintf(what, sizeof what, "%s rows %lld in %lld out %lld ldw %lld ndim %d %s bias %d act %d",
             ctx_name, (long long)c->rows, (long long)s->in, (long long)s->out,
             (long long)s->ldw, c->ndim, c->res ? "residual" : "-", c->L->b != NULL, (int)c->act);
    lp_test_check_nmse(what, block + 16, c->want, n, NMSE_TOL);
    bool fenced = true;
    for (int i = 0; i < 16; i++)
        fenced &= block[i] == GEMM_SENTINEL && block[n + 16 + i] == GEMM_SENTINEL;
    CHECK_MSG(fenced, "%s: wrote outside out", what);
    free(block);
}

/* A fresh case checked on one context. */
static void check_fresh(lp_ctx *ctx, const char *ctx_name, const layer *L, int ndim, bool residual,
                        lp_activation act, lp_rng *rng) {
    run_case c = case_make(L, ndim, residual, act, rng);
    check_one(ctx, ctx_name, &c);
    case_free(&c);
}

/* Every context, activation and residual choice through one plan per shape. */
static void check_shapes(void) {
    static const shape shapes[] = {
        {1, 1, 1, 1},       {1, 7, 5, 7},      {3, 16, 33, 16},    {4, 768, 768, 768},
        {17, 64, 64, 80},   {16, 31, 129, 33}, {128, 384, 1536, 384}, {33, 1536, 384, 1536},
        {128, 768, 3072, 768}, {200, 100, 10, 100},
    };
    lp_rng rng = lp_rng_seed(42);
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            layer L = layer_make(&rng, shapes[i], with_bias);
            bool big = shapes[i].rows * shapes[i].out * shapes[i].in > 10000000;
            for (int a = 0; a < LP_ACT_COUNT; a++)
                for (int r = 0; r < 2; r++) {
                    if (big && a != LP_ACT_NONE && a != LP_ACT_GELU_ERF) continue;
                    run_case c = case_make(&L, 2 + (int)(i % 2), r, (lp_activation)a, &rng);
                    for (int t = 0; t < GEMM_NFAST; t++) {
                        char name[16];
                        snprintf(name, sizeof name, "cpu/%d", t + 1);
                        check_one(&env.fast[t], name, &c);
                    }
                    check_one(&env.ref, "cpu-ref", &c);
                    case_free(&c);
                }
            check_fresh(&env.fast[1], "cpu/2 1-D", &L, 1, true, LP_ACT_NONE, &rng);
            /* the packed copy, when the build has one, is the weight's size or more */
            size_t packed = lp_linear_plan_packed_bytes(L.plan);
            CHECK_MSG(packed == 0 || packed >= (size_t)(shapes[i].in * shapes[i].out) * sizeof(float),
                      "packed %zu bytes", packed);
            layer_free(&L);
        }
    }
}

/* After packing (and the page-out advice) the weight is unchanged. */
static void check_weight_kept(void) {
    lp_rng rng = lp_rng_seed(7);
    shape s = {8, 1024, 1024, 1024}; /* 4 MiB: whole pages inside it */
    layer L = layer_make(&rng, s, true);
    size_t n = (size_t)(s.out * s.ldw);
    float *copy = gemm_alloc(n * sizeof(float));
    memcpy(copy, L.w, n * sizeof(float));
    check_fresh(&env.fast[1], "cpu/2 page-out", &L, 2, false, LP_ACT_NONE, &rng);
    CHECK(memcmp(copy, L.w, n * sizeof(float)) == 0);
    free(copy);
    layer_free(&L);
}

enum { THREAD_RUNS = 6 };

typedef struct thread_arg {
    lp_ctx *ctx;
    const run_case *cases; /* THREAD_RUNS, made on the main thread (the oracle's context is its own) */
} thread_arg;

static void *run_thread(void *p) {
    thread_arg *a = p;
    for (int i = 0; i < THREAD_RUNS; i++) check_one(a->ctx, "thread", &a->cases[i]);
    return NULL;
}

/* Two threads share a fresh plan: one packs it while the other waits or runs. */
static void check_threads(void) {
    lp_rng rng = lp_rng_seed(3);
    layer L = layer_make(&rng, (shape){24, 256, 320, 256}, true);
    lp_threadpool *pools[2] = {lp_threadpool_create(1), lp_threadpool_create(1)};
    lp_ctx ctx[2];
    run_case cases[2][THREAD_RUNS];
    thread_arg args[2];
    pthread_t th[2];
    lp_error err = {0};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(lp_ctx_init(&ctx[i], lp_backend_cpu(), pools[i], &err), &err);
        for (int r = 0; r < THREAD_RUNS; r++) cases[i][r] = case_make(&L, 2, r % 2, LP_ACT_RELU, &rng);
        args[i] = (thread_arg){&ctx[i], cases[i]};
    }
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, run_thread, &args[i]) == 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK(lp_linear_plan_packed_bytes(L.plan) == 0 ||
          lp_linear_plan_packed_bytes(L.plan) >= 256 * 320 * sizeof(float));
    for (int i = 0; i < 2; i++) {
        for (int r = 0; r < THREAD_RUNS; r++) case_free(&cases[i][r]);
        lp_ctx_release(&ctx[i]);
        lp_threadpool_destroy(pools[i]);
    }
    layer_free(&L);
}

/* Row rounding: never fewer rows, at most 1/8 more, exact below 8, and at
 * most 8 distinct counts in any octave [2^k, 2^(k+1)). */
static void check_rows(void) {
    int64_t prev = 0;
    bool ok = true;
    for (int64_t r = 1; r <= 70000; r++) {
        int64_t q = lp_linear_plan_rows(r);
        ok &= q >= r && q * 8 <= r * 9 + 8 && (r >= 8 || q == r) && q >= prev;
        prev = q;
    }
    CHECK_MSG(ok, "lp_linear_plan_rows: a count below its rows, more than 1/8 over, or not monotonic");
    for (int k = 3; k < 16; k++) {
        int distinct = 0;
        for (int64_t r = (int64_t)1 << k, last = -1; r < (int64_t)2 << k; r++)
            if (lp_linear_plan_rows(r) != last) last = lp_linear_plan_rows(r), distinct++;
        CHECK_MSG(distinct <= 9, "octave 2^%d: %d distinct row counts", k, distinct);
    }
}

/* Warming builds what runs use and computes nothing: runs after it are
 * right, on the CPU (packed) and on cpu-ref (nothing to prepare). */
static void check_warm(void) {
    lp_rng rng = lp_rng_seed(5);
    layer L = layer_make(&rng, (shape){37, 96, 200, 96}, true);
    lp_error err = {0};
    CHECK_OK(lp_linear_plan_warm(&env.fast[1], L.plan, 64, true, LP_ACT_GELU_ERF, &err), &err);
    CHECK_OK(lp_linear_plan_warm(&env.ref, L.plan, 64, false, LP_ACT_NONE, &err), &err);
    CHECK(lp_linear_plan_packed_bytes(L.plan) == 0 ||
          lp_linear_plan_packed_bytes(L.plan) >= 96 * 200 * sizeof(float));
    check_fresh(&env.fast[1], "cpu/2 after warm", &L, 2, true, LP_ACT_GELU_ERF, &rng);
    check_fresh(&env.ref, "cpu-ref after warm", &L, 2, false, LP_ACT_NONE, &rng);
    layer_free(&L);
}

static void check_refusals(void) {
    lp_rng rng = lp_rng_seed(9);
    lp_error err = {0};
    lp_linear_plan *plan = NULL;
    float w[12], b[4], x[6], out[8], res[8];
    lp_rng_fill_normal(&rng, w, 12, 1);
    lp_tensor weight = lp_tensor_2d(w, LP_F32, 4, 3), bias3 = lp_tensor_1d(b, LP_F32, 3);
    CHECK_FAILS(lp_linear_plan_create(NULL, NULL, &plan, &err), LP_ERR_INVALID_ARG, &err, "weight");
    CHECK_FAILS(lp_linear_plan_create(&weight, &bias3, &plan, &err), LP_ERR_SHAPE, &err, "bias");
    lp_tensor w1 = lp_tensor_1d(w, LP_F32, 12);
    CHECK_FAILS(lp_linear_plan_create(&w1, NULL, &plan, &err), LP_ERR_SHAPE, &err, "weight");
    lp_tensor wi = lp_tensor_2d(w, LP_I32, 4, 3);
    CHECK_FAILS(lp_linear_plan_create(&wi, NULL, &plan, &err), LP_ERR_DTYPE, &err, "weight");
    CHECK(plan == NULL);

    CHECK_OK(lp_linear_plan_create(&weight, NULL, &plan, &err), &err);
    lp_tensor xt = lp_tensor_2d(x, LP_F32, 2, 3), ot = lp_tensor_2d(out, LP_F32, 2, 4);
    lp_tensor rt = lp_tensor_2d(res, LP_F32, 2, 4), r3 = lp_tensor_2d(res, LP_F32, 2, 3);
    lp_tensor x4 = lp_tensor_2d(x, LP_F32, 2, 2), o_in_x = lp_tensor_2d(x, LP_F32, 1, 4);
    CHECK_FAILS(lp_linear_plan_run(&env.fast[0], NULL, &xt, NULL, LP_ACT_NONE, &ot, &err),
                LP_ERR_INVALID_ARG, &err, "plan");
    CHECK_FAILS(lp_linear_plan_run(&env.fast[0], plan, &x4, NULL, LP_ACT_NONE, &ot, &err),
                LP_ERR_SHAPE, &err, "last dim");
    CHECK_FAILS(lp_linear_plan_run(&env.fast[0], plan, &xt, &r3, LP_ACT_NONE, &ot, &err),
                LP_ERR_SHAPE, &err, "residual");
    CHECK_FAILS(lp_linear_plan_run(&env.fast[0], plan, &xt, &ot, LP_ACT_NONE, &ot, &err),
                LP_ERR_INVALID_ARG, &err, "overlaps");
    lp_tensor x1 = lp_tensor_2d(x, LP_F32, 1, 3);
    CHECK_FAILS(lp_linear_plan_run(&env.fast[0], plan, &x1, NULL, LP_ACT_NONE, &o_in_x, &err),
                LP_ERR_INVALID_ARG, &err, "overlaps");
    CHECK_FAILS(lp_linear_plan_run(&env.fast[0], plan, &xt, &rt, (lp_activation)99, &ot, &err),
                LP_ERR_INVALID_ARG, &err, "activation");
    lp_linear_plan_free(plan);
    lp_linear_plan_free(NULL);
}

int main(void) {
    gemm_env_init(&env);
    check_shapes();
    check_weight_kept();
    check_threads();
    check_rows();
    check_warm();
    check_refusals();
    gemm_env_release(&env);
    return lp_test_finish();
}
