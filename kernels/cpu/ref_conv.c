/* The oracle for conv2d: torch.nn.Conv2d's definition as seven plain loops,
 * summed in double, then bias, residual and activation. */
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/gemm.h"

LP_CPU_OP_CONV2D(lp_cpu_ref_conv2d) {
    (void)ctx, (void)err;
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Cout = weight->shape[0], Cg = weight->shape[1];
    int64_t KH = weight->shape[2], KW = weight->shape[3];
    int64_t Ho = out->shape[2], Wo = out->shape[3];
    int64_t cout_per_group = Cout / params->groups;
    const float *X = x->data, *Wt = weight->data;
    const float *B = bias ? bias->data : NULL, *R = residual ? residual->data : NULL;
    float *Y = out->data;

    for (int64_t n = 0; n < N; n++)
        for (int64_t co = 0; co < Cout; co++) {
            int64_t g = co / cout_per_group;
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double sum = B ? B[co] : 0.0;
                    for (int64_t cg = 0; cg < Cg; cg++) {
                        int64_t ci = g * Cg + cg;
                        for (int64_t kh = 0; kh < KH; kh++) {
                            int64_t ih =
                                oh * params->stride_h - params->pad_h + kh * params->dilation_h;
                            if (ih < 0 || ih >= H) continue;
                            for (int64_t kw = 0; kw < KW; kw++) {
                                int64_t iw =
                                    ow * params->stride_w - params->pad_w + kw * params->dilation_w;
                                if (iw < 0 || iw >= W) continue;
                                sum += (double)X[((n * C + ci) * H + ih) * W + iw] *
                                       (double)Wt[((co * Cg + cg) * KH + kh) * KW + kw];
                            }
                        }
                    }
                    int64_t o = ((n * Cout + co) * Ho + oh) * Wo + ow;
                    if (R) sum += R[o];
                    Y[o] = (float)lp_gemm_ref_activate(sum, act);
                }
        }
    return LP_OK;
}
