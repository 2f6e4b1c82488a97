/* The BERT-family encoder (BERT, RoBERTa / XLM-RoBERTa, DistilBERT) in fp32,
 * written against kernels/ops.h only, following transformers' modeling_bert.py,
 * modeling_roberta.py and modeling_distilbert.py.
 *
 * Weights are f32 zero-copy views of the mapped model.safetensors; f16 and bf16
 * checkpoints are converted to f32 once at load (the model then owns that copy).
 * A loaded model is immutable: any number of threads may run forward passes on
 * it at once, each with its own lp_ctx and lp_arena. */
#ifndef LP_MODELS_BERT_H
#define LP_MODELS_BERT_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/arena.h"
#include "kernels/backend.h"
#include "kernels/context.h"
#include "kernels/ops.h"
#include "models/registry.h"

/* What config.json says, normalised across the three families' spellings. */
typedef struct lp_bert_config {
    lp_model_kind kind;
    char model_type[32];
    int64_t vocab_size;
    int64_t hidden_size;
    int64_t num_layers;
    int64_t num_heads;
    int64_t intermediate_size;
    lp_activation hidden_act;
    float layer_norm_eps;
    int64_t max_position_embeddings;
    int64_t type_vocab_size; /* 0: no token-type embeddings (DistilBERT) */
    int64_t pad_token_id;
    int64_t num_labels;      /* classification heads; 0 for a bare encoder */
    char **id2label;         /* num_labels strings (LABEL_i when the config has none) */
    bool multi_label;        /* problem_type "multi_label_classification": sigmoid scores */
    bool regression;         /* problem_type "regression" (or num_labels 1) */
} lp_bert_config;

/* Parses config.json text; `label` (the path) names the file in messages.
 * Refuses what cannot be run (position_embedding_type other than absolute,
 * an unknown hidden_act, ...) naming the field and the value. */
lp_status lp_bert_config_parse(const char *json, const char *label, lp_bert_config *out,
                               lp_error *err);
lp_status lp_bert_config_load(const char *path, lp_bert_config *out, lp_error *err);
void lp_bert_config_release(lp_bert_config *cfg);

/* The largest number of tokens (specials included) a sequence may hold: the
 * position table size, less RoBERTa's padding_idx + 1 offset. */
int64_t lp_bert_max_tokens(const lp_bert_config *cfg);

typedef struct lp_bert_model lp_bert_model;

/* Loads `dir`/config.json and `dir`/model.safetensors. Missing tensors, wrong
 * shapes and unsupported dtypes are refused naming the tensor and the file. */
lp_status lp_bert_load(const char *dir, lp_bert_model **out, lp_error *err);
/* Same, with a config already parsed (ownership of cfg's strings moves in). */
lp_status lp_bert_load_with_config(const char *dir, lp_bert_config *cfg, lp_bert_model **out,
                                   lp_error *err);
void lp_bert_free(lp_bert_model *model);

/* The model as a session on backend b runs it. On a backend whose tensors
 * live in device memory, *view is a copy of the model's description whose
 * weights are the backend's device copies (lp_backend_weight: uploaded once
 * per process, shared by every session) and whose linears run as lp_linear
 * (the linear plans prepare host weights only); free it with
 * lp_bert_free_view before the model. On a host backend *view is NULL: use
 * the model itself. (bert_device.c) */
lp_status lp_bert_for_backend(const lp_bert_model *model, const lp_backend *b, lp_bert_model **view,
                              lp_error *err);
void lp_bert_free_view(lp_bert_model *view);
/* Drops the device copies of the model's weights from every backend that
 * holds them (lp_bert_free calls it: a later model may get the same host
 * addresses, mapped or malloc'd). */
void lp_bert_forget_device_weights(lp_bert_model *model);

const lp_bert_config *lp_bert_get_config(const lp_bert_model *model);
/* True when the checkpoint's weights were f16/bf16 and were converted at load. */
bool lp_bert_converted_at_load(const lp_bert_model *model);

/* One padded batch: B sequences of S positions, right-padded. */
typedef struct lp_bert_batch {
    int64_t batch, seq_len;
    const int32_t *input_ids;      /* [B, S]; padding positions hold pad_token_id */
    const int32_t *token_type_ids; /* [B, S] or NULL (all zeros) */
    const uint8_t *attention_mask; /* [B, S]: 1 = token, 0 = padding */
} lp_bert_batch;

/* The last hidden state, [B, S, hidden] f32, allocated in `arena` (rows of
 * padding positions are computed but meaningless). The batch's arrays are
 * host memory; the arena's memory and the result are on ctx's backend's
 * device (on a device backend the model is the view lp_bert_for_backend
 * made, and the ids, types and mask are copied in). */
lp_status lp_bert_forward(const lp_bert_model *model, lp_ctx *ctx, lp_arena *arena,
                          const lp_bert_batch *batch, lp_tensor *hidden, lp_error *err);

/* Prepares the CPU GEMMs a pass of up to max_rows tokens will run (packs
 * every layer's linear weights, builds oneDNN's primitives for every packed
 * row count up to max_rows on ctx's threads), so that neither the first
 * requests' latency nor the process's memory changes with traffic later.
 * Computes nothing; LP_OK at once on backends without prepared forms. */
lp_status lp_bert_warm(const lp_bert_model *model, lp_ctx *ctx, int64_t max_rows, lp_error *err);

/* The classification head on a last hidden state [B, S, hidden]: logits
 * [B, num_labels], allocated in `arena`. BERT: pooler (tanh) -> classifier;
 * RoBERTa: classifier.dense -> tanh -> classifier.out_proj on token 0;
 * DistilBERT: pre_classifier -> ReLU -> classifier on token 0. */
lp_status lp_bert_classify(const lp_bert_model *model, lp_ctx *ctx, lp_arena *arena,
                           const lp_tensor *hidden, lp_tensor *logits, lp_error *err);

#endif
