/* The public entry points: workspaces, options, encode (single and batch),
 * vocabulary lookups. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/internal.h"
#include "tokenizer/spm.h"

/* Per-call scratch is bounded so that a hostile tokenizer file (normalizers
 * that multiply the text, stride windows crossed with pair windows) fails
 * with an error instead of exhausting memory; a megabyte line needs well under
 * a tenth of this. */
#define WORKSPACE_LIMIT ((size_t)1 << 30)

lp_tok_workspace *lp_tok_workspace_create(void) {
    lp_tok_workspace *ws = calloc(1, sizeof *ws);
    if (ws) ws->arena.limit = WORKSPACE_LIMIT;
    return ws;
}

void lp_tok_workspace_destroy(lp_tok_workspace *ws) {
    if (!ws) return;
    ta_free(&ws->arena);
    free(ws->nb_s.v);
    free(ws->nb_al.v);
    free(ws->toks.v);
    free(ws->splits[0].v);
    free(ws->splits[1].v);
    free(ws->u32a.v);
    free(ws->u32b.v);
    free(ws->dbl.v);
    free(ws->u64a.v);
    free(ws->text.v);
    free(ws->matches.v);
    free(ws->charidx.v);
    free(ws->cache);
    free(ws->cache_keys.v);
    free(ws->cache_toks.v);
    free(ws);
}

lp_tok_options lp_tok_default_options(const lp_tokenizer *tok) {
    if (!tok) {
        lp_tok_options o;
        memset(&o, 0, sizeof o);
        o.add_special_tokens = true;
        return o;
    }
    return tok->defaults;
}

size_t lp_tok_vocab_size(const lp_tokenizer *tok) {
    /* HF get_vocab_size(with_added_tokens=true): model size + added tokens not
     * already in the model. */
    size_t n = tok->model.vocab.count;
    for (size_t i = 0; i < tok->nadded; i++)
        if (tok_vocab_get(&tok->model.vocab, tok->added[i].content, tok->added[i].len) < 0) n++;
    return n;
}

int32_t lp_tok_token_to_id(const lp_tokenizer *tok, const char *token, size_t len) {
    int32_t id = tok_vocab_get(&tok->added_vocab, token, len);
    if (id >= 0) return id;
    return tok_vocab_get(&tok->model.vocab, token, len);
}

const char *lp_tok_id_to_token(const lp_tokenizer *tok, int32_t id, size_t *len) {
    if (id < 0) return NULL;
    const tok_added *a = tok_added_by_id(tok, id);
    if (a) {
        if (len) *len = a->len;
        return a->content;
    }
    return tok_vocab_str(&tok->model.vocab, (uint32_t)id, len);
}

size_t lp_tok_num_special_tokens_to_add(const lp_tokenizer *tok, bool pair) {
    return tok_post_added(tok->post, pair);
}

/* Valid UTF-8 as is; anything else repaired into the workspace. */
static lp_status prepare_text(lp_tok_workspace *ws, const char **text, size_t *len, lp_error *err) {
    if (!*text) {
        if (*len) return lp_fail(err, LP_ERR_INVALID_ARG, "text is NULL but its length is %zu", *len);
        *text = "";
        return LP_OK;
    }
    if (lp_tok_utf8_valid(*text, *len)) return LP_OK;
    size_t n = lp_tok_utf8_repaired_len(*text, *len);
    char *buf = ta_alloc(&ws->arena, n + 1);
    if (!buf) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    lp_tok_utf8_repair(*text, *len, buf);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return LP_OK;
}

static lp_status encode_no_pad(const lp_tokenizer *tok, lp_tok_workspace *ws, const char *text,
                               size_t len, const char *pair, size_t pair_len,
                               const lp_tok_options *o, lp_tok_encoding *out, lp_error *err) {
    lp_status st = prepare_text(ws, &text, &len, err);
    if (st) return st;
    if (pair) {
        st = prepare_text(ws, &pair, &pair_len, err);
        if (st) return st;
    }
    tok_enc encs[2];
    size_t n = pair ? 2 : 1;
    lp_status (*seq)(const lp_tokenizer *, lp_tok_workspace *, const char *, size_t, uint32_t,
                     tok_enc *, lp_error *) = tok->spm ? tok_spm_encode_sequence : tok_encode_sequence;
    st = seq(tok, ws, text, len, 0, &encs[0], err);
    if (st) return st;
    if (pair) {
        st = seq(tok, ws, pair, pair_len, 1, &encs[1], err);
        if (st) return st;
    }
    if (o->truncation.enabled) {
        lp_tok_truncation t = o->truncation;
        size_t added = tok_post_added(tok->post, pair != NULL);
        if (o->add_special_tokens && added > 0) {
            if (t.max_length < added)
                return lp_fail(err, LP_ERR_INVALID_ARG,
                               "max_length %zu is smaller than the %zu special tokens the "
                               "tokenizer adds",
                               t.max_length, added);
            t.max_length -= added;
        }
        st = tok_truncate_encodings(&ws->arena, &encs[0], pair ? &encs[1] : NULL, &t, err);
        if (st) return st;
    }
    return tok_post_process(tok->post, &ws->arena, encs, n, o->add_special_tokens, out, err);
}

static size_t pad_target(const lp_tok_padding *p, size_t longest) {
    size_t t = p->batch_longest ? longest : p->length;
    if (p->pad_to_multiple_of > 0 && t % p->pad_to_multiple_of)
        t += p->pad_to_multiple_of - t % p->pad_to_multiple_of;
    return t;
}

lp_status lp_tok_encode(const lp_tokenizer *tok, lp_tok_workspace *ws, const char *text,
                        size_t len, const char *pair, size_t pair_len,
                        const lp_tok_options *opts, lp_tok_encoding *out, lp_error *err) {
    if (!tok || !ws || !out) return lp_fail(err, LP_ERR_INVALID_ARG, "lp_tok_encode: NULL argument");
    lp_tok_options o = opts ? *opts : tok->defaults;
    ta_reset(&ws->arena);
    lp_status st = encode_no_pad(tok, ws, text, len, pair, pair_len, &o, out, err);
    if (st) return st;
    if (o.padding.enabled && !tok_enc_pad(&ws->arena, out, pad_target(&o.padding, out->n), &o.padding))
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    return LP_OK;
}

/* ------------------------------------------------------------------ batch */

/* Deep copy of an encoding (token strings included) into `a`, so that a
 * batch result outlives the workspace that computed it. */
static bool copy_enc(tok_arena *a, lp_tok_encoding *dst, const lp_tok_encoding *src) {
    if (!tok_enc_alloc(a, dst, src->n)) return false;
    size_t n = src->n, bytes = 0;
    memcpy(dst->ids, src->ids, n * sizeof *dst->ids);
    memcpy(dst->type_ids, src->type_ids, n * sizeof *dst->type_ids);
    memcpy(dst->word_ids, src->word_ids, n * sizeof *dst->word_ids);
    memcpy(dst->offsets, src->offsets, n * sizeof *dst->offsets);
    memcpy(dst->token_lens, src->token_lens, n * sizeof *dst->token_lens);
    memcpy(dst->special_mask, src->special_mask, n);
    memcpy(dst->attention_mask, src->attention_mask, n);
    for (size_t i = 0; i < n; i++) bytes += src->token_lens[i];
    char *s = ta_alloc(a, bytes + 1);
    if (!s) return false;
    for (size_t i = 0; i < n; i++) {
        memcpy(s, src->tokens[i], src->token_lens[i]);
        dst->tokens[i] = s;
        s += src->token_lens[i];
    }
    dst->truncated = src->truncated;
    dst->n_overflowing = src->n_overflowing;
    if (src->n_overflowing) {
        dst->overflowing = ta_alloc(a, src->n_overflowing * sizeof *dst->overflowing);
        if (!dst->overflowing) return false;
        for (size_t i = 0; i < src->n_overflowing; i++)
            if (!copy_enc(a, &dst->overflowing[i], &src->overflowing[i])) return false;
    }
    return true;
}

typedef struct batch_impl {
    int nthreads;
    tok_arena *arenas; /* one per thread: the results */
} batch_impl;

typedef struct batch_job {
    const lp_tokenizer *tok;
    const lp_tok_text *inputs, *pairs;
    const lp_tok_options *opts;
    lp_tok_encoding *encs;
    batch_impl *impl;
    size_t n;
    size_t next; /* shared counter */
    pthread_mutex_t lock;
    lp_status status;
    lp_error err;
} batch_job;

typedef struct batch_thread {
    batch_job *job;
    int index;
} batch_thread;

/* Each thread takes inputs one at a time, encodes them with its own
 * workspace and copies the result into its own result arena. */
static void *batch_worker(void *arg) {
    batch_thread *bt = arg;
    batch_job *j = bt->job;
    tok_arena *results = &j->impl->arenas[bt->index];
    lp_tok_workspace *ws = lp_tok_workspace_create();
    lp_tok_options single = *j->opts;
    single.padding.enabled = false;
    const lp_tok_padding *p = &j->opts->padding;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next++;
        bool stop = j->status != LP_OK;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->n || stop) break;
        lp_error e = {0};
        lp_status st;
        lp_tok_encoding enc;
        if (!ws) {
            st = lp_fail(&e, LP_ERR_NOMEM, "out of memory");
        } else {
            st = lp_tok_encode(j->tok, ws, j->inputs[i].text, j->inputs[i].len,
                               j->pairs ? j->pairs[i].text : NULL, j->pairs ? j->pairs[i].len : 0,
                               &single, &enc, &e);
            /* HF pads each encoding on its own first (batch-longest: to its own
             * length, the multiple still applies), then the whole batch. */
            if (st == LP_OK && p->enabled && !tok_enc_pad(&ws->arena, &enc, pad_target(p, enc.n), p))
                st = lp_fail(&e, LP_ERR_NOMEM, "out of memory");
            if (st == LP_OK && !copy_enc(results, &j->encs[i], &enc))
                st = lp_fail(&e, LP_ERR_NOMEM, "out of memory");
        }
        if (st) {
            pthread_mutex_lock(&j->lock);
            if (j->status == LP_OK) {
                j->status = st;
                j->err = e;
                lp_fail(&j->err, st, "input %zu", i);
            }
            pthread_mutex_unlock(&j->lock);
        }
    }
    lp_tok_workspace_destroy(ws);
    return NULL;
}

void lp_tok_batch_free(lp_tok_batch *b) {
    if (!b) return;
    batch_impl *impl = b->impl;
    if (impl) {
        for (int i = 0; i < impl->nthreads; i++) ta_free(&impl->arenas[i]);
        free(impl->arenas);
        free(impl);
    }
    free(b->encodings);
    memset(b, 0, sizeof *b);
}

lp_status lp_tok_encode_batch(const lp_tokenizer *tok, const lp_tok_text *inputs,
                              const lp_tok_text *pairs, size_t n, const lp_tok_options *opts,
                              int nthreads, lp_tok_batch *out, lp_error *err) {
    memset(out, 0, sizeof *out);
    if (!tok || (n && !inputs))
        return lp_fail(err, LP_ERR_INVALID_ARG, "lp_tok_encode_batch: NULL argument");
    lp_tok_options o = opts ? *opts : tok->defaults;
    if (nthreads < 1) nthreads = 1;
    if (nthreads > 64) nthreads = 64;
    if ((size_t)nthreads > n) nthreads = n ? (int)n : 1;
    batch_impl *impl = calloc(1, sizeof *impl);
    lp_tok_encoding *encs = calloc(n ? n : 1, sizeof *encs);
    tok_arena *arenas = calloc((size_t)nthreads, sizeof *arenas);
    if (!impl || !encs || !arenas) {
        free(impl);
        free(encs);
        free(arenas);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    impl->nthreads = nthreads;
    impl->arenas = arenas;
    out->impl = impl;
    out->encodings = encs;
    out->n = n;
    batch_job j = {tok, inputs, pairs, &o, encs, impl, n, 0, PTHREAD_MUTEX_INITIALIZER, LP_OK, {0}};
    batch_thread bt[64];
    pthread_t th[64];
    int started = 0;
    for (int t = 0; t < nthreads; t++) bt[t] = (batch_thread){&j, t};
    for (int t = 1; t < nthreads; t++)
        if (pthread_create(&th[started], NULL, batch_worker, &bt[t]) == 0) started++;
    batch_worker(&bt[0]);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    pthread_mutex_destroy(&j.lock);
    if (j.status) {
        if (err) *err = j.err;
        lp_tok_batch_free(out);
        return j.status;
    }
    if (o.padding.enabled) {
        size_t longest = 0;
        for (size_t i = 0; i < n; i++)
            if (encs[i].n > longest) longest = encs[i].n;
        size_t target = pad_target(&o.padding, longest);
        for (size_t i = 0; i < n; i++)
            if (!tok_enc_pad(&arenas[0], &encs[i], target, &o.padding)) {
                lp_tok_batch_free(out);
                return lp_fail(err, LP_ERR_NOMEM, "out of memory");
            }
    }
    return LP_OK;
}
