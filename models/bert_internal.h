/* Private to models/bert_*.c: the loaded weights. */
#ifndef LP_MODELS_BERT_INTERNAL_H
#define LP_MODELS_BERT_INTERNAL_H

#include "kernels/linear_plan.h"
#include "models/bert.h"
#include "pretrained/safetensors.h"

typedef struct lp_bert_linear {
    lp_tensor weight;     /* [out, in] */
    lp_tensor bias;       /* [out] */
    lp_linear_plan *plan; /* the encoder layers' linears run through it; NULL for the head */
} lp_bert_linear;

typedef struct lp_bert_norm {
    lp_tensor gamma, beta; /* [hidden] */
} lp_bert_norm;

typedef struct lp_bert_layer {
    lp_bert_linear query, key, value, attn_out;
    lp_bert_norm attn_norm; /* after attention + residual */
    lp_bert_linear ffn_in, ffn_out;
    lp_bert_norm ffn_norm;  /* after the feed-forward + residual */
} lp_bert_layer;

struct lp_bert_model {
    lp_bert_config cfg;
    lp_safetensors *st;
    lp_tensor word_emb, pos_emb, type_emb; /* type_emb.data NULL when absent */
    lp_bert_norm emb_norm;
    lp_bert_layer *layers;
    /* classification head: BERT pooler.dense -> classifier; RoBERTa
     * classifier.dense -> classifier.out_proj; DistilBERT pre_classifier -> classifier */
    lp_bert_linear head_dense, head_out;
    lp_activation head_act; /* between the two */
    /* f16/bf16 checkpoints: the f32 copies, freed with the model */
    void **owned;
    size_t n_owned, cap_owned;
};

/* A padded batch's real tokens end to end, for a forward pass that computes
 * no padding (bert_packed.c). Tensors are on the pass's backend. */
typedef struct lp_bert_bucket {
    int64_t row0, rows;     /* its tokens: packed rows [row0, row0 + rows) */
    int64_t count, seq_len; /* its sequences and the longest of them */
    /* data NULL when every sequence has seq_len tokens (attention on a view);
     * else gather [count, seq_len] i32: the packed row of each padded cell,
     * mask [count, seq_len] u8, scatter [1, rows] i32: each token's cell */
    lp_tensor gather, mask, scatter;
} lp_bert_bucket;

typedef struct lp_bert_packing {
    int64_t rows;              /* the tokens, then filler up to lp_linear_plan_rows */
    lp_tensor ids, types, pos; /* [1, rows] i32; types data NULL when unused */
    lp_tensor unpack;          /* [B, S] i32: the packed row of each cell (padding: its row 0) */
    lp_bert_bucket *buckets;   /* host array, in batch order */
    int64_t nbuckets;
    void *host_block;          /* the index arrays, host side */
} lp_bert_packing;

/* lp_bert_forward computing every cell, padding included, with the key mask
 * in attention: what it does when packing does not pay; tests compare the two. */
lp_status lp_bert_forward_padded(const lp_bert_model *m, lp_ctx *ctx, lp_arena *arena,
                                 const lp_bert_batch *b, lp_tensor *hidden, lp_error *err);
/* Whether to pack: some padding or an odd row count, and no sequence without tokens. */
bool lp_bert_should_pack(const lp_bert_batch *b);
lp_status lp_bert_pack(const lp_bert_model *m, lp_ctx *ctx, lp_arena *arena, const lp_bert_batch *b,
                       lp_bert_packing *p, lp_error *err);
void lp_bert_packing_release(lp_bert_packing *p);
/* Rows [row0, row0 + count * len) of a [..., H] tensor of dense rows as
 * [count, heads, len, H / heads]: the attention view, no copy. */
lp_tensor lp_bert_heads_view(const lp_tensor *t, int64_t row0, int64_t count, int64_t len,
                             int64_t heads);
/* Self-attention of packed q, k, v [1, rows, H] into out, per bucket. */
lp_status lp_bert_attend_packed(const lp_bert_packing *p, lp_ctx *ctx, lp_arena *arena, int64_t heads,
                                float scale, const lp_tensor *q, const lp_tensor *k,
                                const lp_tensor *v, lp_tensor *out, lp_error *err);

#endif
