/* The GEMM-family ops against PyTorch: tests/fixtures/ops/gemm_*.safetensors
 * (written by tools/make_gemm_fixtures.py; each case is "case<N>.<tensor>"
 * plus a JSON string "case<N>" in __metadata__ with the op's parameters), run
 * on the "cpu-ref" oracle and on the "cpu" fast path with 1, 2 and 3 threads.
 *
 * Tolerances against torch (float32 on both sides, torch's own summation
 * order; measured differences are ~1e-7 of max |out|):
 *   matmul, linear, conv2d, folded conv+BN:
 *       max abs diff <= 1e-5 x max(max |out|, 1), and NMSE <= 1e-10
 *   fold_batchnorm's folded weights and bias vs fuse_conv_bn_weights:
 *       max abs diff <= 1e-6 x max |value|
 *   maxpool2d: bit-exact (a selection), NaN where torch has NaN
 *   global_avgpool2d: max abs diff <= 1e-6 x max |out| */
#include <cjson/cJSON.h>

#include "tests/op_fixture.h"
#include "tests/kernels/gemm_test_env.h"

static gemm_env env;

static double param_num(const fixture *fx, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(fx->params, key);
    CHECK_MSG(cJSON_IsNumber(v), "%s case%d: no number '%s'", fx->file, fx->index, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Element i of a two-int array parameter ("stride": [2, 1]). */
static int param_pair(const fixture *fx, const char *key, int i) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(fx->params, key);
    const cJSON *e = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, i) : NULL;
    CHECK_MSG(cJSON_IsNumber(e), "%s case%d: no '%s'[%d]", fx->file, fx->index, key, i);
    return cJSON_IsNumber(e) ? e->valueint : 0;
}

static lp_activation param_act(const fixture *fx) {
    const char *name = fixture_param_str(fx, "act");
    for (int a = 0; a < LP_ACT_COUNT; a++)
        if (!strcmp(name, lp_activation_name((lp_activation)a))) return (lp_activation)a;
    CHECK_MSG(false, "%s case%d: unknown activation '%s'", fx->file, fx->index, name);
    return LP_ACT_NONE;
}

static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i]));
    return m;
}

/* got vs torch's want: max abs diff <= rel x max(max |want|, 1) and NMSE <=
 * nmse_tol. (The floor of 1: torch rounds some tiny GELU tails to exactly 0.) */
static void check_close(const fixture *fx, const char *who, const float *got, const float *want,
                        size_t n, double rel, double nmse_tol) {
    double diff = lp_test_max_abs_diff(got, want, n), scale = fmax(max_abs(want, n), 1.0);
    double nmse = lp_test_nmse(got, want, n);
    CHECK_MSG(diff <= rel * scale && nmse <= nmse_tol,
              "%s case%d (%s, %s): max abs diff %.3g (limit %.3g), nmse %.3g (limit %.3g)",
              fx->file, fx->index, fixture_param_str(fx, "op"), who, diff, rel * scale, nmse, nmse_tol);
}

/* An output buffer shaped like torch's result, filled with the sentinel. */
static lp_tensor out_like(const lp_tensor *want) {
    return gemm_tensor(NULL, want->ndim, want->shape, 0, GEMM_SENTINEL);
}

/* Every context: the oracle, then the fast path on each pool. */
static lp_ctx *context(int i, const char **who) {
    static const char *names[] = {"cpu-ref", "cpu 1 thread", "cpu 2 threads", "cpu 3 threads"};
    *who = names[i];
    return i == 0 ? &env.ref : &env.fast[i - 1];
}
#define NCONTEXTS (GEMM_NFAST + 1)

static void test_matmul_fixtures(void) {
    fixture fx;
    if (!fixture_open(&fx, "gemm_matmul.safetensors")) return;
    int cases = 0;
    while (fixture_next(&fx)) {
        lp_tensor a = fixture_get(&fx, "a", false), b = fixture_get(&fx, "b", false);
        lp_tensor want = fixture_get(&fx, "out", false);
        if (fixture_param_bool(&fx, "a_head_split")) a = lp_tensor_transpose(&a, 1, 2);
        if (fixture_param_bool(&fx, "b_head_split")) b = lp_tensor_transpose(&b, 1, 2);
        bool ta = fixture_param_bool(&fx, "ta"), tb = fixture_param_bool(&fx, "tb");
        float alpha = (float)param_num(&fx, "alpha");
        lp_tensor out = out_like(&want);
        size_t n = (size_t)lp_tensor_numel(&want);
        for (int c = 0; c < NCONTEXTS; c++) {
            const char *who;
            lp_error err = {0};
            gemm_fill(out.data, n, GEMM_SENTINEL);
            CHECK_OK(lp_matmul(context(c, &who), &a, &b, ta, tb, alpha, &out, &err), &err);
            check_close(&fx, who, out.data, want.data, n, 1e-5, 1e-10);
        }
        free(out.data);
        cases++;
    }
    CHECK_MSG(cases >= 20, "gemm_matmul: only %d cases", cases);
    fixture_close(&fx);
}

static void test_linear_fixtures(void) {
    fixture fx;
    if (!fixture_open(&fx, "gemm_linear.safetensors")) return;
    int cases = 0;
    while (fixture_next(&fx)) {
        lp_tensor x = fixture_get(&fx, "x", false), w = fixture_get(&fx, "weight", false);
        lp_tensor bias = fixture_get(&fx, "bias", !fixture_param_bool(&fx, "bias"));
        lp_tensor want = fixture_get(&fx, "out", false);
        lp_activation act = param_act(&fx);
        lp_tensor out = out_like(&want);
        size_t n = (size_t)lp_tensor_numel(&want);
        for (int c = 0; c < NCONTEXTS; c++) {
            const char *who;
            lp_error err = {0};
            gemm_fill(out.data, n, GEMM_SENTINEL);
            CHECK_OK(lp_linear(context(c, &who), &x, &w, bias.data ? &bias : NULL, act, &out, &err),
                     &err);
            check_close(&fx, who, out.data, want.data, n, 1e-5, 1e-10);
        }
        free(out.data);
        cases++;
    }
    CHECK_MSG(cases >= 25, "gemm_linear: only %d cases", cases);
    fixture_close(&fx);
}

static lp_conv2d_params conv_params(const fixture *fx) {
    lp_conv2d_params p = {param_pair(fx, "stride", 0),   param_pair(fx, "stride", 1),
                          param_pair(fx, "padding", 0),  param_pair(fx, "padding", 1),
                          param_pair(fx, "dilation", 0), param_pair(fx, "dilation", 1),
                          (int)param_num(fx, "groups")};
    return p;
}

static void test_conv_fixtures(void) {
    fixture fx;
    if (!fixture_open(&fx, "gemm_conv2d.safetensors")) return;
    int cases = 0;
    while (fixture_next(&fx)) {
        lp_tensor x = fixture_get(&fx, "x", false), w = fixture_get(&fx, "weight", false);
        lp_tensor bias = fixture_get(&fx, "bias", !fixture_param_bool(&fx, "bias"));
        lp_tensor res = fixture_get(&fx, "residual", !fixture_param_bool(&fx, "residual"));
        lp_tensor want = fixture_get(&fx, "out", false);
        lp_conv2d_params p = conv_params(&fx);
        lp_activation act = param_act(&fx);
        lp_tensor out = out_like(&want);
        size_t n = (size_t)lp_tensor_numel(&want);
        for (int c = 0; c < NCONTEXTS; c++) {
            const char *who;
            lp_error err = {0};
            gemm_fill(out.data, n, GEMM_SENTINEL);
            CHECK_OK(lp_conv2d(context(c, &who), &x, &w, bias.data ? &bias : NULL,
                               res.data ? &res : NULL, &p, act, &out, &err),
                     &err);
            check_close(&fx, who, out.data, want.data, n, 1e-5, 1e-10);
        }
        free(out.data);
        cases++;
    }
    CHECK_MSG(cases >= 9, "gemm_conv2d: only %d cases", cases);
    fixture_close(&fx);
}

/* Folding matches torch's fuse_conv_bn_weights, and the folded convolution
 * matches torch's conv followed by BatchNorm2d in eval mode. */
static void test_fold_fixtures(void) {
    fixture fx;
    if (!fixture_open(&fx, "gemm_fold.safetensors")) return;
    int cases = 0;
    while (fixture_next(&fx)) {
        lp_tensor x = fixture_get(&fx, "x", false), w = fixture_get(&fx, "weight", false);
        lp_tensor bias = fixture_get(&fx, "bias", !fixture_param_bool(&fx, "conv_bias"));
        lp_tensor gamma = fixture_get(&fx, "gamma", false), beta = fixture_get(&fx, "beta", false);
        lp_tensor mean = fixture_get(&fx, "mean", false), var = fixture_get(&fx, "var", false);
        lp_tensor want_w = fixture_get(&fx, "folded_weight", false);
        lp_tensor want_b = fixture_get(&fx, "folded_bias", false);
        lp_tensor want = fixture_get(&fx, "out", false);
        float eps = (float)param_num(&fx, "eps");
        lp_tensor fw = out_like(&w), fb = out_like(&want_b), out = out_like(&want);
        lp_error err = {0};
        CHECK_OK(lp_fold_batchnorm(&w, bias.data ? &bias : NULL, &gamma, &beta, &mean, &var, eps,
                                   &fw, &fb, &err),
                 &err);
        size_t nw = (size_t)lp_tensor_numel(&w), nb = (size_t)lp_tensor_numel(&want_b);
        check_close(&fx, "folded weight", fw.data, want_w.data, nw, 1e-6, 1e-12);
        check_close(&fx, "folded bias", fb.data, want_b.data, nb, 1e-6, 1e-12);
        lp_conv2d_params p = {1, 1, param_pair(&fx, "padding", 0), param_pair(&fx, "padding", 1), 1,
                              1, 1};
        size_t n = (size_t)lp_tensor_numel(&want);
        for (int c = 0; c < NCONTEXTS; c++) {
            const char *who;
            CHECK_OK(lp_conv2d(context(c, &who), &x, &fw, &fb, NULL, &p, LP_ACT_NONE, &out, &err),
                     &err);
            check_close(&fx, who, out.data, want.data, n, 1e-5, 1e-10);
        }
        free(fw.data), free(fb.data), free(out.data);
        cases++;
    }
    CHECK_MSG(cases == 2, "gemm_fold: %d cases", cases);
    fixture_close(&fx);
}

static void test_pool_fixtures(void) {
    fixture fx;
    if (!fixture_open(&fx, "gemm_pool.safetensors")) return;
    int cases = 0;
    while (fixture_next(&fx)) {
        lp_tensor x = fixture_get(&fx, "x", false), want = fixture_get(&fx, "out", false);
        bool is_max = !strcmp(fixture_param_str(&fx, "op"), "maxpool2d");
        lp_pool2d_params p = {0};
        if (is_max) {
            p = (lp_pool2d_params){param_pair(&fx, "kernel", 0),  param_pair(&fx, "kernel", 1),
                                   param_pair(&fx, "stride", 0),  param_pair(&fx, "stride", 1),
                                   param_pair(&fx, "padding", 0), param_pair(&fx, "padding", 1),
                                   fixture_param_bool(&fx, "ceil_mode")};
            CHECK(lp_pool_out_size(x.shape[2], p.kernel_h, p.stride_h, p.pad_h, p.ceil_mode) ==
                  want.shape[2]);
            CHECK(lp_pool_out_size(x.shape[3], p.kernel_w, p.stride_w, p.pad_w, p.ceil_mode) ==
                  want.shape[3]);
        }
        lp_tensor out = out_like(&want);
        size_t n = (size_t)lp_tensor_numel(&want);
        const float *wv = want.data;
        for (int c = 0; c < NCONTEXTS; c++) {
            const char *who;
            lp_error err = {0};
            gemm_fill(out.data, n, GEMM_SENTINEL);
            lp_ctx *ctx = context(c, &who);
            if (is_max) {
                CHECK_OK(lp_maxpool2d(ctx, &x, &p, &out, &err), &err);
                const float *ov = out.data;
                int64_t differ = 0;
                for (size_t i = 0; i < n; i++)
                    differ += isnan(wv[i]) ? !isnan(ov[i]) : ov[i] != wv[i];
                CHECK_MSG(differ == 0, "gemm_pool case%d (%s): %lld outputs differ from torch",
                          fx.index, who, (long long)differ);
            } else {
                CHECK_OK(lp_global_avgpool2d(ctx, &x, &out, &err), &err);
                check_close(&fx, who, out.data, want.data, n, 1e-6, 1e-12);
            }
        }
        free(out.data);
        cases++;
    }
    CHECK_MSG(cases >= 11, "gemm_pool: only %d cases", cases);
    fixture_close(&fx);
}

int main(void) {
    gemm_env_init(&env);
    test_matmul_fixtures();
    test_linear_fixtures();
    test_conv_fixtures();
    test_fold_fixtures();
    test_pool_fixtures();
    gemm_env_release(&env);
    return lp_test_finish();
}
