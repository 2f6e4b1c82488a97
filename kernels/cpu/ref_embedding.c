/* The CPU embedding gather and Marian's sinusoidal position table (both the
 * oracle and, being memory-bound copies, what the "cpu" backend runs). */
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

/* Ids were range-checked by the front-end. */
LP_CPU_OP_EMBEDDING(lp_cpu_ref_embedding) {
    (void)ctx;
    (void)err;
    int64_t n = lp_tensor_numel(ids);
    size_t row = (size_t)table->shape[1] * lp_dtype_size(table->dtype);
    const char *src = table->data;
    char *dst = out->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t id = ids->dtype == LP_I32 ? ((const int32_t *)ids->data)[i]
                                          : ((const int64_t *)ids->data)[i];
        memcpy(dst + (size_t)i * row, src + (size_t)id * row, row);
    }
    return LP_OK;
}

/* transformers builds the table in double with numpy (pos / 10000^(2j/D))
 * and rounds it to float once; so does this. */
LP_CPU_OP_SINUSOIDAL_POSITIONS(lp_cpu_ref_sinusoidal_positions) {
    (void)ctx;
    (void)err;
    int64_t s = out->shape[0], d = out->shape[1], half = d / 2;
    float *y = out->data;
    for (int64_t j = 0; j < half; j++) {
        double freq_div = pow(10000.0, (double)(2 * j) / (double)d);
        for (int64_t p = 0; p < s; p++) {
            double angle = (double)(offset + p) / freq_div;
            y[p * d + j] = (float)sin(angle);
            y[p * d + half + j] = (float)cos(angle);
        }
    }
    return LP_OK;
}
