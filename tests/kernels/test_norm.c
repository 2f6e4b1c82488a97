/* lp_layer_norm and lp_softmax / log-softmax: the "cpu" fast path against the
 * "cpu-ref" oracle (1, 2 and 3 threads; rows of 1, 7, 13, 33, 127, 768, 3072
 * and 65001), masks that broadcast, fully masked rows, NaN rows, in-place
 * use, the oracle against hand-computed values, argument validation.
 *
 * Tolerances (NMSE against the oracle): 1e-11 for layer norm, softmax and log
 * softmax; measured: 2e-15 .. 7e-15 (layer norm, including rows offset by
 * 1000), 5e-17 .. 4e-14 (softmax and log softmax). */
#include <math.h>

#include "tests/kernels/elem_test_env.h"

#define LN_NMSE 1e-11
#define SM_NMSE 1e-11

typedef struct ln_case {
    int64_t rows, d;
    float offset; /* added to every x: a row far from zero */
    bool gamma, beta;
} ln_case;

static void test_layer_norm_vs_ref(elem_env *env) {
    const ln_case cases[] = {
        {1, 1, 0, true, true},     {3, 7, 0, true, false},   {5, 13, 0, false, true},
        {2, 33, 0, false, false},  {9, 127, 0, true, true},  {512, 768, 0, true, true},
        {64, 3072, 0, true, true}, {17, 768, 1000, true, true}, {3, 1, 5, false, false},
    };
    lp_rng rng = lp_rng_seed(21);
    lp_error err = {0};
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const ln_case *c = &cases[ci];
        size_t n = (size_t)(c->rows * c->d);
        float *x = elem_normal(&rng, n, 1.5f), *g = elem_normal(&rng, (size_t)c->d, 1.0f);
        float *b = elem_normal(&rng, (size_t)c->d, 1.0f);
        for (size_t i = 0; i < n; i++) x[i] += c->offset;
        float *want = elem_floats(n, 0), *got = elem_floats(n, 0);
        lp_tensor tx = lp_tensor_2d(x, LP_F32, c->rows, c->d);
        lp_tensor tw = lp_tensor_2d(want, LP_F32, c->rows, c->d);
        lp_tensor tg = lp_tensor_2d(got, LP_F32, c->rows, c->d);
        lp_tensor tgam = lp_tensor_1d(g, LP_F32, c->d), tbet = lp_tensor_1d(b, LP_F32, c->d);
        const lp_tensor *pg = c->gamma ? &tgam : NULL, *pb = c->beta ? &tbet : NULL;
        CHECK_OK(lp_layer_norm(&env->ref, &tx, pg, pb, 1e-12f, &tw, &err), &err);
        for (int t = 0; t < ELEM_NFAST; t++) {
            memset(got, 0xff, n * sizeof *got);
            CHECK_OK(lp_layer_norm(&env->fast[t], &tx, pg, pb, 1e-12f, &tg, &err), &err);
            char what[96];
            snprintf(what, sizeof what, "layer_norm %lldx%lld offset %g threads=%d",
                     (long long)c->rows, (long long)c->d, (double)c->offset, t + 1);
            if (c->d == 1) /* x - mean is exactly 0: out is beta (or 0) */
                CHECK_MSG(elem_bits_equal(got, want, n), "%s", what);
            else
                lp_test_check_nmse(what, got, want, n, LN_NMSE);
        }
        /* in place, and a larger eps */
        CHECK_OK(lp_layer_norm(&env->ref, &tx, pg, pb, 1e-5f, &tw, &err), &err);
        memcpy(got, x, n * sizeof *got);
        CHECK_OK(lp_layer_norm(&env->fast[1], &tg, pg, pb, 1e-5f, &tg, &err), &err);
        if (c->d > 1) lp_test_check_nmse("layer_norm in place, eps 1e-5", got, want, n, LN_NMSE);
        free(x);
        free(g);
        free(b);
        free(want);
        free(got);
    }
}

static void test_layer_norm_ref_values(elem_env *env) {
    /* [1, 2, 3, 4]: mean 2.5, biased variance 1.25 */
    float x[4] = {1, 2, 3, 4}, y[4], g[4] = {1, 2, 1, 1}, b[4] = {0, 0, 1, 0};
    lp_tensor tx = lp_tensor_1d(x, LP_F32, 4), ty = lp_tensor_1d(y, LP_F32, 4);
    lp_tensor tg = lp_tensor_1d(g, LP_F32, 4), tb = lp_tensor_1d(b, LP_F32, 4);
    lp_error err = {0};
    CHECK_OK(lp_layer_norm(&env->ref, &tx, &tg, &tb, 0.75f, &ty, &err), &err);
    /* (x - 2.5) / sqrt(1.25 + 0.75) = (x - 2.5) / sqrt 2 */
    CHECK(fabsf(y[0] - (float)(-1.5 / sqrt(2.0))) < 1e-7f);
    CHECK(fabsf(y[1] - (float)(2 * -0.5 / sqrt(2.0))) < 1e-7f);
    CHECK(fabsf(y[2] - (float)(0.5 / sqrt(2.0) + 1)) < 1e-7f);
    /* a constant row normalises to beta */
    float c[4] = {3, 3, 3, 3};
    lp_tensor tc = lp_tensor_1d(c, LP_F32, 4);
    CHECK_OK(lp_layer_norm(&env->fast[0], &tc, &tg, &tb, 1e-5f, &ty, &err), &err);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 1 && y[3] == 0);
}

typedef struct sm_case {
    int xndim;
    int64_t xshape[4];
    int mndim; /* 0: no mask */
    int64_t mshape[4];
    float scale;
} sm_case;

/* A mask of 0 and -inf: each mask row keeps a prefix (padding) whose length
 * varies, one row keeps nothing (all -inf), the rest is random 0 / -inf. */
static void fill_mask(lp_rng *rng, float *m, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; r++) {
        int64_t keep = (int64_t)(lp_rng_next(rng) % (uint64_t)(n + 1));
        if (r == rows / 2) keep = 0;
        for (int64_t j = 0; j < n; j++) m[r * n + j] = j < keep ? 0.0f : -INFINITY;
        if (r % 3 == 2) /* scattered */
            for (int64_t j = 0; j < n; j++) m[r * n + j] = (lp_rng_next(rng) & 1) ? 0.0f : -INFINITY;
    }
}

static void test_softmax_vs_ref(elem_env *env) {
    const sm_case cases[] = {
        {1, {1}, 0, {0}, 1.0f},
        {2, {3, 7}, 0, {0}, 1.0f},
        {2, {5, 13}, 1, {13}, 0.5f},
        {2, {4, 33}, 2, {4, 33}, 1.0f},
        {3, {3, 5, 127}, 2, {5, 127}, 2.0f},
        {4, {4, 12, 128, 128}, 4, {4, 1, 1, 128}, 0.125f}, /* BERT padding */
        {4, {2, 3, 13, 13}, 2, {13, 13}, 0.3f},            /* causal-style, broadcast */
        {4, {2, 3, 7, 9}, 4, {2, 1, 7, 9}, 1.0f},
        {2, {3, 65001}, 0, {0}, 1.0f},                     /* vocabulary rows */
        {2, {64, 3072}, 0, {0}, 1.0f},
    };
    lp_rng rng = lp_rng_seed(22);
    lp_error err = {0};
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const sm_case *c = &cases[ci];
        lp_tensor tx = lp_tensor_make(NULL, LP_F32, c->xndim, c->xshape);
        lp_tensor tm = lp_tensor_make(NULL, LP_F32, c->mndim, c->mshape);
        size_t n = (size_t)lp_tensor_numel(&tx);
        int64_t last = c->xshape[c->xndim - 1];
        float *x = elem_normal(&rng, n, 4.0f), *m = NULL;
        if (c->mndim) {
            size_t mn = (size_t)lp_tensor_numel(&tm);
            m = elem_floats(mn, 0);
            fill_mask(&rng, m, (int64_t)mn / last, last);
            tm.data = m;
        }
        if (n > 100) x[3] = -INFINITY; /* a single -inf entry is just excluded */
        tx.data = x;
        float *want = elem_floats(n, 0), *got = elem_floats(n, 0);
        lp_tensor tw = lp_tensor_make(want, LP_F32, c->xndim, c->xshape);
        lp_tensor tg = lp_tensor_make(got, LP_F32, c->xndim, c->xshape);
        const lp_tensor *pm = c->mndim ? &tm : NULL;
        for (int lg = 0; lg < 2; lg++) {
            CHECK_OK(lp_softmax(&env->ref, &tx, pm, c->scale, lg, &tw, &err), &err);
            for (int t = 0; t < ELEM_NFAST; t++) {
                memset(got, 0xff, n * sizeof *got);
                CHECK_OK(lp_softmax(&env->fast[t], &tx, pm, c->scale, lg, &tg, &err), &err);
                char what[96];
                snprintf(what, sizeof what, "%s case %zu threads=%d", lg ? "log_softmax" : "softmax",
                         ci, t + 1);
                /* fully masked rows hold -inf (log): compare those exactly, the rest by NMSE */
                size_t bad_inf = 0;
                for (size_t i = 0; i < n; i++)
                    if (isinf(want[i]) || isinf(got[i])) {
                        if (want[i] != got[i]) bad_inf++;
                        got[i] = want[i] = 0;
                    }
                CHECK_MSG(bad_inf == 0, "%s: %zu infinities differ", what, bad_inf);
                lp_test_check_nmse(what, got, want, n, SM_NMSE);
                CHECK_OK(lp_softmax(&env->ref, &tx, pm, c->scale, lg, &tw, &err), &err);
            }
            /* in place */
            memcpy(got, x, n * sizeof *got);
            CHECK_OK(lp_softmax(&env->fast[2], &tg, pm, c->scale, lg, &tg, &err), &err);
            for (size_t i = 0; i < n; i++)
                if (isinf(want[i]) && want[i] == got[i]) got[i] = want[i] = 0;
            lp_test_check_nmse("softmax in place", got, want, n, SM_NMSE);
        }
        free(x);
        free(m);
        free(want);
        free(got);
    }
}

static void test_softmax_special_rows(elem_env *env) {
    /* row 0: ordinary; row 1: all -inf; row 2: a NaN; row 3: masked out by the mask */
    float x[4][5] = {{1, 2, 3, 4, 5},
                     {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY},
                     {1, NAN, 0, 0, 0},
                     {1, 2, 3, 4, 5}};
    float m[4][5] = {{0}, {0}, {0}, {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY}};
    lp_tensor tx = lp_tensor_2d(x, LP_F32, 4, 5), tm = lp_tensor_2d(m, LP_F32, 4, 5);
    lp_error err = {0};
    for (int b = 0; b < 2; b++) {
        lp_ctx *ctx = b ? &env->fast[1] : &env->ref;
        float y[4][5];
        lp_tensor ty = lp_tensor_2d(y, LP_F32, 4, 5);
        CHECK_OK(lp_softmax(ctx, &tx, &tm, 1.0f, false, &ty, &err), &err);
        double s = 0, e = 0;
        for (int j = 0; j < 5; j++) e += exp(j - 4.0);
        for (int j = 0; j < 5; j++) s += fabs(y[0][j] - exp(j - 4.0) / e);
        CHECK_MSG(s < 1e-6, "%s: softmax [1..5] off by %g", ctx->backend->name, s);
        bool zeros = true, nans = true;
        for (int j = 0; j < 5; j++) {
            zeros = zeros && y[1][j] == 0.0f && y[3][j] == 0.0f;
            nans = nans && isnan(y[2][j]);
        }
        CHECK_MSG(zeros, "%s: fully masked rows must be zeros", ctx->backend->name);
        CHECK_MSG(nans, "%s: a NaN makes the row NaN", ctx->backend->name);
        CHECK_OK(lp_softmax(ctx, &tx, &tm, 1.0f, true, &ty, &err), &err);
        bool neg_inf = true;
        for (int j = 0; j < 5; j++) neg_inf = neg_inf && y[1][j] == -INFINITY && y[3][j] == -INFINITY;
        CHECK_MSG(neg_inf, "%s: fully masked log-softmax rows must be -inf", ctx->backend->name);
        CHECK_MSG(fabsf(y[0][4] - (float)(-log(e))) < 1e-6f, "%s: log_softmax value %g",
                  ctx->backend->name, (double)y[0][4]);
    }
}

static void test_validation(elem_env *env) {
    lp_ctx *ctx = &env->fast[0];
    float buf[64] = {0}, out[64] = {0}, par[16] = {0};
    uint8_t bytes[64] = {0};
    lp_error err = {0};
    lp_tensor x = lp_tensor_2d(buf, LP_F32, 4, 8), y = lp_tensor_2d(out, LP_F32, 4, 8);
    lp_tensor g7 = lp_tensor_1d(par, LP_F32, 7);
    CHECK_FAILS(lp_layer_norm(ctx, &x, &g7, NULL, 1e-5f, &y, &err), LP_ERR_SHAPE, &err,
                "layer_norm: gamma is [7] f32, expected [8]");
    lp_tensor g8 = lp_tensor_1d(par, LP_F32, 8);
    CHECK_FAILS(lp_layer_norm(ctx, &x, NULL, &g8, -1.0f, &y, &err), LP_ERR_INVALID_ARG, &err,
                "layer_norm: eps is -1");
    lp_tensor xt = lp_tensor_transpose(&x, 0, 1), yt = lp_tensor_2d(out, LP_F32, 8, 4);
    CHECK_FAILS(lp_layer_norm(ctx, &xt, NULL, NULL, 1e-5f, &yt, &err), LP_ERR_SHAPE, &err,
                "layer_norm: x ([8, 4] f32) must be contiguous");
    lp_tensor scalar = lp_tensor_make(buf, LP_F32, 0, NULL);
    lp_tensor scalar_out = lp_tensor_make(out, LP_F32, 0, NULL);
    CHECK_FAILS(lp_layer_norm(ctx, &scalar, NULL, NULL, 1e-5f, &scalar_out, &err), LP_ERR_SHAPE,
                &err, "layer_norm: x is [] f32, expected 1 to 5 dimensions");
    lp_tensor xu = lp_tensor_2d(bytes, LP_U8, 4, 8);
    CHECK_FAILS(lp_layer_norm(ctx, &xu, NULL, NULL, 1e-5f, &y, &err), LP_ERR_DTYPE, &err,
                "layer_norm: x has dtype u8, expected f32");

    lp_tensor m7 = lp_tensor_1d(par, LP_F32, 7);
    CHECK_FAILS(lp_softmax(ctx, &x, &m7, 1.0f, false, &y, &err), LP_ERR_SHAPE, &err,
                "softmax: mask is [7] f32, which does not broadcast to x [4, 8] f32");
    lp_tensor m28 = lp_tensor_2d(par, LP_F32, 2, 8);
    CHECK_FAILS(lp_softmax(ctx, &x, &m28, 1.0f, true, &y, &err), LP_ERR_SHAPE, &err,
                "log_softmax: mask is [2, 8] f32");
    lp_tensor m3d = lp_tensor_3d(par, LP_F32, 1, 1, 8);
    CHECK_FAILS(lp_softmax(ctx, &x, &m3d, 1.0f, false, &y, &err), LP_ERR_SHAPE, &err,
                "does not broadcast");
    lp_tensor mu8 = lp_tensor_1d(bytes, LP_U8, 8);
    CHECK_FAILS(lp_softmax(ctx, &x, &mu8, 1.0f, false, &y, &err), LP_ERR_DTYPE, &err,
                "softmax: mask has dtype u8, expected f32");
    CHECK_FAILS(lp_softmax(ctx, &x, NULL, NAN, false, &y, &err), LP_ERR_INVALID_ARG, &err,
                "softmax: scale is nan");
    lp_tensor y_short = lp_tensor_2d(out, LP_F32, 4, 7);
    CHECK_FAILS(lp_softmax(ctx, &x, NULL, 1.0f, false, &y_short, &err), LP_ERR_SHAPE, &err,
                "softmax: out is [4, 7] f32 but x is [4, 8] f32");
}

int main(void) {
    elem_env env;
    elem_env_init(&env);
    test_layer_norm_ref_values(&env);
    test_layer_norm_vs_ref(&env);
    test_softmax_special_rows(&env);
    test_softmax_vs_ref(&env);
    test_validation(&env);
    elem_env_release(&env);
    return lp_test_finish();
}
