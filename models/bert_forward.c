/* The encoder forward pass and the classification heads, op for op as
 * transformers' BertModel / RobertaModel / DistilBertModel in eval mode
 * (dropout is the identity). Activations come from the caller's arena; each
 * layer's temporaries are rewound before the next layer, so the arena holds two
 * hidden states plus one layer's worth of temporaries. On a device backend
 * the arena is device memory, the model is its device view and the batch's
 * host arrays are copied in (kernels/backend_memory.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend_memory.h"
#include "models/bert_internal.h"

static lp_status arena_f32(lp_arena *arena, int ndim, const int64_t *shape, lp_tensor *out,
                           lp_error *err) {
    return lp_arena_tensor(arena, LP_F32, ndim, shape, out, err);
}

/* RoBERTa's create_position_ids_from_input_ids: non-pad tokens are numbered
 * from padding_idx + 1 in order, pad tokens get padding_idx. */
static void roberta_positions(const lp_bert_batch *b, int32_t pad, int32_t *pos) {
    for (int64_t i = 0; i < b->batch; i++) {
        int32_t count = 0;
        for (int64_t s = 0; s < b->seq_len; s++) {
            int64_t k = i * b->seq_len + s;
            if (b->input_ids[k] != pad) pos[k] = pad + ++count;
            else pos[k] = pad;
        }
    }
}

/* The batch's host arrays as tensors on the backend: views on a host
 * backend, copies in the arena on a device. */
typedef struct batch_tensors {
    lp_tensor ids, types, pos, mask; /* types / pos: data NULL when unused */
} batch_tensors;

static lp_status on_backend(lp_ctx *ctx, lp_arena *arena, const void *host, lp_dtype dtype, int64_t B,
                            int64_t S, lp_tensor *out, lp_error *err) {
    lp_tensor h = lp_tensor_2d((void *)host, dtype, B, S);
    return lp_backend_upload(ctx->backend, arena, &h, out, err);
}

/* RoBERTa's positions are computed on the host: in the arena on a host
 * backend, in a temporary host buffer copied in on a device. */
static lp_status position_ids(const lp_bert_model *m, lp_ctx *ctx, lp_arena *arena, const lp_bert_batch *b,
                              lp_tensor *out, lp_error *err) {
    size_t bytes = (size_t)(b->batch * b->seq_len) * sizeof(int32_t);
    bool host = lp_backend_on_host(ctx->backend);
    int32_t *pos = host ? lp_arena_alloc(arena, bytes) : malloc(bytes);
    if (!pos) return lp_fail(err, LP_ERR_NOMEM, "bert: out of memory for position ids");
    roberta_positions(b, (int32_t)m->cfg.pad_token_id, pos);
    lp_status st = on_backend(ctx, arena, pos, LP_I32, b->batch, b->seq_len, out, err);
    if (!host) free(pos);
    return st;
}

static lp_status batch_inputs(const lp_bert_model *m, lp_ctx *ctx, lp_arena *arena, const lp_bert_batch *b,
                              batch_tensors *t, lp_error *err) {
    memset(t, 0, sizeof *t);
    int64_t B = b->batch, S = b->seq_len;
    lp_status st = on_backend(ctx, arena, b->input_ids, LP_I32, B, S, &t->ids, err);
    if (!st) st = on_backend(ctx, arena, b->attention_mask, LP_U8, B, S, &t->mask, err);
    if (!st && m->type_emb.data && b->token_type_ids)
        st = on_backend(ctx, arena, b->token_type_ids, LP_I32, B, S, &t->types, err);
    if (!st && m->cfg.kind.family == LP_FAMILY_ROBERTA) st = position_ids(m, ctx, arena, b, &t->pos, err);
    return st;
}

static lp_status embeddings(const lp_bert_model *m, lp_ctx *ctx, lp_arena *arena,
                            const batch_tensors *b, lp_tensor *x, lp_error *err) {
    const lp_bert_config *c = &m->cfg;
    int64_t B = b->ids.shape[0], S = b->ids.shape[1], H = c->hidden_size;
    lp_status st = lp_embedding(ctx, &m->word_emb, &b->ids, x, err);
    if (st) return st;
    lp_arena_mark mark = lp_arena_get_mark(arena);
    if (b->pos.data) { /* RoBERTa's, or a packed batch's: one position per token */
        lp_tensor pe;
        int64_t shape[3] = {B, S, H};
        if ((st = arena_f32(arena, 3, shape, &pe, err)) ||
            (st = lp_embedding(ctx, &m->pos_emb, &b->pos, &pe, err)) ||
            (st = lp_add(ctx, x, &pe, LP_ACT_NONE, x, err)))
            return st;
    } else {
        /* positions 0..S-1 for every sequence: the table's first S rows, broadcast */
        lp_tensor pe = lp_tensor_narrow(&m->pos_emb, 0, 0, S);
        if ((st = lp_add(ctx, x, &pe, LP_ACT_NONE, x, err))) return st;
    }
    if (m->type_emb.data) {
        if (b->types.data) {
            lp_tensor te;
            int64_t shape[3] = {B, S, H};
            if ((st = arena_f32(arena, 3, shape, &te, err)) ||
                (st = lp_embedding(ctx, &m->type_emb, &b->types, &te, err)) ||
                (st = lp_add(ctx, x, &te, LP_ACT_NONE, x, err)))
                return st;
        } else {
            lp_tensor t0 = lp_tensor_narrow(&m->type_emb, 0, 0, 1);
            lp_tensor row = lp_tensor_on(lp_tensor_1d(t0.data, LP_F32, H), m->type_emb.device);
            if ((st = lp_add(ctx, x, &row, LP_ACT_NONE, x, err))) return st;
        }
    }
    lp_arena_rewind(arena, mark);
    return lp_layer_norm(ctx, x, &m->emb_norm.gamma, &m->emb_norm.beta, c->layer_norm_eps, x, err);
}

/* out = act(x W^T + b + residual) through the layer's plan; a device view of
 * the model (lp_bert_for_backend) has none and runs lp_linear on its device
 * weights, then adds the residual. */
static lp_status linear(lp_ctx *ctx, const lp_bert_linear *l, const lp_tensor *x, const lp_tensor *residual,
                        lp_activation act, lp_tensor *out, lp_error *err) {
    if (l->plan) return lp_linear_plan_run(ctx, l->plan, x, residual, act, out, err);
    lp_status st = lp_linear(ctx, x, &l->weight, &l->bias, residual ? LP_ACT_NONE : act, out, err);
    return st || !residual ? st : lp_add(ctx, out, residual, act, out, err);
}

/* One post-LayerNorm transformer layer: x -> out (may not alias). x is a
 * padded [B, S, H] batch with its key mask, or packed [1, tokens, H] rows. */
static lp_status layer(const lp_bert_model *m, const lp_bert_layer *L, lp_ctx *ctx, lp_arena *arena,
                       const lp_tensor *key_mask, const lp_bert_packing *packing, const lp_tensor *x,
                       lp_tensor *out, lp_error *err) {
    const lp_bert_config *c = &m->cfg;
    int64_t B = x->shape[0], S = x->shape[1], H = c->hidden_size;
    int64_t hs[3] = {B, S, H}, is[3] = {B, S, c->intermediate_size};
    lp_arena_mark mark = lp_arena_get_mark(arena);
    lp_tensor q, k, v, attn, a, f;
    lp_status st;
    if ((st = arena_f32(arena, 3, hs, &q, err)) || (st = arena_f32(arena, 3, hs, &k, err)) ||
        (st = arena_f32(arena, 3, hs, &v, err)) || (st = arena_f32(arena, 3, hs, &attn, err)) ||
        (st = linear(ctx, &L->query, x, NULL, LP_ACT_NONE, &q, err)) ||
        (st = linear(ctx, &L->key, x, NULL, LP_ACT_NONE, &k, err)) ||
        (st = linear(ctx, &L->value, x, NULL, LP_ACT_NONE, &v, err)))
        return st;
    float scale = 1.0f / sqrtf((float)(H / c->num_heads));
    if (packing) {
        st = lp_bert_attend_packed(packing, ctx, arena, c->num_heads, scale, &q, &k, &v, &attn, err);
    } else {
        int64_t nh = c->num_heads;
        lp_tensor qh = lp_bert_heads_view(&q, 0, B, S, nh), kh = lp_bert_heads_view(&k, 0, B, S, nh);
        lp_tensor vh = lp_bert_heads_view(&v, 0, B, S, nh), oh = lp_bert_heads_view(&attn, 0, B, S, nh);
        lp_attention_mask mask = {.key_mask = key_mask, .causal = false};
        st = lp_attention(ctx, &qh, &kh, &vh, &mask, scale, &oh, err);
    }
    if (st) return st;
    /* attention output: dense, dropout (identity), + residual, LayerNorm; q is free again */
    a = q;
    if ((st = linear(ctx, &L->attn_out, &attn, x, LP_ACT_NONE, &a, err)) ||
        (st = lp_layer_norm(ctx, &a, &L->attn_norm.gamma, &L->attn_norm.beta, c->layer_norm_eps, &a,
                            err)))
        return st;
    /* feed-forward: act(a W1 + b1) W2 + b2, + residual, LayerNorm */
    if ((st = arena_f32(arena, 3, is, &f, err)) ||
        (st = linear(ctx, &L->ffn_in, &a, NULL, c->hidden_act, &f, err)) ||
        (st = linear(ctx, &L->ffn_out, &f, &a, LP_ACT_NONE, out, err)) ||
        (st = lp_layer_norm(ctx, out, &L->ffn_norm.gamma, &L->ffn_norm.beta, c->layer_norm_eps, out,
                            err)))
        return st;
    lp_arena_rewind(arena, mark);
    return LP_OK;
}

static lp_status check_batch(const lp_bert_model *m, const lp_bert_batch *b, lp_error *err) {
    const lp_bert_config *c = &m->cfg;
    if (b->batch < 1 || b->seq_len < 1 || !b->input_ids || !b->attention_mask)
        return lp_fail(err, LP_ERR_INVALID_ARG, "bert: empty batch or missing ids / attention mask");
    if (b->seq_len > lp_bert_max_tokens(c))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "bert: sequence length %lld exceeds the model's %lld positions; truncate "
                       "the input",
                       (long long)b->seq_len, (long long)lp_bert_max_tokens(c));
    for (int64_t i = 0; i < b->batch * b->seq_len; i++) {
        if (b->input_ids[i] < 0 || b->input_ids[i] >= c->vocab_size)
            return lp_fail(err, LP_ERR_INVALID_ARG,
                           "bert: token id %d at sequence %lld position %lld is outside the "
                           "vocabulary [0, %lld)",
                           b->input_ids[i], (long long)(i / b->seq_len), (long long)(i % b->seq_len),
                           (long long)c->vocab_size);
        if (b->token_type_ids && c->type_vocab_size > 0 &&
            (b->token_type_ids[i] < 0 || b->token_type_ids[i] >= c->type_vocab_size))
            return lp_fail(err, LP_ERR_INVALID_ARG,
                           "bert: token type %d at sequence %lld position %lld is outside [0, %lld)",
                           b->token_type_ids[i], (long long)(i / b->seq_len),
                           (long long)(i % b->seq_len), (long long)c->type_vocab_size);
    }
    return LP_OK;
}

/* Embeddings and every layer: x (holding the input's rows) and y alternate;
 * *last is the one holding the result. */
static lp_status encode(const lp_bert_model *m, lp_ctx *ctx, lp_arena *arena, const batch_tensors *in,
                        const lp_bert_packing *packing, lp_tensor x, lp_tensor y, lp_tensor *last,
                        lp_error *err) {
    lp_status st = embeddings(m, ctx, arena, in, &x, err);
    if (st) return st;
    for (int64_t i = 0; i < m->cfg.num_layers; i++) {
        if ((st = layer(m, &m->layers[i], ctx, arena, &in->mask, packing, &x, &y, err)))
            return lp_fail(err, st, "layer %lld", (long long)i);
        lp_tensor t = x;
        x = y;
        y = t;
    }
    *last = x;
    return LP_OK;
}

/* The padded batch's real tokens only (bert_packed.c), then each cell of
 * the [B, S, H] result gathered from its token's row. */
static lp_status forward_packed(const lp_bert_model *m, lp_ctx *ctx, lp_arena *arena,
                                const lp_bert_batch *b, lp_tensor *hidden, lp_error *err) {
    int64_t H = m->cfg.hidden_size, shape[3] = {b->batch, b->seq_len, H};
    lp_bert_packing pk;
    lp_status st = arena_f32(arena, 3, shape, hidden, err);
    if (!st) st = lp_bert_pack(m, ctx, arena, b, &pk, err);
    else memset(&pk, 0, sizeof pk);
    int64_t ps[3] = {1, pk.rows, H};
    lp_tensor x, y, last;
    if (!st) st = arena_f32(arena, 3, ps, &x, err);
    if (!st) st = arena_f32(arena, 3, ps, &y, err);
    if (!st) {
        batch_tensors in = {.ids = pk.ids, .types = pk.types, .pos = pk.pos};
        st = encode(m, ctx, arena, &in, &pk, x, y, &last, err);
    }
    if (!st) {
        lp_tensor rows = lp_tensor_on(lp_tensor_2d(last.data, LP_F32, pk.rows, H), last.device);
        st = lp_embedding(ctx, &rows, &pk.unpack, hidden, err);
    }
    lp_bert_packing_release(&pk);
    return st;
}

lp_status lp_bert_forward(const lp_bert_model *m, lp_ctx *ctx, lp_arena *arena,
                          const lp_bert_batch *b, lp_tensor *hidden, lp_error *err) {
    lp_error_clear(err);
    lp_status st = check_batch(m, b, err);
    if (st) return st;
    if (lp_bert_should_pack(b)) return forward_packed(m, ctx, arena, b, hidden, err);
    return lp_bert_forward_padded(m, ctx, arena, b, hidden, err);
}

lp_status lp_bert_forward_padded(const lp_bert_model *m, lp_ctx *ctx, lp_arena *arena,
                                 const lp_bert_batch *b, lp_tensor *hidden, lp_error *err) {
    lp_error_clear(err);
    lp_status st = check_batch(m, b, err);
    if (st) return st;
    int64_t shape[3] = {b->batch, b->seq_len, m->cfg.hidden_size};
    lp_tensor x, y;
    batch_tensors in;
    if ((st = arena_f32(arena, 3, shape, &x, err)) || (st = arena_f32(arena, 3, shape, &y, err)) ||
        (st = batch_inputs(m, ctx, arena, b, &in, err)))
        return st;
    return encode(m, ctx, arena, &in, NULL, x, y, hidden, err);
}

lp_status lp_bert_warm(const lp_bert_model *m, lp_ctx *ctx, int64_t max_rows, lp_error *err) {
    lp_status st = LP_OK;
    for (int64_t i = 0; st == LP_OK && i < m->cfg.num_layers; i++) {
        const lp_bert_layer *L = &m->layers[i];
        /* the shapes and epilogues of layer(); one layer's primitives serve all
         * (oneDNN caches by shape), every layer's weights get packed */
        int64_t rows = i == 0 ? max_rows : 1;
        const struct {
            const lp_bert_linear *l;
            bool residual;
            lp_activation act;
        } uses[] = {{&L->query, false, LP_ACT_NONE}, {&L->key, false, LP_ACT_NONE},
                    {&L->value, false, LP_ACT_NONE}, {&L->attn_out, true, LP_ACT_NONE},
                    {&L->ffn_in, false, m->cfg.hidden_act}, {&L->ffn_out, true, LP_ACT_NONE}};
        for (size_t u = 0; st == LP_OK && u < sizeof uses / sizeof *uses; u++)
            if (uses[u].l->plan)
                st = lp_linear_plan_warm(ctx, uses[u].l->plan, rows, uses[u].residual, uses[u].act,
                                         err);
    }
    return st;
}

lp_status lp_bert_classify(const lp_bert_model *m, lp_ctx *ctx, lp_arena *arena,
                           const lp_tensor *hidden, lp_tensor *logits, lp_error *err) {
    const lp_bert_config *c = &m->cfg;
    if (c->kind.head != LP_HEAD_SEQ_CLS)
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s has no classification head",
                       c->kind.architecture);
    if (hidden->ndim != 3 || hidden->shape[2] != c->hidden_size || !lp_tensor_is_contiguous(hidden))
        return lp_fail(err, LP_ERR_SHAPE, "bert classify: hidden must be contiguous [B, S, %lld]",
                       (long long)c->hidden_size);
    int64_t B = hidden->shape[0], S = hidden->shape[1], H = c->hidden_size;
    /* token 0 of every sequence ([CLS] / <s>): a strided [B, H] view */
    lp_tensor first = lp_tensor_on(lp_tensor_2d(hidden->data, LP_F32, B, H), hidden->device);
    first.stride[0] = S * H;
    int64_t ps[2] = {B, H}, ls[2] = {B, c->num_labels};
    lp_tensor pooled;
    lp_status st;
    if ((st = arena_f32(arena, 2, ps, &pooled, err)) || (st = arena_f32(arena, 2, ls, logits, err)) ||
        (st = lp_matmul(ctx, &first, &m->head_dense.weight, false, true, 1.0f, &pooled, err)) ||
        (st = lp_add(ctx, &pooled, &m->head_dense.bias, m->head_act, &pooled, err)) ||
        (st = lp_linear(ctx, &pooled, &m->head_out.weight, &m->head_out.bias, LP_ACT_NONE, logits,
                        err)))
        return st;
    return LP_OK;
}
