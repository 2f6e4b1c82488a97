/* Fast path of lp_softmax: rows over the thread pool; per row
 *   1. z = x * scale + mask written to out, with a NaN-sticky vector max;
 *   2. exp(z - max) and its sum in one pass of 8-float vectors (lp_v8_exp,
 *      fast_math.h's exp);
 *   3. out = e / sum, or z - max - log(sum) for log softmax.
 * A vocabulary row of 65001 floats (254 KiB) stays in L2 across the passes.
 * All -inf rows give zeros / -inf and NaN rows NaN, as the oracle. */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/fast_vec.h"
#include "kernels/cpu/softmax_mask.h"

#define SM_GRAIN_ELEMS 8192

typedef struct sm_job {
    const float *x;
    const float *mask;
    lp_mask_rows mrows;
    float *y;
    int64_t n;
    float scale;
    bool log;
} sm_job;

/* y = x * scale (+ m); returns the max of y (NaN if any is NaN). */
static float scale_mask_max(const float *x, const float *m, float scale, float *y, int64_t n) {
    lp_v8f vs = lp_v8_set1(scale);
    lp_v8f a0 = lp_v8_set1(-INFINITY), a1 = a0;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        lp_v8f z0 = lp_v8_load(x + j) * vs, z1 = lp_v8_load(x + j + 8) * vs;
        if (m) {
            z0 += lp_v8_load(m + j);
            z1 += lp_v8_load(m + j + 8);
        }
        lp_v8_store(y + j, z0);
        lp_v8_store(y + j + 8, z1);
        a0 = lp_v8_max_nan(a0, z0);
        a1 = lp_v8_max_nan(a1, z1);
    }
    float max = lp_v8_hmax_nan(lp_v8_max_nan(a0, a1));
    for (; j < n; j++) {
        float z = x[j] * scale;
        if (m) z += m[j];
        y[j] = z;
        max = (z > max || z != z) ? z : max;
    }
    return max;
}

/* sum of exp(y - shift); the exponentials replace y when `store`. */
static float exp_sum(float *y, float shift, int64_t n, bool store) {
    lp_v8f vs = lp_v8_set1(shift);
    double sum = 0; /* pieces of 512 summed in float lanes, the pieces in double */
    int64_t j = 0;
    while (j + 16 <= n) {
        lp_v8f a0 = lp_v8_set1(0), a1 = a0;
        int64_t piece_end = j + 512 < n ? j + 512 : n;
        for (; j + 16 <= piece_end; j += 16) {
            lp_v8f e0 = lp_v8_exp(lp_v8_load(y + j) - vs);
            lp_v8f e1 = lp_v8_exp(lp_v8_load(y + j + 8) - vs);
            if (store) {
                lp_v8_store(y + j, e0);
                lp_v8_store(y + j + 8, e1);
            }
            a0 += e0;
            a1 += e1;
        }
        sum += lp_v8_hsum(a0 + a1);
    }
    if (j < n) { /* the last < 16 columns, through a padded vector pair */
        float tail[16];
        for (int64_t t = 0; t < 16; t++) tail[t] = j + t < n ? y[j + t] : -INFINITY;
        lp_v8f e0 = lp_v8_exp(lp_v8_load(tail) - vs), e1 = lp_v8_exp(lp_v8_load(tail + 8) - vs);
        lp_v8_store(tail, e0);
        lp_v8_store(tail + 8, e1);
        for (int64_t t = 0; j + t < n; t++) {
            if (store) y[j + t] = tail[t];
            sum += tail[t];
        }
    }
    return (float)sum;
}

static void fill(float *y, float v, int64_t n) {
    for (int64_t j = 0; j < n; j++) y[j] = v;
}

static void softmax_row(const sm_job *job, const float *x, const float *m, float *y) {
    int64_t n = job->n;
    float max = scale_mask_max(x, m, job->scale, y, n);
    if (max != max || max == -INFINITY) {
        fill(y, max != max ? NAN : job->log ? -INFINITY : 0.0f, n);
        return;
    }
    float sum = exp_sum(y, max, n, !job->log);
    if (job->log) {
        float log_sum = (float)log((double)sum);
        for (int64_t j = 0; j < n; j++) y[j] = (y[j] - max) - log_sum;
    } else {
        float inv = 1.0f / sum;
        for (int64_t j = 0; j < n; j++) y[j] *= inv;
    }
}

static void softmax_rows(void *arg, int64_t begin, int64_t end) {
    const sm_job *job = arg;
    lp_mask_cursor cur;
    if (job->mask) cur = lp_mask_cursor_at(&job->mrows, begin);
    for (int64_t r = begin; r < end; r++) {
        const float *m = NULL;
        if (job->mask) {
            m = job->mask + cur.offset;
            lp_mask_cursor_next(&job->mrows, &cur);
        }
        softmax_row(job, job->x + r * job->n, m, job->y + r * job->n);
    }
}

LP_CPU_OP_SOFTMAX(lp_cpu_fast_softmax) {
    (void)err;
    int64_t n = x->shape[x->ndim - 1];
    if (n == 0) return LP_OK;
    sm_job job = {x->data, mask ? mask->data : NULL, {0}, out->data, n, scale, log};
    if (mask) job.mrows = lp_mask_rows_make(x, mask);
    int64_t grain = SM_GRAIN_ELEMS / n > 1 ? SM_GRAIN_ELEMS / n : 1;
    lp_parallel_for(ctx->pool, lp_tensor_numel(x) / n, grain, softmax_rows, &job);
    return LP_OK;
}
