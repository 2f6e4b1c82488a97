/* The oracle for lp_layer_norm: per row, mean and biased variance in double
 * (two passes, so no cancellation), out = (x - mean) / sqrt(var + eps) * gamma
 * + beta, as torch.nn.functional.layer_norm. */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"

LP_CPU_OP_LAYER_NORM(lp_cpu_ref_layer_norm) {
    (void)ctx;
    (void)err;
    int64_t d = x->shape[x->ndim - 1];
    if (d == 0) return LP_OK;
    int64_t rows = lp_tensor_numel(x) / d;
    const float *g = gamma ? gamma->data : NULL;
    const float *b = beta ? beta->data : NULL;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)x->data + r * d;
        float *yr = (float *)out->data + r * d;
        double sum = 0;
        for (int64_t j = 0; j < d; j++) sum += xr[j];
        double mean = sum / (double)d;
        double sq = 0;
        for (int64_t j = 0; j < d; j++) sq += (xr[j] - mean) * (xr[j] - mean);
        double rstd = 1.0 / sqrt(sq / (double)d + (double)eps);
        for (int64_t j = 0; j < d; j++) {
            double v = (xr[j] - mean) * rstd;
            if (g) v *= g[j];
            if (b) v += b[j];
            yr[j] = (float)v;
        }
    }
    return LP_OK;
}
