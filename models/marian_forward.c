/* Marian's forward passes, as transformers' MarianEncoder / MarianDecoder
 * (post-norm layers, dropout the identity). The decoder runs one token per
 * row per call with a KV cache; cross-attention keys and values are computed
 * once per sentence, and the beams of a sentence share them by being the
 * query rows of one attention call. */
#include <math.h>
#include <string.h>

#include "models/marian.h"

static lp_status f32(lp_arena *arena, int ndim, const int64_t *shape, lp_tensor *out, lp_error *err) {
    return lp_arena_tensor(arena, LP_F32, ndim, shape, out, err);
}

/* A 4-d view over `data` with explicit strides (elements). */
static lp_tensor view4(float *data, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t s0, int64_t s1,
                       int64_t s2) {
    lp_tensor t = lp_tensor_4d(data, LP_F32, d0, d1, d2, d3);
    t.stride[0] = s0;
    t.stride[1] = s1;
    t.stride[2] = s2;
    t.stride[3] = 1;
    return t;
}

/* transformers' ACT2FN["swish"] = nn.SiLU: x * sigmoid(x). */
static void silu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

static lp_status act_linear(const lp_marian_model *m, lp_ctx *ctx, const lp_tensor *x,
                            const lp_marian_linear *l, lp_tensor *out, lp_error *err) {
    lp_activation act = m->cfg.act_silu ? LP_ACT_NONE : m->cfg.act;
    lp_status st = lp_linear(ctx, x, &l->weight, &l->bias, act, out, err);
    if (!st && m->cfg.act_silu) silu(out->data, lp_tensor_numel(out));
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
    lp_tensor x2 = lp_tensor_2d(x->data, LP_F32, rows, m->cfg.d_model), f, y;
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
    if (m->cfg.scale_embedding) {
        float s = sqrtf((float)m->cfg.d_model);
        float *p = out->data;
        int64_t n = lp_tensor_numel(out);
        for (int64_t i = 0; i < n; i++) p[i] *= s;
    }
    return LP_OK;
}

lp_status lp_marian_encode(const lp_marian_model *m, lp_ctx *ctx, lp_arena *arena, const lp_tensor *ids,
                           const lp_tensor *key_mask, lp_tensor *out, lp_error *err) {
    const lp_marian_config *c = &m->cfg;
    int64_t B = ids->shape[0], S = ids->shape[1], d = c->d_model, H = c->encoder_heads, hd = d / H;
    if (S > c->max_positions)
        return lp_fail(err, LP_ERR_INVALID_ARG, "marian: %lld source tokens; the model has %lld positions",
                       (long long)S, (long long)c->max_positions);
    lp_status st;
    lp_tensor x3 = lp_tensor_3d(out->data, LP_F32, B, S, d);
    if ((st = embed(m, ctx, &m->enc_embed, ids, &x3, err))) return st;
    lp_tensor pos = lp_tensor_narrow(&m->positions, 0, 0, S);
    if ((st = lp_add(ctx, &x3, &pos, LP_ACT_NONE, &x3, err))) return st;
    lp_tensor x = lp_tensor_2d(out->data, LP_F32, B * S, d);
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
        lp_tensor qh = view4(q.data, B, H, S, hd, S * d, hd, d), kh = view4(k.data, B, H, S, hd, S * d, hd, d),
                  vh = view4(v.data, B, H, S, hd, S * d, hd, d), ah = view4(a.data, B, H, S, hd, S * d, hd, d);
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
    lp_tensor x = lp_tensor_2d(enc_out->data, LP_F32, rows, d);
    for (int64_t l = 0; l < m->cfg.decoder_layers; l++) {
        const lp_marian_attn *A = &m->dec[l].cross_attn;
        lp_tensor k = lp_tensor_2d(ck[l].data, LP_F32, rows, d), v = lp_tensor_2d(cv[l].data, LP_F32, rows, d);
        lp_status st;
        if ((st = lp_linear(ctx, &x, &A->k.weight, &A->k.bias, LP_ACT_NONE, &k, err)) ||
            (st = lp_linear(ctx, &x, &A->v.weight, &A->v.bias, LP_ACT_NONE, &v, err)))
            return st;
    }
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
    lp_tensor x;
    if ((st = f32(arena, 2, s2, &x, err))) return st;
    lp_tensor ids = lp_tensor_1d((void *)s->tokens, LP_I32, N);
    if ((st = embed(m, ctx, &m->dec_embed, &ids, &x, err))) return st;
    lp_tensor pos = lp_tensor_narrow(&m->positions, 0, s->past, 1);
    pos = lp_tensor_1d(pos.data, LP_F32, d);
    if ((st = lp_add(ctx, &x, &pos, LP_ACT_NONE, &x, err))) return st;
    float scale = 1.0f / sqrtf((float)hd);
    for (int64_t l = 0; l < c->decoder_layers; l++) {
        const lp_marian_layer *L = &m->dec[l];
        lp_arena_mark mark = lp_arena_get_mark(arena);
        lp_tensor q, k, v, a, o;
        if ((st = f32(arena, 2, s2, &q, err)) || (st = f32(arena, 2, s2, &k, err)) ||
            (st = f32(arena, 2, s2, &v, err)) || (st = f32(arena, 2, s2, &a, err)) ||
            (st = f32(arena, 2, s2, &o, err)) ||
            (st = lp_linear(ctx, &x, &L->self_attn.q.weight, &L->self_attn.q.bias, LP_ACT_NONE, &q, err)) ||
            (st = lp_linear(ctx, &x, &L->self_attn.k.weight, &L->self_attn.k.bias, LP_ACT_NONE, &k, err)) ||
            (st = lp_linear(ctx, &x, &L->self_attn.v.weight, &L->self_attn.v.bias, LP_ACT_NONE, &v, err)))
            return st;
        float *K = s->self_k[l], *V = s->self_v[l];
        const float *kp = k.data, *vp = v.data;
        for (int64_t r = 0; r < N; r++) {
            memcpy(K + (r * s->tmax + s->past) * d, kp + r * d, (size_t)d * sizeof(float));
            memcpy(V + (r * s->tmax + s->past) * d, vp + r * d, (size_t)d * sizeof(float));
        }
        lp_tensor qh = view4(q.data, N, H, 1, hd, d, hd, d), ah = view4(a.data, N, H, 1, hd, d, hd, d);
        lp_tensor kh = view4(K, N, H, T, hd, s->tmax * d, hd, d), vh = view4(V, N, H, T, hd, s->tmax * d, hd, d);
        if ((st = lp_attention(ctx, &qh, &kh, &vh, NULL, scale, &ah, err)) ||
            (st = lp_linear(ctx, &a, &L->self_attn.o.weight, &L->self_attn.o.bias, LP_ACT_NONE, &o, err)) ||
            (st = add_norm(ctx, &x, &o, &L->self_attn.norm, err)))
            return st;
        /* Cross-attention: the beams of a sentence are its query rows. */
        int64_t S = s->ck[l].shape[1];
        if ((st = lp_linear(ctx, &x, &L->cross_attn.q.weight, &L->cross_attn.q.bias, LP_ACT_NONE, &q, err)))
            return st;
        lp_tensor cq = view4(q.data, Bs, H, beams, hd, beams * d, hd, d),
                  ca = view4(a.data, Bs, H, beams, hd, beams * d, hd, d);
        lp_tensor ckh = view4(s->ck[l].data, Bs, H, S, hd, S * d, hd, d),
                  cvh = view4(s->cv[l].data, Bs, H, S, hd, S * d, hd, d);
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
