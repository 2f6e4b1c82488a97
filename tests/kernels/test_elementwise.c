/* lp_unary and lp_add: the fast "cpu" backend against the "cpu-ref" oracle on
 * awkward and large shapes with 1, 2 and 3 threads; the fast exp / tanh /
 * GELU approximations against double-precision libm; argument validation.
 *
 * Tolerances: NMSE <= 1e-11 and max abs diff <= 2e-6 for GELU / tanh (the
 * approximations measure ~1e-14 NMSE); relu, none and plain adds are exact. */
#include <math.h>

#include "kernels/cpu/fast_activation.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/fast_vec.h"
#include "tests/kernels/elem_test_env.h"

#define ACT_NMSE 1e-11
#define ACT_MAX_ABS 2e-6

static double gelu_erf_d(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double gelu_tanh_d(double x) { /* the same function as 0.5 x (1 + tanh u), no cancellation */
    double u = sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
    return x / (1.0 + exp(-2.0 * u));
}

/* Worst relative error of f against ref over [lo, hi] in `steps` points,
 * skipping reference values below `floor` in magnitude. */
static double worst_rel(float (*f)(float), double (*ref)(double), double lo, double hi, int steps,
                        double floor, float *where) {
    double worst = 0;
    for (int i = 0; i <= steps; i++) {
        float x = (float)(lo + (hi - lo) * i / steps);
        double r = ref(x);
        if (fabs(r) < floor) continue;
        double e = fabs((double)f(x) / r - 1.0);
        if (!(e <= worst)) {
            worst = e;
            *where = x;
        }
    }
    return worst;
}

static float fexp(float x) { return lp_fast_expf(x); }
static float ftanh(float x) { return lp_fast_tanhf(x); }
static float fgelu(float x) { return lp_fast_gelu_erf(x); }
static float fgelu_tanh(float x) { return lp_fast_gelu_tanh(x); }

/* The figures stated in kernels/cpu/fast_math.h. */
static void test_fast_math_accuracy(void) {
    float at = 0;
    double e = worst_rel(fexp, exp, -87.0, 88.0, 2000000, 0, &at);
    CHECK_MSG(e < 3e-7, "exp: relative error %.3g at %g", e, (double)at);
    e = worst_rel(ftanh, tanh, -20.0, 20.0, 2000000, 1e-30, &at);
    CHECK_MSG(e < 4e-7, "tanh: relative error %.3g at %g", e, (double)at);
    e = worst_rel(fgelu, gelu_erf_d, -3.0, 3.0, 2000000, 1e-30, &at);
    CHECK_MSG(e < 2e-6, "gelu: relative error %.3g at %g on [-3, 3]", e, (double)at);
    e = worst_rel(fgelu, gelu_erf_d, -10.0, 10.0, 2000000, 1e-30, &at);
    CHECK_MSG(e < 1e-5, "gelu: relative error %.3g at %g on [-10, 10]", e, (double)at);
    e = worst_rel(fgelu_tanh, gelu_tanh_d, -3.0, 3.0, 2000000, 1e-30, &at);
    CHECK_MSG(e < 2e-6, "gelu_tanh: relative error %.3g at %g on [-3, 3]", e, (double)at);
    e = worst_rel(fgelu_tanh, gelu_tanh_d, -10.0, 10.0, 2000000, 1e-30, &at);
    CHECK_MSG(e < 2e-5, "gelu_tanh: relative error %.3g at %g on [-10, 10]", e, (double)at);

    CHECK(lp_fast_expf(-INFINITY) == 0.0f && lp_fast_expf(-105.0f) == 0.0f);
    CHECK(fabsf(lp_fast_expf(-100.0f) - (float)exp(-100.0)) <= 1.5e-45f); /* subnormal */
    CHECK(lp_fast_expf(INFINITY) == INFINITY && lp_fast_expf(89.0f) == INFINITY);
    CHECK(isnan(lp_fast_expf(NAN)) && isnan(lp_fast_tanhf(NAN)) && isnan(lp_fast_gelu_erf(NAN)));
    CHECK(lp_fast_expf(0.0f) == 1.0f && lp_fast_tanhf(0.0f) == 0.0f);
    CHECK(lp_fast_tanhf(30.0f) == 1.0f && lp_fast_tanhf(-30.0f) == -1.0f);
    CHECK(lp_fast_gelu_erf(INFINITY) == INFINITY && lp_fast_gelu_erf(-30.0f) == 0.0f);
    CHECK(lp_fast_gelu_tanh(30.0f) == 30.0f && lp_fast_gelu_tanh(-30.0f) == 0.0f);
}

/* lp_v8_exp is lp_fast_expf on vectors: bit-identical where both use FMA
 * instructions, within 2 ulp where the vector fma is a multiply and an add. */
static void test_vector_exp_matches_scalar(void) {
    int bad = 0;
    float worst = 0;
    for (int i = 0; i < 2000000; i += 8) {
        float x[8], y[8];
        for (int l = 0; l < 8; l++) x[l] = -120.0f + 210.0f * (float)(i + l) / 2000000.0f;
        lp_v8_store(y, lp_v8_exp(lp_v8_load(x)));
        for (int l = 0; l < 8; l++) {
            float s = lp_fast_expf(x[l]);
#if defined(__FMA__) && defined(__AVX__)
            if (memcmp(&s, &y[l], sizeof s) != 0) bad++;
#else
            float rel = s > 0 ? fabsf(y[l] / s - 1.0f) : fabsf(y[l]);
            if (!(rel <= 2.5e-7f) && s >= 1e-37f) bad++;
            if (rel > worst && s >= 1e-37f) worst = rel;
#endif
        }
    }
    float specials[8] = {-INFINITY, INFINITY, NAN, 0.0f, -0.0f, 89.0f, -200.0f, 1.0f}, y[8];
    lp_v8_store(y, lp_v8_exp(lp_v8_load(specials)));
    CHECK(y[0] == 0.0f && y[1] == INFINITY && isnan(y[2]) && y[3] == 1.0f && y[4] == 1.0f);
    CHECK(y[5] == INFINITY && y[6] == 0.0f && fabsf(y[7] - 2.7182817f) < 3e-7f);
    CHECK_MSG(bad == 0, "%d lanes of lp_v8_exp differ from lp_fast_expf (worst %g)", bad,
              (double)worst);
}

static const lp_activation ACTS[] = {LP_ACT_NONE, LP_ACT_RELU, LP_ACT_GELU_ERF, LP_ACT_GELU_TANH,
                                     LP_ACT_TANH};

static bool act_exact(lp_activation act) { return act == LP_ACT_NONE || act == LP_ACT_RELU; }

static void compare(const char *what, lp_activation act, const float *got, const float *want,
                    size_t n) {
    if (act_exact(act)) {
        CHECK_MSG(elem_bits_equal(got, want, n), "%s (%s): not bit-identical", what,
                  lp_activation_name(act));
        return;
    }
    double nmse = lp_test_nmse(got, want, n), mad = lp_test_max_abs_diff(got, want, n);
    CHECK_MSG(nmse <= ACT_NMSE && mad <= ACT_MAX_ABS, "%s (%s): nmse %.3g, max abs diff %.3g", what,
              lp_activation_name(act), nmse, mad);
}

static void test_unary_vs_ref(elem_env *env) {
    lp_rng rng = lp_rng_seed(11);
    const int64_t sizes[] = {1, 7, 13, 33, 127, 1000, 4 * 128 * 3072};
    lp_error err = {0};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int64_t n = sizes[si];
        float *x = elem_normal(&rng, (size_t)n, 3.0f);
        if (n > 100) { /* the tails and specials too */
            x[0] = 12.0f, x[1] = -12.0f, x[2] = 0.0f, x[3] = -0.0f, x[4] = 40.0f, x[5] = -40.0f;
        }
        float *want = elem_floats((size_t)n, 0), *got = elem_floats((size_t)n, 0);
        lp_tensor tx = lp_tensor_1d(x, LP_F32, n), tw = lp_tensor_1d(want, LP_F32, n);
        lp_tensor tg = lp_tensor_1d(got, LP_F32, n);
        for (size_t a = 0; a < sizeof ACTS / sizeof *ACTS; a++) {
            CHECK_OK(lp_unary(&env->ref, ACTS[a], &tx, &tw, &err), &err);
            for (int t = 0; t < ELEM_NFAST; t++) {
                memset(got, 0xff, (size_t)n * sizeof *got);
                CHECK_OK(lp_unary(&env->fast[t], ACTS[a], &tx, &tg, &err), &err);
                char what[64];
                snprintf(what, sizeof what, "unary n=%lld threads=%d", (long long)n, t + 1);
                compare(what, ACTS[a], got, want, (size_t)n);
            }
            /* in place: the same values */
            memcpy(got, x, (size_t)n * sizeof *got);
            CHECK_OK(lp_unary(&env->fast[1], ACTS[a], &tg, &tg, &err), &err);
            compare("unary in place", ACTS[a], got, want, (size_t)n);
        }
        free(x);
        free(want);
        free(got);
    }
}

/* The oracle against the formulas, on a few values (so it is not only
 * compared with the fast path it is meant to check). */
static void test_unary_ref_values(elem_env *env) {
    float x[6] = {-2.0f, -0.5f, 0.0f, 0.5f, 1.0f, NAN}, y[6];
    lp_tensor tx = lp_tensor_1d(x, LP_F32, 6), ty = lp_tensor_1d(y, LP_F32, 6);
    lp_error err = {0};
    CHECK_OK(lp_unary(&env->ref, LP_ACT_GELU_ERF, &tx, &ty, &err), &err);
    CHECK(fabsf(y[0] - -0.04550026f) < 1e-7f && fabsf(y[4] - 0.8413447f) < 1e-7f && y[2] == 0.0f);
    CHECK(isnan(y[5]));
    CHECK_OK(lp_unary(&env->ref, LP_ACT_GELU_TANH, &tx, &ty, &err), &err);
    CHECK(fabsf(y[0] - -0.04540231f) < 1e-7f && fabsf(y[4] - 0.8411920f) < 1e-7f);
    CHECK_OK(lp_unary(&env->ref, LP_ACT_RELU, &tx, &ty, &err), &err);
    CHECK(y[0] == 0.0f && y[3] == 0.5f && isnan(y[5])); /* torch.relu(nan) is nan */
    CHECK_OK(lp_unary(&env->fast[0], LP_ACT_RELU, &tx, &ty, &err), &err);
    CHECK(isnan(y[5]));
    CHECK_OK(lp_unary(&env->ref, LP_ACT_TANH, &tx, &ty, &err), &err);
    CHECK(fabsf(y[1] - -0.46211716f) < 1e-7f);
}

typedef struct add_case {
    int andim;
    int64_t ashape[4];
    int bndim;
    int64_t bshape[4];
} add_case;

static void test_add_vs_ref(elem_env *env) {
    const add_case cases[] = {
        {1, {1}, 1, {1}},
        {2, {7, 13}, 1, {13}},                /* bias */
        {2, {7, 13}, 2, {7, 13}},             /* same shape */
        {3, {3, 5, 33}, 2, {5, 33}},          /* trailing two dims */
        {3, {3, 5, 33}, 0, {0}},              /* scalar */
        {3, {3, 5, 33}, 1, {1}},              /* one-element */
        {3, {2, 127, 7}, 3, {1, 1, 7}},       /* leading ones */
        {2, {512, 3072}, 1, {3072}},          /* BERT FFN bias */
        {3, {4, 128, 768}, 3, {4, 128, 768}}, /* BERT residual */
    };
    lp_rng rng = lp_rng_seed(12);
    lp_error err = {0};
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const add_case *c = &cases[ci];
        lp_tensor ta = lp_tensor_make(NULL, LP_F32, c->andim, c->ashape);
        lp_tensor tb = lp_tensor_make(NULL, LP_F32, c->bndim, c->bshape);
        size_t n = (size_t)lp_tensor_numel(&ta), nb = (size_t)lp_tensor_numel(&tb);
        float *a = elem_normal(&rng, n, 2.0f), *b = elem_normal(&rng, nb, 2.0f);
        float *want = elem_floats(n, 0), *got = elem_floats(n, 0), *tmp = elem_floats(n, 0);
        ta.data = a;
        tb.data = b;
        lp_tensor tw = lp_tensor_make(want, LP_F32, c->andim, c->ashape);
        lp_tensor tg = lp_tensor_make(got, LP_F32, c->andim, c->ashape);
        for (size_t ai = 0; ai < sizeof ACTS / sizeof *ACTS; ai++) {
            lp_activation act = ACTS[ai];
            CHECK_OK(lp_add(&env->ref, &ta, &tb, act, &tw, &err), &err);
            char what[96];
            for (int t = 0; t < ELEM_NFAST; t++) {
                memset(got, 0xff, n * sizeof *got);
                CHECK_OK(lp_add(&env->fast[t], &ta, &tb, act, &tg, &err), &err);
                snprintf(what, sizeof what, "add case %zu threads=%d", ci, t + 1);
                compare(what, act, got, want, n);
            }
            /* out == a */
            memcpy(tmp, a, n * sizeof *tmp);
            lp_tensor tt = lp_tensor_make(tmp, LP_F32, c->andim, c->ashape);
            CHECK_OK(lp_add(&env->fast[2], &tt, &tb, act, &tt, &err), &err);
            snprintf(what, sizeof what, "add case %zu in place (out = a)", ci);
            compare(what, act, tmp, want, n);
            if (nb == n && c->bndim == c->andim) { /* out == b */
                memcpy(tmp, b, n * sizeof *tmp);
                CHECK_OK(lp_add(&env->fast[2], &ta, &tt, act, &tt, &err), &err);
                snprintf(what, sizeof what, "add case %zu in place (out = b)", ci);
                compare(what, act, tmp, want, n);
            }
        }
        /* the oracle itself: a + b, repeated */
        CHECK_OK(lp_add(&env->ref, &ta, &tb, LP_ACT_NONE, &tw, &err), &err);
        bool ok = true;
        for (size_t i = 0; i < n; i++) ok = ok && want[i] == a[i] + b[i % nb];
        CHECK_MSG(ok, "add case %zu: oracle is not a + b", ci);
        free(a);
        free(b);
        free(want);
        free(got);
        free(tmp);
    }
    /* x + x in place */
    float x[5] = {1, 2, 3, 4, 5};
    lp_tensor tx = lp_tensor_1d(x, LP_F32, 5);
    CHECK_OK(lp_add(&env->fast[0], &tx, &tx, LP_ACT_NONE, &tx, &err), &err);
    CHECK(x[0] == 2 && x[4] == 10);
}

static void test_validation(elem_env *env) {
    lp_ctx *ctx = &env->fast[0];
    float buf[64] = {0}, out[64] = {0};
    uint16_t half[64] = {0};
    lp_error err = {0};
    lp_tensor x = lp_tensor_2d(buf, LP_F32, 4, 8), y = lp_tensor_2d(out, LP_F32, 4, 8);
    lp_tensor h = lp_tensor_2d(half, LP_F16, 4, 8);
    CHECK_FAILS(lp_unary(ctx, LP_ACT_RELU, &h, &y, &err), LP_ERR_DTYPE, &err,
                "unary: x has dtype f16, expected f32");
    lp_tensor y_bad = lp_tensor_2d(out, LP_F32, 8, 4);
    CHECK_FAILS(lp_unary(ctx, LP_ACT_RELU, &x, &y_bad, &err), LP_ERR_SHAPE, &err,
                "unary: out is [8, 4] f32 but x is [4, 8] f32");
    lp_tensor xt = lp_tensor_transpose(&x, 0, 1);
    lp_tensor yt = lp_tensor_2d(out, LP_F32, 8, 4);
    CHECK_FAILS(lp_unary(ctx, LP_ACT_RELU, &xt, &yt, &err), LP_ERR_SHAPE, &err,
                "unary: x ([8, 4] f32) must be contiguous");
    CHECK_FAILS(lp_unary(ctx, (lp_activation)99, &x, &y, &err), LP_ERR_INVALID_ARG, &err,
                "unary: activation 99");
    CHECK_FAILS(lp_unary(ctx, LP_ACT_RELU, NULL, &y, &err), LP_ERR_INVALID_ARG, &err,
                "unary: x is NULL");
    lp_tensor shifted = lp_tensor_2d(buf + 1, LP_F32, 4, 8);
    CHECK_FAILS(lp_unary(ctx, LP_ACT_RELU, &x, &shifted, &err), LP_ERR_INVALID_ARG, &err,
                "unary: out overlaps x");

    lp_tensor b3 = lp_tensor_1d(out + 40, LP_F32, 3);
    lp_tensor y2 = lp_tensor_2d(out, LP_F32, 4, 8);
    CHECK_FAILS(lp_add(ctx, &x, &b3, LP_ACT_NONE, &y2, &err), LP_ERR_SHAPE, &err,
                "add: b is [3] f32, which is not a trailing part of a's shape [4, 8] f32");
    lp_tensor b48 = lp_tensor_2d(out + 32, LP_F32, 4, 1);
    CHECK_FAILS(lp_add(ctx, &x, &b48, LP_ACT_NONE, &y2, &err), LP_ERR_SHAPE, &err,
                "not a trailing part");
    lp_tensor bh = lp_tensor_1d(half, LP_F16, 8);
    CHECK_FAILS(lp_add(ctx, &x, &bh, LP_ACT_NONE, &y2, &err), LP_ERR_DTYPE, &err,
                "add: b has dtype f16");
    lp_tensor b8 = lp_tensor_1d(out + 4, LP_F32, 8);
    CHECK_FAILS(lp_add(ctx, &x, &b8, LP_ACT_NONE, &y2, &err), LP_ERR_INVALID_ARG, &err,
                "add: out overlaps b");
    lp_ctx none = {0};
    CHECK_FAILS(lp_add(&none, &x, &b8, LP_ACT_NONE, &y2, &err), LP_ERR_INVALID_ARG, &err,
                "not initialised");
}

int main(void) {
    elem_env env;
    elem_env_init(&env);
    test_fast_math_accuracy();
    test_vector_exp_matches_scalar();
    test_unary_ref_values(&env);
    /* both builds of the activation loops where the CPU has AVX-512 */
    bool avx512 = lp_cpu_fast_activation_avx512();
    printf("activation loops: %s\n", avx512 ? "AVX-512 and base" : "base only");
    for (int pass = 0; pass < (avx512 ? 2 : 1); pass++) {
        lp_cpu_fast_activation_allow_avx512(pass == 0);
        test_unary_vs_ref(&env);
        test_add_vs_ref(&env);
    }
    lp_cpu_fast_activation_allow_avx512(true);
    test_validation(&env);
    elem_env_release(&env);
    return lp_test_finish();
}
