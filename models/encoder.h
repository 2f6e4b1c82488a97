/* The encoder task API the server and the CLI use: load a model directory once,
 * then classify or embed batches from any number of worker threads, each with
 * its own session.
 *
 *   lp_encoder *enc;  lp_encoder_load("models/minilm", &enc, &err);   // once
 *   lp_encoder_session *s;  lp_encoder_session_create(enc, pool, &s, &err); // per worker
 *   lp_encoder_embed_ids(s, inputs, n, vectors, &err);                // per batch
 *
 * A loaded lp_encoder is immutable. A session owns the worker's lp_ctx and
 * activation arena: the first batches grow the arena, later batches of the same
 * or smaller size allocate nothing. Batches of mixed lengths are sorted by
 * length and run max_batch inputs a pass with their real tokens packed end to
 * end (models/bert_packed.c: no padding in the linear layers, attention per
 * bucket of similar lengths), so results do not depend on what else is in
 * the batch (up to float rounding). */
#ifndef LP_MODELS_ENCODER_H
#define LP_MODELS_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/threadpool.h"
#include "models/bert.h"
#include "models/pooling.h"

typedef struct lp_encoder lp_encoder;
typedef struct lp_encoder_session lp_encoder_session;

/* Loads config.json, model.safetensors and (for embeddings) the
 * sentence-transformers modules from `dir`. */
lp_status lp_encoder_load(const char *dir, lp_encoder **out, lp_error *err);
void lp_encoder_free(lp_encoder *enc);

const lp_bert_config *lp_encoder_config(const lp_encoder *enc);
const lp_bert_model *lp_encoder_model(const lp_encoder *enc);
const lp_pooling *lp_encoder_pooling(const lp_encoder *enc);
/* True when the checkpoint has a classification head. */
bool lp_encoder_can_classify(const lp_encoder *enc);
int64_t lp_encoder_num_labels(const lp_encoder *enc);
const char *lp_encoder_label(const lp_encoder *enc, int64_t index);
/* Width of an embedding (the pooled width). */
int64_t lp_encoder_embedding_dim(const lp_encoder *enc);
/* Most tokens (specials included) an input may have: the model's positions,
 * or sentence-transformers' max_seq_length when smaller. */
int64_t lp_encoder_max_tokens(const lp_encoder *enc);

/* pool: the worker's thread pool (borrowed; NULL runs on the calling thread).
 * max_batch: the most sequences one forward pass takes (<= 0: 32). */
lp_status lp_encoder_session_create(const lp_encoder *enc, lp_threadpool *pool, int max_batch,
                                    lp_encoder_session **out, lp_error *err);
/* The same on a given backend (NULL = lp_backend_cpu()), e.g. the CUDA one
 * from lp_backend_get; the tensors the session hands it live where
 * backend->device says: on a device backend the weights are the backend's
 * device copies (uploaded once per process, shared by every session), the
 * activations live in device memory, and the logits / hidden states the
 * session reads back are copied to the host. */
lp_status lp_encoder_session_create_on(const lp_encoder *enc, const lp_backend *backend,
                                       lp_threadpool *pool, int max_batch,
                                       lp_encoder_session **out, lp_error *err);
/* Prepares the session's GEMMs for batches up to its max_batch inputs of the
 * model's longest input (lp_bert_warm): for a server, before it says ready. */
lp_status lp_encoder_session_warm(lp_encoder_session *s, lp_error *err);
void lp_encoder_session_free(lp_encoder_session *s);
/* The session's op context (e.g. to turn the per-op profile on). */
lp_ctx *lp_encoder_session_ctx(lp_encoder_session *s);
/* Calls to malloc made by the session's activation arena so far (for tests). */
size_t lp_encoder_session_system_allocs(const lp_encoder_session *s);

/* One tokenized input, specials included ([CLS] ... [SEP] ...). */
typedef struct lp_encoder_input {
    const int32_t *ids;
    const int32_t *type_ids; /* NULL: all zeros */
    int64_t len;             /* 1 .. lp_encoder_max_tokens */
} lp_encoder_input;

/* logits: n x num_labels floats, in input order. */
lp_status lp_encoder_classify_ids(lp_encoder_session *s, const lp_encoder_input *inputs, size_t n,
                                  float *logits, lp_error *err);

/* embeddings: n x lp_encoder_embedding_dim floats, in input order, pooled and
 * normalised as the model's sentence-transformers modules say. */
lp_status lp_encoder_embed_ids(lp_encoder_session *s, const lp_encoder_input *inputs, size_t n,
                               float *embeddings, lp_error *err);

/* ---- text: the tokenizer from the model directory ---------------------- */

/* The directory's tokenizer (tokenizer.json, else vocab.txt, else a
 * SentencePiece model) is loaded with the model. When there is none, or it
 * cannot be loaded, or its vocabulary is larger than the model's, the model
 * still loads: the token-id calls work and the text calls fail with the reason,
 * which lp_encoder_tokenizer_error gives (NULL when the tokenizer is fine). */
bool lp_encoder_has_tokenizer(const lp_encoder *enc);
const char *lp_encoder_tokenizer_error(const lp_encoder *enc);

/* One text, or a pair (pair != NULL: BERT's [CLS] a [SEP] b [SEP], token types 0/1). */
typedef struct lp_encoder_text {
    const char *text;
    size_t len;
    const char *pair;
    size_t pair_len;
} lp_encoder_text;

/* As the token-id calls, after tokenizing with special tokens and truncating
 * (longest first) to lp_encoder_max_tokens. truncated (n entries, may be NULL)
 * says which inputs lost tokens. Empty texts are fine ([CLS] [SEP]). */
lp_status lp_encoder_classify_text(lp_encoder_session *s, const lp_encoder_text *inputs, size_t n,
                                   float *logits, bool *truncated, lp_error *err);
lp_status lp_encoder_embed_text(lp_encoder_session *s, const lp_encoder_text *inputs, size_t n,
                                float *embeddings, bool *truncated, lp_error *err);

/* Scores from one row of logits: softmax (single-label), sigmoid
 * (multi_label_classification) or the logits themselves (regression).
 * Returns the index of the top label. */
int64_t lp_encoder_scores(const lp_encoder *enc, const float *logits, float *scores);

#endif
