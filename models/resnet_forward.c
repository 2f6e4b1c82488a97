/* The ResNet forward pass on the op interface (convolutions through their
 * plans, kernels/conv_plan.h). Five activation buffers of the largest
 * activation's size come from the arena (two ping-pong block outputs, three
 * block temporaries); the caller resets the arena after. */
#include <stdio.h>
#include <string.h>

#include "kernels/backend_memory.h"
#include "models/resnet_internal.h"

typedef struct shape {
    int64_t c, h, w;
} shape;

static lp_status conv_out(const lp_resnet_conv *c, shape in, shape *out, lp_error *err) {
    int64_t h = lp_conv_out_size(in.h, c->k, c->params.stride_h, c->params.pad_h, 1);
    int64_t w = lp_conv_out_size(in.w, c->k, c->params.stride_w, c->params.pad_w, 1);
    if (h < 1 || w < 1) return lp_fail(err, LP_ERR_SHAPE, "resnet: the input is too small for the network");
    *out = (shape){c->cout, h, w};
    return LP_OK;
}

static const lp_pool2d_params STEM_POOL = {3, 3, 2, 2, 1, 1, false};

/* The largest activation (elements per image) for an input of h x w. */
static lp_status plan(const lp_resnet *m, int64_t h, int64_t w, int64_t *most, lp_error *err) {
    shape s = {3, h, w}, t;
    lp_status st = conv_out(&m->stem, s, &s, err);
    if (st != LP_OK) return st;
    *most = s.c * s.h * s.w;
    int64_t ph = lp_pool_out_size(s.h, 3, 2, 1, false), pw = lp_pool_out_size(s.w, 3, 2, 1, false);
    if (ph < 1 || pw < 1) return lp_fail(err, LP_ERR_SHAPE, "resnet: the input is too small for the network");
    s.h = ph;
    s.w = pw;
    for (int b = 0; b < m->nblocks; b++) {
        const lp_resnet_block *blk = &m->blocks[b];
        t = s;
        for (int j = 0; j < blk->nconv; j++) {
            if ((st = conv_out(&blk->conv[j], t, &t, err)) != LP_OK) return st;
            if (t.c * t.h * t.w > *most) *most = t.c * t.h * t.w;
        }
        if (blk->has_down) {
            shape d = {0, 0, 0};
            if ((st = conv_out(&blk->down, s, &d, err)) != LP_OK) return st;
            if (d.c != t.c || d.h != t.h || d.w != t.w)
                return lp_fail(err, LP_ERR_SHAPE, "resnet: block %d's shortcut does not match its output", b);
        }
        s = t;
    }
    return LP_OK;
}

/* An activation buffer (in the arena, on x's device) viewed as [n, c, h, w],
 * channels-last or contiguous. */
static lp_tensor act_view(float *buf, const lp_tensor *x, bool channels_last, int64_t n, int64_t c, int64_t h,
                          int64_t w) {
    lp_tensor t = channels_last ? lp_tensor_4d_channels_last(buf, LP_F32, n, c, h, w)
                                : lp_tensor_4d(buf, LP_F32, n, c, h, w);
    return lp_tensor_on(t, x->device);
}

/* Through the plan where the model has one; a device view of the model
 * (lp_resnet_for_backend) has none and runs lp_conv2d on its device weights. */
static lp_status conv(lp_ctx *ctx, const lp_resnet_conv *c, const lp_tensor *x, const lp_tensor *residual,
                      lp_activation act, lp_tensor *out, lp_error *err) {
    if (c->plan) return lp_conv2d_plan_run(ctx, c->plan, x, residual, act, out, err);
    return lp_conv2d(ctx, x, &c->weight, &c->bias, residual, &c->params, act, out, err);
}

/* out = act(conv(x) + residual) into buf in the asked layout. */
static lp_status run_conv(lp_ctx *ctx, const lp_resnet_conv *c, const lp_tensor *x, float *buf, bool channels_last,
                          const lp_tensor *residual, lp_activation act, lp_tensor *out, lp_error *err) {
    int64_t h = lp_conv_out_size(x->shape[2], c->k, c->params.stride_h, c->params.pad_h, 1);
    int64_t w = lp_conv_out_size(x->shape[3], c->k, c->params.stride_w, c->params.pad_w, 1);
    *out = act_view(buf, x, channels_last, x->shape[0], c->cout, h, w);
    return conv(ctx, c, x, residual, act, out, err);
}

/* Activations between the stem's max pool and the global average pool are
 * channels-last when the backend computes convolutions that way (the CPU
 * with oneDNN: see kernels/conv_plan.h); the pools and the network's input
 * stay NCHW, converted inside the first and last convolutions' plans. In that
 * layout a block's last convolution adds the skip connection in place, into
 * the skip's own buffer, which nothing reads afterwards. */
static lp_status forward(const lp_resnet *m, lp_ctx *ctx, lp_arena *arena, const lp_tensor *x, lp_tensor *logits,
                         lp_error *err) {
    const int64_t n = x->shape[0];
    const bool cl = lp_conv2d_plan_channels_last(ctx);
    int64_t most;
    lp_status st = plan(m, x->shape[2], x->shape[3], &most, err);
    if (st != LP_OK) return st;
    float *buf[5];
    for (int i = 0; i < 5; i++) {
        buf[i] = lp_arena_alloc(arena, sizeof(float) * (size_t)(most * n));
        if (!buf[i]) return lp_fail(err, LP_ERR_NOMEM, "resnet: out of memory for activations");
    }
    float *cur = buf[0], *next = buf[1];
    lp_tensor a, b, t1, t2, id;
    if ((st = run_conv(ctx, &m->stem, x, buf[2], false, NULL, LP_ACT_RELU, &t1, err)) != LP_OK) return st;
    a = act_view(cur, x, false, n, t1.shape[1], lp_pool_out_size(t1.shape[2], 3, 2, 1, false),
                 lp_pool_out_size(t1.shape[3], 3, 2, 1, false));
    if ((st = lp_maxpool2d(ctx, &t1, &STEM_POOL, &a, err)) != LP_OK) return st;
    for (int k = 0; k < m->nblocks; k++) {
        const lp_resnet_block *blk = &m->blocks[k];
        const bool last = k == m->nblocks - 1;
        /* in place needs a channels-last skip (not the pool's NCHW output)
         * and a channels-last result (not the last block's, which the
         * average pool reads as NCHW) */
        const bool in_place = cl && !last && (blk->has_down || lp_tensor_is_channels_last(&a));
        const lp_tensor *skip = &a;
        if (blk->has_down) {
            if ((st = run_conv(ctx, &blk->down, &a, in_place ? next : buf[4], cl, NULL, LP_ACT_NONE, &id, err)) !=
                LP_OK)
                return st;
            skip = &id;
        }
        if ((st = run_conv(ctx, &blk->conv[0], &a, buf[2], cl, NULL, LP_ACT_RELU, &t1, err)) != LP_OK) return st;
        const lp_tensor *last_in = &t1;
        if (blk->nconv == 3) {
            if ((st = run_conv(ctx, &blk->conv[1], &t1, buf[3], cl, NULL, LP_ACT_RELU, &t2, err)) != LP_OK) return st;
            last_in = &t2;
        }
        /* out = relu(conv(last_in) + bias + skip): the residual add fused. */
        const lp_resnet_conv *lc = &blk->conv[blk->nconv - 1];
        if (in_place) {
            b = *skip;
            st = conv(ctx, lc, last_in, &b, LP_ACT_RELU, &b, err);
        } else {
            st = run_conv(ctx, lc, last_in, next, cl && !last, skip, LP_ACT_RELU, &b, err);
        }
        if (st != LP_OK) return st;
        /* the result is in next unless it went in place into a's buffer */
        if (b.data == next) {
            float *tmp = cur;
            cur = next;
            next = tmp;
        }
        a = b;
    }
    lp_tensor pooled = lp_tensor_on(lp_tensor_2d(buf[2], LP_F32, n, a.shape[1]), x->device);
    if ((st = lp_global_avgpool2d(ctx, &a, &pooled, err)) != LP_OK) return st;
    return lp_linear(ctx, &pooled, &m->fc_weight, &m->fc_bias, LP_ACT_NONE, logits, err);
}

lp_status lp_resnet_forward(const lp_resnet *m, lp_ctx *ctx, lp_arena *arena, const lp_tensor *x, lp_tensor *logits,
                            lp_error *err) {
    if (!m || !ctx || !arena || !x || !logits) return lp_fail(err, LP_ERR_INVALID_ARG, "resnet: NULL argument");
    if (x->dtype != LP_F32 || x->ndim != 4 || x->shape[1] != 3 || x->shape[0] < 1 || !lp_tensor_is_contiguous(x))
        return lp_fail(err, LP_ERR_SHAPE, "resnet: input must be a contiguous f32 [N, 3, H, W] tensor");
    if (logits->dtype != LP_F32 || logits->ndim != 2 || logits->shape[0] != x->shape[0] ||
        logits->shape[1] != m->classes || !lp_tensor_is_contiguous(logits))
        return lp_fail(err, LP_ERR_SHAPE, "resnet: logits must be a contiguous f32 [%lld, %d] tensor",
                       (long long)x->shape[0], m->classes);
    /* No rewind here: the caller resets the arena after the pass, which is
     * what coalesces a grown arena into one block (a rewind would free the
     * new chunks and make every pass grow again). */
    return forward(m, ctx, arena, x, logits, err);
}
