/* The batch's real tokens packed end to end (bert_internal.h): the linear
 * layers, layer norms and embeddings then work on the tokens alone, and no
 * FLOP is spent on padding. Attention is the one op that sees sequences: it
 * runs per bucket of neighbouring sequences of similar length. A bucket whose
 * sequences are all equally long is a strided view of the packed rows; any
 * other is gathered into a padded [count, longest] block with a key mask,
 * attended, and scattered back (three row gathers and one scatter, all
 * lp_embedding, so every backend runs them). The encoder sorts its inputs by
 * length, so buckets are long and nearly unpadded.
 *
 * The packed rows are the tokens rounded up by lp_linear_plan_rows (filler
 * rows after them, a sequence of their own): oneDNN builds and keeps a GEMM
 * primitive per row count, and a server sees every token count there is
 * (its resident memory grew 19% in a 10-minute soak before this); rounded,
 * at most 8 row counts per octave exist, for at most 1/8 more rows, and
 * lp_bert_warm builds their primitives before the first request.
 *
 * Packing is exact for any attention mask: a token keeps its own position id
 * (BERT counts positions over padding too, as transformers does), its type
 * id, and attends to the tokens its mask row lets it see, which are exactly
 * its sequence's packed rows. */
#include <stdlib.h>
#include <string.h>

#include "kernels/backend_memory.h"
#include "models/bert_internal.h"

/* A bucket may cost this much more attention than its real tokens need,
 * plus SLACK_CELLS^2 per sequence (short sequences cost nothing to pad). */
#define PAD_NUM 5
#define PAD_DEN 4
#define SLACK_CELLS 16

/* Host arrays, one block: per token its id, type, position and the cell it
 * came from; per cell its packed row; per sequence its first row and length. */
typedef struct host_arrays {
    int32_t *ids, *types, *pos, *unpack, *gather, *scatter;
    uint8_t *mask;
    int64_t *first, *len;
} host_arrays;

static int64_t count_tokens(const lp_bert_batch *b) {
    int64_t tokens = 0;
    for (int64_t i = 0; i < b->batch * b->seq_len; i++) tokens += b->attention_mask[i] != 0;
    return tokens;
}

/* Packing pays when there is padding, or when the row count is not one of
 * lp_linear_plan_rows' (oneDNN builds a primitive per row count), and no
 * sequence is empty (a query that sees no key gets zeros in the padded path;
 * keep that path for it). */
bool lp_bert_should_pack(const lp_bert_batch *b) {
    int64_t tokens = count_tokens(b);
    bool padded = tokens < b->batch * b->seq_len;
    if (!padded && lp_linear_plan_rows(tokens) == tokens) return false;
    for (int64_t i = 0; i < b->batch; i++) {
        bool any = false;
        for (int64_t s = 0; s < b->seq_len && !any; s++) any = b->attention_mask[i * b->seq_len + s];
        if (!any) return false;
    }
    return true;
}

/* rows: the packed rows, tokens and the filler after them */
static lp_status alloc_host(const lp_bert_batch *b, int64_t rows, host_arrays *h, void **block,
                            lp_error *err) {
    int64_t B = b->batch, cells = B * b->seq_len;
    /* gather/mask hold at most every bucket's padded cells: count * longest <= cells */
    size_t i32 = (size_t)(4 * rows + 2 * cells), u8 = (size_t)cells, i64 = (size_t)(2 * B);
    char *p = malloc(i64 * sizeof(int64_t) + i32 * sizeof(int32_t) + u8 + 1);
    if (!p) return lp_fail(err, LP_ERR_NOMEM, "bert: out of memory packing %lld rows", (long long)rows);
    *block = p;
    h->first = (int64_t *)p;
    h->len = h->first + B;
    h->ids = (int32_t *)(h->len + B);
    h->types = h->ids + rows;
    h->pos = h->types + rows;
    h->scatter = h->pos + rows;
    h->unpack = h->scatter + rows;
    h->gather = h->unpack + cells;
    h->mask = (uint8_t *)(h->gather + cells);
    return LP_OK;
}

/* The rows after the real tokens: token 0 at position 0, attended to among
 * themselves as one more sequence; no cell of the result reads them. */
static void fill_rows(host_arrays *h, int64_t tokens, int64_t rows) {
    for (int64_t r = tokens; r < rows; r++) {
        h->ids[r] = 0;
        h->types[r] = 0;
        h->pos[r] = 0;
    }
}

/* Tokens in batch order; padding cells point at their sequence's first row. */
static void pack_tokens(const lp_bert_model *m, const lp_bert_batch *b, host_arrays *h) {
    int64_t S = b->seq_len, row = 0;
    int32_t pad = (int32_t)m->cfg.pad_token_id;
    bool roberta = m->cfg.kind.family == LP_FAMILY_ROBERTA;
    for (int64_t i = 0; i < b->batch; i++) {
        h->first[i] = row;
        int32_t count = 0; /* RoBERTa numbers its non-pad tokens */
        for (int64_t s = 0; s < S; s++) {
            int64_t cell = i * S + s;
            int32_t id = b->input_ids[cell];
            if (roberta) count += id != pad;
            if (!b->attention_mask[cell]) continue;
            h->ids[row] = id;
            h->types[row] = b->token_type_ids ? b->token_type_ids[cell] : 0;
            h->pos[row] = roberta ? (id != pad ? pad + count : pad) : (int32_t)s;
            h->unpack[cell] = (int32_t)row;
            row++;
        }
        h->len[i] = row - h->first[i];
        for (int64_t s = 0; s < S; s++)
            if (!b->attention_mask[i * S + s]) h->unpack[i * S + s] = (int32_t)h->first[i];
    }
}

/* How many sequences from `i` share a bucket (see PAD_NUM). */
static int64_t bucket_size(const host_arrays *h, int64_t i, int64_t n) {
    int64_t longest = h->len[i], real = h->len[i] * h->len[i], k = 1;
    while (i + k < n) {
        int64_t len = h->len[i + k], top = len > longest ? len : longest;
        int64_t padded = (k + 1) * top * top;
        if (padded * PAD_DEN > (real + len * len) * PAD_NUM + (k + 1) * SLACK_CELLS * SLACK_CELLS) break;
        real += len * len;
        longest = top;
        k++;
    }
    return k;
}

static bool equal_lengths(const host_arrays *h, int64_t i, int64_t k) {
    for (int64_t j = 1; j < k; j++)
        if (h->len[i + j] != h->len[i]) return false;
    return true;
}

/* A host array as the backend's tensor (1-D or 2-D). */
static lp_status upload(lp_ctx *ctx, lp_arena *arena, void *host, lp_dtype dtype, int64_t rows,
                        int64_t cols, lp_tensor *out, lp_error *err) {
    lp_tensor t = lp_tensor_2d(host, dtype, rows, cols);
    return lp_backend_upload(ctx->backend, arena, &t, out, err);
}

/* Fills the gathered bucket's index arrays at gather/mask/scatter (host). */
static void bucket_indices(const host_arrays *h, int64_t i, int64_t k, int64_t longest,
                           int32_t *gather, uint8_t *mask, int32_t *scatter) {
    for (int64_t j = 0; j < k; j++) {
        int64_t first = h->first[i + j], len = h->len[i + j];
        for (int64_t s = 0; s < longest; s++) {
            gather[j * longest + s] = (int32_t)(first + (s < len ? s : 0));
            mask[j * longest + s] = s < len;
        }
        for (int64_t s = 0; s < len; s++) scatter[first - h->first[i] + s] = (int32_t)(j * longest + s);
    }
}

static lp_status make_buckets(lp_ctx *ctx, lp_arena *arena, const lp_bert_batch *b, host_arrays *h,
                              int64_t tokens, lp_bert_packing *p, lp_error *err) {
    p->buckets = calloc((size_t)b->batch + 1, sizeof *p->buckets);
    if (!p->buckets) return lp_fail(err, LP_ERR_NOMEM, "bert: out of memory for attention buckets");
    int64_t used = 0; /* cells of h->gather / h->mask taken */
    for (int64_t i = 0; i < b->batch;) {
        int64_t k = bucket_size(h, i, b->batch), longest = 0;
        for (int64_t j = 0; j < k; j++)
            if (h->len[i + j] > longest) longest = h->len[i + j];
        lp_bert_bucket *bk = &p->buckets[p->nbuckets++];
        bk->row0 = h->first[i];
        bk->rows = h->first[i + k - 1] + h->len[i + k - 1] - bk->row0;
        bk->count = k;
        bk->seq_len = longest;
        if (!equal_lengths(h, i, k)) {
            int32_t *g = h->gather + used, *sc = h->scatter + bk->row0;
            uint8_t *mk = h->mask + used;
            bucket_indices(h, i, k, longest, g, mk, sc);
            used += k * longest;
            lp_status st;
            if ((st = upload(ctx, arena, g, LP_I32, k, longest, &bk->gather, err)) ||
                (st = upload(ctx, arena, mk, LP_U8, k, longest, &bk->mask, err)) ||
                (st = upload(ctx, arena, sc, LP_I32, 1, bk->rows, &bk->scatter, err)))
                return st;
        }
        i += k;
    }
    if (p->rows > tokens) /* the filler rows: one sequence of their own */
        p->buckets[p->nbuckets++] = (lp_bert_bucket){.row0 = tokens,
                                                     .rows = p->rows - tokens,
                                                     .count = 1,
                                                     .seq_len = p->rows - tokens};
    return LP_OK;
}

lp_status lp_bert_pack(const lp_bert_model *m, lp_ctx *ctx, lp_arena *arena, const lp_bert_batch *b,
                       lp_bert_packing *p, lp_error *err) {
    memset(p, 0, sizeof *p);
    int64_t tokens = count_tokens(b), rows = lp_linear_plan_rows(tokens);
    host_arrays h = {0};
    lp_status st = alloc_host(b, rows, &h, &p->host_block, err);
    if (st) return st;
    pack_tokens(m, b, &h);
    fill_rows(&h, tokens, rows);
    p->rows = rows;
    if ((st = upload(ctx, arena, h.ids, LP_I32, 1, rows, &p->ids, err)) ||
        (st = upload(ctx, arena, h.pos, LP_I32, 1, rows, &p->pos, err)) ||
        (st = upload(ctx, arena, h.unpack, LP_I32, b->batch, b->seq_len, &p->unpack, err)))
        return st;
    if (m->type_emb.data && b->token_type_ids &&
        (st = upload(ctx, arena, h.types, LP_I32, 1, rows, &p->types, err)))
        return st;
    return make_buckets(ctx, arena, b, &h, tokens, p, err);
}

void lp_bert_packing_release(lp_bert_packing *p) {
    free(p->buckets);
    free(p->host_block);
    memset(p, 0, sizeof *p);
}

lp_tensor lp_bert_heads_view(const lp_tensor *t, int64_t row0, int64_t count, int64_t len,
                             int64_t heads) {
    int64_t H = t->shape[t->ndim - 1], d = H / heads;
    lp_tensor v = *t;
    v.data = (char *)t->data + (size_t)(row0 * H) * lp_dtype_size(t->dtype);
    v.ndim = 4;
    v.shape[0] = count, v.shape[1] = heads, v.shape[2] = len, v.shape[3] = d;
    v.stride[0] = len * H, v.stride[1] = d, v.stride[2] = H, v.stride[3] = 1;
    return v;
}

/* A packed [1, T, H] tensor as the [T, H] table lp_embedding gathers rows from. */
static lp_tensor rows_of(const lp_tensor *t) {
    lp_tensor r = *t;
    r.ndim = 2;
    r.shape[0] = t->shape[0] * t->shape[1], r.shape[1] = t->shape[2];
    r.stride[0] = t->shape[2], r.stride[1] = 1;
    return r;
}

static lp_status attend_gathered(const lp_bert_bucket *bk, lp_ctx *ctx, lp_arena *arena, int64_t heads,
                                 float scale, const lp_tensor *q, const lp_tensor *k,
                                 const lp_tensor *v, lp_tensor *out, lp_error *err) {
    int64_t H = q->shape[2], shape[3] = {bk->count, bk->seq_len, H};
    lp_arena_mark mark = lp_arena_get_mark(arena);
    lp_tensor qp, kp, vp, op, qr = rows_of(q), kr = rows_of(k), vr = rows_of(v);
    lp_status st;
    if ((st = lp_arena_tensor(arena, LP_F32, 3, shape, &qp, err)) ||
        (st = lp_arena_tensor(arena, LP_F32, 3, shape, &kp, err)) ||
        (st = lp_arena_tensor(arena, LP_F32, 3, shape, &vp, err)) ||
        (st = lp_arena_tensor(arena, LP_F32, 3, shape, &op, err)) ||
        (st = lp_embedding(ctx, &qr, &bk->gather, &qp, err)) ||
        (st = lp_embedding(ctx, &kr, &bk->gather, &kp, err)) ||
        (st = lp_embedding(ctx, &vr, &bk->gather, &vp, err)))
        return st;
    lp_tensor qh = lp_bert_heads_view(&qp, 0, bk->count, bk->seq_len, heads);
    lp_tensor kh = lp_bert_heads_view(&kp, 0, bk->count, bk->seq_len, heads);
    lp_tensor vh = lp_bert_heads_view(&vp, 0, bk->count, bk->seq_len, heads);
    lp_tensor oh = lp_bert_heads_view(&op, 0, bk->count, bk->seq_len, heads);
    lp_attention_mask mask = {.key_mask = &bk->mask, .causal = false};
    lp_tensor table = rows_of(&op);
    lp_tensor dst = *out; /* [1, rows, H]: the bucket's tokens */
    dst.data = (char *)out->data + (size_t)(bk->row0 * H) * lp_dtype_size(out->dtype);
    dst.shape[1] = bk->rows;
    if ((st = lp_attention(ctx, &qh, &kh, &vh, &mask, scale, &oh, err)) ||
        (st = lp_embedding(ctx, &table, &bk->scatter, &dst, err)))
        return st;
    lp_arena_rewind(arena, mark);
    return LP_OK;
}

lp_status lp_bert_attend_packed(const lp_bert_packing *p, lp_ctx *ctx, lp_arena *arena, int64_t heads,
                                float scale, const lp_tensor *q, const lp_tensor *k,
                                const lp_tensor *v, lp_tensor *out, lp_error *err) {
    for (int64_t i = 0; i < p->nbuckets; i++) {
        const lp_bert_bucket *bk = &p->buckets[i];
        lp_status st;
        if (bk->gather.data) {
            st = attend_gathered(bk, ctx, arena, heads, scale, q, k, v, out, err);
        } else { /* equal lengths: the packed rows are already [count, len, H] */
            int64_t len = bk->seq_len;
            lp_tensor qh = lp_bert_heads_view(q, bk->row0, bk->count, len, heads);
            lp_tensor kh = lp_bert_heads_view(k, bk->row0, bk->count, len, heads);
            lp_tensor vh = lp_bert_heads_view(v, bk->row0, bk->count, len, heads);
            lp_tensor oh = lp_bert_heads_view(out, bk->row0, bk->count, len, heads);
            st = lp_attention(ctx, &qh, &kh, &vh, NULL, scale, &oh, err);
        }
        if (st) return st;
    }
    return LP_OK;
}
