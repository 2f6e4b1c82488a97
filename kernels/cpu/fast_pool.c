/* Fast pooling: planes split over the pool; windows clipped to the input once
 * per output row and column instead of testing every tap. */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"

#define MIN_CHUNK_ELEMS 16384

typedef struct maxpool_job {
    const float *x;
    float *out;
    int64_t H, W, Ho, Wo;
    const lp_pool2d_params *p;
} maxpool_job;

static void maxpool_planes(void *ctx, int64_t p0, int64_t p1) {
    const maxpool_job *job = ctx;
    const lp_pool2d_params *p = job->p;
    for (int64_t plane = p0; plane < p1; plane++) {
        const float *x = job->x + plane * job->H * job->W;
        float *y = job->out + plane * job->Ho * job->Wo;
        for (int64_t oh = 0; oh < job->Ho; oh++) {
            int64_t h0 = oh * p->stride_h - p->pad_h, h1 = h0 + p->kernel_h;
            if (h0 < 0) h0 = 0;
            if (h1 > job->H) h1 = job->H;
            for (int64_t ow = 0; ow < job->Wo; ow++) {
                int64_t w0 = ow * p->stride_w - p->pad_w, w1 = w0 + p->kernel_w;
                if (w0 < 0) w0 = 0;
                if (w1 > job->W) w1 = job->W;
                float best = -INFINITY;
                bool nan = false;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) {
                        float v = x[ih * job->W + iw];
                        best = v > best ? v : best;
                        nan |= v != v;
                    }
                y[oh * job->Wo + ow] = nan ? NAN : best;
            }
        }
    }
}

LP_CPU_OP_MAXPOOL2D(lp_cpu_fast_maxpool2d) {
    (void)err;
    maxpool_job job = {x->data,       out->data,     x->shape[2], x->shape[3],
                       out->shape[2], out->shape[3], params};
    int64_t per_plane = job.Ho * job.Wo * params->kernel_h * params->kernel_w;
    lp_parallel_for(ctx->pool, x->shape[0] * x->shape[1], MIN_CHUNK_ELEMS / (per_plane + 1) + 1,
                    maxpool_planes, &job);
    return LP_OK;
}

typedef struct avgpool_job {
    const float *x;
    float *out;
    int64_t hw;
} avgpool_job;

/* Eight running sums per plane: vectorizable, and less rounding than one. */
static void avgpool_planes(void *ctx, int64_t p0, int64_t p1) {
    const avgpool_job *job = ctx;
    for (int64_t plane = p0; plane < p1; plane++) {
        const float *x = job->x + plane * job->hw;
        float acc[8] = {0};
        int64_t i = 0;
        for (; i + 8 <= job->hw; i += 8)
            for (int l = 0; l < 8; l++) acc[l] += x[i + l];
        double sum = 0;
        for (; i < job->hw; i++) sum += x[i];
        for (int l = 0; l < 8; l++) sum += acc[l];
        job->out[plane] = (float)(sum / (double)job->hw);
    }
}

LP_CPU_OP_GLOBAL_AVGPOOL2D(lp_cpu_fast_global_avgpool2d) {
    (void)err;
    avgpool_job job = {x->data, out->data, x->shape[2] * x->shape[3]};
    lp_parallel_for(ctx->pool, x->shape[0] * x->shape[1], MIN_CHUNK_ELEMS / (job.hw + 1) + 1,
                    avgpool_planes, &job);
    return LP_OK;
}
