/* lp_conv2d_plan (kernels/conv_plan.h): validation, layout conversions, and
 * the choice between oneDNN's prepared primitive (the CPU fast backend) and a
 * plain lp_conv2d (every other backend, and problems oneDNN refuses). */
#include "kernels/conv_plan.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cpu/conv_dnnl.h"
#include "kernels/op_dispatch.h"
#include "kernels/op_gemm_common.h"

struct lp_conv2d_plan {
    lp_tensor weight, bias;
    bool has_bias;
    lp_conv2d_params params;
    lp_cpu_conv_cache *cache; /* NULL without oneDNN */
};

/* Rows of work below which a second thread costs more than it saves. */
#define MIN_COPY_ELEMS 16384

lp_tensor lp_tensor_4d_channels_last(void *data, lp_dtype dtype, int64_t n, int64_t c, int64_t h,
                                     int64_t w) {
    lp_tensor t = lp_tensor_4d(data, dtype, n, c, h, w);
    t.stride[3] = c;
    t.stride[2] = w * c;
    t.stride[1] = 1;
    t.stride[0] = h * w * c;
    return t;
}

bool lp_tensor_is_channels_last(const lp_tensor *t) {
    if (t->ndim != 4) return false;
    const int64_t *s = t->shape;
    int64_t want[4] = {s[1] * s[2] * s[3], 1, s[3] * s[1], s[1]};
    for (int d = 0; d < 4; d++)
        if (s[d] != 1 && t->stride[d] != want[d]) return false;
    return true;
}

bool lp_conv2d_plan_channels_last(const lp_ctx *ctx) {
#if defined(LP_GEMM_DNNL)
    return ctx && ctx->backend == lp_backend_cpu();
#else
    (void)ctx;
    return false;
#endif
}

lp_status lp_conv2d_plan_create(const lp_tensor *weight, const lp_tensor *bias,
                                const lp_conv2d_params *params, lp_conv2d_plan **out,
                                lp_error *err) {
    if (!out) return lp_fail(err, LP_ERR_INVALID_ARG, "conv2d plan: out is NULL");
    *out = NULL;
    if (!weight || !params)
        return lp_fail(err, LP_ERR_INVALID_ARG, "conv2d plan: weight and params are required");
    const char *op = "conv2d plan";
    lp_status st;
    if ((st = lp_check_dtype(op, "weight", weight, LP_F32, err)) ||
        (st = lp_check_ndim(op, "weight", weight, 4, 4, err)) ||
        (st = lp_check_contiguous(op, "weight", weight, err)))
        return st;
    const lp_conv2d_params *p = params;
    if (p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->pad_h < 0 || p->pad_w < 0 || p->groups < 1)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "conv2d plan: stride %dx%d and dilation %dx%d must be >= 1, padding %dx%d "
                       ">= 0, groups %d >= 1",
                       p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, p->pad_h, p->pad_w,
                       p->groups);
    int64_t cout = weight->shape[0];
    if (cout < 1 || weight->shape[1] < 1 || weight->shape[2] < 1 || weight->shape[3] < 1 ||
        cout % p->groups)
        return lp_fail(err, LP_ERR_SHAPE,
                       "conv2d plan: weight [%lld, %lld, %lld, %lld] must be non-empty with "
                       "groups %d dividing its %lld outputs",
                       (long long)weight->shape[0], (long long)weight->shape[1],
                       (long long)weight->shape[2], (long long)weight->shape[3], p->groups,
                       (long long)cout);
    if (bias && ((st = lp_check_dtype(op, "bias", bias, LP_F32, err)) || bias->ndim != 1 ||
                 bias->shape[0] != cout || !lp_tensor_is_contiguous(bias)))
        return st ? st
                  : lp_fail(err, LP_ERR_SHAPE, "conv2d plan: bias must be a contiguous [%lld]",
                            (long long)cout);
    lp_conv2d_plan *plan = calloc(1, sizeof *plan);
    if (!plan) return lp_fail(err, LP_ERR_NOMEM, "conv2d plan: out of memory");
    plan->weight = *weight;
    plan->has_bias = bias != NULL;
    if (bias) plan->bias = *bias;
    plan->params = *params;
    /* only host weights can be reordered for oneDNN */
    if (weight->device.kind == LP_DEVICE_CPU) plan->cache = lp_cpu_conv_cache_create();
    *out = plan;
    return LP_OK;
}

void lp_conv2d_plan_free(lp_conv2d_plan *plan) {
    if (!plan) return;
    lp_cpu_conv_cache_free(plan->cache);
    free(plan);
}

/* ---- validation ---------------------------------------------------------- */

static bool layout_ok(const lp_tensor *t) {
    return lp_tensor_is_contiguous(t) || lp_tensor_is_channels_last(t);
}

static bool same_view(const lp_tensor *a, const lp_tensor *b) {
    if (a->data != b->data || !lp_tensor_same_shape(a, b)) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != 1 && a->stride[d] != b->stride[d]) return false;
    return true;
}

static lp_status check_run(const lp_ctx *ctx, const lp_conv2d_plan *plan, const lp_tensor *x,
                           const lp_tensor *residual, lp_activation act, const lp_tensor *out,
                           lp_error *err) {
    const char *op = "conv2d plan";
    lp_status st = lp_op_check_ctx(ctx, LP_OP_CONV2D, err);
    if (st != LP_OK) return st;
    if (!plan) return lp_fail(err, LP_ERR_INVALID_ARG, "conv2d plan: plan is NULL");
    if ((st = lp_gemm_op_check_tensor(ctx, op, "x", x, err)) ||
        (st = lp_gemm_op_check_tensor(ctx, op, "out", out, err)) ||
        (residual && (st = lp_gemm_op_check_tensor(ctx, op, "residual", residual, err))) ||
        (st = lp_check_ndim(op, "x", x, 4, 4, err)) ||
        (st = lp_check_ndim(op, "out", out, 4, 4, err)))
        return st;
    if ((unsigned)act >= LP_ACT_COUNT)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "conv2d plan: activation %d is not an lp_activation", (int)act);
    const char *names[3] = {"x", "out", "residual"};
    const lp_tensor *ts[3] = {x, out, residual};
    for (int i = 0; i < 3; i++)
        if (ts[i] && !layout_ok(ts[i]))
            return lp_fail(err, LP_ERR_SHAPE,
                           "conv2d plan: %s must be contiguous (NCHW) or channels-last (NHWC "
                           "storage, lp_tensor_4d_channels_last)",
                           names[i]);
    const lp_conv2d_params *p = &plan->params;
    const lp_tensor *w = &plan->weight;
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    if (C != w->shape[1] * p->groups)
        return lp_fail(err, LP_ERR_SHAPE,
                       "conv2d plan: x has %lld channels; the weight takes %lld (groups %d)",
                       (long long)C, (long long)(w->shape[1] * p->groups), p->groups);
    int64_t Ho = lp_conv_out_size(H, (int)w->shape[2], p->stride_h, p->pad_h, p->dilation_h);
    int64_t Wo = lp_conv_out_size(W, (int)w->shape[3], p->stride_w, p->pad_w, p->dilation_w);
    if (Ho < 1 || Wo < 1)
        return lp_fail(err, LP_ERR_SHAPE,
                       "conv2d plan: the kernel is bigger than the padded %lldx%lld input",
                       (long long)H, (long long)W);
    if (out->shape[0] != N || out->shape[1] != w->shape[0] || out->shape[2] != Ho ||
        out->shape[3] != Wo)
        return lp_fail(err, LP_ERR_SHAPE, "conv2d plan: out must be [%lld, %lld, %lld, %lld]",
                       (long long)N, (long long)w->shape[0], (long long)Ho, (long long)Wo);
    if (lp_gemm_op_overlaps(out, x))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "conv2d plan: out overlaps x; give it its own memory");
    if (residual) {
        if (!lp_tensor_same_shape(residual, out))
            return lp_fail(err, LP_ERR_SHAPE, "conv2d plan: residual must have out's shape");
        if (!same_view(residual, out) && lp_gemm_op_overlaps(residual, out))
            return lp_fail(err, LP_ERR_INVALID_ARG,
                           "conv2d plan: residual partly overlaps out (it may be out itself, or "
                           "separate memory)");
    }
    return LP_OK;
}

/* ---- layout conversions -------------------------------------------------- */

/* Rows per band of the transposes: a band of 16 rows (16 x C floats, C up
 * to a few thousand) stays in L1/L2 while each column writes a 64-byte run;
 * measured 2x faster than 32 x 32 tiles on [12544, 64]. */
#define TILE 16

/* Per image, dst [cols, rows] = transpose of src [rows, cols]: NCHW [C, HW]
 * to NHWC [HW, C] and back. Work items are (image, band of TILE rows). */
typedef struct transpose_job {
    const float *src;
    float *dst;
    int64_t rows, cols, bands;
} transpose_job;

static void transpose_bands(void *ctx, int64_t t0, int64_t t1) {
    const transpose_job *job = ctx;
    const int64_t rows = job->rows, cols = job->cols;
    for (int64_t t = t0; t < t1; t++) {
        int64_t img = t / job->bands, r0 = t % job->bands * TILE;
        int64_t r1 = r0 + TILE < rows ? r0 + TILE : rows;
        const float *s = job->src + img * rows * cols;
        float *d = job->dst + img * rows * cols;
        /* a band's rows stay in L1 while every column writes one short run */
        for (int64_t c = 0; c < cols; c++) {
            float *dc = d + c * rows;
            for (int64_t r = r0; r < r1; r++) dc[r] = s[r * cols + c];
        }
    }
}

/* dst = src between two views of one [N, C, H, W] shape, each contiguous or
 * channels-last (check_run guarantees it): a copy or a per-image transpose. */
static void copy_4d(lp_ctx *ctx, const lp_tensor *src, const lp_tensor *dst) {
    if (src->data == dst->data && same_view(src, dst)) return;
    int64_t n = dst->shape[0], c = dst->shape[1], hw = dst->shape[2] * dst->shape[3];
    if (n == 0 || c == 0 || hw == 0) return;
    if ((lp_tensor_is_contiguous(src) && lp_tensor_is_contiguous(dst)) ||
        (lp_tensor_is_channels_last(src) && lp_tensor_is_channels_last(dst))) {
        memcpy(dst->data, src->data, (size_t)(n * c * hw) * sizeof(float));
        return;
    }
    /* contiguous -> channels-last transposes [C, HW]; the reverse [HW, C] */
    bool to_cl = lp_tensor_is_channels_last(dst);
    transpose_job job = {src->data, dst->data, to_cl ? c : hw, to_cl ? hw : c, 0};
    job.bands = (job.rows + TILE - 1) / TILE;
    int64_t per_item = TILE * job.cols;
    lp_parallel_for(ctx->pool, n * job.bands, MIN_COPY_ELEMS / per_item + 1, transpose_bands, &job);
}

/* A scratch tensor of t's shape in the asked layout; NULL data when out of memory. */
static lp_tensor scratch_like(lp_ctx *ctx, const lp_tensor *t, bool channels_last) {
    size_t bytes = (size_t)lp_tensor_numel(t) * sizeof(float);
    void *data = lp_arena_alloc(ctx->scratch, bytes ? bytes : sizeof(float));
    const int64_t *s = t->shape;
    return channels_last ? lp_tensor_4d_channels_last(data, LP_F32, s[0], s[1], s[2], s[3])
                         : lp_tensor_4d(data, LP_F32, s[0], s[1], s[2], s[3]);
}

/* ---- the two ways to run --------------------------------------------------- */

/* oneDNN on NHWC data: converts NCHW arguments through scratch. Returns
 * LP_ERR_UNSUPPORTED (err untouched) when oneDNN has no primitive for the
 * problem; out may then hold a copy of the residual, which the fallback
 * overwrites (an in-place residual is left as it was). */
static lp_status run_native(lp_ctx *ctx, const lp_conv2d_plan *plan, const lp_tensor *x,
                            const lp_tensor *residual, lp_activation act, lp_tensor *out,
                            lp_error *err) {
    lp_tensor xs = *x, ys = *out;
    bool x_cl = lp_tensor_is_channels_last(x), y_cl = lp_tensor_is_channels_last(out);
    if (!x_cl) {
        xs = scratch_like(ctx, x, true);
        if (!xs.data) return lp_fail(err, LP_ERR_NOMEM, "conv2d plan: no scratch for x");
        copy_4d(ctx, x, &xs);
    }
    if (!y_cl) {
        ys = scratch_like(ctx, out, true);
        if (!ys.data) return lp_fail(err, LP_ERR_NOMEM, "conv2d plan: no scratch for out");
    }
    /* the sum post-op adds what dst holds: put the residual there first */
    if (residual) copy_4d(ctx, residual, &ys);
    lp_cpu_conv_problem pb = {.n = x->shape[0],
                              .c = x->shape[1],
                              .h = x->shape[2],
                              .w = x->shape[3],
                              .cout = out->shape[1],
                              .ho = out->shape[2],
                              .wo = out->shape[3],
                              .weight = &plan->weight,
                              .bias = plan->has_bias ? &plan->bias : NULL,
                              .params = &plan->params,
                              .act = act,
                              .accumulate = residual != NULL};
    lp_status st = lp_cpu_conv_dnnl_run(ctx, plan->cache, &pb, xs.data, ys.data, err);
    if (st != LP_OK) return st;
    if (!y_cl) copy_4d(ctx, &ys, out);
    return LP_OK;
}

/* lp_conv2d on contiguous copies of whatever is not contiguous (host memory
 * only), and a copy of an in-place residual. */
static lp_status run_adapted(lp_ctx *ctx, const lp_conv2d_plan *plan, const lp_tensor *x,
                             const lp_tensor *residual, lp_activation act, lp_tensor *out,
                             lp_error *err) {
    bool in_place = residual && same_view(residual, out);
    bool convert = !lp_tensor_is_contiguous(x) || !lp_tensor_is_contiguous(out) || in_place ||
                   (residual && !lp_tensor_is_contiguous(residual));
    const lp_tensor *bias = plan->has_bias ? &plan->bias : NULL;
    if (!convert)
        return lp_conv2d(ctx, x, &plan->weight, bias, residual, &plan->params, act, out, err);
    if (x->device.kind != LP_DEVICE_CPU)
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "conv2d plan: the %s backend takes contiguous tensors and a residual "
                       "separate from out",
                       ctx->backend->name);
    lp_arena_mark mark = lp_arena_get_mark(ctx->scratch);
    lp_status st = LP_OK;
    lp_tensor xc = *x, yc = *out, rc;
    const lp_tensor *r = residual;
    if (!lp_tensor_is_contiguous(x)) {
        xc = scratch_like(ctx, x, false);
        if (!xc.data) goto nomem;
        copy_4d(ctx, x, &xc);
    }
    if (residual && (in_place || !lp_tensor_is_contiguous(residual))) {
        rc = scratch_like(ctx, residual, false);
        if (!rc.data) goto nomem;
        copy_4d(ctx, residual, &rc);
        r = &rc;
    }
    if (!lp_tensor_is_contiguous(out)) {
        yc = scratch_like(ctx, out, false);
        if (!yc.data) goto nomem;
    }
    st = lp_conv2d(ctx, &xc, &plan->weight, bias, r, &plan->params, act, &yc, err);
    if (st == LP_OK) copy_4d(ctx, &yc, out);
    lp_arena_rewind(ctx->scratch, mark);
    return st;
nomem:
    lp_arena_rewind(ctx->scratch, mark);
    return lp_fail(err, LP_ERR_NOMEM, "conv2d plan: no scratch memory for a layout conversion");
}

lp_status lp_conv2d_plan_run(lp_ctx *ctx, const lp_conv2d_plan *plan, const lp_tensor *x,
                             const lp_tensor *residual, lp_activation act, lp_tensor *out,
                             lp_error *err) {
    lp_status st = check_run(ctx, plan, x, residual, act, out, err);
    if (st != LP_OK) return st;
    if (plan->cache && lp_conv2d_plan_channels_last(ctx)) {
        /* every output takes one multiply-add per weight of its group */
        const lp_tensor *w = &plan->weight;
        double flops =
            2.0 * (double)lp_tensor_numel(out) * (double)(w->shape[1] * w->shape[2] * w->shape[3]);
        lp_op_scope scope = lp_op_enter(ctx);
        st = lp_op_leave(ctx, LP_OP_CONV2D, flops, scope,
                         run_native(ctx, plan, x, residual, act, out, err));
        if (st != LP_ERR_UNSUPPORTED) return st;
    }
    return run_adapted(ctx, plan, x, residual, act, out, err);
}
