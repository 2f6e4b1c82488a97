/* Fast path of lp_layer_norm: rows over the thread pool; per row two reading
 * passes (the mean, then deviations from it: the corrected two-pass variance,
 * no E[x^2] - mean^2 cancellation) and one writing pass, each on 8-float
 * vectors with independent accumulators. A BERT row (768 floats) stays in L1
 * throughout. */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/fast_vec.h"

/* Rows per chunk so a chunk holds at least this many elements. */
#define LN_GRAIN_ELEMS 16384

typedef struct ln_job {
    const float *x;
    const float *gamma, *beta;
    float *y;
    int64_t d;
    float eps;
} ln_job;

static float row_sum(const float *x, int64_t d) {
    lp_v8f a0 = lp_v8_set1(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t j = 0;
    for (; j + 32 <= d; j += 32) {
        a0 += lp_v8_load(x + j);
        a1 += lp_v8_load(x + j + 8);
        a2 += lp_v8_load(x + j + 16);
        a3 += lp_v8_load(x + j + 24);
    }
    for (; j + 8 <= d; j += 8) a0 += lp_v8_load(x + j);
    float s = lp_v8_hsum((a0 + a1) + (a2 + a3));
    for (; j < d; j++) s += x[j];
    return s;
}

/* Sums of (x - mean) and (x - mean)^2 around the first-pass mean. The first
 * sum is what float rounding left in the mean; adding it back (the corrected
 * two-pass algorithm) keeps rows with a large offset (x = 1000 + noise) exact
 * to float precision instead of to ~1e-4. */
static void row_dev_sums(const float *x, int64_t d, float mean, float *dev, float *sq) {
    lp_v8f m = lp_v8_set1(mean);
    lp_v8f s0 = lp_v8_set1(0), s1 = s0, q0 = s0, q1 = s0;
    int64_t j = 0;
    for (; j + 16 <= d; j += 16) {
        lp_v8f t0 = lp_v8_load(x + j) - m, t1 = lp_v8_load(x + j + 8) - m;
        s0 += t0;
        s1 += t1;
        q0 = lp_v8_fma(t0, t0, q0);
        q1 = lp_v8_fma(t1, t1, q1);
    }
    float s = lp_v8_hsum(s0 + s1), q = lp_v8_hsum(q0 + q1);
    for (; j < d; j++) {
        float t = x[j] - mean;
        s += t;
        q += t * t;
    }
    *dev = s;
    *sq = q;
}

/* y = ((x - mean) * rstd + shift) * gamma + beta, shift = -(mean error) * rstd;
 * x - mean is exact for x near the mean, so no rounding of the mean reaches y.
 * y may be x (each lane is read before it is written). */
static void row_normalize(const ln_job *job, const float *x, float *y, float mean, float rstd,
                          float shift) {
    int64_t d = job->d, j = 0;
    const float *g = job->gamma, *b = job->beta;
    lp_v8f vm = lp_v8_set1(mean), vr = lp_v8_set1(rstd), vs = lp_v8_set1(shift);
    if (g && b) {
        for (; j + 8 <= d; j += 8) {
            lp_v8f v = lp_v8_fma(lp_v8_load(x + j) - vm, vr, vs);
            lp_v8_store(y + j, lp_v8_fma(v, lp_v8_load(g + j), lp_v8_load(b + j)));
        }
        for (; j < d; j++) y[j] = fmaf(fmaf(x[j] - mean, rstd, shift), g[j], b[j]);
        return;
    }
    for (; j + 8 <= d; j += 8) {
        lp_v8f v = lp_v8_fma(lp_v8_load(x + j) - vm, vr, vs);
        if (g) v *= lp_v8_load(g + j);
        if (b) v += lp_v8_load(b + j);
        lp_v8_store(y + j, v);
    }
    for (; j < d; j++) {
        float v = fmaf(x[j] - mean, rstd, shift);
        if (g) v *= g[j];
        if (b) v += b[j];
        y[j] = v;
    }
}

static void ln_rows(void *arg, int64_t begin, int64_t end) {
    const ln_job *job = arg;
    int64_t d = job->d;
    for (int64_t r = begin; r < end; r++) {
        const float *x = job->x + r * d;
        float *y = job->y + r * d;
        float mean = row_sum(x, d) / (float)d, dev, sq;
        row_dev_sums(x, d, mean, &dev, &sq);
        double dmean = (double)dev / (double)d;
        double var = (double)sq / (double)d - dmean * dmean;
        double rstd = 1.0 / sqrt((var > 0 ? var : 0) + (double)job->eps);
        row_normalize(job, x, y, mean, (float)rstd, (float)(-dmean * rstd));
    }
}

LP_CPU_OP_LAYER_NORM(lp_cpu_fast_layer_norm) {
    (void)err;
    int64_t d = x->shape[x->ndim - 1];
    if (d == 0) return LP_OK;
    ln_job job = {x->data, gamma ? gamma->data : NULL, beta ? beta->data : NULL, out->data, d, eps};
    int64_t rows = lp_tensor_numel(x) / d;
    int64_t grain = LN_GRAIN_ELEMS / d > 1 ? LN_GRAIN_ELEMS / d : 1;
    lp_parallel_for(ctx->pool, rows, grain, ln_rows, &job);
    return LP_OK;
}
