/* lp_attention: the flash-style "cpu" fast path against the "cpu-ref" oracle
 * with 1, 2 and 3 threads on: a single element; odd sizes (7, 13, 33, 127);
 * cross-attention (Sq != Sk, Dv != D); key padding masks of every length,
 * including a batch entry with no key left (zeros); causal self-attention and
 * causal with a KV cache (Sk > Sq, across several key blocks), and Sk < Sq
 * (first queries see nothing); [B, S, H, D] storage viewed as [B, H, S, D]
 * and q/k/v slices of one fused QKV buffer; BERT-base size (B 4, H 12,
 * S 128, D 64); Sk = 0. Then the oracle against hand-computed values, and
 * argument validation.
 *
 * Tolerance: NMSE <= 1e-10 against the oracle (measured 2e-15 .. 3e-13); rows that
 * see no key must be exactly zero in both. */
#include <math.h>

#include "tests/kernels/elem_test_env.h"

#define ATTN_NMSE 1e-10

typedef struct attn_case {
    const char *name;
    int64_t b, h, sq, sk, d, dv;
    bool key_mask, causal;
    bool bshd; /* store as [B, S, H, D] and pass transposed views */
    bool fused; /* q, k, v are slices of one [B, S, 3, H, D] buffer (needs sq == sk, d == dv) */
} attn_case;

/* A [B, H, S, D] view of fresh storage, either dense or [B, S, H, D] transposed. */
static lp_tensor make_view(float *data, int64_t b, int64_t h, int64_t s, int64_t d, bool bshd) {
    if (!bshd) return lp_tensor_4d(data, LP_F32, b, h, s, d);
    lp_tensor t = lp_tensor_4d(data, LP_F32, b, s, h, d);
    return lp_tensor_transpose(&t, 1, 2);
}

/* Key lengths Sk, then shorter ones across the batch, the last batch entry
 * fully padded when B > 1; holes at every 11th key inside the kept prefix. */
static void fill_key_mask(uint8_t *m, int64_t b, int64_t sk) {
    for (int64_t i = 0; i < b; i++) {
        int64_t keep = sk - i * sk / b;
        if (keep < 1) keep = 1;
        if (b > 1 && i == b - 1) keep = 0;
        for (int64_t j = 0; j < sk; j++) m[i * sk + j] = j < keep && (j % 11 != 5);
    }
}

/* out as a dense [B, H, Sq, Dv] copy (views may be strided). */
static void gather(const lp_tensor *t, float *dst) {
    for (int64_t b = 0; b < t->shape[0]; b++)
        for (int64_t h = 0; h < t->shape[1]; h++)
            for (int64_t s = 0; s < t->shape[2]; s++) {
                const float *src = (const float *)t->data + b * t->stride[0] + h * t->stride[1] +
                                   s * t->stride[2];
                memcpy(dst, src, (size_t)t->shape[3] * sizeof *dst);
                dst += t->shape[3];
            }
}

static void run_case(elem_env *env, const attn_case *c, lp_rng *rng) {
    lp_error err = {0};
    size_t nq = (size_t)(c->b * c->h * c->sq * c->d), nk = (size_t)(c->b * c->h * c->sk * c->d);
    size_t nv = (size_t)(c->b * c->h * c->sk * c->dv), no = (size_t)(c->b * c->h * c->sq * c->dv);
    float *qkv = NULL, *q, *k, *v;
    lp_tensor tq, tk, tv;
    if (c->fused) {
        qkv = elem_normal(rng, 3 * nq, 1.0f);
        lp_tensor all = lp_tensor_make(qkv, LP_F32, 5, (int64_t[]){c->b, c->sq, 3, c->h, c->d});
        lp_tensor parts[3];
        for (int p = 0; p < 3; p++) {
            lp_tensor sl = lp_tensor_narrow(&all, 2, p, 1);
            /* [B, S, 1, H, D] -> [B, H, S, D] by strides */
            lp_tensor view = lp_tensor_4d(sl.data, LP_F32, c->b, c->h, c->sq, c->d);
            view.stride[0] = sl.stride[0];
            view.stride[1] = sl.stride[3];
            view.stride[2] = sl.stride[1];
            view.stride[3] = 1;
            parts[p] = view;
        }
        tq = parts[0], tk = parts[1], tv = parts[2];
        q = k = v = NULL;
    } else {
        q = elem_normal(rng, nq, 1.0f);
        k = elem_normal(rng, nk, 1.0f);
        v = elem_normal(rng, nv, 1.0f);
        tq = make_view(q, c->b, c->h, c->sq, c->d, c->bshd);
        tk = make_view(k, c->b, c->h, c->sk, c->d, c->bshd);
        tv = make_view(v, c->b, c->h, c->sk, c->dv, c->bshd);
    }
    uint8_t *km = elem_alloc((size_t)(c->b * c->sk) + 1);
    fill_key_mask(km, c->b, c->sk);
    lp_tensor tkm = lp_tensor_2d(km, LP_U8, c->b, c->sk);
    lp_attention_mask mask = {c->key_mask ? &tkm : NULL, c->causal};
    float scale = c->d > 0 ? 1.0f / sqrtf((float)c->d) : 1.0f;

    float *want_buf = elem_floats(no, 0), *got_buf = elem_floats(no, 0);
    float *want = elem_floats(no, 0), *got = elem_floats(no, 0);
    lp_tensor tw = make_view(want_buf, c->b, c->h, c->sq, c->dv, c->bshd);
    lp_tensor tg = make_view(got_buf, c->b, c->h, c->sq, c->dv, c->bshd);
    CHECK_OK(lp_attention(&env->ref, &tq, &tk, &tv, &mask, scale, &tw, &err), &err);
    gather(&tw, want);
    for (int t = 0; t < ELEM_NFAST; t++) {
        memset(got_buf, 0xff, no * sizeof *got_buf);
        CHECK_OK(lp_attention(&env->fast[t], &tq, &tk, &tv, &mask, scale, &tg, &err), &err);
        gather(&tg, got);
        char what[128];
        snprintf(what, sizeof what, "attention %s threads=%d", c->name, t + 1);
        lp_test_check_nmse(what, got, want, no, ATTN_NMSE);
        /* queries that see no key: exactly zero in both */
        size_t zero_rows = 0, bad = 0;
        for (size_t r = 0; r < no / (size_t)(c->dv ? c->dv : 1) && c->dv; r++) {
            bool wz = true, gz = true;
            for (int64_t x = 0; x < c->dv; x++) {
                wz = wz && want[r * (size_t)c->dv + (size_t)x] == 0.0f;
                gz = gz && got[r * (size_t)c->dv + (size_t)x] == 0.0f;
            }
            zero_rows += wz;
            bad += wz != gz;
        }
        CHECK_MSG(bad == 0, "%s: %zu rows zero in one backend only (%zu zero rows)", what, bad,
                  zero_rows);
    }
    free(qkv);
    free(q);
    free(k);
    free(v);
    free(km);
    free(want_buf);
    free(got_buf);
    free(want);
    free(got);
}

static void test_attention_vs_ref(elem_env *env) {
    const attn_case cases[] = {
        {"1x1x1x1", 1, 1, 1, 1, 1, 1, false, false, false, false},
        {"cross 7->13 d5 dv7", 2, 3, 7, 13, 5, 7, false, false, false, false},
        {"cross 7->13 masked", 3, 3, 7, 13, 5, 7, true, false, false, false},
        {"self 33 d16 masked", 4, 2, 33, 33, 16, 16, true, false, false, false},
        {"self 127 d64 masked", 3, 2, 127, 127, 64, 64, true, false, false, false},
        {"causal 33", 2, 2, 33, 33, 16, 16, false, true, false, false},
        {"causal 70 masked", 3, 2, 70, 70, 32, 32, true, true, false, false},
        {"causal kv-cache 5->133", 2, 2, 5, 133, 64, 64, false, true, false, false},
        {"causal decode 1->300", 2, 3, 1, 300, 64, 64, true, true, false, false},
        {"causal Sk<Sq 13->7", 1, 2, 13, 7, 8, 8, false, true, false, false},
        {"long 70->300 masked", 3, 2, 70, 300, 64, 48, true, false, false, false},
        {"bshd views 33 d64", 2, 4, 33, 33, 64, 64, true, false, true, false},
        {"bshd cross 13->40", 2, 3, 13, 40, 24, 40, false, false, true, false},
        {"fused qkv 37 d32", 2, 3, 37, 37, 32, 32, true, false, false, true},
        {"bert-base 4x12x128x64", 4, 12, 128, 128, 64, 64, true, false, true, false},
        {"Sk=0", 2, 2, 3, 0, 8, 8, false, false, false, false},
    };
    lp_rng rng = lp_rng_seed(31);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(env, &cases[i], &rng);
}

static void test_attention_ref_values(elem_env *env) {
    /* one query [1, 0]; keys [1, 0] and [0, 1]; values [1, 2] and [3, 4] */
    float q[2] = {1, 0}, k[4] = {1, 0, 0, 1}, v[4] = {1, 2, 3, 4}, o[2];
    lp_tensor tq = lp_tensor_4d(q, LP_F32, 1, 1, 1, 2), tk = lp_tensor_4d(k, LP_F32, 1, 1, 2, 2);
    lp_tensor tv = lp_tensor_4d(v, LP_F32, 1, 1, 2, 2), to = lp_tensor_4d(o, LP_F32, 1, 1, 1, 2);
    lp_error err = {0};
    for (int b = 0; b < 2; b++) {
        lp_ctx *ctx = b ? &env->fast[0] : &env->ref;
        CHECK_OK(lp_attention(ctx, &tq, &tk, &tv, NULL, 2.0f, &to, &err), &err);
        double p0 = exp(2.0) / (exp(2.0) + 1), p1 = 1 - p0;
        CHECK_MSG(fabs(o[0] - (p0 * 1 + p1 * 3)) < 1e-6 && fabs(o[1] - (p0 * 2 + p1 * 4)) < 1e-6,
                  "%s: got [%g, %g]", ctx->backend->name, (double)o[0], (double)o[1]);
        uint8_t km[2] = {0, 1};
        lp_tensor tkm = lp_tensor_2d(km, LP_U8, 1, 2);
        lp_attention_mask m = {&tkm, false};
        CHECK_OK(lp_attention(ctx, &tq, &tk, &tv, &m, 2.0f, &to, &err), &err);
        CHECK_MSG(o[0] == 3 && o[1] == 4, "%s: masked key 0: got [%g, %g]", ctx->backend->name,
                  (double)o[0], (double)o[1]);
        /* causal, Sq 1 Sk 2: query 0 sees keys j <= 0 + 1: both */
        m.key_mask = NULL;
        m.causal = true;
        CHECK_OK(lp_attention(ctx, &tq, &tk, &tv, &m, 2.0f, &to, &err), &err);
        CHECK(fabs(o[0] - (p0 * 1 + p1 * 3)) < 1e-6);
        /* no key visible at all */
        km[1] = 0;
        m.key_mask = &tkm;
        CHECK_OK(lp_attention(ctx, &tq, &tk, &tv, &m, 2.0f, &to, &err), &err);
        CHECK(o[0] == 0 && o[1] == 0);
    }
}

static void test_validation(elem_env *env) {
    lp_ctx *ctx = &env->fast[0];
    static float buf[4096], obuf[4096];
    uint8_t km[64] = {0};
    float kmf[64] = {0};
    lp_error err = {0};
    lp_tensor q = lp_tensor_4d(buf, LP_F32, 2, 2, 4, 8);
    lp_tensor k = lp_tensor_4d(buf + 256, LP_F32, 2, 2, 5, 8);
    lp_tensor v = lp_tensor_4d(buf + 512, LP_F32, 2, 2, 5, 6);
    lp_tensor o = lp_tensor_4d(obuf, LP_F32, 2, 2, 4, 6);
    CHECK_OK(lp_attention(ctx, &q, &k, &v, NULL, 0.3f, &o, &err), &err);

    lp_tensor q3 = lp_tensor_3d(buf, LP_F32, 4, 4, 8);
    CHECK_FAILS(lp_attention(ctx, &q3, &k, &v, NULL, 0.3f, &o, &err), LP_ERR_SHAPE, &err,
                "attention: q is [4, 4, 8] f32, expected 4 to 4 dimensions");
    lp_tensor k_bad = lp_tensor_4d(buf + 256, LP_F32, 2, 2, 5, 7);
    CHECK_FAILS(lp_attention(ctx, &q, &k_bad, &v, NULL, 0.3f, &o, &err), LP_ERR_SHAPE, &err,
                "attention: k is [2, 2, 5, 7] f32, expected [B=2, H=2, Sk, D=8]");
    lp_tensor v_bad = lp_tensor_4d(buf + 512, LP_F32, 2, 2, 4, 6);
    CHECK_FAILS(lp_attention(ctx, &q, &k, &v_bad, NULL, 0.3f, &o, &err), LP_ERR_SHAPE, &err,
                "attention: v is [2, 2, 4, 6] f32, expected [B=2, H=2, Sk=5, Dv]");
    lp_tensor o_bad = lp_tensor_4d(obuf, LP_F32, 2, 2, 4, 8);
    CHECK_FAILS(lp_attention(ctx, &q, &k, &v, NULL, 0.3f, &o_bad, &err), LP_ERR_SHAPE, &err,
                "attention: out is [2, 2, 4, 8] f32, expected [B=2, H=2, Sq=4, Dv=6]");
    lp_tensor km_bad = lp_tensor_2d(km, LP_U8, 2, 4);
    lp_attention_mask m = {&km_bad, false};
    CHECK_FAILS(lp_attention(ctx, &q, &k, &v, &m, 0.3f, &o, &err), LP_ERR_SHAPE, &err,
                "attention: key_mask is [2, 4] u8, expected [B=2, Sk=5] u8");
    lp_tensor km_f = lp_tensor_2d(kmf, LP_F32, 2, 5);
    m.key_mask = &km_f;
    CHECK_FAILS(lp_attention(ctx, &q, &k, &v, &m, 0.3f, &o, &err), LP_ERR_DTYPE, &err,
                "attention: key_mask has dtype f32, expected u8");
    lp_tensor q_t = lp_tensor_transpose(&q, 2, 3); /* [2, 2, 8, 4] with a strided last dim */
    lp_tensor k_t = lp_tensor_4d(buf + 256, LP_F32, 2, 2, 5, 4);
    CHECK_FAILS(lp_attention(ctx, &q_t, &k_t, &v, NULL, 0.3f, &o, &err), LP_ERR_SHAPE, &err,
                "attention: q must be dense in its last dimension");
    lp_tensor o_alias = lp_tensor_4d(buf + 600, LP_F32, 2, 2, 4, 6);
    CHECK_FAILS(lp_attention(ctx, &q, &k, &v, NULL, 0.3f, &o_alias, &err), LP_ERR_INVALID_ARG,
                &err, "attention: out overlaps v");
    CHECK_FAILS(lp_attention(ctx, &q, &k, &v, NULL, INFINITY, &o, &err), LP_ERR_INVALID_ARG, &err,
                "attention: scale is inf");
    lp_tensor q16 = q;
    q16.dtype = LP_F16;
    CHECK_FAILS(lp_attention(ctx, &q16, &k, &v, NULL, 0.3f, &o, &err), LP_ERR_DTYPE, &err,
                "attention: q has dtype f16, expected f32");
}

int main(void) {
    elem_env env;
    elem_env_init(&env);
    test_attention_ref_values(&env);
    test_attention_vs_ref(&env);
    test_validation(&env);
    elem_env_release(&env);
    return lp_test_finish();
}
