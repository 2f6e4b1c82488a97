/* Private to models/encoder*.c. */
#ifndef LP_MODELS_ENCODER_INTERNAL_H
#define LP_MODELS_ENCODER_INTERNAL_H

#include "models/encoder.h"
#include "tokenizer/tokenizer.h"

struct lp_encoder {
    lp_bert_model *model;
    lp_pooling pooling;
    lp_tokenizer *tok;                /* NULL when the directory has none */
    char tok_error[LP_ERROR_MSG_MAX]; /* why, for the text calls */
};

struct lp_encoder_session {
    const lp_encoder *enc;
    const lp_bert_model *model; /* enc->model, or view on a device backend */
    lp_bert_model *view;        /* device weights (lp_bert_for_backend); NULL on the CPU */
    lp_ctx ctx;
    lp_arena *arena; /* activations, in the backend's memory */
    lp_arena *host;  /* the batch's ids and mask, and copies of results: arena itself on a host backend */
    int max_batch;
    size_t *order; /* scratch: input indices sorted by length */
    size_t order_cap;
    /* text calls: the tokenizer's workspace and the token ids of a batch */
    lp_tok_workspace *ws;
    int32_t *ids, *types;
    size_t ids_cap, types_cap;
    lp_encoder_input *inputs;
    size_t inputs_cap;
};

/* Tokenizer loading and release, used by encoder.c's load/free. */
lp_status lp_encoder_load_tokenizer(lp_encoder *enc, const char *dir, lp_error *err);
void lp_encoder_text_release(lp_encoder_session *s);

#endif
