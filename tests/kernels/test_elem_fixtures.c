/* The non-GEMM ops against PyTorch / transformers: tests/fixtures/ops/
 * elem_*.safetensors (written by tools/make_elementwise_fixtures.py; each case
 * is "case<N>.<tensor>" plus a JSON string "case<N>" in __metadata__ with the
 * op's parameters), run on the "cpu-ref" oracle and on the "cpu" fast path
 * with 2 threads.
 *
 * Tolerances against torch (float32 on both sides):
 *   unary, add        max abs diff <= 1e-5, NMSE <= 1e-10
 *   layer_norm        max abs diff <= 2e-5 (values up to ~8), NMSE <= 1e-10
 *   softmax           max abs diff <= 1e-6; log softmax <= 1e-5; -inf exactly
 *   attention         max abs diff <= 1e-4 x max |out|, NMSE <= 1e-9
 *   sinusoid          max abs diff <= 1e-6 (float rounding of one double)
 *   embedding, cast, argmax, topk: bit-exact. */
#include <cjson/cJSON.h>
#include <math.h>

#include "tests/op_fixture.h"
#include "tests/kernels/elem_test_env.h"

static double param_num(const fixture *fx, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(fx->params, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* An output buffer shaped like `like`, with dtype `dtype`. */
static lp_tensor alloc_like(const lp_tensor *like, lp_dtype dtype) {
    void *data = elem_alloc(lp_tensor_numel(like) * lp_dtype_size(dtype) + 1);
    lp_tensor t = lp_tensor_make(data, dtype, like->ndim, like->shape);
    return t;
}

/* Both backends: the oracle and the 2-thread fast path. */
static lp_ctx *backend(elem_env *env, int b) { return b ? &env->fast[1] : &env->ref; }

static void check_close(const fixture *fx, lp_ctx *ctx, const float *got, const float *want,
                        size_t n, double max_abs, double nmse_tol) {
    /* equal infinities (masked log-softmax rows) count as exact */
    double worst = 0, num = 0, den = 0;
    size_t inf_bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (isinf(want[i]) || isinf(got[i])) {
            inf_bad += want[i] != got[i];
            continue;
        }
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= worst)) worst = d;
        num += d * d;
        den += (double)want[i] * want[i];
    }
    double nmse = den > 0 ? num / den : num;
    CHECK_MSG(worst <= max_abs && nmse <= nmse_tol && inf_bad == 0,
              "%s case %d (%s) on %s: max abs diff %.3g (limit %.3g), nmse %.3g (limit %.3g), "
              "%zu infinities differ",
              fx->file, fx->index, fixture_param_str(fx, "op"), ctx->backend->name, worst,
              max_abs, nmse, nmse_tol, inf_bad);
}

static lp_activation act_named(const char *name) {
    for (int a = 0; a < LP_ACT_COUNT; a++)
        if (!strcmp(lp_activation_name((lp_activation)a), name)) return (lp_activation)a;
    CHECK_MSG(false, "unknown activation '%s' in a fixture", name);
    return LP_ACT_NONE;
}

static void test_unary_add(elem_env *env) {
    const char *files[] = {"elem_unary.safetensors", "elem_add.safetensors"};
    for (int f = 0; f < 2; f++) {
        fixture fx;
        if (!fixture_open(&fx, files[f])) continue;
        while (fixture_next(&fx)) {
            lp_activation act = act_named(fixture_param_str(&fx, "act"));
            lp_tensor want = fixture_get(&fx, "out", false), got = alloc_like(&want, LP_F32);
            for (int b = 0; b < 2; b++) {
                lp_error err = {0};
                if (f == 0) {
                    lp_tensor x = fixture_get(&fx, "x", false);
                    CHECK_OK(lp_unary(backend(env, b), act, &x, &got, &err), &err);
                } else {
                    lp_tensor a = fixture_get(&fx, "a", false), bb = fixture_get(&fx, "b", false);
                    CHECK_OK(lp_add(backend(env, b), &a, &bb, act, &got, &err), &err);
                }
                check_close(&fx, backend(env, b), got.data, want.data,
                            (size_t)lp_tensor_numel(&want), 1e-5, 1e-10);
            }
            free(got.data);
        }
        fixture_close(&fx);
    }
}

static void test_layer_norm(elem_env *env) {
    fixture fx;
    if (!fixture_open(&fx, "elem_layer_norm.safetensors")) return;
    while (fixture_next(&fx)) {
        lp_tensor x = fixture_get(&fx, "x", false), want = fixture_get(&fx, "out", false);
        lp_tensor g = fixture_get(&fx, "gamma", true), bt = fixture_get(&fx, "beta", true);
        lp_tensor got = alloc_like(&want, LP_F32);
        float eps = (float)param_num(&fx, "eps", -1);
        for (int b = 0; b < 2; b++) {
            lp_error err = {0};
            CHECK_OK(lp_layer_norm(backend(env, b), &x, g.data ? &g : NULL, bt.data ? &bt : NULL,
                                   eps, &got, &err),
                     &err);
            check_close(&fx, backend(env, b), got.data, want.data, (size_t)lp_tensor_numel(&want),
                        2e-5, 1e-10);
        }
        free(got.data);
    }
    fixture_close(&fx);
}

static void test_softmax(elem_env *env) {
    fixture fx;
    if (!fixture_open(&fx, "elem_softmax.safetensors")) return;
    while (fixture_next(&fx)) {
        lp_tensor x = fixture_get(&fx, "x", false), want = fixture_get(&fx, "out", false);
        lp_tensor m = fixture_get(&fx, "mask", true), got = alloc_like(&want, LP_F32);
        bool log = fixture_param_bool(&fx, "log");
        for (int b = 0; b < 2; b++) {
            lp_error err = {0};
            CHECK_OK(lp_softmax(backend(env, b), &x, m.data ? &m : NULL,
                                (float)param_num(&fx, "scale", 1), log, &got, &err),
                     &err);
            check_close(&fx, backend(env, b), got.data, want.data, (size_t)lp_tensor_numel(&want),
                        log ? 1e-5 : 1e-6, 1e-10);
        }
        free(got.data);
    }
    fixture_close(&fx);
}

static void test_attention(elem_env *env) {
    fixture fx;
    if (!fixture_open(&fx, "elem_attention.safetensors")) return;
    while (fixture_next(&fx)) {
        lp_tensor q = fixture_get(&fx, "q", false), k = fixture_get(&fx, "k", false);
        lp_tensor v = fixture_get(&fx, "v", false), want = fixture_get(&fx, "out", false);
        lp_tensor km = fixture_get(&fx, "key_mask", true), got = alloc_like(&want, LP_F32);
        lp_attention_mask mask = {km.data ? &km : NULL, fixture_param_bool(&fx, "causal")};
        size_t n = (size_t)lp_tensor_numel(&want);
        double peak = 0;
        for (size_t i = 0; i < n; i++) peak = fmax(peak, fabs(((float *)want.data)[i]));
        for (int b = 0; b < 2; b++) {
            lp_error err = {0};
            CHECK_OK(lp_attention(backend(env, b), &q, &k, &v, &mask,
                                  (float)param_num(&fx, "scale", 0), &got, &err),
                     &err);
            check_close(&fx, backend(env, b), got.data, want.data, n, 1e-4 * peak, 1e-9);
        }
        free(got.data);
    }
    fixture_close(&fx);
}

static void test_embedding(elem_env *env) {
    fixture fx;
    if (!fixture_open(&fx, "elem_embedding.safetensors")) return;
    while (fixture_next(&fx)) {
        lp_tensor want = fixture_get(&fx, "out", false), got = alloc_like(&want, LP_F32);
        bool sinusoid = !strcmp(fixture_param_str(&fx, "op"), "sinusoid");
        for (int b = 0; b < 2; b++) {
            lp_error err = {0};
            memset(got.data, 0xff, lp_tensor_nbytes(&got));
            if (sinusoid) {
                CHECK_OK(lp_sinusoidal_positions(backend(env, b), (int64_t)param_num(&fx, "offset", -1),
                                                 &got, &err),
                         &err);
                check_close(&fx, backend(env, b), got.data, want.data,
                            (size_t)lp_tensor_numel(&want), 1e-6, 1e-12);
            } else {
                lp_tensor table = fixture_get(&fx, "table", false), ids = fixture_get(&fx, "ids", false);
                CHECK_OK(lp_embedding(backend(env, b), &table, &ids, &got, &err), &err);
                CHECK_MSG(!memcmp(got.data, want.data, lp_tensor_nbytes(&want)),
                          "embedding case %d differs from torch", fx.index);
            }
        }
        free(got.data);
    }
    fixture_close(&fx);
}

static void test_cast(elem_env *env) {
    fixture fx;
    if (!fixture_open(&fx, "elem_cast.safetensors")) return;
    while (fixture_next(&fx)) {
        lp_tensor x = fixture_get(&fx, "x", false), want = fixture_get(&fx, "out", false);
        lp_tensor got = alloc_like(&want, want.dtype);
        for (int b = 0; b < 2; b++) {
            lp_error err = {0};
            CHECK_OK(lp_cast(backend(env, b), &x, &got, &err), &err);
            CHECK_MSG(!memcmp(got.data, want.data, lp_tensor_nbytes(&want)),
                      "cast case %d (%s -> %s) on %s is not bit-identical to torch", fx.index,
                      lp_dtype_name(x.dtype), lp_dtype_name(want.dtype), backend(env, b)->backend->name);
        }
        free(got.data);
    }
    fixture_close(&fx);
}

static void test_select(elem_env *env) {
    fixture fx;
    if (!fixture_open(&fx, "elem_select.safetensors")) return;
    while (fixture_next(&fx)) {
        lp_tensor x = fixture_get(&fx, "x", false);
        bool topk = !strcmp(fixture_param_str(&fx, "op"), "topk");
        for (int b = 0; b < 2; b++) {
            lp_error err = {0};
            if (topk) {
                lp_tensor wv = fixture_get(&fx, "values", false), wi = fixture_get(&fx, "indices", false);
                lp_tensor gv = alloc_like(&wv, LP_F32), gi = alloc_like(&wi, LP_I64);
                CHECK_OK(lp_topk(backend(env, b), &x, (int64_t)param_num(&fx, "k", 0), &gv, &gi, &err),
                         &err);
                CHECK_MSG(!memcmp(gv.data, wv.data, lp_tensor_nbytes(&wv)) &&
                              !memcmp(gi.data, wi.data, lp_tensor_nbytes(&wi)),
                          "topk case %d differs from torch", fx.index);
                free(gv.data);
                free(gi.data);
            } else {
                lp_tensor want = fixture_get(&fx, "out", false), got = alloc_like(&want, LP_I64);
                CHECK_OK(lp_argmax(backend(env, b), &x, &got, &err), &err);
                CHECK_MSG(!memcmp(got.data, want.data, lp_tensor_nbytes(&want)),
                          "argmax case %d differs from torch", fx.index);
                free(got.data);
            }
        }
    }
    fixture_close(&fx);
}

int main(void) {
    elem_env env;
    elem_env_init(&env);
    test_unary_add(&env);
    test_layer_norm(&env);
    test_softmax(&env);
    test_attention(&env);
    test_embedding(&env);
    test_cast(&env);
    test_select(&env);
    elem_env_release(&env);
    return lp_test_finish();
}
