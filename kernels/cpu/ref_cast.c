/* The CPU cast: element by element through kernels/dtype.h's conversions
 * (round to nearest even, NaN stays NaN, overflow to infinity). f16 <-> bf16
 * goes through f32, which holds every f16 and bf16 exactly, so it rounds once.
 * Only same-dtype in-place (out == x) reaches here with aliasing. */
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

static float load(lp_dtype dtype, const void *data, int64_t i) {
    switch (dtype) {
    case LP_F16: return lp_f16_to_f32(((const uint16_t *)data)[i]);
    case LP_BF16: return lp_bf16_to_f32(((const uint16_t *)data)[i]);
    default: return ((const float *)data)[i];
    }
}

static void store(lp_dtype dtype, void *data, int64_t i, float v) {
    switch (dtype) {
    case LP_F16: ((uint16_t *)data)[i] = lp_f32_to_f16(v); break;
    case LP_BF16: ((uint16_t *)data)[i] = lp_f32_to_bf16(v); break;
    default: ((float *)data)[i] = v; break;
    }
}

LP_CPU_OP_CAST(lp_cpu_ref_cast) {
    (void)ctx;
    (void)err;
    int64_t n = lp_tensor_numel(x);
    if (x->dtype == out->dtype) { /* bit copy: NaN payloads survive */
        if (out->data != x->data) memcpy(out->data, x->data, lp_tensor_nbytes(x));
        return LP_OK;
    }
    for (int64_t i = 0; i < n; i++) store(out->dtype, out->data, i, load(x->dtype, x->data, i));
    return LP_OK;
}
