/* The oracle for pooling: torch.nn.MaxPool2d (dilation 1, -inf padding, NaN
 * wins as in torch) and the global average, as plain loops. */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"

LP_CPU_OP_MAXPOOL2D(lp_cpu_ref_maxpool2d) {
    (void)ctx, (void)err;
    int64_t planes = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Ho = out->shape[2], Wo = out->shape[3];
    const float *X = x->data;
    float *Y = out->data;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t oh = 0; oh < Ho; oh++)
            for (int64_t ow = 0; ow < Wo; ow++) {
                float best = -INFINITY;
                for (int64_t kh = 0; kh < params->kernel_h; kh++) {
                    int64_t ih = oh * params->stride_h - params->pad_h + kh;
                    if (ih < 0 || ih >= H) continue; /* padding never wins */
                    for (int64_t kw = 0; kw < params->kernel_w; kw++) {
                        int64_t iw = ow * params->stride_w - params->pad_w + kw;
                        if (iw < 0 || iw >= W) continue;
                        float v = X[(p * H + ih) * W + iw];
                        if (v > best || isnan(v)) best = v;
                        if (isnan(best)) break;
                    }
                    if (isnan(best)) break;
                }
                Y[(p * Ho + oh) * Wo + ow] = best;
            }
    return LP_OK;
}

LP_CPU_OP_GLOBAL_AVGPOOL2D(lp_cpu_ref_global_avgpool2d) {
    (void)ctx, (void)err;
    int64_t planes = x->shape[0] * x->shape[1], hw = x->shape[2] * x->shape[3];
    const float *X = x->data;
    float *Y = out->data;
    for (int64_t p = 0; p < planes; p++) {
        double sum = 0;
        for (int64_t i = 0; i < hw; i++) sum += X[p * hw + i];
        Y[p] = (float)(sum / (double)hw);
    }
    return LP_OK;
}
