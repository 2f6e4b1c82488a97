/* Marian's forward passes, as transformers' MarianEncoder / MarianDecoder
 * (post-norm layers, dropout the identity). The decoder runs one token per
 * row per call with a KV cache; cross-attention keys and values are computed
 * once per sentence, and the beams of a sentence share them by being the
 * query rows of one attention call.
 *
 * Every tensor is on ctx's backend's device (the views made here take their
 * device from the tensor they view); on a device backend m is the view
 * lp_marian_for_backend made. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend_memory.h"
#include "models/marian.h"

static lp_status f32(lp_arena *arena, int ndim, const int64_t *shape, lp_tensor *out, lp_error *err) {
    return lp_arena_tensor(arena, LP_F32, ndim, shape, out, err);
}

/* A 4-d view over `data` (on dev) with explicit strides (elements). */
static lp_tensor view4(float *data, lp_device dev, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t s0,
                       int64_t s1, int64_t s2) {
    lp_tensor t = lp_tensor_on(lp_tensor_4d(data, LP_F32, d0, d1, d2, d3), dev);
    t.stride[0] = s0;
    t.stride[1] = s1;
    t.stride[2] = s2;
    t.stride[3] = 1;
    return t;
}

static lp_tensor view2(void *data, lp_device dev, int64_t d0, int64_t d1) {
    return lp_tensor_on(lp_tensor_2d(data, LP_F32, d0, d1), dev);
}

/* transformers' ACT2FN["swish"] = nn.SiLU: x * sigmoid(x). */
static void silu(float *x, int64_t n, float unused) {
    (void)unused;
    for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

static void scale(float *x, int64_t n, float s) {
    for (int64_t i = 0; i < n; i++) x[i] *= s;
}

/* Element-wise arithmetic the op set has no op for (SiLU, the embedding
 * scale), in place on a contiguous f32 tensor: directly on a host backend;
 * on a device backend through a host copy and back (correct, and a round
 * trip per call: a SiLU activation and a scale op would keep it on the
 * device). */
static lp_status host_apply(lp_ctx *ctx, lp_tensor *t, void (*fn)(float *, int64_t, float), float arg,
                            lp_error *err) {
    int64_t n = lp_tensor_numel(t);
    if (lp_backend_on_host(ctx->backend)) {
        fn(t->data, n, arg);
        return LP_OK;
    }
    float *h = malloc((size_t)(n > 0 ? n : 1) * sizeof *h);
    if (!h) return lp_fail(err, LP_ERR_NOMEM, "marian: out of host memory for an activation copy");
    lp_status st = lp_backend_download(ctx->backend, t, h, err);
    if (st == LP_OK) {
        fn(h, n, arg);
        st = ctx->backend->copy(t->data, h, (size_t)n * sizeof *h, true, err);
    }
    free(h);
    return st;
}

static lp_status act_linear(const lp_marian_model *m, lp_ctx *ctx, const lp_tensor *x,
                            const lp_marian_linear *l, lp_tensor *out, lp_error *err) {
    lp_activation act = m->cfg.act_silu ? LP_ACT_NONE : m->cfg.act;
    lp_status st = lp_linear(ctx, x, &l->weight, &l->bias, act, out, err);
    if (!st && m->cfg.act_silu) st = host_apply(ctx, out, silu, 0.0f, err);
    return st;
}

/* x = LN(x + y) */
static lp_status add_norm(lp_ctx *ctx, lp_tensor *x, const lp_tensor *y, const lp_marian_norm *n,
                          lp_error *err) {
    lp_status st = lp_add(ctx, x, y, LP_ACT_NONE, x, err);
    return st ? st : lp_layer_norm(ctx, x, &n->gamma, &n->beta, 1e-5f, x, err);
}

/* x = LN(x + fc2(act(fc1(x)))) over `rows` rows of d. */
static lp_status ffn(const lp_marian_model *m, lp_ctx *ctx, lp_arena *arena, const lp_marian_layer *L,
                     int64_t ffn_dim, lp_tensor *x, lp_error *err) {
    lp_arena_mark mark = lp_arena_get_mark(arena);
    int64_t rows = lp_tensor_numel(x) / m->cfg.d_model;
    int64_t fs[2] = {rows, ffn_dim}, ds[2] = {rows, m->cfg.d_model};
    lp_tensor x2 = view2(x->data, x->device, rows, m->cfg.d_model), f, y;
    lp_status st;
    if ((st = f32(arena, 2, fs, &f, err)) || (st = f32(arena, 2, ds, &y, err)) ||
        (st = act_linear(m, ctx, &x2, &L->fc1, &f, err)) ||
        (st = lp_linear(ctx, &f, &L->fc2.weight, &L->fc2.bias, LP_ACT_NONE, &y, err)) ||
        (st = add_norm(ctx, &x2, &y, &L->ffn_norm, err)))
        return st;
    lp_arena_rewind(arena, mark);
    return LP_OK;
}

/* out[rows, d] = table[ids] * scale (+ positions added by the caller). */
static lp_status embed(const lp_marian_model *m, lp_ctx *ctx, const lp_tensor *table, const lp_tensor *ids,
                       lp_tensor *out, lp_error *err) {
    lp_status st = lp_embedding(ctx, table, ids, out, err);
    if (st) return st;
    if (m->cfg.scale_embedding) st = host_apply(ctx, out, scale, sqrtf((float)m->cfg.d_model), err);
    return st;
}

lp_status lp_marian_encode(const lp_marian_model *m, lp_ctx *ctx, lp_arena *arena, const lp_tensor *ids,
                           const lp_tensor *key_mask, lp_tensor *out, lp_error *err) {
    const lp_marian_config *c = &m->cfg;
    int64_t B = ids->shape[0], S = ids->shape[1], d = c->d_model, H = c->encoder_heads, hd = d / H;
    if (S > c->max_positions)
        return lp_fail(err, LP_ERR_INVALID_ARG, "marian: %lld source tokens; the model has %lld positions",
                       (long long)S, (long long)c->max_positions);
    lp_status st;
    lp_tensor x3 = lp_tensor_on(lp_tensor_3d(out->data, LP_F32, B, S, d), out->device);
    if ((st = embed(m, ctx, &m->enc_embed, ids, &x3, err))) return st;
    lp_tensor pos = lp_tensor_narrow(&m->positions, 0, 0, S);
    if ((st = lp_add(ctx, &x3, &pos, LP_ACT_NONE, &x3, err))) return st;
    lp_tensor x = view2(out->data, out->device, B * S, d);
    const lp_device dev = out->device;
    float scale = 1.0f / sqrtf((float)hd);
    for (int64_t l = 0; l < c->encoder_layers; l++) {
        const lp_marian_layer *L = &m->enc[l];
        lp_arena_mark mark = lp_arena_get_mark(arena);
        int64_t s2[2] = {B * S, d};
        lp_tensor q, k, v, a, o;
        if ((st = f32(arena, 2, s2, &q, err)) || (st = f32(arena, 2, s2, &k, err)) ||
            (st = f32(arena, 2, s2, &v, err)) || (st = f32(arena, 2, s2, &a, err)) ||
            (st = f32(arena, 2, s2, &o, err)) ||
            (st = lp_linear(ctx, &x, &L->self_attn.q.weight, &L->self_attn.q.bias, LP_ACT_NONE, &q, err)) ||
            (st = lp_linear(ctx, &x, &L->self_attn.k.weight, &L->self_attn.k.bias, LP_ACT_NONE, &k, err)) ||
            (st = lp_linear(ctx, &x, &L->self_attn.v.weight, &L->self_attn.v.bias, LP_ACT_NONE, &v, err)))
            return st;
        lp_tensor qh = view4(q.data, dev, B, H, S, hd, S * d, hd, d), kh = view4(k.data, dev, B, H, S, hd, S * d, hd, d),
                  vh = view4(v.data, dev, B, H, S, hd, S * d, hd, d),
                  ah = view4(a.data, dev, B, H, S, hd, S * d, hd, d);
        lp_attention_mask mask = {.key_mask = key_mask, .causal = false};
        if ((st = lp_attention(ctx, &qh, &kh, &vh, &mask, scale, &ah, err)) ||
            (st = lp_linear(ctx, &a, &L->self_attn.o.weight, &L->self_attn.o.bias, LP_ACT_NONE, &o, err)) ||
            (st = add_norm(ctx, &x, &o, &L->self_attn.norm, err)))
            return st;
        lp_arena_rewind(arena, mark);
        if ((st = ffn(m, ctx, arena, L, c->encoder_ffn, &x, err))) return st;
    }
    return LP_OK;
}

lp_status lp_marian_cross_kv(const lp_marian_model *m, lp_ctx *ctx, const lp_tensor *enc_out, lp_tensor *ck,
                             lp_tensor *cv, lp_error *err) {
    int64_t d = m->cfg.d_model, rows = lp_tensor_numel(enc_out) / d;
    lp_tensor x = view2(enc_out->data, enc_out->device, rows, d);
    for (int64_t l = 0; l < m->cfg.decoder_layers; l++) {
        const lp_marian_attn *A = &m->dec[l].cross_attn;
        lp_tensor k = view2(ck[l].data, ck[l].device, rows, d), v = view2(cv[l].data, cv[l].device, rows, d);
        lp_status st;
        if ((st = lp_linear(ctx, &x, &A->k.weight, &A->k.bias, LP_ACT_NONE, &k, err)) ||
            (st = lp_linear(ctx, &x, &A->v.weight, &A->v.bias, LP_ACT_NONE, &v, err)))
            return st;
    }
    return LP_OK;
}

/* This step's keys and values of layer l appended to its caches, and the
 * [N, H, T, hd] views attention reads. Time-major caches (device backends)
 * take the new rows straight from the projections: position `past` of every
 * row is one contiguous [N, d] block. Row-major caches (host) get them by row. */
static lp_status self_kv(lp_ctx *ctx, const lp_marian_attn *A, const lp_marian_step *s, int l, const lp_tensor *x,
                         int64_t H, lp_tensor *k, lp_tensor *v, lp_tensor *kh, lp_tensor *vh, lp_error *err) {
    int64_t N = s->rows, d = x->shape[1], hd = d / H, T = s->past + 1;
    float *K = s->self_k[l], *V = s->self_v[l];
    const lp_device dev = x->device;
    lp_status st;
    if (s->time_major) {
        lp_tensor ks = view2(K + s->past * s->rows_cap * d, dev, N, d), vs = view2(V + s->past * s->rows_cap * d, dev, N, d);
        if ((st = lp_linear(ctx, x, &A->k.weight, &A->k.bias, LP_ACT_NONE, &ks, err)) ||
            (st = lp_linear(ctx, x, &A->v.weight, &A->v.bias, LP_ACT_NONE, &vs, err)))
            return st;
        *kh = view4(K, dev, N, H, T, hd, d, hd, s->rows_cap * d);
        *vh = view4(V, dev, N, H, T, hd, d, hd, s->rows_cap * d);
        return LP_OK;
    }
    if (!lp_backend_on_host(ctx->backend))
        return lp_fail(err, LP_ERR_INVALID_ARG, "marian: the %s backend needs time-major decoder caches",
                       ctx->backend->name);
    if ((st = lp_linear(ctx, x, &A->k.weight, &A->k.bias, LP_ACT_NONE, k, err)) ||
        (st = lp_linear(ctx, x, &A->v.weight, &A->v.bias, LP_ACT_NONE, v, err)))
        return st;
    const float *kp = k->data, *vp = v->data;
    for (int64_t r = 0; r < N; r++) {
        memcpy(K + (r * s->tmax + s->past) * d, kp + r * d, (size_t)d * sizeof(float));
        memcpy(V + (r * s->tmax + s->past) * d, vp + r * d, (size_t)d * sizeof(float));
    }
    *kh = view4(K, dev, N, H, T, hd, s->tmax * d, hd, d);
    *vh = view4(V, dev, N, H, T, hd, s->tmax * d, hd, d);
    return LP_OK;
}

lp_status lp_marian_decode_step(const lp_marian_model *m, lp_ctx *ctx, lp_arena *arena, const lp_marian_step *s,
                                lp_tensor *logits, lp_error *err) {
    const lp_marian_config *c = &m->cfg;
    int64_t N = s->rows, d = c->d_model, H = c->decoder_heads, hd = d / H, T = s->past + 1;
    int64_t beams = s->beams, Bs = N / beams;
    if (T > c->max_positions || T > s->tmax)
        return lp_fail(err, LP_ERR_INVALID_ARG, "marian: decoder position %lld is beyond the model's %lld positions",
                       (long long)s->past, (long long)c->max_positions);
    lp_arena_mark outer = lp_arena_get_mark(arena);
    lp_status st;
    int64_t s2[2] = {N, d};
    lp_tensor x, ids, host_ids = lp_tensor_1d((void *)s->tokens, LP_I32, N);
    if ((st = f32(arena, 2, s2, &x, err)) || (st = lp_backend_upload(ctx->backend, arena, &host_ids, &ids, err)))
        return st;
    const lp_device dev = x.device;
    if ((st = embed(m, ctx, &m->dec_embed, &ids, &x, err))) return st;
    lp_tensor pos = lp_tensor_narrow(&m->positions, 0, s->past, 1);
    pos = lp_tensor_on(lp_tensor_1d(pos.data, LP_F32, d), m->positions.device);
    if ((st = lp_add(ctx, &x, &pos, LP_ACT_NONE, &x, err))) return st;
    float scale = 1.0f / sqrtf((float)hd);
    for (int64_t l = 0; l < c->decoder_layers; l++) {
        const lp_marian_layer *L = &m->dec[l];
        lp_arena_mark mark = lp_arena_get_mark(arena);
        lp_tensor q, k, v, a, o, kh, vh;
        if ((st = f32(arena, 2, s2, &q, err)) || (st = f32(arena, 2, s2, &k, err)) ||
            (st = f32(arena, 2, s2, &v, err)) || (st = f32(arena, 2, s2, &a, err)) ||
            (st = f32(arena, 2, s2, &o, err)) ||
            (st = lp_linear(ctx, &x, &L->self_attn.q.weight, &L->self_attn.q.bias, LP_ACT_NONE, &q, err)) ||
            (st = self_kv(ctx, &L->self_attn, s, (int)l, &x, H, &k, &v, &kh, &vh, err)))
            return st;
        lp_tensor qh = view4(q.data, dev, N, H, 1, hd, d, hd, d), ah = view4(a.data, dev, N, H, 1, hd, d, hd, d);
        if ((st = lp_attention(ctx, &qh, &kh, &vh, NULL, scale, &ah, err)) ||
            (st = lp_linear(ctx, &a, &L->self_attn.o.weight, &L->self_attn.o.bias, LP_ACT_NONE, &o, err)) ||
            (st = add_norm(ctx, &x, &o, &L->self_attn.norm, err)))
            return st;
        /* Cross-attention: the beams of a sentence are its query rows. */
        int64_t S = s->ck[l].shape[1];
        if ((st = lp_linear(ctx, &x, &L->cross_attn.q.weight, &L->cross_attn.q.bias, LP_ACT_NONE, &q, err)))
            return st;
        lp_tensor cq = view4(q.data, dev, Bs, H, beams, hd, beams * d, hd, d),
                  ca = view4(a.data, dev, Bs, H, beams, hd, beams * d, hd, d);
        lp_tensor ckh = view4(s->ck[l].data, s->ck[l].device, Bs, H, S, hd, S * d, hd, d),
                  cvh = view4(s->cv[l].data, s->cv[l].device, Bs, H, S, hd, S * d, hd, d);
        lp_attention_mask mask = {.key_mask = s->enc_mask, .causal = false};
        if ((st = lp_attention(ctx, &cq, &ckh, &cvh, &mask, scale, &ca, err)) ||
            (st = lp_linear(ctx, &a, &L->cross_attn.o.weight, &L->cross_attn.o.bias, LP_ACT_NONE, &o, err)) ||
            (st = add_norm(ctx, &x, &o, &L->cross_attn.norm, err)))
            return st;
        lp_arena_rewind(arena, mark);
        if ((st = ffn(m, ctx, arena, L, c->decoder_ffn, &x, err))) return st;
    }
    st = lp_linear(ctx, &x, &m->lm_head, &m->final_logits_bias, LP_ACT_NONE, logits, err);
    lp_arena_rewind(arena, outer);
    return st;
}
