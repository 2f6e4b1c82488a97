/* Front-ends of max pooling and global average pooling, and torch's rule for
 * a pooling window's output size. */
#include "kernels/op_dispatch.h"
#include "kernels/op_gemm_common.h"

int64_t lp_pool_out_size(int64_t in, int kernel, int stride, int pad, bool ceil_mode) {
    if (in < 0 || kernel < 1 || stride < 1 || pad < 0) return -1;
    int64_t span = in + 2 * (int64_t)pad - kernel;
    if (span < 0) return -1;
    int64_t out = (span + (ceil_mode ? stride - 1 : 0)) / stride + 1;
    /* torch: with ceil_mode the last window must start inside the input or
     * the left padding, else it is dropped */
    if (ceil_mode && (out - 1) * stride >= in + pad) out--;
    return out;
}

static lp_status check_pool_input(const lp_ctx *ctx, const char *op, const lp_tensor *x,
                                  const lp_tensor *out, lp_error *err) {
    lp_status st;
    if ((st = lp_gemm_op_check_tensor(ctx, op, "x", x, err)) ||
        (st = lp_gemm_op_check_tensor(ctx, op, "out", out, err)) ||
        (st = lp_check_ndim(op, "x", x, 4, 4, err)) ||
        (st = lp_check_contiguous(op, "x", x, err)) ||
        (st = lp_check_contiguous(op, "out", out, err)))
        return st;
    if (lp_gemm_op_overlaps(out, x))
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: out overlaps x; give it its own memory", op);
    return LP_OK;
}

static lp_status check_maxpool(const lp_ctx *ctx, const lp_tensor *x, const lp_pool2d_params *p,
                               const lp_tensor *out, lp_error *err) {
    lp_status st = check_pool_input(ctx, "maxpool2d", x, out, err);
    if (st != LP_OK) return st;
    if (!p) return lp_fail(err, LP_ERR_INVALID_ARG, "maxpool2d: params is NULL");
    if (p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 1 || p->stride_w < 1)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "maxpool2d: kernel %dx%d and stride %dx%d must all be >= 1", p->kernel_h,
                       p->kernel_w, p->stride_h, p->stride_w);
    /* torch's rule, which also guarantees every window holds an input cell */
    if (p->pad_h < 0 || p->pad_w < 0 || p->pad_h > p->kernel_h / 2 || p->pad_w > p->kernel_w / 2)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "maxpool2d: padding %dx%d must be >= 0 and at most half the kernel %dx%d",
                       p->pad_h, p->pad_w, p->kernel_h, p->kernel_w);
    char dx[128], dout[128];
    lp_tensor_describe(x, dx, sizeof dx);
    lp_tensor_describe(out, dout, sizeof dout);
    int64_t Ho = lp_pool_out_size(x->shape[2], p->kernel_h, p->stride_h, p->pad_h, p->ceil_mode);
    int64_t Wo = lp_pool_out_size(x->shape[3], p->kernel_w, p->stride_w, p->pad_w, p->ceil_mode);
    if (Ho < 1 || Wo < 1)
        return lp_fail(err, LP_ERR_SHAPE,
                       "maxpool2d: the %dx%d window is bigger than the input %s padded by %dx%d",
                       p->kernel_h, p->kernel_w, dx, p->pad_h, p->pad_w);
    if (out->ndim != 4 || out->shape[0] != x->shape[0] || out->shape[1] != x->shape[1] ||
        out->shape[2] != Ho || out->shape[3] != Wo)
        return lp_fail(err, LP_ERR_SHAPE, "maxpool2d: out is %s, expected [%lld, %lld, %lld, %lld]",
                       dout, (long long)x->shape[0], (long long)x->shape[1], (long long)Ho,
                       (long long)Wo);
    return LP_OK;
}

lp_status lp_maxpool2d(lp_ctx *ctx, const lp_tensor *x, const lp_pool2d_params *params,
                       lp_tensor *out, lp_error *err) {
    lp_status st = lp_op_check_ctx(ctx, LP_OP_MAXPOOL2D, err);
    if (st != LP_OK) return st;
    if ((st = check_maxpool(ctx, x, params, out, err))) return st;
    if (!ctx->backend->maxpool2d) return lp_op_missing(ctx, LP_OP_MAXPOOL2D, err);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_MAXPOOL2D, 0, scope,
                       ctx->backend->maxpool2d(ctx, x, params, out, err));
}

lp_status lp_global_avgpool2d(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err) {
    lp_status st = lp_op_check_ctx(ctx, LP_OP_GLOBAL_AVGPOOL2D, err);
    if (st != LP_OK) return st;
    if ((st = check_pool_input(ctx, "global_avgpool2d", x, out, err))) return st;
    char dx[128], dout[128];
    lp_tensor_describe(x, dx, sizeof dx);
    lp_tensor_describe(out, dout, sizeof dout);
    if (x->shape[2] < 1 || x->shape[3] < 1)
        return lp_fail(err, LP_ERR_SHAPE, "global_avgpool2d: x is %s; an empty plane has no mean",
                       dx);
    if (out->ndim != 2 || out->shape[0] != x->shape[0] || out->shape[1] != x->shape[1])
        return lp_fail(err, LP_ERR_SHAPE, "global_avgpool2d: out is %s, expected [%lld, %lld]",
                       dout, (long long)x->shape[0], (long long)x->shape[1]);
    if (!ctx->backend->global_avgpool2d) return lp_op_missing(ctx, LP_OP_GLOBAL_AVGPOOL2D, err);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_GLOBAL_AVGPOOL2D, 0, scope,
                       ctx->backend->global_avgpool2d(ctx, x, out, err));
}
