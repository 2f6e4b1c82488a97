/* Encoder tasks on text: the tokenizer from the model directory, truncation to
 * what the model takes, then the token-id tasks of encoder.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/encoder_internal.h"

lp_status lp_encoder_load_tokenizer(lp_encoder *enc, const char *dir, lp_error *err) {
    /* Without usable tokenizer files the token-id calls still work (tests, callers
     * that tokenize themselves); the text calls fail with this reason. */
    lp_error terr = {0};
    lp_status st = lp_tok_load(dir, &enc->tok, &terr);
    if (st == LP_ERR_NOMEM) return lp_fail(err, st, "tokenizer: %s", terr.msg);
    if (st) {
        enc->tok = NULL;
        snprintf(enc->tok_error, sizeof enc->tok_error, "%s", terr.msg);
        return LP_OK;
    }
    size_t vocab = lp_tok_vocab_size(enc->tok);
    const lp_bert_config *c = lp_encoder_config(enc);
    if ((int64_t)vocab > c->vocab_size) {
        snprintf(enc->tok_error, sizeof enc->tok_error,
                 "%s: the tokenizer has %zu tokens but the model's vocab_size is %lld: they do "
                 "not belong together",
                 dir, vocab, (long long)c->vocab_size);
        lp_tok_free(enc->tok);
        enc->tok = NULL;
    }
    return LP_OK;
}

const char *lp_encoder_tokenizer_error(const lp_encoder *enc) {
    return enc->tok ? NULL : enc->tok_error;
}

bool lp_encoder_has_tokenizer(const lp_encoder *enc) { return enc->tok != NULL; }

void lp_encoder_text_release(lp_encoder_session *s) {
    lp_tok_workspace_destroy(s->ws);
    free(s->ids);
    free(s->types);
    free(s->inputs);
}

static lp_status grow(void **p, size_t *cap, size_t want, size_t elem, lp_error *err) {
    if (want <= *cap) return LP_OK;
    size_t n = *cap ? *cap : 256;
    while (n < want) n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) return lp_fail(err, LP_ERR_NOMEM, "encoder: out of memory tokenizing");
    *p = q;
    *cap = n;
    return LP_OK;
}

/* Tokenizes the batch into the session's buffers: specials added, truncated
 * (longest_first, as transformers) to lp_encoder_max_tokens, never padded.
 * tokenizer.json's own truncation/padding are ignored, as transformers and
 * sentence-transformers ignore them when they call the tokenizer. */
static lp_status tokenize(lp_encoder_session *s, const lp_encoder_text *in, size_t n,
                          bool *truncated, lp_error *err) {
    const lp_encoder *enc = s->enc;
    if (!enc->tok)
        return lp_fail(err, LP_ERR_INVALID_ARG, "this model has no usable tokenizer: %s",
                       enc->tok_error);
    if (!s->ws && !(s->ws = lp_tok_workspace_create()))
        return lp_fail(err, LP_ERR_NOMEM, "encoder: out of memory");
    lp_tok_options opts = lp_tok_default_options(enc->tok);
    opts.add_special_tokens = true;
    opts.padding.enabled = false;
    opts.truncation.enabled = true;
    opts.truncation.max_length = (size_t)lp_encoder_max_tokens(enc);
    opts.truncation.stride = 0;
    opts.truncation.strategy = LP_TOK_TRUNC_LONGEST_FIRST;
    opts.truncation.direction = LP_TOK_RIGHT;
    lp_status st = grow((void **)&s->inputs, &s->inputs_cap, n, sizeof *s->inputs, err);
    if (st) return st;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        lp_tok_encoding e;
        st = lp_tok_encode(enc->tok, s->ws, in[i].text, in[i].len, in[i].pair, in[i].pair_len,
                           &opts, &e, err);
        if (st) return lp_fail(err, st, "input %zu", i);
        if (e.n == 0) return lp_fail(err, LP_ERR_INVALID_ARG, "input %zu: the tokenizer produced no tokens", i);
        if ((st = grow((void **)&s->ids, &s->ids_cap, used + e.n, sizeof *s->ids, err)) ||
            (st = grow((void **)&s->types, &s->types_cap, used + e.n, sizeof *s->types, err)))
            return st;
        memcpy(s->ids + used, e.ids, e.n * sizeof *s->ids);
        memcpy(s->types + used, e.type_ids, e.n * sizeof *s->types);
        /* pointers are fixed up after the last realloc */
        s->inputs[i] = (lp_encoder_input){NULL, NULL, (int64_t)e.n};
        if (truncated) truncated[i] = e.truncated;
        used += e.n;
    }
    bool types = lp_encoder_config(enc)->type_vocab_size > 0;
    for (size_t i = 0, at = 0; i < n; i++) {
        s->inputs[i].ids = s->ids + at;
        s->inputs[i].type_ids = types ? s->types + at : NULL;
        at += (size_t)s->inputs[i].len;
    }
    return LP_OK;
}

lp_status lp_encoder_classify_text(lp_encoder_session *s, const lp_encoder_text *in, size_t n,
                                   float *logits, bool *truncated, lp_error *err) {
    lp_error_clear(err);
    if (n == 0) return LP_OK;
    lp_status st = tokenize(s, in, n, truncated, err);
    return st ? st : lp_encoder_classify_ids(s, s->inputs, n, logits, err);
}

lp_status lp_encoder_embed_text(lp_encoder_session *s, const lp_encoder_text *in, size_t n,
                                float *embeddings, bool *truncated, lp_error *err) {
    lp_error_clear(err);
    if (n == 0) return LP_OK;
    lp_status st = tokenize(s, in, n, truncated, err);
    return st ? st : lp_encoder_embed_ids(s, s->inputs, n, embeddings, err);
}
