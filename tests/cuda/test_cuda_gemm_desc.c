/* The GEMM call descriptions of the CUDA backend (kernels/cuda/gemm_desc.c):
 * each lp_matmul / lp_linear call is turned into the column-major call that
 * cuBLASLt receives, and that very description is run on the CPU
 * (lp_cuda_gemm_run_cpu) and compared with the CPU oracle. This checks the
 * operand swap, transposes, leading dimensions, batch strides (merged, shared
 * and outer-looped) and the epilogue split without a GPU. NMSE <= 1e-12 (f32,
 * both sides accumulate in double or f32 over K <= 200). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cuda/gemm_desc.h"
#include "tests/test_util.h"

static lp_ctx g_ref;
static lp_rng g_rng;

static void *xcalloc(size_t n) {
    void *p = calloc(n ? n : 1, 1);
    if (!p) abort();
    return p;
}

/* element (i, j) of a 2-d slice at `off` in t's storage (strides in elements) */
static float at(const lp_tensor *t, int64_t off, int64_t i, int64_t j) {
    return ((const float *)t->data)[off + i * t->stride[t->ndim - 2] + j * t->stride[t->ndim - 1]];
}

/* the oracle, or a plain loop while lp_matmul is still a placeholder */
static void matmul_ref(const lp_tensor *a, const lp_tensor *b, bool ta, bool tb, float alpha, lp_tensor *out) {
    lp_error err = {0};
    lp_status st = lp_matmul(&g_ref, a, b, ta, tb, alpha, out, &err);
    if (st == LP_OK) return;
    static bool noted;
    if (!noted) printf("note: lp_matmul (oracle) not available yet (%s): using a plain loop\n", err.msg);
    noted = true;
    int nd = out->ndim;
    int64_t M = out->shape[nd - 2], N = out->shape[nd - 1], K = ta ? a->shape[nd - 2] : a->shape[nd - 1];
    int64_t batches = 1;
    for (int i = 0; i < nd - 2; i++) batches *= out->shape[i];
    for (int64_t bt = 0; bt < batches; bt++) {
        int64_t oa = 0, ob = 0, oc = 0, r = bt;
        for (int i = nd - 3; i >= 0; i--) {
            int64_t idx = r % out->shape[i];
            r /= out->shape[i];
            oa += idx * a->stride[i];
            if (b->ndim == nd) ob += idx * b->stride[i];
            oc += idx * out->stride[i];
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (double)(ta ? at(a, oa, k, i) : at(a, oa, i, k)) * (tb ? at(b, ob, j, k) : at(b, ob, k, j));
                ((float *)out->data)[oc + i * out->stride[nd - 2] + j] = alpha * (float)s;
            }
    }
}

/* a dense tensor of `shape`, filled, optionally viewed with dims d0, d1 swapped */
static lp_tensor make(int nd, const int64_t *shape, float **buf) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= shape[i];
    *buf = xcalloc(n * 4);
    lp_rng_fill_normal(&g_rng, *buf, n, 1.f);
    return lp_tensor_make(*buf, LP_F32, nd, shape);
}

static int64_t span(const lp_tensor *t) { /* elements from data to the last one + 1 */
    int64_t e = 1;
    for (int i = 0; i < t->ndim; i++) e += (t->shape[i] - 1) * t->stride[i];
    return e;
}

static void check_matmul(const char *what, lp_tensor a, lp_tensor b, bool ta, bool tb, float alpha, lp_tensor out) {
    int64_t n = span(&out);
    float *ref = xcalloc(n * 4), *got = xcalloc(n * 4);
    lp_tensor tr = out, tg = out;
    tr.data = ref;
    tg.data = got;
    matmul_ref(&a, &b, ta, tb, alpha, &tr);
    lp_cuda_gemm_desc d;
    lp_error err = {0};
    CHECK_OK(lp_cuda_gemm_describe_matmul(&a, &b, ta, tb, alpha, &tg, &d, &err), &err);
    lp_cuda_gemm_run_cpu(&d);
    printf("%-44s m=%lld n=%lld k=%lld opA=%c opB=%c lda=%lld ldb=%lld ldc=%lld batch=%lld outer=%d\n", what,
           (long long)d.m, (long long)d.n, (long long)d.k, d.trans_a ? 'T' : 'N', d.trans_b ? 'T' : 'N',
           (long long)d.lda, (long long)d.ldb, (long long)d.ldc, (long long)d.batch, d.outer_ndim);
    lp_test_check_nmse(what, got, ref, n, 1e-12);
    free(ref);
    free(got);
}

static void test_plain(void) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int64_t M = 7, N = 33, K = 19;
            float *ab, *bb, *ob;
            lp_tensor a = make(2, ta ? (int64_t[]){K, M} : (int64_t[]){M, K}, &ab);
            lp_tensor b = make(2, tb ? (int64_t[]){N, K} : (int64_t[]){K, N}, &bb);
            lp_tensor o = make(2, (int64_t[]){M, N}, &ob);
            char what[64];
            snprintf(what, sizeof what, "matmul %s%s", ta ? "A^T" : "A", tb ? " B^T" : " B");
            check_matmul(what, a, b, ta, tb, 0.5f, o);
            free(ab), free(bb), free(ob);
        }
    /* size-1 edges: the leading dimension must still be legal for BLAS */
    float *ab, *bb, *ob;
    lp_tensor a = make(2, (int64_t[]){1, 5}, &ab), b = make(2, (int64_t[]){5, 1}, &bb), o = make(2, (int64_t[]){1, 1}, &ob);
    check_matmul("matmul 1x5 x 5x1", a, b, false, false, 1.f, o);
    free(ab), free(bb), free(ob);
}

static void test_batched(void) {
    float *ab, *bb, *ob;
    /* batch with a shared B: [2, 3, M, K] x [K, N] */
    lp_tensor a = make(4, (int64_t[]){2, 3, 6, 10}, &ab), b = make(2, (int64_t[]){10, 9}, &bb);
    lp_tensor o = make(4, (int64_t[]){2, 3, 6, 9}, &ob);
    check_matmul("batched, shared B (merged batch dims)", a, b, false, false, 1.f, o);
    free(ab), free(bb), free(ob);
    /* attention's head split: [B, S, H, D] storage viewed as [B, H, S, D];
     * scores = Q K^T: batch dims B, H do not merge (outer loop) */
    int64_t B = 2, S = 5, H = 3, D = 8;
    float *qb, *kb, *sb;
    lp_tensor q = make(4, (int64_t[]){B, S, H, D}, &qb), k = make(4, (int64_t[]){B, S, H, D}, &kb);
    lp_tensor qv = lp_tensor_transpose(&q, 1, 2), kv = lp_tensor_transpose(&k, 1, 2);
    lp_tensor s = make(4, (int64_t[]){B, H, S, S}, &sb);
    check_matmul("Q K^T on [B,S,H,D] views", qv, kv, false, true, 0.125f, s);
    /* context = P V, out written into a [B, S, H, D] view */
    float *cb;
    lp_tensor c = make(4, (int64_t[]){B, S, H, D}, &cb);
    lp_tensor cv = lp_tensor_transpose(&c, 1, 2);
    check_matmul("P V into a [B,S,H,D] view", s, kv, false, false, 1.f, cv);
    free(qb), free(kb), free(sb), free(cb);
    /* a row stride wider than the row (a narrowed view) */
    float *wb;
    lp_tensor wide = make(2, (int64_t[]){6, 20}, &wb);
    lp_tensor nar = lp_tensor_narrow(&wide, 1, 3, 11);
    lp_tensor b2 = make(2, (int64_t[]){11, 4}, &bb), o2 = make(2, (int64_t[]){6, 4}, &ob);
    check_matmul("A narrowed (row stride 20, K 11)", nar, b2, false, false, 1.f, o2);
    free(wb), free(bb), free(ob);
}

static void test_linear(lp_activation act, bool fused_expected) {
    int64_t rows = 9, in = 40, outf = 23;
    float *xb, *wb, *bb, *ob;
    lp_tensor x = make(3, (int64_t[]){3, 3, in}, &xb), w = make(2, (int64_t[]){outf, in}, &wb);
    lp_tensor b = make(1, (int64_t[]){outf}, &bb), o = make(3, (int64_t[]){3, 3, outf}, &ob);
    float *ref = xcalloc(rows * outf * 4);
    lp_tensor tr = o;
    tr.data = ref;
    lp_error err = {0};
    if (lp_linear(&g_ref, &x, &w, &b, act, &tr, &err) != LP_OK) {
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < outf; j++) {
                double s = bb[j];
                for (int64_t i = 0; i < in; i++) s += (double)xb[r * in + i] * wb[j * in + i];
                float v = (float)s;
                switch (act) {
                case LP_ACT_RELU: v = v > 0 ? v : 0; break;
                case LP_ACT_GELU_ERF: v = (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0)))); break;
                case LP_ACT_GELU_TANH: v = (float)(0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * (double)v * v * v)))); break;
                case LP_ACT_TANH: v = tanhf(v); break;
                default: break;
                }
                ref[r * outf + j] = v;
            }
    }
    lp_cuda_gemm_desc d;
    CHECK_OK(lp_cuda_gemm_describe_linear(&x, &w, &b, act, &o, &d, &err), &err);
    CHECK_MSG((d.fused_act == act) == fused_expected, "%s fused by cuBLASLt: %d", lp_activation_name(act), fused_expected);
    CHECK(d.trans_a && !d.trans_b && d.m == outf && d.n == rows && d.k == in && d.lda == in && d.ldc == outf);
    lp_cuda_gemm_run_cpu(&d);
    /* the post-GEMM pass the backend runs for what cuBLASLt cannot fuse */
    for (int64_t i = 0; i < rows * outf && d.post_act != LP_ACT_NONE; i++) {
        float v = ob[i];
        ob[i] = d.post_act == LP_ACT_TANH ? tanhf(v) : 0.5f * v * erfcf(-v * 0.70710678118654752f);
    }
    char what[64];
    snprintf(what, sizeof what, "linear + bias + %s", lp_activation_name(act));
    lp_test_check_nmse(what, ob, ref, rows * outf, 1e-12);
    free(xb), free(wb), free(bb), free(ob), free(ref);
}

static void test_refusals(void) {
    float *ab, *bb, *ob;
    lp_tensor a = make(2, (int64_t[]){4, 6}, &ab), b = make(2, (int64_t[]){6, 4}, &bb), o = make(2, (int64_t[]){4, 4}, &ob);
    lp_tensor at = lp_tensor_transpose(&a, 0, 1); /* last dim not dense */
    lp_cuda_gemm_desc d;
    lp_error err = {0};
    CHECK_FAILS(lp_cuda_gemm_describe_matmul(&at, &b, false, false, 1.f, &o, &d, &err), LP_ERR_UNSUPPORTED, &err,
                "dense");
    free(ab), free(bb), free(ob);
}

int main(void) {
    g_rng = lp_rng_seed(8);
    lp_error err = {0};
    CHECK_OK(lp_ctx_init(&g_ref, lp_backend_cpu_ref(), NULL, &err), &err);
    test_plain();
    test_batched();
    for (int act = 0; act < LP_ACT_COUNT; act++)
        test_linear(act, act == LP_ACT_NONE || act == LP_ACT_RELU || act == LP_ACT_GELU_TANH);
    test_refusals();
    lp_ctx_release(&g_ref);
    return lp_test_finish();
}
