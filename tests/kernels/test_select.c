/* lp_argmax and lp_topk on both CPU backends against an independent oracle
 * written here (a full sort of (value, index) pairs), on rows of 1, 7, 13,
 * 33, 127 and 65001 (a vocabulary), k from 1 to N (both the insertion path,
 * k <= 32, and the sort path), with ties, NaN and -inf entries. The order is
 * lepton's (kernels/op_select.c): NaN largest, ties by lower index. */
#include <math.h>

#include "tests/kernels/elem_test_env.h"

typedef struct pair {
    float v;
    int64_t i;
} pair;

static int by_rank(const void *pa, const void *pb) {
    const pair *a = pa, *b = pb;
    int na = isnan(a->v), nb = isnan(b->v);
    if (na != nb) return na ? -1 : 1;
    if (!na && a->v != b->v) return a->v > b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* Values with many ties (a few distinct levels), some NaN and -inf. */
static void fill_row(lp_rng *rng, float *x, int64_t n, int kind) {
    for (int64_t j = 0; j < n; j++) {
        x[j] = kind == 0 ? lp_rng_normal(rng) : (float)(lp_rng_next(rng) % 5);
        uint64_t r = lp_rng_next(rng) % 97;
        if (kind == 2 && r == 0) x[j] = NAN;
        if (kind == 2 && r == 1) x[j] = -INFINITY;
    }
}

static bool same_value(float a, float b) { return (isnan(a) && isnan(b)) || a == b; }

static void test_select_vs_sort(elem_env *env) {
    const int64_t ns[] = {1, 7, 13, 33, 127, 65001};
    lp_rng rng = lp_rng_seed(61);
    lp_error err = {0};
    for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
        int64_t n = ns[ni], rows = 3;
        float *x = elem_floats((size_t)(rows * n), 0);
        for (int64_t r = 0; r < rows; r++) fill_row(&rng, x + r * n, n, (int)r);
        pair *sorted = elem_alloc((size_t)(rows * n) * sizeof *sorted);
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t j = 0; j < n; j++) sorted[r * n + j] = (pair){x[r * n + j], j};
            qsort(sorted + r * n, (size_t)n, sizeof *sorted, by_rank);
        }
        lp_tensor tx = lp_tensor_2d(x, LP_F32, rows, n);
        int64_t am[3];
        lp_tensor tam = lp_tensor_1d(am, LP_I64, rows);
        const int64_t ks[] = {1, 3, 32, 33, n / 2 + 1, n};
        for (int b = 0; b < 2; b++) {
            lp_ctx *ctx = b ? &env->fast[1] : &env->ref;
            CHECK_OK(lp_argmax(ctx, &tx, &tam, &err), &err);
            for (int64_t r = 0; r < rows; r++)
                CHECK_MSG(am[r] == sorted[r * n].i, "argmax n=%lld row %lld: %lld, want %lld",
                          (long long)n, (long long)r, (long long)am[r], (long long)sorted[r * n].i);
            for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
                int64_t k = ks[ki];
                if (k > n) continue;
                float *vals = elem_floats((size_t)(rows * k), 0);
                int64_t *idx = elem_alloc((size_t)(rows * k) * sizeof *idx);
                lp_tensor tv = lp_tensor_2d(vals, LP_F32, rows, k);
                lp_tensor ti = lp_tensor_2d(idx, LP_I64, rows, k);
                CHECK_OK(lp_topk(ctx, &tx, k, &tv, &ti, &err), &err);
                int bad = 0;
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t j = 0; j < k; j++) {
                        const pair *want = &sorted[r * n + j];
                        bad += idx[r * k + j] != want->i || !same_value(vals[r * k + j], want->v);
                    }
                CHECK_MSG(bad == 0, "topk n=%lld k=%lld on %s: %d entries differ", (long long)n,
                          (long long)k, ctx->backend->name, bad);
                free(vals);
                free(idx);
            }
        }
        free(x);
        free(sorted);
    }
}

static void test_small_cases(elem_env *env) {
    lp_error err = {0};
    float x[6] = {1, 3, 3, NAN, 3, NAN};
    int64_t out;
    lp_tensor tx = lp_tensor_1d(x, LP_F32, 6), to = lp_tensor_make(&out, LP_I64, 0, NULL);
    CHECK_OK(lp_argmax(&env->fast[0], &tx, &to, &err), &err);
    CHECK(out == 3); /* the first NaN, as torch.argmax */
    x[3] = x[5] = 0;
    CHECK_OK(lp_argmax(&env->fast[0], &tx, &to, &err), &err);
    CHECK(out == 1); /* the first of equal maxima */
    float v[4];
    int64_t i[4];
    lp_tensor tv = lp_tensor_1d(v, LP_F32, 4), ti = lp_tensor_1d(i, LP_I64, 4);
    CHECK_OK(lp_topk(&env->ref, &tx, 4, &tv, &ti, &err), &err);
    CHECK(i[0] == 1 && i[1] == 2 && i[2] == 4 && i[3] == 0 && v[0] == 3 && v[3] == 1);
    float ninf[3] = {-INFINITY, -INFINITY, -INFINITY};
    lp_tensor tn = lp_tensor_1d(ninf, LP_F32, 3);
    CHECK_OK(lp_argmax(&env->ref, &tn, &to, &err), &err);
    CHECK(out == 0);
}

static void test_select_errors(elem_env *env) {
    lp_ctx *ctx = &env->fast[0];
    float x[12] = {0}, v[12];
    int64_t i[12];
    int32_t i32[12];
    lp_error err = {0};
    lp_tensor tx = lp_tensor_2d(x, LP_F32, 3, 4);
    lp_tensor tv = lp_tensor_2d(v, LP_F32, 3, 2), ti = lp_tensor_2d(i, LP_I64, 3, 2);
    CHECK_FAILS(lp_topk(ctx, &tx, 0, &tv, &ti, &err), LP_ERR_INVALID_ARG, &err,
                "topk: k is 0, expected 1 <= k <= 4");
    CHECK_FAILS(lp_topk(ctx, &tx, 5, &tv, &ti, &err), LP_ERR_INVALID_ARG, &err, "topk: k is 5");
    CHECK_FAILS(lp_topk(ctx, &tx, 3, &tv, &ti, &err), LP_ERR_SHAPE, &err,
                "topk: values is [3, 2] f32, expected x's shape [3, 4] f32 with the last "
                "dimension 3");
    lp_tensor ti32 = lp_tensor_2d(i32, LP_I32, 3, 2);
    CHECK_FAILS(lp_topk(ctx, &tx, 2, &tv, &ti32, &err), LP_ERR_DTYPE, &err,
                "topk: indices has dtype i32, expected i64");
    lp_tensor tv_over = lp_tensor_2d(x + 2, LP_F32, 3, 2);
    CHECK_FAILS(lp_topk(ctx, &tx, 2, &tv_over, &ti, &err), LP_ERR_INVALID_ARG, &err,
                "topk: values overlaps x");
    lp_tensor empty = lp_tensor_2d(x, LP_F32, 3, 0);
    CHECK_FAILS(lp_topk(ctx, &empty, 1, &tv, &ti, &err), LP_ERR_SHAPE, &err,
                "topk: x has an empty last dimension");
    lp_tensor am_bad = lp_tensor_2d(i, LP_I64, 3, 1);
    CHECK_FAILS(lp_argmax(ctx, &tx, &am_bad, &err), LP_ERR_SHAPE, &err,
                "argmax: out is [3, 1] i64, expected x's shape [3, 4] f32 without its last "
                "dimension");
    lp_tensor am_f = lp_tensor_1d(v, LP_F32, 3);
    CHECK_FAILS(lp_argmax(ctx, &tx, &am_f, &err), LP_ERR_DTYPE, &err,
                "argmax: out has dtype f32, expected i64");
    lp_tensor xi = lp_tensor_2d(i32, LP_I32, 3, 4), am = lp_tensor_1d(i, LP_I64, 3);
    CHECK_FAILS(lp_argmax(ctx, &xi, &am, &err), LP_ERR_DTYPE, &err,
                "argmax: x has dtype i32, expected f32");
}

int main(void) {
    elem_env env;
    elem_env_init(&env);
    test_small_cases(&env);
    test_select_vs_sort(&env);
    test_select_errors(&env);
    elem_env_release(&env);
    return lp_test_finish();
}
