/* The translation API (translator.h): a Marian model and its tokenizer loaded
 * once, sessions that hold a worker's context, arena and tokenizer workspace,
 * and the text path: validate, split long texts into sentences, encode,
 * translate in length-sorted batches, decode, join. */
#include "models/translator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/backend_memory.h"
#include "models/marian.h"
#include "pretrained/safetensors.h"

struct lp_translator {
    lp_marian_model *model;
    lp_marian_tok *tok;
};

struct lp_translator_session {
    const lp_translator *tr;
    const lp_marian_model *model; /* tr->model, or view on a device backend */
    lp_marian_model *view;        /* device weights (lp_marian_for_backend); NULL on the CPU */
    lp_ctx ctx;
    lp_arena *arena;              /* activations, in the backend's memory */
    lp_tok_workspace *ws;
    int max_batch;
};

lp_status lp_translator_load(const char *dir, lp_translator **out, lp_error *err) {
    *out = NULL;
    lp_error_clear(err);
    if (!dir) return lp_fail(err, LP_ERR_INVALID_ARG, "translator: no model directory given");
    lp_translator *tr = calloc(1, sizeof *tr);
    if (!tr) return lp_fail(err, LP_ERR_NOMEM, "out of memory loading %s", dir);
    lp_status st = lp_marian_load(dir, &tr->model, err);
    if (!st) st = lp_marian_tok_load(dir, &tr->tok, err);
    if (!st && (int64_t)lp_marian_tok_vocab_size(tr->tok) > tr->model->cfg.vocab_size)
        st = lp_fail(err, LP_ERR_FORMAT, "%s: vocab.json has %zu ids but the model only %lld", dir,
                     lp_marian_tok_vocab_size(tr->tok), (long long)tr->model->cfg.vocab_size);
    if (st) {
        lp_translator_free(tr);
        return st;
    }
    *out = tr;
    return LP_OK;
}

void lp_translator_free(lp_translator *tr) {
    if (!tr) return;
    lp_marian_free(tr->model);
    lp_marian_tok_free(tr->tok);
    free(tr);
}

lp_translate_options lp_translator_default_options(const lp_translator *tr) {
    const lp_marian_config *c = &tr->model->cfg;
    lp_translate_options o = {.num_beams = c->num_beams, .max_length = c->max_length, .max_new_tokens = 0,
                              .length_penalty = c->length_penalty, .early_stopping = c->early_stopping,
                              .split_over_tokens = 0};
    return o;
}

int64_t lp_translator_vocab_size(const lp_translator *tr) { return tr->model->cfg.vocab_size; }
int64_t lp_translator_max_source_tokens(const lp_translator *tr) { return tr->model->cfg.max_positions; }

lp_status lp_translator_session_create(const lp_translator *tr, lp_threadpool *pool, int max_batch,
                                       lp_translator_session **out, lp_error *err) {
    return lp_translator_session_create_on(tr, lp_backend_cpu(), pool, max_batch, out, err);
}

lp_status lp_translator_session_create_on(const lp_translator *tr, const lp_backend *backend,
                                          lp_threadpool *pool, int max_batch, lp_translator_session **out,
                                          lp_error *err) {
    *out = NULL;
    lp_translator_session *s = calloc(1, sizeof *s);
    if (!s) return lp_fail(err, LP_ERR_NOMEM, "out of memory creating a translator session");
    s->tr = tr;
    s->model = tr->model;
    s->max_batch = max_batch > 0 ? max_batch : 16;
    lp_status st = lp_ctx_init(&s->ctx, backend, pool, err);
    if (st) {
        free(s);
        return st;
    }
    if ((st = lp_marian_for_backend(tr->model, s->ctx.backend, &s->view, err))) {
        lp_translator_session_free(s);
        return st;
    }
    if (s->view) s->model = s->view;
    s->arena = lp_backend_arena_create(s->ctx.backend, (size_t)1 << 20);
    s->ws = lp_tok_workspace_create();
    if (!s->arena || !s->ws) {
        lp_translator_session_free(s);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory creating a translator session");
    }
    *out = s;
    return LP_OK;
}

void lp_translator_session_free(lp_translator_session *s) {
    if (!s) return;
    lp_arena_destroy(s->arena);
    lp_marian_free_view(s->view);
    lp_ctx_release(&s->ctx);
    lp_tok_workspace_destroy(s->ws);
    free(s);
}

lp_status lp_translator_encode(const lp_translator *tr, const char *text, size_t len, int32_t **ids, size_t *n,
                               lp_error *err) {
    *ids = NULL;
    *n = 0;
    if (len && !text) return lp_fail(err, LP_ERR_INVALID_ARG, "encode: text is NULL");
    if (!lp_st_utf8_valid(text ? text : "", len))
        return lp_fail(err, LP_ERR_INVALID_ARG, "the text is not valid UTF-8; send UTF-8 text");
    lp_tok_workspace *ws = lp_tok_workspace_create();
    if (!ws) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    lp_status st = lp_marian_tok_encode(tr->tok, ws, text ? text : "", len, ids, n, err);
    lp_tok_workspace_destroy(ws);
    return st;
}

lp_status lp_translator_decode(const lp_translator *tr, const int32_t *ids, size_t n, char **text, size_t *text_len,
                               lp_error *err) {
    return lp_marian_tok_decode(tr->tok, ids, n, text, text_len, err);
}

void lp_translations_free(lp_translation *r, size_t n) {
    if (!r) return;
    for (size_t i = 0; i < n; i++) {
        free(r[i].text);
        free(r[i].ids);
        memset(&r[i], 0, sizeof r[i]);
    }
}

/* ---- options ----------------------------------------------------------- */

static lp_status resolve(const lp_translator *tr, const lp_translate_options *in, lp_marian_gen_options *o,
                         lp_error *err) {
    lp_translate_options d = in ? *in : lp_translator_default_options(tr);
    int64_t P = tr->model->cfg.max_positions;
    if (d.num_beams < 1 || d.num_beams > 64)
        return lp_fail(err, LP_ERR_INVALID_ARG, "num_beams = %d; use 1 .. 64", d.num_beams);
    int max_len = d.max_length;
    if (d.max_new_tokens > 0) {
        if (d.max_new_tokens > P)
            return lp_fail(err, LP_ERR_INVALID_ARG, "max_new_tokens = %d; this model can generate at most %lld",
                           d.max_new_tokens, (long long)P);
        max_len = d.max_new_tokens + 1;
    }
    if (max_len < 2 || max_len > P + 1)
        return lp_fail(err, LP_ERR_INVALID_ARG, "max_length = %d; use 2 .. %lld (the model's positions + 1)", max_len,
                       (long long)P + 1);
    if (!isfinite(d.length_penalty) || fabsf(d.length_penalty) > 100)
        return lp_fail(err, LP_ERR_INVALID_ARG, "length_penalty must be a finite number in -100 .. 100");
    *o = (lp_marian_gen_options){.num_beams = d.num_beams, .max_length = max_len,
                                 .length_penalty = d.length_penalty, .early_stopping = d.early_stopping};
    return LP_OK;
}

/* ---- the batch of sources ------------------------------------------------ */

typedef struct piece {
    size_t text;   /* index of the input it belongs to */
    int32_t *ids;  /* source ids (owned) */
    size_t n;
    lp_marian_hyp out;
} piece;

typedef struct pieces {
    piece *v;
    size_t n, cap;
} pieces;

static void pieces_free(pieces *p) {
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].ids);
        free(p->v[i].out.ids);
    }
    free(p->v);
}

static lp_status pieces_add(pieces *p, size_t text, int32_t *ids, size_t n, lp_error *err) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        piece *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            free(ids);
            return lp_fail(err, LP_ERR_NOMEM, "out of memory");
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (piece){.text = text, .ids = ids, .n = n};
    return LP_OK;
}

/* Runs every piece through generate in length-sorted groups of max_batch. */
static lp_status translate_pieces(lp_translator_session *s, pieces *p, const lp_marian_gen_options *o,
                                  lp_error *err) {
    size_t n = p->n;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    const int32_t **src = malloc((n ? n : 1) * sizeof *src);
    size_t *lens = malloc((n ? n : 1) * sizeof *lens);
    lp_marian_hyp *hyps = malloc((n ? n : 1) * sizeof *hyps);
    lp_status st = LP_OK;
    if (!order || !src || !lens || !hyps) st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < n; i++) {
        size_t v = i, j = i;
        while (j > 0 && p->v[order[j - 1]].n < p->v[v].n) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    for (size_t b = 0; !st && b < n; b += (size_t)s->max_batch) {
        size_t k = n - b < (size_t)s->max_batch ? n - b : (size_t)s->max_batch;
        for (size_t i = 0; i < k; i++) {
            src[i] = p->v[order[b + i]].ids;
            lens[i] = p->v[order[b + i]].n;
        }
        st = lp_marian_generate(s->model, &s->ctx, s->arena, src, lens, k, o, hyps, err);
        lp_arena_reset(s->arena);
        for (size_t i = 0; !st && i < k; i++) p->v[order[b + i]].out = hyps[i];
    }
    free(order);
    free(src);
    free(lens);
    free(hyps);
    return st;
}

static bool is_ascii_alnum_end(const char *s, size_t n) {
    return n && (unsigned char)s[n - 1] < 0x80;
}

/* Fills out[t] from the pieces of text t, in order. */
static lp_status assemble(lp_translator_session *s, pieces *p, size_t ntexts, lp_translation *out, lp_error *err) {
    for (size_t i = 0; i < p->n; i++) {
        piece *pc = &p->v[i];
        lp_translation *r = &out[pc->text];
        char *t = NULL;
        size_t tl = 0;
        lp_status st = lp_marian_tok_decode(s->tr->tok, pc->out.ids, pc->out.n, &t, &tl, err);
        if (st) return st;
        size_t sep = r->text_len && tl && (is_ascii_alnum_end(r->text, r->text_len) || (unsigned char)t[0] < 0x80);
        char *nt = realloc(r->text, r->text_len + sep + tl + 1);
        int32_t *ni = realloc(r->ids, (r->n_ids + pc->out.n + 1) * sizeof *ni);
        if (ni) r->ids = ni;
        if (nt) r->text = nt;
        if (!nt || !ni) {
            free(t);
            return lp_fail(err, LP_ERR_NOMEM, "out of memory");
        }
        if (sep) r->text[r->text_len++] = ' ';
        memcpy(r->text + r->text_len, t, tl);
        r->text_len += tl;
        r->text[r->text_len] = '\0';
        free(t);
        memcpy(r->ids + r->n_ids, pc->out.ids, pc->out.n * sizeof *ni);
        r->n_ids += pc->out.n;
        r->score += pc->out.score;
        r->pieces++;
        r->hit_max_length |= pc->out.hit_max_length;
    }
    for (size_t i = 0; i < ntexts; i++)
        if (!out[i].text) {
            out[i].text = calloc(1, 1);
            if (!out[i].text) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
        }
    return LP_OK;
}

lp_status lp_translate_ids(lp_translator_session *s, const lp_translate_ids_input *in, size_t n,
                           const lp_translate_options *opts, lp_translation *out, lp_error *err) {
    lp_error_clear(err);
    memset(out, 0, n * sizeof *out);
    lp_marian_gen_options o;
    lp_status st = resolve(s->tr, opts, &o, err);
    if (st) return st;
    pieces p = {0};
    for (size_t i = 0; !st && i < n; i++) {
        if (!in[i].ids || in[i].len < 1 || (int64_t)in[i].len > s->tr->model->cfg.max_positions) {
            st = lp_fail(err, LP_ERR_INVALID_ARG, "input %zu has %zu tokens; the model takes 1 .. %lld", i, in[i].len,
                         (long long)s->tr->model->cfg.max_positions);
            break;
        }
        int32_t *c = malloc(in[i].len * sizeof *c);
        if (!c) {
            st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(c, in[i].ids, in[i].len * sizeof *c);
        st = pieces_add(&p, i, c, in[i].len, err);
    }
    if (!st) st = translate_pieces(s, &p, &o, err);
    if (!st) st = assemble(s, &p, n, out, err);
    pieces_free(&p);
    if (st) lp_translations_free(out, n);
    return st;
}

/* ---- text ---------------------------------------------------------------- */

static bool all_space(const char *t, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(t[i] == ' ' || (t[i] >= 9 && t[i] <= 13))) return false;
    return true;
}

/* Length of the sentence starting at t (separators and closing quotes kept):
 * Chinese 。！？； end a sentence anywhere, English . ! ? when followed by
 * whitespace (or the end). */
static size_t sentence_len(const char *t, size_t n) {
    static const char *const zh[] = {"。", "！", "？", "；"};
    static const char *const close[] = {"”", "’", "」", "』", "）", "\"", "'", ")"};
    for (size_t i = 0; i < n;) {
        size_t end = 0;
        for (int k = 0; k < 4; k++)
            if (i + 3 <= n && !memcmp(t + i, zh[k], 3)) end = i + 3;
        if (!end && (t[i] == '.' || t[i] == '!' || t[i] == '?')) {
            size_t j = i + 1;
            while (j < n && (t[j] == '.' || t[j] == '!' || t[j] == '?')) j++;
            size_t q = j;
            for (bool more = true; more;) {
                more = false;
                for (int k = 0; k < 8; k++) {
                    size_t cl = strlen(close[k]);
                    if (q + cl <= n && !memcmp(t + q, close[k], cl)) {
                        q += cl;
                        more = true;
                    }
                }
            }
            if (q == n || t[q] == ' ' || t[q] == '\n' || t[q] == '\t') end = q;
            else i = j - 1;
        }
        if (end) {
            for (bool more = true; more;) {
                more = false;
                for (int k = 0; k < 8; k++) {
                    size_t cl = strlen(close[k]);
                    if (end + cl <= n && !memcmp(t + end, close[k], cl)) {
                        end += cl;
                        more = true;
                    }
                }
            }
            return end;
        }
        i++;
    }
    return n;
}

lp_status lp_translator_check_text(const lp_translator *tr, const char *text, size_t len, lp_error *err) {
    if (len && !text) return lp_fail(err, LP_ERR_INVALID_ARG, "the text is NULL");
    if (len > LP_TRANSLATE_MAX_TEXT_BYTES)
        return lp_fail(err, LP_ERR_INVALID_ARG, "the text has %zu bytes; split it into parts of at most %zu", len,
                       LP_TRANSLATE_MAX_TEXT_BYTES);
    if (!lp_st_utf8_valid(text ? text : "", len))
        return lp_fail(err, LP_ERR_INVALID_ARG, "the text is not valid UTF-8; send UTF-8 text");
    (void)tr;
    return LP_OK;
}

/* Encodes text t (whole, or split into sentences when it is too long) into p. */
static lp_status add_text(lp_translator_session *s, size_t index, const char *t, size_t n, int split_over,
                          pieces *p, lp_error *err) {
    const lp_translator *tr = s->tr;
    int64_t P = tr->model->cfg.max_positions;
    int32_t *ids = NULL;
    size_t m = 0;
    lp_status st = lp_marian_tok_encode(tr->tok, s->ws, t, n, &ids, &m, err);
    if (st) return st;
    if ((int64_t)m <= (split_over > 0 ? split_over : P)) return pieces_add(p, index, ids, m, err);
    free(ids);
    for (size_t i = 0; i < n;) {
        while (i < n && (t[i] == ' ' || t[i] == '\n' || t[i] == '\t' || t[i] == '\r')) i++;
        if (i == n) break;
        size_t l = sentence_len(t + i, n - i);
        if ((st = lp_marian_tok_encode(tr->tok, s->ws, t + i, l, &ids, &m, err))) return st;
        if ((int64_t)m > P) {
            free(ids);
            return lp_fail(err, LP_ERR_INVALID_ARG,
                           "input %zu: a sentence of %zu tokens is longer than the model's %lld positions; split "
                           "it into shorter sentences",
                           index, m, (long long)P);
        }
        if ((st = pieces_add(p, index, ids, m, err))) return st;
        i += l;
    }
    return LP_OK;
}

lp_status lp_translate_texts(lp_translator_session *s, const lp_translate_text *texts, size_t n,
                             const lp_translate_options *opts, lp_translation *out, lp_error *err) {
    lp_error_clear(err);
    memset(out, 0, n * sizeof *out);
    lp_marian_gen_options o;
    lp_status st = resolve(s->tr, opts, &o, err);
    if (st) return st;
    int split_over = opts ? opts->split_over_tokens : 0;
    pieces p = {0};
    for (size_t i = 0; !st && i < n; i++) {
        if ((st = lp_translator_check_text(s->tr, texts[i].text, texts[i].len, err))) {
            lp_fail(err, st, "input %zu", i);
            break;
        }
        if (all_space(texts[i].text, texts[i].len)) continue;
        st = add_text(s, i, texts[i].text, texts[i].len, split_over, &p, err);
    }
    if (!st) st = translate_pieces(s, &p, &o, err);
    if (!st) st = assemble(s, &p, n, out, err);
    pieces_free(&p);
    if (st) lp_translations_free(out, n);
    return st;
}
