/* Sentence embeddings from an encoder's last hidden state, as
 * sentence-transformers' Pooling and Normalize modules compute them.
 *
 * The layout: modules.json lists the modules in order (Transformer, Pooling,
 * optionally Normalize); the Pooling module's directory holds config.json with
 * pooling_mode_cls_token / _mean_tokens / _max_tokens / _mean_sqrt_len_tokens.
 * Several modes concatenate in sentence-transformers' order: cls, max, mean,
 * mean_sqrt_len. A directory without modules.json pools by the mean of the
 * tokens and does not normalise (the common default for a bare BertModel). */
#ifndef LP_MODELS_POOLING_H
#define LP_MODELS_POOLING_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/status.h"
#include "kernels/tensor.h"

typedef struct lp_pooling {
    bool cls, max, mean, mean_sqrt_len;
    bool normalize;         /* a Normalize module follows: L2, as F.normalize */
    bool sentence_transformers; /* read from modules.json */
    int64_t max_seq_length; /* sentence_bert_config.json's max_seq_length; 0 = none */
} lp_pooling;

/* Reads modules.json, <pooling dir>/config.json and sentence_bert_config.json
 * from `dir`; refuses modules lepton cannot run, naming them. */
lp_status lp_pooling_load(const char *dir, int64_t hidden_size, lp_pooling *out, lp_error *err);

/* The pooled width for a hidden size. */
int64_t lp_pooling_dim(const lp_pooling *p, int64_t hidden_size);

/* hidden [B, S, H] contiguous f32 (CPU), mask u8 [B, S] (1 = token);
 * out: B rows of lp_pooling_dim floats. A sequence with no tokens pools to zeros. */
lp_status lp_pooling_apply(const lp_pooling *p, const lp_tensor *hidden, const uint8_t *mask,
                           float *out, lp_error *err);

#endif
