/* Fast path of lp_layer_norm: rows over the thread pool; per row two reading
 * passes (mean, then the sum of squared deviations: no E[x^2] - mean^2
 * cancellation) and one writing pass, each on 8-float vectors with four
 * independent accumulators. A BERT row (768 floats) stays in L1 throughout. */
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

static float row_sq_dev(const float *x, int64_t d, float mean) {
    lp_v8f m = lp_v8_set1(mean);
    lp_v8f a0 = lp_v8_set1(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t j = 0;
    for (; j + 32 <= d; j += 32) {
        lp_v8f t0 = lp_v8_load(x + j) - m, t1 = lp_v8_load(x + j + 8) - m;
        lp_v8f t2 = lp_v8_load(x + j + 16) - m, t3 = lp_v8_load(x + j + 24) - m;
        a0 += t0 * t0;
        a1 += t1 * t1;
        a2 += t2 * t2;
        a3 += t3 * t3;
    }
    for (; j + 8 <= d; j += 8) {
        lp_v8f t = lp_v8_load(x + j) - m;
        a0 += t * t;
    }
    float s = lp_v8_hsum((a0 + a1) + (a2 + a3));
    for (; j < d; j++) s += (x[j] - mean) * (x[j] - mean);
    return s;
}

/* y = (x - mean) * rstd * gamma + beta; y may be x (each lane is read before
 * it is written). */
static void row_normalize(const ln_job *job, const float *x, float *y, float mean, float rstd) {
    int64_t d = job->d, j = 0;
    const float *g = job->gamma, *b = job->beta;
    lp_v8f vm = lp_v8_set1(mean), vr = lp_v8_set1(rstd);
    if (g && b) {
        for (; j + 8 <= d; j += 8)
            lp_v8_store(y + j, (lp_v8_load(x + j) - vm) * vr * lp_v8_load(g + j) + lp_v8_load(b + j));
        for (; j < d; j++) y[j] = (x[j] - mean) * rstd * g[j] + b[j];
        return;
    }
    for (; j + 8 <= d; j += 8) {
        lp_v8f v = (lp_v8_load(x + j) - vm) * vr;
        if (g) v *= lp_v8_load(g + j);
        if (b) v += lp_v8_load(b + j);
        lp_v8_store(y + j, v);
    }
    for (; j < d; j++) {
        float v = (x[j] - mean) * rstd;
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
        float mean = row_sum(x, d) / (float)d;
        float var = row_sq_dev(x, d, mean) / (float)d;
        float rstd = (float)(1.0 / sqrt((double)var + (double)job->eps));
        row_normalize(job, x, y, mean, rstd);
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
