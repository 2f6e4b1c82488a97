/* Front-end of lp_attention (ops.h): q [B, H, Sq, D], k [B, H, Sk, D],
 * v [B, H, Sk, Dv], out [B, H, Sq, Dv], f32, any non-negative strides with a
 * dense last dimension; key_mask u8 [B, Sk] contiguous (any non-zero byte
 * means attend). out may not overlap q, k or v: rows of out are written while
 * other rows of q are still to be read.
 *
 * Deviation, deliberate and in ops.h: a query that sees no key (all its keys
 * padded, or causal with Sk < Sq) gets zeros. HF BERT's additive finfo.min
 * mask would give a uniform average of all values there, torch's
 * scaled_dot_product_attention NaN. */
#include <math.h>
#include <stdio.h>

#include "kernels/op_elem_checks.h"

static lp_status check_view(const lp_ctx *ctx, const char *arg, const lp_tensor *t, lp_error *err) {
    const char *op = "attention";
    lp_status st = lp_ec_tensor(ctx, op, arg, t, err);
    if (st == LP_OK) st = lp_check_dtype(op, arg, t, LP_F32, err);
    if (st == LP_OK) st = lp_check_ndim(op, arg, t, 4, 4, err);
    if (st != LP_OK) return st;
    for (int i = 0; i < 4; i++)
        if (t->stride[i] < 0)
            return lp_fail(err, LP_ERR_SHAPE, "%s: %s has a negative stride in dimension %d", op,
                           arg, i);
    if (t->stride[3] != 1 && t->shape[3] > 1)
        return lp_fail(err, LP_ERR_SHAPE,
                       "%s: %s must be dense in its last dimension (stride %lld, expected 1)", op,
                       arg, (long long)t->stride[3]);
    return LP_OK;
}

/* want[i] < 0 means "any". */
static lp_status check_dims(const char *arg, const lp_tensor *t, const int64_t want[4],
                            const char *expect, lp_error *err) {
    for (int i = 0; i < 4; i++)
        if (want[i] >= 0 && t->shape[i] != want[i]) {
            char desc[128];
            return lp_fail(err, LP_ERR_SHAPE, "attention: %s is %s, expected %s", arg,
                           lp_tensor_describe(t, desc, sizeof desc), expect);
        }
    return LP_OK;
}

static lp_status check_shapes(const lp_tensor *q, const lp_tensor *k, const lp_tensor *v,
                              const lp_tensor *out, lp_error *err) {
    int64_t b = q->shape[0], h = q->shape[1], sq = q->shape[2], d = q->shape[3];
    int64_t sk = k->shape[2], dv = v->shape[3];
    char expect[160];
    snprintf(expect, sizeof expect, "[B=%lld, H=%lld, Sk, D=%lld] (q is [B, H, Sq, D])",
             (long long)b, (long long)h, (long long)d);
    lp_status st = check_dims("k", k, (const int64_t[4]){b, h, -1, d}, expect, err);
    if (st != LP_OK) return st;
    snprintf(expect, sizeof expect, "[B=%lld, H=%lld, Sk=%lld, Dv] (k is [B, H, Sk, D])",
             (long long)b, (long long)h, (long long)sk);
    if ((st = check_dims("v", v, (const int64_t[4]){b, h, sk, -1}, expect, err)) != LP_OK)
        return st;
    snprintf(expect, sizeof expect, "[B=%lld, H=%lld, Sq=%lld, Dv=%lld]", (long long)b,
             (long long)h, (long long)sq, (long long)dv);
    return check_dims("out", out, (const int64_t[4]){b, h, sq, dv}, expect, err);
}

static lp_status check_key_mask(const lp_ctx *ctx, const lp_tensor *m, int64_t b, int64_t sk,
                                lp_error *err) {
    lp_status st = lp_ec_dense(ctx, "attention", "key_mask", m, LP_U8, err);
    if (st != LP_OK) return st;
    if (m->ndim == 2 && m->shape[0] == b && m->shape[1] == sk) return LP_OK;
    char desc[128];
    return lp_fail(err, LP_ERR_SHAPE, "attention: key_mask is %s, expected [B=%lld, Sk=%lld] u8",
                   lp_tensor_describe(m, desc, sizeof desc), (long long)b, (long long)sk);
}

static lp_status check_apart(const lp_tensor *out, const char *name, const lp_tensor *in,
                             lp_error *err) {
    uintptr_t olo, ohi, ilo, ihi;
    lp_ec_span(out, &olo, &ohi);
    lp_ec_span(in, &ilo, &ihi);
    if (olo >= ihi || ilo >= ohi) return LP_OK;
    return lp_fail(err, LP_ERR_INVALID_ARG,
                   "attention: out overlaps %s; attention cannot run in place, give out its own "
                   "memory",
                   name);
}

lp_status lp_attention(lp_ctx *ctx, const lp_tensor *q, const lp_tensor *k, const lp_tensor *v,
                       const lp_attention_mask *mask, float scale, lp_tensor *out, lp_error *err) {
    lp_status st = lp_op_check_ctx(ctx, LP_OP_ATTENTION, err);
    if (st == LP_OK) st = check_view(ctx, "q", q, err);
    if (st == LP_OK) st = check_view(ctx, "k", k, err);
    if (st == LP_OK) st = check_view(ctx, "v", v, err);
    if (st == LP_OK) st = check_view(ctx, "out", out, err);
    if (st == LP_OK) st = check_shapes(q, k, v, out, err);
    if (st == LP_OK && mask && mask->key_mask)
        st = check_key_mask(ctx, mask->key_mask, q->shape[0], k->shape[2], err);
    if (st == LP_OK) st = check_apart(out, "q", q, err);
    if (st == LP_OK) st = check_apart(out, "k", k, err);
    if (st == LP_OK) st = check_apart(out, "v", v, err);
    if (st == LP_OK && mask && mask->key_mask) st = check_apart(out, "key_mask", mask->key_mask, err);
    if (st != LP_OK) return st;
    if (!isfinite(scale))
        return lp_fail(err, LP_ERR_INVALID_ARG, "attention: scale is %g; it must be finite",
                       (double)scale);
    if (!ctx->backend->attention) return lp_op_missing(ctx, LP_OP_ATTENTION, err);
    /* two GEMMs per head: q k^T and p v */
    double flops = 2.0 * (double)q->shape[0] * (double)q->shape[1] * (double)q->shape[2] *
                   (double)k->shape[2] * (double)(q->shape[3] + v->shape[3]);
    lp_op_scope scope = lp_op_enter(ctx);
    return lp_op_leave(ctx, LP_OP_ATTENTION, flops, scope,
                       ctx->backend->attention(ctx, q, k, v, mask, scale, out, err));
}
