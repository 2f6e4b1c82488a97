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

#endif
