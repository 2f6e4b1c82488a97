/* The oracle for lp_attention: for each batch, head and query, the scores of
 * the keys it may see (key mask, causal limit j <= i + Sk - Sq) as double dot
 * products times scale, a max-subtracted softmax in double over those keys
 * only, and the weighted sum of their values. A query that sees no key gets
 * zeros (ops.h). */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"

static const float *row4(const lp_tensor *t, int64_t b, int64_t h, int64_t s) {
    return (const float *)t->data + b * t->stride[0] + h * t->stride[1] + s * t->stride[2];
}

LP_CPU_OP_ATTENTION(lp_cpu_ref_attention) {
    int64_t nb = q->shape[0], nh = q->shape[1], sq = q->shape[2], d = q->shape[3];
    int64_t sk = k->shape[2], dv = v->shape[3];
    const uint8_t *km = mask && mask->key_mask ? mask->key_mask->data : NULL;
    bool causal = mask && mask->causal;
    double *p = lp_arena_alloc(ctx->scratch, (size_t)(sk + 1) * sizeof *p);
    double *acc = lp_arena_alloc(ctx->scratch, (size_t)(dv + 1) * sizeof *acc);
    if (!p || !acc) return lp_fail(err, LP_ERR_NOMEM, "attention: no scratch memory");
    for (int64_t b = 0; b < nb; b++)
        for (int64_t h = 0; h < nh; h++)
            for (int64_t i = 0; i < sq; i++) {
                const float *qi = row4(q, b, h, i);
                float *oi = (float *)row4(out, b, h, i);
                double max = -INFINITY;
                for (int64_t j = 0; j < sk; j++) {
                    bool visible = (!km || km[b * sk + j]) && (!causal || j <= i + (sk - sq));
                    p[j] = -INFINITY;
                    if (!visible) continue;
                    const float *kj = row4(k, b, h, j);
                    double dot = 0;
                    for (int64_t t = 0; t < d; t++) dot += (double)qi[t] * kj[t];
                    p[j] = dot * scale;
                    if (p[j] > max) max = p[j];
                }
                for (int64_t c = 0; c < dv; c++) acc[c] = 0;
                double sum = 0;
                if (max != -INFINITY)
                    for (int64_t j = 0; j < sk; j++) {
                        if (p[j] == -INFINITY) continue;
                        double w = exp(p[j] - max);
                        sum += w;
                        const float *vj = row4(v, b, h, j);
                        for (int64_t c = 0; c < dv; c++) acc[c] += w * vj[c];
                    }
                for (int64_t c = 0; c < dv; c++) oi[c] = sum > 0 ? (float)(acc[c] / sum) : 0.0f;
            }
    return LP_OK;
}
