/* The oracle for lp_unary and lp_add: one element at a time, activations in
 * double precision with libm, rounded once to float. The formulas are
 * torch's: gelu = x * 0.5 * (1 + erf(x / sqrt 2)); gelu_tanh = 0.5 * x *
 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))); relu keeps NaN (torch.relu(nan)
 * is nan). */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"

static float activate(lp_activation act, float xf) {
    double x = xf;
    switch (act) {
    case LP_ACT_NONE: return xf;
    case LP_ACT_RELU: return xf < 0.0f ? 0.0f : xf;
    case LP_ACT_GELU_ERF: return (float)(x * 0.5 * (1.0 + erf(x * 0.70710678118654752440)));
    case LP_ACT_GELU_TANH: {
        double u = 0.79788456080286535588 * (x + 0.044715 * x * x * x);
        return (float)(0.5 * x * (1.0 + tanh(u)));
    }
    case LP_ACT_TANH: return (float)tanh(x);
    case LP_ACT_COUNT: break;
    }
    return NAN; /* unreachable: the front-end checked act */
}

LP_CPU_OP_UNARY(lp_cpu_ref_unary) {
    (void)ctx;
    (void)err;
    const float *xs = x->data;
    float *ys = out->data;
    int64_t n = lp_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) ys[i] = activate(act, xs[i]);
    return LP_OK;
}

/* The sum is rounded to float first, as torch's separate add then activation. */
LP_CPU_OP_ADD(lp_cpu_ref_add) {
    (void)ctx;
    (void)err;
    const float *as = a->data, *bs = b->data;
    float *ys = out->data;
    int64_t n = lp_tensor_numel(a), inner = lp_tensor_numel(b);
    for (int64_t i = 0; i < n; i++) ys[i] = activate(act, as[i] + bs[i % inner]);
    return LP_OK;
}
