/* Every hand-written CUDA kernel, run on the CPU by the emulator (tests/cuda/
 * emu.h: each CUDA thread a fiber), through the CUDA backend table
 * (backend_cuda.c) or its launchers, against the CPU oracle (the cpu-ref
 * backend through ops.h), on awkward and on model shapes, for f32, f16 and
 * bf16 storage. The ctest entries run this in EMU_SCHED=fwd, rev and rand
 * thread orders; a ThreadSanitizer and an AddressSanitizer build run it too.
 *
 * Tolerances (NMSE against the oracle fed the same rounded inputs):
 *   f32 1e-10, f16 1e-6, bf16 1e-4 (one output rounding: |rel| <= 2^-11 and
 *   2^-8); casts, argmax, top-k, max pooling and embedding gathers bit-exact.
 *
 * Shapes: 1, below a warp, not a multiple of a block or tile, and the models'
 * (BERT-base rows of 768 / 3072, S = 128, 12 heads x 64; ResNet pooling on
 * 64 x 112 x 112; a 65001-entry vocabulary). LP_EMU_QUICK=1 (the default in
 * sanitizer builds) keeps every awkward shape and one of each model shape at
 * batch 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/cuda_runtime_glue.h"
#include "kernels/op_dispatch.h"
#include "kernels/ops.h"
#include "tests/test_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static const lp_backend *CUDA;
static lp_ctx g_ref, g_cuda;
static bool g_quick;
static lp_rng g_rng;

static const lp_dtype DTYPES[3] = {LP_F32, LP_F16, LP_BF16};
static int g_ndt = 3; /* how many of DTYPES the next shape runs */

/* A model-sized shape: every dtype normally; f32 only in quick (sanitizer)
 * runs, which look for races and memory errors, not for rounding. */
#define MODEL(call)                  \
    do {                             \
        g_ndt = g_quick ? 1 : 3;     \
        call;                        \
        g_ndt = 3;                   \
    } while (0)
static double tol_for(lp_dtype t) { return t == LP_F32 ? 1e-10 : t == LP_F16 ? 1e-6 : 1e-4; }

/* ---- helpers ---------------------------------------------------------- */

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

/* storage of dtype t holding x rounded; x itself becomes the rounded values */
static void *to_storage(float *x, size_t n, lp_dtype t) {
    if (t == LP_F32) {
        float *s = xmalloc(n * 4);
        memcpy(s, x, n * 4);
        return s;
    }
    uint16_t *s = xmalloc(n * 2);
    for (size_t i = 0; i < n; i++) {
        s[i] = t == LP_F16 ? lp_f32_to_f16(x[i]) : lp_f32_to_bf16(x[i]);
        x[i] = t == LP_F16 ? lp_f16_to_f32(s[i]) : lp_bf16_to_f32(s[i]);
    }
    return s;
}

static float *from_storage(const void *s, size_t n, lp_dtype t) {
    float *x = xmalloc(n * 4);
    for (size_t i = 0; i < n; i++)
        x[i] = t == LP_F32   ? ((const float *)s)[i]
               : t == LP_F16 ? lp_f16_to_f32(((const uint16_t *)s)[i])
                             : lp_bf16_to_f32(((const uint16_t *)s)[i]);
    return x;
}

static lp_tensor dev(lp_tensor t) {
    t.device.kind = LP_DEVICE_CUDA;
    return t;
}

static lp_tensor with_dtype(lp_tensor t, lp_dtype d) {
    t.dtype = d;
    return t;
}

/* infinities and NaN must match exactly; NMSE over the finite rest. For f16
 * and bf16 outputs the reference is rounded to the output dtype first (the
 * correctly rounded answer), so a tiny output in the subnormal range does not
 * count as a large relative error. */
static void check_close(const char *what, const float *got, const float *ref_in, size_t n, double tol,
                        lp_dtype out) {
    size_t bad = 0;
    float *g = xmalloc(n * 4), *r = xmalloc(n * 4), *ref = xmalloc(n * 4);
    for (size_t i = 0; i < n; i++)
        ref[i] = out == LP_F16    ? lp_f16_to_f32(lp_f32_to_f16(ref_in[i]))
                 : out == LP_BF16 ? lp_bf16_to_f32(lp_f32_to_bf16(ref_in[i]))
                                  : ref_in[i];
    for (size_t i = 0; i < n; i++) {
        bool gf = isfinite(got[i]), rf = isfinite(ref[i]);
        if (!gf || !rf) {
            bool same = (isnan(got[i]) && isnan(ref[i])) || got[i] == ref[i];
            if (!same && bad++ < 3)
                fprintf(stderr, "  %s: [%zu] got %g want %g\n", what, i, got[i], ref[i]);
            g[i] = r[i] = 0.f;
        } else {
            g[i] = got[i];
            r[i] = ref[i];
        }
    }
    CHECK_MSG(bad == 0, "%s: %zu non-finite mismatches", what, bad);
    lp_test_check_nmse(what, g, r, n, tol);
    free(g);
    free(r);
    free(ref);
}

static float act_ref(lp_activation a, float x) {
    switch (a) {
    case LP_ACT_RELU: return x > 0 ? x : 0;
    case LP_ACT_GELU_ERF: return (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
    case LP_ACT_GELU_TANH:
        return (float)(0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * (double)x * x * x))));
    case LP_ACT_TANH: return tanhf(x);
    default: return x;
    }
}

/* ---- layer norm ------------------------------------------------------- */

static void test_layer_norm_shape(int64_t rows, int64_t d, bool affine) {
    for (int di = 0; di < g_ndt; di++) {
        lp_dtype t = DTYPES[di];
        size_t n = (size_t)(rows * d);
        float *x = xmalloc(n * 4), *g = xmalloc(d * 4), *b = xmalloc(d * 4), *ref = xmalloc(n * 4);
        lp_rng_fill_normal(&g_rng, x, n, 2.f);
        for (size_t i = 0; i < n; i++) x[i] += 3.f; /* an offset: the variance must not cancel */
        lp_rng_fill_uniform(&g_rng, g, d, 0.5f, 1.5f);
        lp_rng_fill_uniform(&g_rng, b, d, -0.5f, 0.5f);
        void *xs = to_storage(x, n, t), *ys = xmalloc(n * 4);
        lp_tensor tx = lp_tensor_2d(x, LP_F32, rows, d), tr = lp_tensor_2d(ref, LP_F32, rows, d);
        lp_tensor tg = lp_tensor_1d(g, LP_F32, d), tb = lp_tensor_1d(b, LP_F32, d);
        lp_error err = {0};
        CHECK_OK(lp_layer_norm(&g_ref, &tx, affine ? &tg : NULL, affine ? &tb : NULL, 1e-5f, &tr, &err), &err);
        lp_tensor cx = dev(with_dtype(lp_tensor_2d(xs, t, rows, d), t));
        lp_tensor cy = dev(lp_tensor_2d(ys, t, rows, d));
        lp_tensor cg = dev(tg), cb = dev(tb);
        CHECK_OK(CUDA->layer_norm(&g_cuda, &cx, affine ? &cg : NULL, affine ? &cb : NULL, 1e-5f, &cy, &err), &err);
        float *got = from_storage(ys, n, t);
        char what[128];
        snprintf(what, sizeof what, "layer_norm %s [%lld, %lld]%s", lp_dtype_name(t), (long long)rows,
                 (long long)d, affine ? "" : " no affine");
        check_close(what, got, ref, n, tol_for(t), t);
        free(x), free(g), free(b), free(ref), free(xs), free(ys), free(got);
    }
}

static void test_layer_norm(void) {
    test_layer_norm_shape(1, 1, true);
    test_layer_norm_shape(3, 7, true);
    test_layer_norm_shape(5, 31, false);
    test_layer_norm_shape(4, 33, true);
    test_layer_norm_shape(2, 1000, true);
    MODEL(test_layer_norm_shape(g_quick ? 16 : 128, 768, true)); /* BERT-base hidden */
    MODEL(test_layer_norm_shape(g_quick ? 2 : 8, 3072, true));   /* BERT-base intermediate */
}

/* ---- softmax ---------------------------------------------------------- */

/* x: [lead..., n] with lead given as up to 3 dims; mask shape: same rank, dims
 * equal or 1 (mask_shape NULL: no mask) */
static void test_softmax_shape(int nd, const int64_t *shape, const int64_t *mask_shape, float scale,
                               bool log, bool fully_masked_row) {
    int64_t n = shape[nd - 1], rows = 1, mn = 1;
    for (int i = 0; i < nd - 1; i++) rows *= shape[i];
    for (int i = 0; mask_shape && i < nd; i++) mn *= mask_shape[i];
    size_t total = (size_t)(rows * n);
    float *x = xmalloc(total * 4), *ref = xmalloc(total * 4), *mask = mask_shape ? xmalloc(mn * 4) : NULL;
    lp_rng_fill_normal(&g_rng, x, total, 3.f);
    if (mask) {
        for (int64_t i = 0; i < mn; i++) mask[i] = lp_rng_uniform(&g_rng, 0, 1) < 0.25f ? -INFINITY : 0.f;
        if (fully_masked_row)
            for (int64_t j = 0; j < n; j++) mask[j] = -INFINITY; /* the first mask row */
    }
    for (int di = 0; di < g_ndt; di++) {
        lp_dtype t = DTYPES[di];
        float *xr = xmalloc(total * 4);
        memcpy(xr, x, total * 4);
        void *xs = to_storage(xr, total, t), *ys = xmalloc(total * 4);
        lp_tensor tx = lp_tensor_make(xr, LP_F32, nd, shape), tr = lp_tensor_make(ref, LP_F32, nd, shape);
        lp_tensor tm = mask ? lp_tensor_make(mask, LP_F32, nd, mask_shape) : tx;
        lp_error err = {0};
        CHECK_OK(lp_softmax(&g_ref, &tx, mask ? &tm : NULL, scale, log, &tr, &err), &err);
        lp_tensor cx = dev(lp_tensor_make(xs, t, nd, shape)), cy = dev(lp_tensor_make(ys, t, nd, shape));
        lp_tensor cm = dev(tm);
        CHECK_OK(CUDA->softmax(&g_cuda, &cx, mask ? &cm : NULL, scale, log, &cy, &err), &err);
        float *got = from_storage(ys, total, t);
        char what[160];
        snprintf(what, sizeof what, "%s %s rows %lld x %lld%s", log ? "log_softmax" : "softmax",
                 lp_dtype_name(t), (long long)rows, (long long)n, mask ? " masked" : "");
        check_close(what, got, ref, total, log ? tol_for(t) * 10 : tol_for(t), t);
        free(xr), free(xs), free(ys), free(got);
    }
    free(x), free(ref), free(mask);
}

static void test_softmax(void) {
    for (int log = 0; log < 2; log++) {
        test_softmax_shape(2, (int64_t[]){1, 1}, NULL, 1.f, log, false);
        test_softmax_shape(2, (int64_t[]){3, 17}, NULL, 0.5f, log, false);
        test_softmax_shape(2, (int64_t[]){4, 1000}, NULL, 1.f, log, false);
        test_softmax_shape(4, (int64_t[]){2, 3, 5, 37}, (int64_t[]){2, 1, 1, 37}, 0.125f, log, true);
        test_softmax_shape(3, (int64_t[]){3, 4, 33}, (int64_t[]){1, 4, 33}, 1.f, log, false);
        /* attention scores of BERT-base: [B, 12, 128, 128] with a padding mask */
        MODEL(test_softmax_shape(4, (int64_t[]){1, g_quick ? 2 : 12, 128, 128}, (int64_t[]){1, 1, 1, 128},
                                 0.125f, log, false));
        /* a translation vocabulary row */
        MODEL(test_softmax_shape(2, (int64_t[]){g_quick ? 1 : 3, 65001}, NULL, 1.f, log, false));
    }
}

/* ---- elementwise ------------------------------------------------------ */

static void test_unary_add(int64_t rows, int64_t cols) {
    size_t n = (size_t)(rows * cols);
    for (int di = 0; di < g_ndt; di++) {
        lp_dtype t = DTYPES[di];
        float *a = xmalloc(n * 4), *b = xmalloc(cols * 4), *res = xmalloc(n * 4), *ref = xmalloc(n * 4);
        lp_rng_fill_normal(&g_rng, a, n, 2.f);
        lp_rng_fill_normal(&g_rng, b, cols, 1.f);
        lp_rng_fill_normal(&g_rng, res, n, 1.f);
        void *as = to_storage(a, n, t), *bs = to_storage(b, cols, t), *rs = to_storage(res, n, t);
        void *ys = xmalloc(n * 4);
        float *bias32 = xmalloc(cols * 4);
        memcpy(bias32, b, cols * 4); /* b rounded to t: the epilogue's f32 bias holds the same values */
        for (int act = 0; act < LP_ACT_COUNT; act++) {
            lp_error err = {0};
            char what[128];
            lp_tensor ta = lp_tensor_2d(a, LP_F32, rows, cols), tr = lp_tensor_2d(ref, LP_F32, rows, cols);
            CHECK_OK(lp_unary(&g_ref, act, &ta, &tr, &err), &err);
            lp_tensor ca = dev(lp_tensor_2d(as, t, rows, cols)), cy = dev(lp_tensor_2d(ys, t, rows, cols));
            CHECK_OK(CUDA->unary(&g_cuda, act, &ca, &cy, &err), &err);
            float *got = from_storage(ys, n, t);
            snprintf(what, sizeof what, "unary %s %s n=%zu", lp_activation_name(act), lp_dtype_name(t), n);
            check_close(what, got, ref, n, tol_for(t), t);
            free(got);

            lp_tensor tb = lp_tensor_1d(b, LP_F32, cols);
            CHECK_OK(lp_add(&g_ref, &ta, &tb, act, &tr, &err), &err);
            lp_tensor cb = dev(lp_tensor_1d(bs, t, cols));
            CHECK_OK(CUDA->add(&g_cuda, &ca, &cb, act, &cy, &err), &err);
            got = from_storage(ys, n, t);
            snprintf(what, sizeof what, "add bias %s %s [%lld, %lld]", lp_activation_name(act),
                     lp_dtype_name(t), (long long)rows, (long long)cols);
            check_close(what, got, ref, n, tol_for(t), t);
            free(got);

            /* the fused epilogue: act(x + bias + residual) */
            for (size_t i = 0; i < n; i++) ref[i] = act_ref(act, a[i] + b[i % cols] + res[i]);
            CHECK(lp_cuda_bias_residual_act(t, act, as, bias32, rs, ys, rows, cols, NULL) == 0);
            got = from_storage(ys, n, t);
            snprintf(what, sizeof what, "bias+residual+%s %s [%lld, %lld]", lp_activation_name(act),
                     lp_dtype_name(t), (long long)rows, (long long)cols);
            check_close(what, got, ref, n, tol_for(t) * 10, t);
            free(got);
        }
        free(a), free(b), free(res), free(ref), free(as), free(bs), free(rs), free(ys), free(bias32);
    }
}

static void test_elementwise(void) {
    test_unary_add(1, 1);
    test_unary_add(1, 31);
    test_unary_add(7, 33);
    MODEL(test_unary_add(g_quick ? 8 : 128, 768));
    MODEL(test_unary_add(g_quick ? 2 : 128, 3072));
}

/* ---- embedding and positions ------------------------------------------ */

static void test_embedding_shape(int64_t vocab, int64_t d, int64_t count, bool i64) {
    for (int di = 0; di < g_ndt; di++) {
        lp_dtype t = DTYPES[di];
        size_t tn = (size_t)(vocab * d), on = (size_t)(count * d);
        float *table = xmalloc(tn * 4), *ref = xmalloc(on * 4);
        lp_rng_fill_normal(&g_rng, table, tn, 1.f);
        void *ts = to_storage(table, tn, t), *ys = xmalloc(on * 4);
        void *ids = xmalloc(count * 8);
        for (int64_t i = 0; i < count; i++) {
            int64_t id = (int64_t)(lp_rng_next(&g_rng) % (uint64_t)vocab);
            if (i64) ((int64_t *)ids)[i] = id;
            else ((int32_t *)ids)[i] = (int32_t)id;
        }
        lp_tensor tt = lp_tensor_2d(table, LP_F32, vocab, d), ti = lp_tensor_1d(ids, i64 ? LP_I64 : LP_I32, count);
        lp_tensor tr = lp_tensor_2d(ref, LP_F32, count, d);
        lp_error err = {0};
        CHECK_OK(lp_embedding(&g_ref, &tt, &ti, &tr, &err), &err);
        lp_tensor ct = dev(lp_tensor_2d(ts, t, vocab, d)), ci = dev(ti), cy = dev(lp_tensor_2d(ys, t, count, d));
        CHECK_OK(CUDA->embedding(&g_cuda, &ct, &ci, &cy, &err), &err);
        float *got = from_storage(ys, on, t);
        CHECK_MSG(!memcmp(got, ref, on * 4), "embedding %s [%lld x %lld] gathers exactly", lp_dtype_name(t),
                  (long long)vocab, (long long)d);
        free(got);
        /* an id outside the table fails and names its position */
        if (count > 2) {
            if (i64) ((int64_t *)ids)[2] = vocab;
            else ((int32_t *)ids)[2] = -1;
            CHECK_FAILS(CUDA->embedding(&g_cuda, &ct, &ci, &cy, &err), LP_ERR_INVALID_ARG, &err, "position 2");
        }
        free(table), free(ref), free(ts), free(ys), free(ids);
    }
}

static void test_embedding_positions(void) {
    /* the fused gather + learned-position add (BERT's word + position rows) */
    int64_t vocab = 50, d = 40, seq = 6, count = 12, offset = 3;
    float *table = xmalloc(vocab * d * 4), *pos = xmalloc((seq + offset) * d * 4), *ref = xmalloc(count * d * 4);
    float *out = xmalloc(count * d * 4);
    int32_t ids[12];
    lp_rng_fill_normal(&g_rng, table, vocab * d, 1.f);
    lp_rng_fill_normal(&g_rng, pos, (seq + offset) * d, 1.f);
    for (int i = 0; i < count; i++) ids[i] = (i * 7) % (int)vocab;
    for (int64_t r = 0; r < count; r++)
        for (int64_t j = 0; j < d; j++) ref[r * d + j] = table[ids[r] * d + j] + pos[(offset + r % seq) * d + j];
    int bad = -1;
    CHECK(lp_cuda_embedding(LP_F32, table, vocab, d, ids, 0, count, pos, seq, offset, out, &bad, NULL) == 0);
    CHECK(bad == -1);
    CHECK_MSG(!memcmp(out, ref, count * d * 4), "embedding + positions exact");
    free(table), free(pos), free(ref), free(out);
}

static void test_sinusoidal(int64_t s, int64_t d, int64_t offset) {
    float *ref = xmalloc(s * d * 4);
    lp_tensor tr = lp_tensor_2d(ref, LP_F32, s, d);
    lp_error err = {0};
    CHECK_OK(lp_sinusoidal_positions(&g_ref, offset, &tr, &err), &err);
    for (int di = 0; di < g_ndt; di++) {
        lp_dtype t = DTYPES[di];
        void *ys = xmalloc(s * d * 4);
        lp_tensor cy = dev(lp_tensor_2d(ys, t, s, d));
        CHECK_OK(CUDA->sinusoidal_positions(&g_cuda, offset, &cy, &err), &err);
        float *got = from_storage(ys, s * d, t);
        char what[96];
        snprintf(what, sizeof what, "sinusoidal %s [%lld, %lld] offset %lld", lp_dtype_name(t), (long long)s,
                 (long long)d, (long long)offset);
        check_close(what, got, ref, s * d, tol_for(t), t);
        free(ys), free(got);
    }
    free(ref);
}

static void test_embedding(void) {
    test_embedding_shape(1, 1, 1, false);
    test_embedding_shape(7, 5, 9, true);
    test_embedding_shape(100, 33, 31, false);
    MODEL(test_embedding_shape(g_quick ? 300 : 2000, 768, g_quick ? 16 : 128, false));
    test_embedding_positions();
    test_sinusoidal(1, 2, 0);
    test_sinusoidal(7, 10, 5);
    MODEL(test_sinusoidal(g_quick ? 16 : 128, 512, 0)); /* Marian d_model */
}

/* ---- casts: bit-exact ------------------------------------------------- */

static uint16_t to_bits16(lp_dtype t, float f) { return t == LP_F16 ? lp_f32_to_f16(f) : lp_f32_to_bf16(f); }

static void test_casts(void) {
    /* f32 sources: random bit patterns (every exponent: subnormals, overflow,
     * ties come up), plus hand-picked ties and limits */
    size_t n = g_quick ? 20000 : 200000;
    uint32_t *src = xmalloc(n * 4);
    for (size_t i = 0; i < n; i++) src[i] = (uint32_t)lp_rng_next(&g_rng);
    const float special[] = {0.f, -0.f, 1.f, 65504.f, 65519.f, 65520.f, 1e-8f, 5.96e-8f, 2.98e-8f,
                             1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, INFINITY, -INFINITY, NAN, 3.4e38f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) memcpy(&src[i], &special[i], 4);
    for (int k = 1; k < 3; k++) {
        lp_dtype t = DTYPES[k];
        uint16_t *got = xmalloc(n * 2);
        lp_tensor cx = dev(lp_tensor_1d(src, LP_F32, n)), cy = dev(lp_tensor_1d(got, t, n));
        lp_error err = {0};
        CHECK_OK(CUDA->cast(&g_cuda, &cx, &cy, &err), &err);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            float f;
            memcpy(&f, &src[i], 4);
            uint16_t want = to_bits16(t, f);
            bool nan_both = isnan(f) && (t == LP_F16 ? isnan(lp_f16_to_f32(got[i])) : isnan(lp_bf16_to_f32(got[i])));
            if (got[i] != want && !nan_both && bad++ < 3)
                fprintf(stderr, "  cast f32->%s %#x: got %#x want %#x\n", lp_dtype_name(t), src[i], got[i], want);
        }
        CHECK_MSG(bad == 0, "cast f32 -> %s bit-exact (NaN stays NaN): %zu of %zu differ", lp_dtype_name(t), bad, n);
        free(got);
    }
    /* every 16-bit pattern: to f32 exactly, and across f16 <-> bf16 (one rounding) */
    uint16_t *all = xmalloc(65536 * 2), *h = xmalloc(65536 * 2);
    float *f = xmalloc(65536 * 4);
    for (uint32_t i = 0; i < 65536; i++) all[i] = (uint16_t)i;
    for (int k = 1; k < 3; k++) {
        lp_dtype t = DTYPES[k], other = DTYPES[3 - k];
        lp_tensor cx = dev(lp_tensor_1d(all, t, 65536)), cf = dev(lp_tensor_1d(f, LP_F32, 65536));
        lp_tensor co = dev(lp_tensor_1d(h, other, 65536));
        lp_error err = {0};
        CHECK_OK(CUDA->cast(&g_cuda, &cx, &cf, &err), &err);
        CHECK_OK(CUDA->cast(&g_cuda, &cx, &co, &err), &err);
        size_t bad = 0, bad2 = 0;
        for (uint32_t i = 0; i < 65536; i++) {
            float want = t == LP_F16 ? lp_f16_to_f32((uint16_t)i) : lp_bf16_to_f32((uint16_t)i);
            uint32_t a, b;
            memcpy(&a, &want, 4);
            memcpy(&b, &f[i], 4);
            if (a != b && !(isnan(want) && isnan(f[i]))) bad++;
            uint16_t w2 = to_bits16(other, want);
            float back = other == LP_F16 ? lp_f16_to_f32(h[i]) : lp_bf16_to_f32(h[i]);
            if (h[i] != w2 && !(isnan(want) && isnan(back))) bad2++;
        }
        CHECK_MSG(bad == 0, "cast %s -> f32 exact on all 65536 patterns (%zu differ)", lp_dtype_name(t), bad);
        CHECK_MSG(bad2 == 0, "cast %s -> %s bit-exact on all 65536 patterns (%zu differ)", lp_dtype_name(t),
                  lp_dtype_name(other), bad2);
    }
    free(src), free(all), free(h), free(f);
}

/* ---- argmax and top-k: exact ------------------------------------------ */

static void test_select_shape(int64_t rows, int64_t n, int64_t k, bool with_nan) {
    for (int di = 0; di < g_ndt; di++) {
        lp_dtype t = DTYPES[di];
        size_t total = (size_t)(rows * n);
        float *x = xmalloc(total * 4);
        for (size_t i = 0; i < total; i++) x[i] = (float)(lp_rng_next(&g_rng) % 97) / 8.f; /* many ties */
        if (with_nan && n > 3) x[3] = NAN;
        void *xs = to_storage(x, total, t);
        int64_t *am = xmalloc(rows * 8), *am_ref = xmalloc(rows * 8), *idx = xmalloc(rows * k * 8);
        int64_t *idx_ref = xmalloc(rows * k * 8);
        float *val = xmalloc(rows * k * 4), *val_ref = xmalloc(rows * k * 4);
        lp_tensor tx = lp_tensor_2d(x, LP_F32, rows, n), ta = lp_tensor_1d(am_ref, LP_I64, rows);
        lp_error err = {0};
        CHECK_OK(lp_argmax(&g_ref, &tx, &ta, &err), &err);
        lp_tensor cx = dev(lp_tensor_2d(xs, t, rows, n)), ca = dev(lp_tensor_1d(am, LP_I64, rows));
        CHECK_OK(CUDA->argmax(&g_cuda, &cx, &ca, &err), &err);
        CHECK_MSG(!memcmp(am, am_ref, rows * 8), "argmax %s [%lld, %lld]%s exact", lp_dtype_name(t), (long long)rows,
                  (long long)n, with_nan ? " with NaN" : "");
        if (!with_nan) { /* top-k's order for NaN is the op's to define; the oracle's test pins it */
            lp_tensor tv = lp_tensor_2d(val_ref, LP_F32, rows, k), ti = lp_tensor_2d(idx_ref, LP_I64, rows, k);
            CHECK_OK(lp_topk(&g_ref, &tx, k, &tv, &ti, &err), &err);
            lp_tensor cv = dev(lp_tensor_2d(val, LP_F32, rows, k)), ci = dev(lp_tensor_2d(idx, LP_I64, rows, k));
            CHECK_OK(CUDA->topk(&g_cuda, &cx, k, &cv, &ci, &err), &err);
            CHECK_MSG(!memcmp(idx, idx_ref, rows * k * 8) && !memcmp(val, val_ref, rows * k * 4),
                      "topk %s [%lld, %lld] k=%lld exact", lp_dtype_name(t), (long long)rows, (long long)n, (long long)k);
        }
        free(x), free(xs), free(am), free(am_ref), free(idx), free(idx_ref), free(val), free(val_ref);
    }
}

static void test_select(void) {
    test_select_shape(1, 1, 1, false);
    test_select_shape(3, 31, 31, false); /* k = n: a full sort */
    test_select_shape(3, 31, 5, true);
    test_select_shape(2, 1000, 5, false); /* ImageNet top-5 */
    MODEL(test_select_shape(g_quick ? 1 : 4, 65001, 8, false)); /* beam 4 x 2 over the vocabulary */
}

/* ---- attention -------------------------------------------------------- */

typedef struct att_case {
    int64_t b, h, sq, sk, d, dv;
    bool key_mask, causal, bshd; /* bshd: q/k/v/out stored [B, S, H, D] and viewed as [B, H, S, D] */
} att_case;

static lp_tensor att_view(void *data, lp_dtype t, int64_t b, int64_t h, int64_t s, int64_t d, bool bshd) {
    if (!bshd) return lp_tensor_4d(data, t, b, h, s, d);
    lp_tensor x = lp_tensor_4d(data, t, b, s, h, d);
    return lp_tensor_transpose(&x, 1, 2);
}

static void test_attention_case(att_case c) {
    size_t nq = c.b * c.h * c.sq * c.d, nk = c.b * c.h * c.sk * c.d, nv = c.b * c.h * c.sk * c.dv;
    size_t no = c.b * c.h * c.sq * c.dv;
    float scale = 1.f / sqrtf((float)c.d);
    uint8_t *km = NULL;
    if (c.key_mask) {
        km = xmalloc(c.b * c.sk);
        for (int64_t b = 0; b < c.b; b++)
            for (int64_t j = 0; j < c.sk; j++) km[b * c.sk + j] = j < c.sk - b * (c.sk / 3 + 1); /* padding */
        if (c.b > 2) memset(km + 2 * c.sk, 0, c.sk); /* a row that sees no key: zeros */
    }
    for (int di = 0; di < g_ndt; di++) {
        lp_dtype t = DTYPES[di];
        float *q = xmalloc(nq * 4), *k = xmalloc(nk * 4), *v = xmalloc(nv * 4), *ref = xmalloc(no * 4);
        lp_rng_fill_normal(&g_rng, q, nq, 1.f);
        lp_rng_fill_normal(&g_rng, k, nk, 1.f);
        lp_rng_fill_normal(&g_rng, v, nv, 1.f);
        void *qs = to_storage(q, nq, t), *ks = to_storage(k, nk, t), *vs = to_storage(v, nv, t);
        void *os = xmalloc(no * 4);
        lp_tensor tq = att_view(q, LP_F32, c.b, c.h, c.sq, c.d, c.bshd), tk = att_view(k, LP_F32, c.b, c.h, c.sk, c.d, c.bshd);
        lp_tensor tv = att_view(v, LP_F32, c.b, c.h, c.sk, c.dv, c.bshd), to = att_view(ref, LP_F32, c.b, c.h, c.sq, c.dv, c.bshd);
        lp_tensor tm = lp_tensor_2d(km, LP_U8, c.b, c.sk);
        lp_attention_mask mask = {km ? &tm : NULL, c.causal};
        lp_error err = {0};
        CHECK_OK(lp_attention(&g_ref, &tq, &tk, &tv, &mask, scale, &to, &err), &err);
        lp_tensor cq = dev(att_view(qs, t, c.b, c.h, c.sq, c.d, c.bshd)), ck = dev(att_view(ks, t, c.b, c.h, c.sk, c.d, c.bshd));
        lp_tensor cv = dev(att_view(vs, t, c.b, c.h, c.sk, c.dv, c.bshd)), co = dev(att_view(os, t, c.b, c.h, c.sq, c.dv, c.bshd));
        lp_tensor cm = dev(tm);
        lp_attention_mask cmask = {km ? &cm : NULL, c.causal};
        CHECK_OK(CUDA->attention(&g_cuda, &cq, &ck, &cv, &cmask, scale, &co, &err), &err);
        float *got = from_storage(os, no, t);
        char what[192];
        snprintf(what, sizeof what, "attention %s B%lld H%lld Sq%lld Sk%lld D%lld Dv%lld%s%s%s", lp_dtype_name(t),
                 (long long)c.b, (long long)c.h, (long long)c.sq, (long long)c.sk, (long long)c.d, (long long)c.dv,
                 c.key_mask ? " keymask" : "", c.causal ? " causal" : "", c.bshd ? " bshd" : "");
        check_close(what, got, ref, no, tol_for(t), t);
        free(q), free(k), free(v), free(ref), free(qs), free(ks), free(vs), free(os), free(got);
    }
    free(km);
}

static void test_attention(void) {
    test_attention_case((att_case){1, 1, 1, 1, 1, 1, false, false, false});
    test_attention_case((att_case){2, 3, 5, 37, 24, 40, true, false, false});
    test_attention_case((att_case){3, 2, 17, 17, 16, 16, true, false, true}); /* batch 2 sees no key */
    test_attention_case((att_case){1, 2, 33, 33, 64, 64, false, true, false}); /* decoder self-attention */
    test_attention_case((att_case){2, 2, 1, 19, 32, 32, true, true, false});   /* one step, KV cache of 18 */
    test_attention_case((att_case){1, 2, 7, 40, 128, 128, false, true, true}); /* 7 new tokens after 33 */
    /* BERT-base: 12 heads x 64, S = 128, padding mask, [B, S, H, D] storage */
    MODEL(test_attention_case((att_case){g_quick ? 1 : 2, g_quick ? 2 : 12, 128, 128, 64, 64, true, false, true}));
}

/* ---- pooling ---------------------------------------------------------- */

static int64_t pool_out(int64_t in, int k, int s, int p, bool ceil_mode) {
    int64_t num = in + 2 * p - k;
    int64_t o = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + p) o--;
    return o;
}

static void test_maxpool_case(int64_t n, int64_t c, int64_t h, int64_t w, lp_pool2d_params p) {
    int64_t ho = pool_out(h, p.kernel_h, p.stride_h, p.pad_h, p.ceil_mode);
    int64_t wo = pool_out(w, p.kernel_w, p.stride_w, p.pad_w, p.ceil_mode);
    size_t ni = n * c * h * w, no = n * c * ho * wo;
    for (int di = 0; di < g_ndt; di++) {
        lp_dtype t = DTYPES[di];
        float *x = xmalloc(ni * 4), *ref = xmalloc(no * 4);
        lp_rng_fill_normal(&g_rng, x, ni, 1.f);
        for (size_t i = 0; i < ni; i++) x[i] = -fabsf(x[i]) - 0.5f; /* all negative: zero padding would win */
        void *xs = to_storage(x, ni, t), *ys = xmalloc(no * 4);
        lp_tensor tx = lp_tensor_4d(x, LP_F32, n, c, h, w), tr = lp_tensor_4d(ref, LP_F32, n, c, ho, wo);
        lp_error err = {0};
        CHECK_OK(lp_maxpool2d(&g_ref, &tx, &p, &tr, &err), &err);
        lp_tensor cx = dev(lp_tensor_4d(xs, t, n, c, h, w)), cy = dev(lp_tensor_4d(ys, t, n, c, ho, wo));
        CHECK_OK(CUDA->maxpool2d(&g_cuda, &cx, &p, &cy, &err), &err);
        float *got = from_storage(ys, no, t);
        CHECK_MSG(!memcmp(got, ref, no * 4), "maxpool2d %s [%lld,%lld,%lld,%lld] k%d s%d p%d%s exact", lp_dtype_name(t),
                  (long long)n, (long long)c, (long long)h, (long long)w, p.kernel_h, p.stride_h, p.pad_h,
                  p.ceil_mode ? " ceil" : "");
        free(x), free(ref), free(xs), free(ys), free(got);
    }
}

static void test_avgpool_case(int64_t n, int64_t c, int64_t h, int64_t w) {
    size_t ni = n * c * h * w, no = n * c;
    for (int di = 0; di < g_ndt; di++) {
        lp_dtype t = DTYPES[di];
        float *x = xmalloc(ni * 4), *ref = xmalloc(no * 4);
        lp_rng_fill_normal(&g_rng, x, ni, 1.f);
        for (size_t i = 0; i < ni; i++) x[i] += 1.f;
        void *xs = to_storage(x, ni, t), *ys = xmalloc(no * 4);
        lp_tensor tx = lp_tensor_4d(x, LP_F32, n, c, h, w), tr = lp_tensor_2d(ref, LP_F32, n, c);
        lp_error err = {0};
        CHECK_OK(lp_global_avgpool2d(&g_ref, &tx, &tr, &err), &err);
        lp_tensor cx = dev(lp_tensor_4d(xs, t, n, c, h, w)), cy = dev(lp_tensor_2d(ys, t, n, c));
        CHECK_OK(CUDA->global_avgpool2d(&g_cuda, &cx, &cy, &err), &err);
        float *got = from_storage(ys, no, t);
        char what[96];
        snprintf(what, sizeof what, "global_avgpool2d %s [%lld,%lld,%lld,%lld]", lp_dtype_name(t), (long long)n,
                 (long long)c, (long long)h, (long long)w);
        check_close(what, got, ref, no, tol_for(t), t);
        free(x), free(ref), free(xs), free(ys), free(got);
    }
}

static void test_pooling(void) {
    test_maxpool_case(1, 1, 1, 1, (lp_pool2d_params){1, 1, 1, 1, 0, 0, false});
    test_maxpool_case(2, 3, 7, 9, (lp_pool2d_params){3, 3, 2, 2, 1, 1, false});
    test_maxpool_case(1, 2, 8, 8, (lp_pool2d_params){3, 3, 2, 2, 0, 0, true}); /* ceil mode */
    test_maxpool_case(1, 1, 5, 6, (lp_pool2d_params){2, 3, 1, 2, 1, 1, false});
    /* ResNet-50's stem pool: [1, 64, 112, 112] -> 56 x 56 */
    MODEL(test_maxpool_case(1, g_quick ? 8 : 64, 112, 112, (lp_pool2d_params){3, 3, 2, 2, 1, 1, false}));
    test_avgpool_case(1, 1, 1, 1);
    test_avgpool_case(2, 5, 3, 7);
    MODEL(test_avgpool_case(1, g_quick ? 256 : 2048, 7, 7)); /* ResNet-50's head */
    MODEL(test_avgpool_case(1, g_quick ? 4 : 64, 112, 112));
}

/* ---- the beam-search step ------------------------------------------------ */

/* The oracle is the composition of the CPU ops a decoder would run:
 * lp_softmax(log) per hypothesis row, + the hypothesis' score, lp_topk over
 * each sentence's beam x vocab candidates; token = index % vocab, origin =
 * sentence * beam + index / vocab. Values: NMSE 1e-10 (f32 arithmetic for
 * every storage dtype, fed the same rounded logits). Tokens and origins
 * exact, except that a pick may differ where the oracle's two candidates lie
 * within 1e-5 (1 + |value|) of each other (rounding, not order, decides). */
static void test_beam_case(int64_t batch, int64_t beam, int64_t vocab, int64_t k, bool dead_row) {
    const int64_t rows = batch * beam, n = rows * vocab;
    for (int di = 0; di < g_ndt; di++) {
        lp_dtype t = DTYPES[di];
        float *x = xmalloc(n * 4), *scores = xmalloc(rows * 4), *cand = xmalloc(n * 4);
        /* logits with many ties inside a row; distinct running scores */
        for (int64_t i = 0; i < n; i++) x[i] = (float)(lp_rng_next(&g_rng) % 97) / 8.f - 6.f;
        for (int64_t r = 0; r < rows; r++) scores[r] = -(float)r * 0.37f - lp_rng_uniform(&g_rng, 0.f, 0.3f);
        if (dead_row && rows > 1)
            for (int64_t j = 0; j < vocab; j++) x[vocab + j] = -INFINITY; /* hypothesis 1: all -inf */
        void *xs = to_storage(x, n, t);
        float *val = xmalloc(batch * k * 4), *val_ref = xmalloc(batch * k * 4);
        int64_t *tok = xmalloc(batch * k * 8), *org = xmalloc(batch * k * 8), *idx_ref = xmalloc(batch * k * 8);
        lp_error err = {0};
        lp_tensor tx = lp_tensor_2d(x, LP_F32, rows, vocab), tc = lp_tensor_2d(cand, LP_F32, rows, vocab);
        CHECK_OK(lp_softmax(&g_ref, &tx, NULL, 1.f, true, &tc, &err), &err);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < vocab; j++) cand[r * vocab + j] += scores[r];
        lp_tensor flat = lp_tensor_2d(cand, LP_F32, batch, beam * vocab);
        lp_tensor tv = lp_tensor_2d(val_ref, LP_F32, batch, k), ti = lp_tensor_2d(idx_ref, LP_I64, batch, k);
        CHECK_OK(lp_topk(&g_ref, &flat, k, &tv, &ti, &err), &err);
        CHECK_OK(lp_cuda_rt_check(lp_cuda_beam_step(t, xs, scores, batch, beam, vocab, k, val, tok, org, NULL),
                                  "beam_step", &err),
                 &err);
        char what[160];
        snprintf(what, sizeof what, "beam step %s batch %lld x beam %lld, vocab %lld, k %lld%s", lp_dtype_name(t),
                 (long long)batch, (long long)beam, (long long)vocab, (long long)k, dead_row ? ", a -inf row" : "");
        check_close(what, val, val_ref, batch * k, 1e-10, LP_F32);
        size_t wrong = 0;
        for (int64_t b = 0; b < batch; b++)
            for (int64_t r = 0; r < k; r++) {
                int64_t i = b * k + r, want_tok = idx_ref[i] % vocab, want_org = b * beam + idx_ref[i] / vocab;
                if (tok[i] == want_tok && org[i] == want_org) continue;
                bool in_range = tok[i] >= 0 && tok[i] < vocab && org[i] >= b * beam && org[i] < (b + 1) * beam;
                float picked = in_range ? cand[org[i] * vocab + tok[i]] : NAN;
                if (in_range && fabsf(picked - val_ref[i]) <= 1e-5f * (1.f + fabsf(val_ref[i]))) continue;
                if (wrong++ < 3)
                    fprintf(stderr, "  %s: [%lld, %lld] token %lld from %lld, want %lld from %lld\n", what,
                            (long long)b, (long long)r, (long long)tok[i], (long long)org[i], (long long)want_tok,
                            (long long)want_org);
            }
        CHECK_MSG(wrong == 0, "%s: %zu picks differ from lp_softmax(log) + lp_topk", what, wrong);
        free(x), free(scores), free(cand), free(xs), free(val), free(val_ref), free(tok), free(org), free(idx_ref);
    }
}

static void test_beam(void) {
    test_beam_case(1, 1, 1, 1, false);
    test_beam_case(1, 1, 7, 7, false);   /* k = vocab: the whole row, sorted */
    test_beam_case(2, 3, 31, 6, false);  /* below a warp; k = 2 x beam */
    test_beam_case(3, 4, 100, 8, true);  /* a finished hypothesis: -inf logits */
    test_beam_case(2, 5, 1000, 5, false); /* not a multiple of the block */
    /* Marian opus-mt-zh-en: beam 4, k 8 over a 65001-token vocabulary */
    MODEL(test_beam_case(g_quick ? 1 : 2, 4, 65001, 8, false));
}

/* ---- the GEMM route through the table ---------------------------------- */

static void test_linear(int64_t rows, int64_t in, int64_t outf, lp_activation act) {
    float *x = xmalloc(rows * in * 4), *w = xmalloc(outf * in * 4), *b = xmalloc(outf * 4);
    float *got = xmalloc(rows * outf * 4), *ref = xmalloc(rows * outf * 4);
    lp_rng_fill_normal(&g_rng, x, rows * in, 1.f);
    lp_rng_fill_normal(&g_rng, w, outf * in, 0.1f);
    lp_rng_fill_normal(&g_rng, b, outf, 0.1f);
    lp_tensor tx = lp_tensor_2d(x, LP_F32, rows, in), tw = lp_tensor_2d(w, LP_F32, outf, in);
    lp_tensor tb = lp_tensor_1d(b, LP_F32, outf), tr = lp_tensor_2d(ref, LP_F32, rows, outf);
    lp_error err = {0};
    CHECK_OK(lp_linear(&g_ref, &tx, &tw, &tb, act, &tr, &err), &err);
    lp_tensor cx = dev(tx), cw = dev(tw), cb = dev(tb), cy = dev(lp_tensor_2d(got, LP_F32, rows, outf));
    CHECK_OK(CUDA->linear(&g_cuda, &cx, &cw, &cb, act, &cy, &err), &err);
    char what[96];
    snprintf(what, sizeof what, "linear (CPU route) %s [%lld, %lld] -> %lld", lp_activation_name(act), (long long)rows,
             (long long)in, (long long)outf);
    check_close(what, got, ref, rows * outf, 1e-10, LP_F32);
    free(x), free(w), free(b), free(got), free(ref);
}

static void test_linears(void) {
    test_linear(5, 33, 47, LP_ACT_GELU_ERF);  /* an activation cuBLASLt cannot fuse */
    test_linear(16, 64, 40, LP_ACT_GELU_TANH); /* one it can */
}

int main(void) {
    const char *q = getenv("LP_EMU_QUICK");
    g_quick = q ? q[0] == '1' : SANITIZED;
    const char *sched = getenv("EMU_SCHED");
    printf("emulated CUDA kernels, EMU_SCHED=%s, %s shapes\n", sched ? sched : "fwd", g_quick ? "quick" : "full");
    g_rng = lp_rng_seed(20261123);
    CUDA = lp_cuda_backend_table();
    lp_error err = {0};
    CHECK_OK(lp_ctx_init(&g_ref, lp_backend_cpu_ref(), NULL, &err), &err);
    CHECK_OK(lp_ctx_init(&g_cuda, CUDA, NULL, &err), &err);
    static const struct {
        const char *name;
        void (*fn)(void);
    } sections[] = {{"layer_norm", test_layer_norm}, {"softmax", test_softmax},   {"elementwise", test_elementwise},
                    {"embedding", test_embedding},   {"casts", test_casts},       {"argmax/topk", test_select},
                    {"attention", test_attention},   {"pooling", test_pooling},   {"linear", test_linears},
                    {"beam step", test_beam}};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        uint64_t t0 = lp_now_ns();
        sections[i].fn();
        printf("%-12s %7.2f s\n", sections[i].name, (double)(lp_now_ns() - t0) / 1e9);
    }
    lp_ctx_release(&g_ref);
    lp_ctx_release(&g_cuda);
    return lp_test_finish();
}
