/* MarianMTModel (transformers' layout): a post-norm transformer encoder and
 * decoder with sinusoidal positions, scaled embeddings, final_logits_bias and
 * a tied (or separate) output projection. Used by models/translator.c; the
 * pieces are separate so tests can reach each one.
 *
 * marian_config.c   config.json + generation_config.json
 * marian_weights.c  model.safetensors -> f32 views (f16/bf16 converted once)
 * marian_forward.c  encoder pass, cross-attention K/V, one decoder step with a KV cache
 * marian_tokenizer.c MarianTokenizer: source.spm pieces -> vocab.json ids, and back
 * marian_generate.c greedy and beam search as transformers' generate() */
#ifndef LP_MODELS_MARIAN_H
#define LP_MODELS_MARIAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/arena.h"
#include "kernels/backend.h"
#include "kernels/context.h"
#include "kernels/ops.h"
#include "kernels/tensor.h"
#include "pretrained/safetensors.h"
#include "tokenizer/tokenizer.h"

#define LP_MARIAN_MAX_LAYERS 64
#define LP_MARIAN_MAX_BAD_WORDS 64

typedef struct lp_marian_config {
    int64_t vocab_size;
    int64_t d_model;
    int64_t encoder_layers, decoder_layers;
    int64_t encoder_heads, decoder_heads;
    int64_t encoder_ffn, decoder_ffn;
    int64_t max_positions;
    bool scale_embedding;
    bool shared_embeddings; /* share_encoder_decoder_embeddings */
    bool normalize_before;  /* pre-norm layers (mBART style): refused, Marian is post-norm */
    lp_activation act;      /* LP_ACT_COUNT stands for swish/silu */
    bool act_silu;
    int32_t pad_id, eos_id, decoder_start_id;
    /* generation defaults (generation_config.json, else config.json, else transformers') */
    int num_beams;
    int max_length;
    float length_penalty;
    bool early_stopping;
    bool renormalize_logits;
    int32_t forced_eos_id; /* -1: none */
    int32_t bad_words[LP_MARIAN_MAX_BAD_WORDS]; /* single-token bad words */
    int n_bad_words;
} lp_marian_config;

/* dir/config.json and (optional) dir/generation_config.json. */
lp_status lp_marian_config_load(const char *dir, lp_marian_config *cfg, lp_error *err);

typedef struct lp_marian_linear {
    lp_tensor weight, bias;
} lp_marian_linear;
typedef struct lp_marian_norm {
    lp_tensor gamma, beta;
} lp_marian_norm;

typedef struct lp_marian_attn {
    lp_marian_linear q, k, v, o;
    lp_marian_norm norm;
} lp_marian_attn;

typedef struct lp_marian_layer {
    lp_marian_attn self_attn;
    lp_marian_attn cross_attn; /* decoder only */
    lp_marian_linear fc1, fc2;
    lp_marian_norm ffn_norm;
} lp_marian_layer;

typedef struct lp_marian_model {
    lp_marian_config cfg;
    lp_safetensors *st;
    lp_tensor enc_embed, dec_embed, lm_head; /* [V, d] */
    lp_tensor final_logits_bias;             /* [V] */
    lp_tensor positions;                     /* [max_positions, d] sinusoidal */
    lp_marian_layer *enc, *dec;
    void **owned;
    size_t n_owned, cap_owned;
} lp_marian_model;

lp_status lp_marian_load(const char *dir, lp_marian_model **out, lp_error *err);
void lp_marian_free(lp_marian_model *m);

/* The model as a session on backend b runs it. On a backend whose tensors
 * live in device memory, *view is a copy of m's description whose weights are
 * the backend's device copies (lp_backend_weight: uploaded once per process,
 * shared by every session); free it with lp_marian_free_view before m. On a
 * host backend *view is NULL: use m. (marian_device.c) */
lp_status lp_marian_for_backend(const lp_marian_model *m, const lp_backend *b, lp_marian_model **view,
                                lp_error *err);
void lp_marian_free_view(lp_marian_model *view);
/* Drops the device copies of m's weights from every backend that holds them
 * (lp_marian_free calls it: a later model may get the same host addresses). */
void lp_marian_forget_device_weights(lp_marian_model *m);

/* Encoder: ids [B, S] i32 (padding anywhere masked by key_mask u8 [B, S]) ->
 * out [B, S, d] (caller-allocated). */
lp_status lp_marian_encode(const lp_marian_model *m, lp_ctx *ctx, lp_arena *arena,
                           const lp_tensor *ids, const lp_tensor *key_mask, lp_tensor *out,
                           lp_error *err);

/* Cross-attention keys and values of every decoder layer from the encoder
 * output: ck[l], cv[l] are [B, S, d] each (caller-allocated). */
lp_status lp_marian_cross_kv(const lp_marian_model *m, lp_ctx *ctx, const lp_tensor *enc_out,
                             lp_tensor *ck, lp_tensor *cv, lp_error *err);

/* The decoder's state for N rows (beams) of `beams` rows per sentence. The
 * caches, ck, cv and enc_mask are on ctx's backend's device; tokens is host
 * memory. */
typedef struct lp_marian_step {
    int64_t rows;      /* N = sentences * beams */
    int64_t beams;     /* rows per sentence (cross-attention is shared by them) */
    int64_t past;      /* tokens already in the cache */
    const int32_t *tokens; /* [N] the newest token of each row (host) */
    /* per layer: row-major [N, Tmax, d] caches (row stride Tmax*d), or, when
     * time_major (what device backends need: a step's rows are then one
     * contiguous block the projections write into), [Tmax, rows_cap, d] */
    float **self_k, **self_v;
    int64_t tmax;
    bool time_major;
    int64_t rows_cap; /* time_major: rows per position (>= N) */
    const lp_tensor *ck, *cv; /* per layer: [N / beams, S, d] */
    const lp_tensor *enc_mask; /* u8 [N / beams, S] */
} lp_marian_step;

/* One decoder step: appends this step's keys/values to the cache and writes
 * logits [N, V] (final_logits_bias added). */
lp_status lp_marian_decode_step(const lp_marian_model *m, lp_ctx *ctx, lp_arena *arena,
                                const lp_marian_step *s, lp_tensor *logits, lp_error *err);

/* ---- MarianTokenizer ------------------------------------------------------ */

typedef struct lp_marian_tok lp_marian_tok;

/* dir/source.spm, dir/target.spm, dir/vocab.json. */
lp_status lp_marian_tok_load(const char *dir, lp_marian_tok **out, lp_error *err);
void lp_marian_tok_free(lp_marian_tok *t);
size_t lp_marian_tok_vocab_size(const lp_marian_tok *t);
int32_t lp_marian_tok_id(const lp_marian_tok *t, const char *piece, size_t len); /* -1: none */
/* As MarianTokenizer(text).input_ids (eos appended). ws: the caller's workspace. */
lp_status lp_marian_tok_encode(const lp_marian_tok *t, lp_tok_workspace *ws, const char *text,
                               size_t len, int32_t **ids, size_t *n, lp_error *err);
/* As MarianTokenizer.decode(ids, skip_special_tokens=True). */
lp_status lp_marian_tok_decode(const lp_marian_tok *t, const int32_t *ids, size_t n, char **text,
                               size_t *text_len, lp_error *err);

/* ---- generation ----------------------------------------------------------- */

typedef struct lp_marian_gen_options {
    int num_beams;
    int max_length; /* decoder start included */
    float length_penalty;
    bool early_stopping;
} lp_marian_gen_options;

typedef struct lp_marian_hyp {
    int32_t *ids; /* malloc'd, without the decoder start token */
    size_t n;
    float score;
    bool hit_max_length;
} lp_marian_hyp;

/* Translates B sources (ids with eos, lengths lens; host memory) together.
 * out[B]. On a device backend (m the device view, arena in device memory)
 * the network runs there and the search's bookkeeping (scores, beams, the
 * logits processors) on the host, over a copy of each step's logits. */
lp_status lp_marian_generate(const lp_marian_model *m, lp_ctx *ctx, lp_arena *arena,
                             const int32_t *const *src, const size_t *lens, size_t B,
                             const lp_marian_gen_options *o, lp_marian_hyp *out, lp_error *err);

#endif
