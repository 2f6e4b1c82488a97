/* Builds and (on the CPU) runs GEMM call descriptions; see gemm_desc.h. */
#include "kernels/cuda/gemm_desc.h"

#include <math.h>
#include <string.h>

static bool is_gemm_dtype(lp_dtype t) { return t == LP_F32 || t == LP_F16 || t == LP_BF16; }

/* A BLAS leading dimension must be at least the stored matrix's row count,
 * even when there is a single column and it is never used. */
static int64_t fix_ld(int64_t ld, int64_t rows, int64_t cols) {
    if (cols <= 1 && ld < rows) return rows;
    return ld < 1 ? 1 : ld;
}

/* Merges the batch dims of out (and the matching dims of a and b) into one
 * strided batch plus at most two outer dims. sb is NULL-equivalent (0 strides)
 * when b has no batch dims. */
static lp_status describe_batch(int nb, const int64_t *shape, const int64_t *sa, const int64_t *sb,
                                const int64_t *sc, lp_cuda_gemm_desc *d, lp_error *err) {
    int64_t ms[LP_MAX_DIMS], ma[LP_MAX_DIMS], mb[LP_MAX_DIMS], mc[LP_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < nb; i++) {
        if (shape[i] == 1) continue; /* size-1 dims carry no stride */
        if (n > 0 && ma[n - 1] == sa[i] * shape[i] && mb[n - 1] == sb[i] * shape[i] &&
            mc[n - 1] == sc[i] * shape[i]) {
            ms[n - 1] *= shape[i];
            ma[n - 1] = sa[i];
            mb[n - 1] = sb[i];
            mc[n - 1] = sc[i];
            continue;
        }
        ms[n] = shape[i];
        ma[n] = sa[i];
        mb[n] = sb[i];
        mc[n] = sc[i];
        n++;
    }
    if (n > 3)
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "matmul (cuda): %d batch dims that do not merge into one stride; make the "
                       "operands contiguous",
                       n);
    d->batch = 1;
    d->stride_a = d->stride_b = d->stride_c = 0;
    d->outer_ndim = 0;
    if (n == 0) return LP_OK;
    d->batch = ms[n - 1];
    d->stride_a = ma[n - 1];
    d->stride_b = mb[n - 1];
    d->stride_c = mc[n - 1];
    d->outer_ndim = n - 1;
    for (int i = 0; i < n - 1; i++) {
        d->outer_shape[i] = ms[i];
        d->outer_stride_a[i] = ma[i];
        d->outer_stride_b[i] = mb[i];
        d->outer_stride_c[i] = mc[i];
    }
    return LP_OK;
}

lp_status lp_cuda_gemm_describe_matmul(const lp_tensor *a, const lp_tensor *b, bool trans_a,
                                       bool trans_b, float alpha, lp_tensor *out,
                                       lp_cuda_gemm_desc *d, lp_error *err) {
    memset(d, 0, sizeof *d);
    int na = a->ndim, nb = b->ndim, no = out->ndim;
    if (na < 2 || nb < 2 || no != na)
        return lp_fail(err, LP_ERR_SHAPE, "matmul (cuda): a and out need the same rank >= 2");
    if (!is_gemm_dtype(a->dtype) || b->dtype != a->dtype || !is_gemm_dtype(out->dtype))
        return lp_fail(err, LP_ERR_DTYPE, "matmul (cuda): f32, f16 or bf16 operands of one dtype");
    if (a->stride[na - 1] != 1 || b->stride[nb - 1] != 1 || out->stride[no - 1] != 1)
        return lp_fail(err, LP_ERR_UNSUPPORTED, "matmul (cuda): last dimensions must be dense");
    int64_t M = out->shape[no - 2], N = out->shape[no - 1];
    int64_t K = trans_a ? a->shape[na - 2] : a->shape[na - 1];
    /* BLAS "A" := our B: op = N for a plain [K, N] B (read as N x K), T for [N, K] */
    d->trans_a = trans_b;
    d->a = b->data;
    d->lda = fix_ld(b->stride[nb - 2], trans_b ? K : N, trans_b ? N : K);
    /* BLAS "B" := our A: op = N for a plain [M, K] A (read as K x M) */
    d->trans_b = trans_a;
    d->b = a->data;
    d->ldb = fix_ld(a->stride[na - 2], trans_a ? M : K, trans_a ? K : M);
    d->c = out->data;
    d->ldc = fix_ld(out->stride[no - 2], N, M);
    d->m = N;
    d->n = M;
    d->k = K;
    d->a_type = b->dtype;
    d->b_type = a->dtype;
    d->c_type = out->dtype;
    d->alpha = alpha;
    d->beta = 0.f;
    d->fused_act = d->post_act = LP_ACT_NONE;
    int nbatch = no - 2;
    int64_t zero[LP_MAX_DIMS] = {0};
    const int64_t *sb = nb == 2 ? zero : b->stride;
    if (nb != 2 && nb != na)
        return lp_fail(err, LP_ERR_SHAPE, "matmul (cuda): b has batch dims unlike a's");
    /* BLAS A is our b and BLAS B is our a: pass the strides in that order */
    return describe_batch(nbatch, out->shape, sb, a->stride, out->stride, d, err);
}

lp_status lp_cuda_gemm_describe_linear(const lp_tensor *x, const lp_tensor *weight,
                                       const lp_tensor *bias, lp_activation act, lp_tensor *out,
                                       lp_cuda_gemm_desc *d, lp_error *err) {
    memset(d, 0, sizeof *d);
    if (weight->ndim != 2 || x->ndim < 1 || out->ndim != x->ndim)
        return lp_fail(err, LP_ERR_SHAPE, "linear (cuda): weight [out, in], x [..., in]");
    if (!is_gemm_dtype(x->dtype) || weight->dtype != x->dtype || out->dtype != x->dtype)
        return lp_fail(err, LP_ERR_DTYPE, "linear (cuda): f32, f16 or bf16, one dtype");
    if (weight->stride[1] != 1)
        return lp_fail(err, LP_ERR_UNSUPPORTED, "linear (cuda): weight rows must be dense");
    int64_t in = x->shape[x->ndim - 1], outf = weight->shape[0];
    int64_t rows = 1;
    for (int i = 0; i < x->ndim - 1; i++) rows *= x->shape[i];
    /* x and out contiguous (ops.h): one [rows, in] x [in, out] product,
     * C^T = W x^T: BLAS A = W read as [in x out] col-major, transposed */
    d->trans_a = true;
    d->a = weight->data;
    d->lda = fix_ld(weight->stride[0], in, outf);
    d->trans_b = false;
    d->b = x->data;
    d->ldb = fix_ld(in, in, rows);
    d->c = out->data;
    d->ldc = fix_ld(outf, outf, rows);
    d->m = outf;
    d->n = rows;
    d->k = in;
    d->a_type = d->b_type = d->c_type = x->dtype;
    d->alpha = 1.f;
    d->beta = 0.f;
    d->batch = 1;
    d->bias = bias ? (const float *)bias->data : NULL;
    if (bias && bias->dtype != LP_F32)
        return lp_fail(err, LP_ERR_DTYPE, "linear (cuda): bias must be f32");
    /* cuBLASLt's epilogues: RELU and GELU (the tanh form); the rest runs after */
    if (act == LP_ACT_NONE || act == LP_ACT_RELU || act == LP_ACT_GELU_TANH) {
        d->fused_act = act;
        d->post_act = LP_ACT_NONE;
    } else {
        d->fused_act = LP_ACT_NONE;
        d->post_act = act;
    }
    return LP_OK;
}

static float load(const void *p, lp_dtype t, int64_t i) {
    switch (t) {
    case LP_F16: return lp_f16_to_f32(((const uint16_t *)p)[i]);
    case LP_BF16: return lp_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

static void store(void *p, lp_dtype t, int64_t i, float v) {
    switch (t) {
    case LP_F16: ((uint16_t *)p)[i] = lp_f32_to_f16(v); break;
    case LP_BF16: ((uint16_t *)p)[i] = lp_f32_to_bf16(v); break;
    default: ((float *)p)[i] = v; break;
    }
}

static float activate(lp_activation act, float x) {
    switch (act) {
    case LP_ACT_RELU: return x > 0.f ? x : 0.f;
    case LP_ACT_GELU_ERF: return 0.5f * x * erfcf(-x * 0.70710678118654752f);
    case LP_ACT_GELU_TANH:
        return x / (1.f + expf(-2.f * 0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case LP_ACT_TANH: return tanhf(x);
    default: return x;
    }
}

static void run_one(const lp_cuda_gemm_desc *d, int64_t oa, int64_t ob, int64_t oc) {
    for (int64_t bt = 0; bt < d->batch; bt++) {
        int64_t ba = oa + bt * d->stride_a, bb = ob + bt * d->stride_b, bc = oc + bt * d->stride_c;
        for (int64_t j = 0; j < d->n; j++)
            for (int64_t i = 0; i < d->m; i++) {
                double s = 0.0;
                for (int64_t l = 0; l < d->k; l++) {
                    int64_t ia = d->trans_a ? l + i * d->lda : i + l * d->lda;
                    int64_t ib = d->trans_b ? j + l * d->ldb : l + j * d->ldb;
                    s += (double)load(d->a, d->a_type, ba + ia) * load(d->b, d->b_type, bb + ib);
                }
                int64_t ic = bc + i + j * d->ldc;
                float v = d->alpha * (float)s;
                if (d->beta != 0.f) v += d->beta * load(d->c, d->c_type, ic);
                if (d->bias) v += d->bias[i];
                v = activate(d->fused_act, v); /* post_act is the caller's next pass */
                store(d->c, d->c_type, ic, v);
            }
    }
}

void lp_cuda_gemm_run_cpu(const lp_cuda_gemm_desc *d) {
    int64_t n0 = d->outer_ndim > 0 ? d->outer_shape[0] : 1;
    int64_t n1 = d->outer_ndim > 1 ? d->outer_shape[1] : 1;
    for (int64_t i0 = 0; i0 < n0; i0++)
        for (int64_t i1 = 0; i1 < n1; i1++) {
            int64_t oa = 0, ob = 0, oc = 0;
            if (d->outer_ndim > 0) {
                oa += i0 * d->outer_stride_a[0];
                ob += i0 * d->outer_stride_b[0];
                oc += i0 * d->outer_stride_c[0];
            }
            if (d->outer_ndim > 1) {
                oa += i1 * d->outer_stride_a[1];
                ob += i1 * d->outer_stride_b[1];
                oc += i1 * d->outer_stride_c[1];
            }
            run_one(d, oa, ob, oc);
        }
}
