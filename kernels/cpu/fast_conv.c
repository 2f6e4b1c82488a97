/* Fast conv2d as GEMM, per image and group:
 *   out[n, g] (Cout/G x Ho*Wo) = W[g] (Cout/G x C/G*KH*KW) x col[g] (C/G*KH*KW x Ho*Wo)
 * where col is x itself for a 1x1 stride-1 unpadded convolution and the
 * im2col unfolding of x (scratch memory) otherwise. Bias, residual and the
 * activation run as one pass over each image's output right after its GEMMs,
 * while it is still in cache. Depthwise convolutions (one input channel per
 * group) would be GEMMs with one row; they run as direct loops instead.
 *
 * Threads: im2col, the epilogue and the depthwise loops use the context's
 * pool; the GEMMs use the library's own threads, never inside a pool body. */
#include <string.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/gemm.h"

/* Work per pool chunk below which a second thread costs more than it saves. */
#define MIN_CHUNK_ELEMS 16384

typedef struct conv_shape {
    int64_t N, C, H, W, Cout, KH, KW, Ho, Wo;
    int sh, sw, ph, pw, dh, dw, groups;
} conv_shape;

static conv_shape shape_of(const lp_tensor *x, const lp_tensor *weight, const lp_tensor *out,
                           const lp_conv2d_params *p) {
    conv_shape s = {x->shape[0],      x->shape[1],      x->shape[2],      x->shape[3],
                    weight->shape[0], weight->shape[2], weight->shape[3], out->shape[2],
                    out->shape[3],    p->stride_h,      p->stride_w,      p->pad_h,
                    p->pad_w,         p->dilation_h,    p->dilation_w,    p->groups};
    return s;
}

/* Output columns [lo, hi) whose input column ow * stride + offset lies in [0, size). */
static void valid_range(int64_t size, int64_t count, int stride, int64_t offset, int64_t *lo,
                        int64_t *hi) {
    int64_t l = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int64_t h = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
    if (h > count) h = count;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* ---- im2col ------------------------------------------------------------- */

typedef struct im2col_job {
    const conv_shape *s;
    const float *x; /* one image: [C, H, W] */
    float *col;     /* [C * KH * KW, Ho * Wo] */
} im2col_job;

/* Rows [r0, r1) of col; row r is input channel r / (KH KW) seen through
 * kernel tap (kh, kw), zero where the tap falls in the padding. */
static void im2col_rows(void *ctx, int64_t r0, int64_t r1) {
    const im2col_job *job = ctx;
    const conv_shape *s = job->s;
    for (int64_t r = r0; r < r1; r++) {
        int64_t c = r / (s->KH * s->KW), kh = r / s->KW % s->KH, kw = r % s->KW;
        const float *plane = job->x + c * s->H * s->W;
        float *dst = job->col + r * s->Ho * s->Wo;
        int64_t w_off = kw * s->dw - s->pw, lo, hi;
        valid_range(s->W, s->Wo, s->sw, w_off, &lo, &hi);
        for (int64_t oh = 0; oh < s->Ho; oh++, dst += s->Wo) {
            int64_t ih = oh * s->sh - s->ph + kh * s->dh;
            if (ih < 0 || ih >= s->H) {
                memset(dst, 0, (size_t)s->Wo * sizeof(float));
                continue;
            }
            const float *src = plane + ih * s->W + w_off;
            memset(dst, 0, (size_t)lo * sizeof(float));
            if (s->sw == 1)
                memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
            else
                for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ow * s->sw];
            memset(dst + hi, 0, (size_t)(s->Wo - hi) * sizeof(float));
        }
    }
}

/* ---- depthwise ----------------------------------------------------------- */

typedef struct depthwise_job {
    const conv_shape *s;
    const float *x, *w, *bias, *residual;
    float *out;
    lp_activation act;
} depthwise_job;

/* Output planes [p0, p1) over (n, co); channel co reads input channel
 * co / (Cout / C). Each tap adds a shifted row, vectorizable for stride 1. */
static void depthwise_planes(void *ctx, int64_t p0, int64_t p1) {
    const depthwise_job *job = ctx;
    const conv_shape *s = job->s;
    int64_t plane_out = s->Ho * s->Wo, mult = s->Cout / s->C;
    for (int64_t p = p0; p < p1; p++) {
        int64_t n = p / s->Cout, co = p % s->Cout;
        const float *xin = job->x + (n * s->C + co / mult) * s->H * s->W;
        const float *wk = job->w + co * s->KH * s->KW;
        float *y = job->out + p * plane_out;
        memset(y, 0, (size_t)plane_out * sizeof(float));
        for (int64_t kh = 0; kh < s->KH; kh++)
            for (int64_t kw = 0; kw < s->KW; kw++) {
                float wv = wk[kh * s->KW + kw];
                int64_t w_off = kw * s->dw - s->pw, lo, hi;
                valid_range(s->W, s->Wo, s->sw, w_off, &lo, &hi);
                for (int64_t oh = 0; oh < s->Ho; oh++) {
                    int64_t ih = oh * s->sh - s->ph + kh * s->dh;
                    if (ih < 0 || ih >= s->H) continue;
                    const float *src = xin + ih * s->W + w_off;
                    float *dst = y + oh * s->Wo;
                    if (s->sw == 1)
                        for (int64_t ow = lo; ow < hi; ow++) dst[ow] += wv * src[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++) dst[ow] += wv * src[ow * s->sw];
                }
            }
        lp_gemm_epilogue(y, plane_out, 0, 1, plane_out, NULL, job->bias ? job->bias + co : NULL,
                         job->residual ? job->residual + p * plane_out : NULL, plane_out, job->act);
    }
}

/* ---- the op ---------------------------------------------------------------- */

LP_CPU_OP_CONV2D(lp_cpu_fast_conv2d) {
    conv_shape s = shape_of(x, weight, out, params);
    const float *X = x->data, *Wt = weight->data;
    const float *B = bias ? bias->data : NULL, *R = residual ? residual->data : NULL;
    float *Y = out->data;
    int64_t P = s.Ho * s.Wo, G = s.groups;
    int64_t cin_g = s.C / G, cout_g = s.Cout / G, k_g = cin_g * s.KH * s.KW;
    if (s.N == 0 || s.Cout == 0 || P == 0) return LP_OK;

    if (cin_g == 1 && G > 1) {
        depthwise_job job = {&s, X, Wt, B, R, Y, act};
        int64_t grain = MIN_CHUNK_ELEMS / (P * s.KH * s.KW) + 1;
        lp_parallel_for(ctx->pool, s.N * s.Cout, grain, depthwise_planes, &job);
        return LP_OK;
    }

    bool direct = s.KH == 1 && s.KW == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
    float *col = NULL;
    if (!direct) {
        col = lp_arena_alloc(ctx->scratch, (size_t)(s.C * s.KH * s.KW * P) * sizeof(float));
        if (!col)
            return lp_fail(err, LP_ERR_NOMEM, "conv2d: no memory for the %lld x %lld im2col buffer",
                           (long long)(s.C * s.KH * s.KW), (long long)P);
    }
    int nthreads = lp_gemm_threads(ctx);
    for (int64_t n = 0; n < s.N; n++) {
        const float *xn = X + n * s.C * s.H * s.W;
        float *yn = Y + n * s.Cout * P;
        if (!direct) {
            im2col_job job = {&s, xn, col};
            lp_parallel_for(ctx->pool, s.C * s.KH * s.KW, MIN_CHUNK_ELEMS / P + 1, im2col_rows,
                            &job);
        }
        const float *cols = direct ? xn : col;
        for (int64_t g = 0; g < G; g++) {
            lp_status st =
                lp_gemm_sgemm(nthreads, false, false, cout_g, P, k_g, 1.0f, Wt + g * cout_g * k_g,
                              k_g, cols + g * k_g * P, P, 0.0f, yn + g * cout_g * P, P, err);
            if (st != LP_OK) return lp_fail(err, st, "conv2d");
        }
        lp_gemm_epilogue_parallel(ctx, yn, P, s.Cout, P, NULL, B, R ? R + n * s.Cout * P : NULL, P,
                                  act);
    }
    return LP_OK;
}
