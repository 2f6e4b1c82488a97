/* Front-end of conv2d (validation, dispatch, flop count), its output-size
 * rule, and the load-time batch-norm fold. */
#include <math.h>

#include "kernels/op_dispatch.h"
#include "kernels/op_gemm_common.h"

int64_t lp_conv_out_size(int64_t in, int kernel, int stride, int pad, int dilation) {
    if (in < 0 || kernel < 1 || stride < 1 || pad < 0 || dilation < 1) return -1;
    int64_t span = in + 2 * (int64_t)pad - (int64_t)dilation * (kernel - 1) - 1;
    if (span < 0) return -1;
    return span / stride + 1;
}

static lp_status check_params(const lp_conv2d_params *p, lp_error *err) {
    if (!p) return lp_fail(err, LP_ERR_INVALID_ARG, "conv2d: params is NULL");
    if (p->stride_h < 1 || p->stride_w < 1)
        return lp_fail(err, LP_ERR_INVALID_ARG, "conv2d: stride %dx%d, each must be >= 1",
                       p->stride_h, p->stride_w);
    if (p->dilation_h < 1 || p->dilation_w < 1)
        return lp_fail(err, LP_ERR_INVALID_ARG, "conv2d: dilation %dx%d, each must be >= 1",
                       p->dilation_h, p->dilation_w);
    if (p->pad_h < 0 || p->pad_w < 0)
        return lp_fail(err, LP_ERR_INVALID_ARG, "conv2d: padding %dx%d, each must be >= 0",
                       p->pad_h, p->pad_w);
    if (p->groups < 1)
        return lp_fail(err, LP_ERR_INVALID_ARG, "conv2d: groups %d, must be >= 1", p->groups);
    return LP_OK;
}

static lp_status check_conv(const lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight,
                            const lp_tensor *bias, const lp_tensor *residual,
                            const lp_conv2d_params *p, lp_activation act, const lp_tensor *out,
                            lp_error *err) {
    const char *op = "conv2d";
    lp_status st;
    if ((st = lp_gemm_op_check_tensor(ctx, op, "x", x, err)) ||
        (st = lp_gemm_op_check_tensor(ctx, op, "weight", weight, err)) ||
        (st = lp_gemm_op_check_tensor(ctx, op, "out", out, err)) ||
        (bias && (st = lp_gemm_op_check_tensor(ctx, op, "bias", bias, err))) ||
        (residual && (st = lp_gemm_op_check_tensor(ctx, op, "residual", residual, err))))
        return st;
    if ((st = check_params(p, err))) return st;
    if ((unsigned)act >= LP_ACT_COUNT)
        return lp_fail(err, LP_ERR_INVALID_ARG, "conv2d: activation %d is not an lp_activation",
                       (int)act);
    if ((st = lp_check_ndim(op, "x", x, 4, 4, err)) ||
        (st = lp_check_ndim(op, "weight", weight, 4, 4, err)) ||
        (st = lp_check_ndim(op, "out", out, 4, 4, err)) ||
        (st = lp_check_contiguous(op, "x", x, err)) ||
        (st = lp_check_contiguous(op, "weight", weight, err)) ||
        (st = lp_check_contiguous(op, "out", out, err)))
        return st;
    char dx[128], dw[128], dout[128];
    lp_tensor_describe(x, dx, sizeof dx);
    lp_tensor_describe(weight, dw, sizeof dw);
    lp_tensor_describe(out, dout, sizeof dout);
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Cout = weight->shape[0], KH = weight->shape[2], KW = weight->shape[3];
    if (C % p->groups || Cout % p->groups)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "conv2d: groups %d must divide the input channels (x is %s) and the output "
                       "channels (weight is %s)",
                       p->groups, dx, dw);
    if (weight->shape[1] != C / p->groups)
        return lp_fail(err, LP_ERR_SHAPE,
                       "conv2d: weight is %s, expected %lld input channels per group (x is %s, "
                       "groups %d)",
                       dw, (long long)(C / p->groups), dx, p->groups);
    if (KH < 1 || KW < 1 || KH > INT32_MAX || KW > INT32_MAX)
        return lp_fail(err, LP_ERR_SHAPE, "conv2d: weight %s has an empty or huge kernel", dw);
    int64_t Ho = lp_conv_out_size(H, (int)KH, p->stride_h, p->pad_h, p->dilation_h);
    int64_t Wo = lp_conv_out_size(W, (int)KW, p->stride_w, p->pad_w, p->dilation_w);
    if (Ho < 1 || Wo < 1)
        return lp_fail(err, LP_ERR_SHAPE,
                       "conv2d: the %lldx%lld kernel (dilation %dx%d) is bigger than the input %s "
                       "padded by %dx%d",
                       (long long)KH, (long long)KW, p->dilation_h, p->dilation_w, dx, p->pad_h,
                       p->pad_w);
    if (out->shape[0] != N || out->shape[1] != Cout || out->shape[2] != Ho || out->shape[3] != Wo)
        return lp_fail(err, LP_ERR_SHAPE, "conv2d: out is %s, expected [%lld, %lld, %lld, %lld]",
                       dout, (long long)N, (long long)Cout, (long long)Ho, (long long)Wo);
    if (bias && (bias->ndim != 1 || bias->shape[0] != Cout || !lp_tensor_is_contiguous(bias)))
        return lp_fail(err, LP_ERR_SHAPE, "conv2d: bias must be a contiguous [%lld] (weight is %s)",
                       (long long)Cout, dw);
    if (residual) {
        if (!lp_tensor_same_shape(residual, out))
            return lp_fail(err, LP_ERR_SHAPE, "conv2d: residual must have out's shape %s", dout);
        if ((st = lp_check_contiguous(op, "residual", residual, err))) return st;
    }
    if (lp_gemm_op_overlaps(out, x) || lp_gemm_op_overlaps(out, weight) ||
        (bias && lp_gemm_op_overlaps(out, bias)) ||
        (residual && lp_gemm_op_overlaps(out, residual)))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "conv2d: out overlaps an input (residual included); give it its own memory");
    return LP_OK;
}

lp_status lp_conv2d(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight, const lp_tensor *bias,
                    const lp_tensor *residual, const lp_conv2d_params *params, lp_activation act,
                    lp_tensor *out, lp_error *err) {
    lp_status st = lp_op_check_ctx(ctx, LP_OP_CONV2D, err);
    if (st != LP_OK) return st;
    if ((st = check_conv(ctx, x, weight, bias, residual, params, act, out, err))) return st;
    if (!ctx->backend->conv2d) return lp_op_missing(ctx, LP_OP_CONV2D, err);
    /* every output takes one multiply-add per weight of its group */
    double flops = 2.0 * (double)lp_tensor_numel(out) *
                   (double)(weight->shape[1] * weight->shape[2] * weight->shape[3]);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_CONV2D, flops, scope,
                       ctx->backend->conv2d(ctx, x, weight, bias, residual, params, act, out, err));
}

/* ---- batch-norm folding ------------------------------------------------- */

static lp_status check_channel_vector(const char *arg, const lp_tensor *t, int64_t cout,
                                      lp_error *err) {
    if (!t) return lp_fail(err, LP_ERR_INVALID_ARG, "fold_batchnorm: %s is NULL", arg);
    lp_status st = lp_check_dtype("fold_batchnorm", arg, t, LP_F32, err);
    if (st != LP_OK) return st;
    if (t->device.kind != LP_DEVICE_CPU)
        return lp_fail(err, LP_ERR_INVALID_ARG, "fold_batchnorm: %s is not a CPU tensor", arg);
    char desc[128];
    if (t->ndim != 1 || t->shape[0] != cout || (cout > 1 && t->stride[0] != 1))
        return lp_fail(err, LP_ERR_SHAPE,
                       "fold_batchnorm: %s is %s, expected a contiguous [%lld] (one per output "
                       "channel)",
                       arg, lp_tensor_describe(t, desc, sizeof desc), (long long)cout);
    if (!t->data && cout > 0)
        return lp_fail(err, LP_ERR_INVALID_ARG, "fold_batchnorm: %s has no data", arg);
    return LP_OK;
}

static lp_status check_fold(const lp_tensor *conv_weight, const lp_tensor *conv_bias,
                            const lp_tensor *gamma, const lp_tensor *beta, const lp_tensor *mean,
                            const lp_tensor *var, float eps, const lp_tensor *out_weight,
                            const lp_tensor *out_bias, lp_error *err) {
    const char *op = "fold_batchnorm";
    lp_status st;
    if (!conv_weight || !out_weight)
        return lp_fail(err, LP_ERR_INVALID_ARG, "fold_batchnorm: %s is NULL",
                       conv_weight ? "out_weight" : "conv_weight");
    if ((st = lp_check_dtype(op, "conv_weight", conv_weight, LP_F32, err)) ||
        (st = lp_check_dtype(op, "out_weight", out_weight, LP_F32, err)) ||
        (st = lp_check_ndim(op, "conv_weight", conv_weight, 1, LP_MAX_DIMS, err)) ||
        (st = lp_check_contiguous(op, "conv_weight", conv_weight, err)) ||
        (st = lp_check_contiguous(op, "out_weight", out_weight, err)))
        return st;
    if (conv_weight->device.kind != LP_DEVICE_CPU || out_weight->device.kind != LP_DEVICE_CPU)
        return lp_fail(err, LP_ERR_INVALID_ARG, "fold_batchnorm: weights must be CPU tensors");
    if (!lp_tensor_same_shape(conv_weight, out_weight)) {
        char a[128], b[128];
        return lp_fail(err, LP_ERR_SHAPE, "fold_batchnorm: out_weight is %s, conv_weight is %s",
                       lp_tensor_describe(out_weight, a, sizeof a),
                       lp_tensor_describe(conv_weight, b, sizeof b));
    }
    if (lp_tensor_numel(conv_weight) > 0 && (!conv_weight->data || !out_weight->data))
        return lp_fail(err, LP_ERR_INVALID_ARG, "fold_batchnorm: a weight tensor has no data");
    int64_t cout = conv_weight->shape[0];
    if ((conv_bias && (st = check_channel_vector("conv_bias", conv_bias, cout, err))) ||
        (st = check_channel_vector("gamma", gamma, cout, err)) ||
        (st = check_channel_vector("beta", beta, cout, err)) ||
        (st = check_channel_vector("mean", mean, cout, err)) ||
        (st = check_channel_vector("var", var, cout, err)) ||
        (st = check_channel_vector("out_bias", out_bias, cout, err)))
        return st;
    if (!(eps >= 0.0f) || isinf(eps))
        return lp_fail(err, LP_ERR_INVALID_ARG, "fold_batchnorm: eps %g must be finite and >= 0",
                       (double)eps);
    const float *v = var->data;
    for (int64_t c = 0; c < cout; c++)
        if (!((double)v[c] + (double)eps > 0.0) || isinf(v[c]))
            return lp_fail(err, LP_ERR_INVALID_ARG,
                           "fold_batchnorm: var[%lld] + eps = %g; the running variance must be "
                           "finite and var + eps > 0",
                           (long long)c, (double)v[c] + (double)eps);
    /* out_weight may be conv_weight itself, but not a shifted copy of it */
    if (out_weight->data != conv_weight->data && lp_gemm_op_overlaps(out_weight, conv_weight))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "fold_batchnorm: out_weight partly overlaps conv_weight");
    return LP_OK;
}

lp_status lp_fold_batchnorm(const lp_tensor *conv_weight, const lp_tensor *conv_bias,
                            const lp_tensor *gamma, const lp_tensor *beta, const lp_tensor *mean,
                            const lp_tensor *var, float eps, lp_tensor *out_weight,
                            lp_tensor *out_bias, lp_error *err) {
    lp_status st =
        check_fold(conv_weight, conv_bias, gamma, beta, mean, var, eps, out_weight, out_bias, err);
    if (st != LP_OK) return st;
    int64_t cout = conv_weight->shape[0];
    int64_t per_channel = cout > 0 ? lp_tensor_numel(conv_weight) / cout : 0;
    const float *w = conv_weight->data, *b = conv_bias ? conv_bias->data : NULL;
    const float *g = gamma->data, *be = beta->data, *mu = mean->data, *v = var->data;
    float *wo = out_weight->data, *bo = out_bias->data;
    /* Channel c reads only index c of each vector before writing it, so any
     * of them may alias out_bias; the scale is computed in double. */
    for (int64_t c = 0; c < cout; c++) {
        double scale = (double)g[c] / sqrt((double)v[c] + (double)eps);
        double bias = b ? (double)b[c] : 0.0;
        double folded_bias = (bias - (double)mu[c]) * scale + (double)be[c];
        for (int64_t i = 0; i < per_channel; i++)
            wo[c * per_channel + i] = (float)((double)w[c * per_channel + i] * scale);
        bo[c] = (float)folded_bias;
    }
    return LP_OK;
}
