/* The GEMM epilogue: bias, residual and activation applied row by row to a
 * product while it is still in cache. The activations are the shared
 * vectorized ones (fast_activation.h), the same as lp_unary's. */
#include "kernels/cpu/fast_activation.h"
#include "kernels/cpu/gemm.h"

void lp_gemm_epilogue(float *c, int64_t ldc, int64_t r0, int64_t r1, int64_t n,
                      const float *bias_col, const float *bias_row, const float *residual,
                      int64_t ldr, lp_activation act) {
    for (int64_t r = r0; r < r1; r++) {
        float *row = c + r * ldc;
        if (bias_row) {
            float b = bias_row[r];
            for (int64_t j = 0; j < n; j++) row[j] += b;
        }
        if (bias_col)
            for (int64_t j = 0; j < n; j++) row[j] += bias_col[j];
        if (residual) {
            const float *res = residual + r * ldr;
            for (int64_t j = 0; j < n; j++) row[j] += res[j];
        }
        if (act != LP_ACT_NONE) lp_cpu_fast_activation(act, row, row, n);
    }
}

typedef struct epilogue_job {
    float *c;
    int64_t ldc, n, ldr;
    const float *bias_col, *bias_row, *residual;
    lp_activation act;
} epilogue_job;

static void epilogue_range(void *ctx, int64_t begin, int64_t end) {
    const epilogue_job *job = ctx;
    lp_gemm_epilogue(job->c, job->ldc, begin, end, job->n, job->bias_col, job->bias_row,
                     job->residual, job->ldr, job->act);
}

/* Below this many elements per chunk, waking a thread costs more than it saves. */
#define EPILOGUE_MIN_CHUNK 16384

void lp_gemm_epilogue_parallel(lp_ctx *ctx, float *c, int64_t ldc, int64_t m, int64_t n,
                               const float *bias_col, const float *bias_row, const float *residual,
                               int64_t ldr, lp_activation act) {
    if (m <= 0 || n <= 0) return;
    if (!bias_col && !bias_row && !residual && act == LP_ACT_NONE) return;
    epilogue_job job = {c, ldc, n, ldr, bias_col, bias_row, residual, act};
    int64_t grain = EPILOGUE_MIN_CHUNK / n;
    lp_parallel_for(ctx->pool, m, grain > 0 ? grain : 1, epilogue_range, &job);
}
