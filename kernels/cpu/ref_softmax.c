/* The oracle for lp_softmax: per row z = x * scale + mask (in float, as torch
 * would materialise it), then max, exp and sum in double.
 * A row whose z are all -inf: softmax gives zeros, log softmax -inf (ops.h).
 * A NaN anywhere in z makes the whole row NaN, as in torch. */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/softmax_mask.h"

/* The op's `log` flag shadows libm's log inside it. */
static double natural_log(double v) { return log(v); }

LP_CPU_OP_SOFTMAX(lp_cpu_ref_softmax) {
    (void)err;
    int64_t n = x->shape[x->ndim - 1];
    if (n == 0) return LP_OK;
    int64_t rows = lp_tensor_numel(x) / n;
    lp_mask_rows mrows;
    if (mask) mrows = lp_mask_rows_make(x, mask);
    double *z = lp_arena_alloc(ctx->scratch, (size_t)n * sizeof *z);
    if (!z) return lp_fail(err, LP_ERR_NOMEM, "softmax: no scratch memory for a row of %lld",
                           (long long)n);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)x->data + r * n;
        const float *mr = mask ? (const float *)mask->data + lp_mask_row_offset(&mrows, r) : NULL;
        float *yr = (float *)out->data + r * n;
        double max = -INFINITY;
        bool nan = false;
        for (int64_t j = 0; j < n; j++) {
            float v = xr[j] * scale;
            if (mr) v += mr[j];
            z[j] = v;
            if (isnan(v)) nan = true;
            else if (v > max) max = v;
        }
        if (nan) {
            for (int64_t j = 0; j < n; j++) yr[j] = NAN;
            continue;
        }
        if (max == -INFINITY) { /* nothing to attend to */
            for (int64_t j = 0; j < n; j++) yr[j] = log ? -INFINITY : 0.0f;
            continue;
        }
        double sum = 0;
        for (int64_t j = 0; j < n; j++) sum += exp(z[j] - max);
        double log_sum = natural_log(sum);
        for (int64_t j = 0; j < n; j++)
            yr[j] = log ? (float)(z[j] - max - log_sum) : (float)(exp(z[j] - max) / sum);
    }
    return LP_OK;
}
