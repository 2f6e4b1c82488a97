/* Encoder tasks on token ids: length-sorted groups, padding, forward, head or
 * pooling, results scattered back to input order (see encoder.h). */
#include "models/encoder_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/backend_memory.h"
#include "kernels/linear_plan.h"

lp_status lp_encoder_load(const char *dir, lp_encoder **out, lp_error *err) {
    *out = NULL;
    lp_error_clear(err);
    lp_encoder *enc = calloc(1, sizeof *enc);
    if (!enc) return lp_fail(err, LP_ERR_NOMEM, "out of memory loading %s", dir);
    lp_status st = lp_bert_load(dir, &enc->model, err);
    if (!st)
        st = lp_pooling_load(dir, lp_bert_get_config(enc->model)->hidden_size, &enc->pooling, err);
    if (!st) st = lp_encoder_load_tokenizer(enc, dir, err);
    if (st) {
        lp_encoder_free(enc);
        return st;
    }
    *out = enc;
    return LP_OK;
}

void lp_encoder_free(lp_encoder *enc) {
    if (!enc) return;
    lp_tok_free(enc->tok);
    lp_bert_free(enc->model);
    free(enc);
}

const lp_bert_config *lp_encoder_config(const lp_encoder *enc) { return lp_bert_get_config(enc->model); }
const lp_bert_model *lp_encoder_model(const lp_encoder *enc) { return enc->model; }
const lp_pooling *lp_encoder_pooling(const lp_encoder *enc) { return &enc->pooling; }

bool lp_encoder_can_classify(const lp_encoder *enc) {
    return lp_encoder_config(enc)->kind.head == LP_HEAD_SEQ_CLS;
}

int64_t lp_encoder_num_labels(const lp_encoder *enc) { return lp_encoder_config(enc)->num_labels; }

const char *lp_encoder_label(const lp_encoder *enc, int64_t index) {
    const lp_bert_config *c = lp_encoder_config(enc);
    return index >= 0 && index < c->num_labels ? c->id2label[index] : NULL;
}

int64_t lp_encoder_embedding_dim(const lp_encoder *enc) {
    return lp_pooling_dim(&enc->pooling, lp_encoder_config(enc)->hidden_size);
}

int64_t lp_encoder_max_tokens(const lp_encoder *enc) {
    int64_t m = lp_bert_max_tokens(lp_encoder_config(enc));
    int64_t st = enc->pooling.max_seq_length;
    return st > 0 && st < m ? st : m;
}

lp_status lp_encoder_session_create(const lp_encoder *enc, lp_threadpool *pool, int max_batch,
                                    lp_encoder_session **out, lp_error *err) {
    return lp_encoder_session_create_on(enc, NULL, pool, max_batch, out, err);
}

lp_status lp_encoder_session_create_on(const lp_encoder *enc, const lp_backend *backend,
                                       lp_threadpool *pool, int max_batch,
                                       lp_encoder_session **out, lp_error *err) {
    *out = NULL;
    lp_encoder_session *s = calloc(1, sizeof *s);
    if (!s) return lp_fail(err, LP_ERR_NOMEM, "out of memory creating an encoder session");
    s->enc = enc;
    s->model = enc->model;
    s->max_batch = max_batch > 0 ? max_batch : 32;
    lp_status st = lp_ctx_init(&s->ctx, backend ? backend : lp_backend_cpu(), pool, err);
    if (st) {
        free(s);
        return st;
    }
    if ((st = lp_bert_for_backend(enc->model, s->ctx.backend, &s->view, err))) {
        lp_encoder_session_free(s);
        return st;
    }
    if (s->view) s->model = s->view;
    s->arena = lp_backend_arena_create(s->ctx.backend, (size_t)1 << 20);
    s->host = lp_backend_on_host(s->ctx.backend) ? s->arena : lp_arena_create((size_t)1 << 16);
    if (!s->arena || !s->host) {
        lp_encoder_session_free(s);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory creating an encoder session");
    }
    *out = s;
    return LP_OK;
}

lp_status lp_encoder_session_warm(lp_encoder_session *s, lp_error *err) {
    int64_t rows = lp_linear_plan_rows((int64_t)s->max_batch * lp_encoder_max_tokens(s->enc));
    return lp_bert_warm(s->model, &s->ctx, rows, err);
}

void lp_encoder_session_free(lp_encoder_session *s) {
    if (!s) return;
    lp_encoder_text_release(s);
    if (s->host != s->arena) lp_arena_destroy(s->host);
    lp_arena_destroy(s->arena);
    lp_bert_free_view(s->view);
    lp_ctx_release(&s->ctx);
    free(s->order);
    free(s);
}

lp_ctx *lp_encoder_session_ctx(lp_encoder_session *s) { return &s->ctx; }

size_t lp_encoder_session_system_allocs(const lp_encoder_session *s) {
    return lp_arena_system_allocs(s->arena);
}

static lp_status check_inputs(const lp_encoder *enc, const lp_encoder_input *in, size_t n,
                              lp_error *err) {
    int64_t max = lp_encoder_max_tokens(enc);
    for (size_t i = 0; i < n; i++) {
        if (!in[i].ids || in[i].len < 1)
            return lp_fail(err, LP_ERR_INVALID_ARG, "encoder: input %zu has no tokens", i);
        if (in[i].len > max)
            return lp_fail(err, LP_ERR_INVALID_ARG,
                           "encoder: input %zu has %lld tokens; this model takes at most %lld "
                           "(truncate it)",
                           i, (long long)in[i].len, (long long)max);
    }
    return LP_OK;
}

/* Longest first, ties in input order (deterministic). Insertion sort: qsort's
 * comparator takes no context and a global would race between sessions;
 * batches are tens to hundreds of inputs. */
static void sort_by_length(const lp_encoder_input *in, size_t *order, size_t n) {
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = 1; i < n; i++) {
        size_t v = order[i], j = i;
        while (j > 0) {
            size_t u = order[j - 1];
            bool after = in[u].len < in[v].len || (in[u].len == in[v].len && u > v);
            if (!after) break;
            order[j] = u;
            j--;
        }
        order[j] = v;
    }
}

/* How many of the sorted inputs from `start` go in one pass: max_batch. The
 * forward pass computes real tokens only (models/bert_packed.c), so padding
 * costs no FLOPs and one large pass runs the GEMMs best. */
static size_t group_size(size_t start, size_t n, int max_batch) {
    size_t left = n - start;
    return left < (size_t)max_batch ? left : (size_t)max_batch;
}

typedef enum task { TASK_CLASSIFY, TASK_EMBED } task;

/* What host code reads of a result: its own data on a host backend, a copy
 * in the host arena from a device. */
static lp_status host_copy(lp_encoder_session *s, const lp_tensor *t, const float **out, lp_error *err) {
    *out = t->data;
    if (lp_backend_on_host(s->ctx.backend)) return LP_OK;
    float *h = lp_arena_alloc(s->host, lp_tensor_nbytes(t));
    if (!h) return lp_fail(err, LP_ERR_NOMEM, "encoder: out of host memory for a result");
    *out = h;
    return lp_backend_download(s->ctx.backend, t, h, err);
}

static lp_status run_group(lp_encoder_session *s, const lp_encoder_input *in, const size_t *idx,
                           size_t count, task t, float *out, lp_error *err) {
    const lp_encoder *enc = s->enc;
    int64_t S = in[idx[0]].len, B = (int64_t)count;
    const lp_bert_config *c = lp_encoder_config(enc);
    size_t cells = (size_t)(B * S);
    int32_t *ids = lp_arena_alloc(s->host, cells * sizeof *ids);
    int32_t *types = lp_arena_alloc(s->host, cells * sizeof *types);
    uint8_t *mask = lp_arena_alloc(s->host, cells);
    if (!ids || !types || !mask) return lp_fail(err, LP_ERR_NOMEM, "encoder: out of memory");
    bool any_types = false;
    for (int64_t b = 0; b < B; b++) {
        const lp_encoder_input *x = &in[idx[b]];
        for (int64_t p = 0; p < S; p++) {
            bool real = p < x->len;
            ids[b * S + p] = real ? x->ids[p] : (int32_t)c->pad_token_id;
            types[b * S + p] = real && x->type_ids ? x->type_ids[p] : 0;
            mask[b * S + p] = real;
        }
        any_types |= x->type_ids != NULL;
    }
    lp_bert_batch batch = {B, S, ids, any_types ? types : NULL, mask};
    lp_tensor hidden;
    lp_status st = lp_bert_forward(s->model, &s->ctx, s->arena, &batch, &hidden, err);
    if (st) return st;
    if (t == TASK_CLASSIFY) {
        lp_tensor logits;
        const float *lg;
        if ((st = lp_bert_classify(s->model, &s->ctx, s->arena, &hidden, &logits, err)) ||
            (st = host_copy(s, &logits, &lg, err)))
            return st;
        int64_t L = c->num_labels;
        for (int64_t b = 0; b < B; b++)
            memcpy(out + idx[b] * (size_t)L, lg + b * L, (size_t)L * sizeof *out);
        return LP_OK;
    }
    int64_t D = lp_encoder_embedding_dim(enc);
    float *pooled = lp_arena_alloc(s->host, (size_t)(B * D) * sizeof *pooled);
    if (!pooled) return lp_fail(err, LP_ERR_NOMEM, "encoder: out of memory");
    /* pooling reads the hidden state on the host */
    const float *h;
    if ((st = host_copy(s, &hidden, &h, err))) return st;
    lp_tensor hh = lp_tensor_3d((void *)h, LP_F32, hidden.shape[0], hidden.shape[1], hidden.shape[2]);
    if ((st = lp_pooling_apply(&enc->pooling, &hh, mask, pooled, err))) return st;
    for (int64_t b = 0; b < B; b++)
        memcpy(out + idx[b] * (size_t)D, pooled + b * D, (size_t)D * sizeof *out);
    return LP_OK;
}

static lp_status run(lp_encoder_session *s, const lp_encoder_input *in, size_t n, task t, float *out,
                     lp_error *err) {
    lp_error_clear(err);
    if (n == 0) return LP_OK;
    if (!in || !out) return lp_fail(err, LP_ERR_INVALID_ARG, "encoder: inputs or output is NULL");
    lp_status st = check_inputs(s->enc, in, n, err);
    if (st) return st;
    if (n > s->order_cap) {
        size_t *o = realloc(s->order, n * sizeof *o);
        if (!o) return lp_fail(err, LP_ERR_NOMEM, "encoder: out of memory");
        s->order = o;
        s->order_cap = n;
    }
    sort_by_length(in, s->order, n);
    for (size_t start = 0; start < n;) {
        size_t k = group_size(start, n, s->max_batch);
        st = run_group(s, in, s->order + start, k, t, out, err);
        lp_arena_reset(s->arena);
        if (s->host != s->arena) lp_arena_reset(s->host);
        if (st) return st;
        start += k;
    }
    return LP_OK;
}

lp_status lp_encoder_classify_ids(lp_encoder_session *s, const lp_encoder_input *inputs, size_t n,
                                  float *logits, lp_error *err) {
    if (!lp_encoder_can_classify(s->enc))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "this model (%s) has no classification head; use embeddings",
                       lp_encoder_config(s->enc)->kind.architecture);
    return run(s, inputs, n, TASK_CLASSIFY, logits, err);
}

lp_status lp_encoder_embed_ids(lp_encoder_session *s, const lp_encoder_input *inputs, size_t n,
                               float *embeddings, lp_error *err) {
    return run(s, inputs, n, TASK_EMBED, embeddings, err);
}

int64_t lp_encoder_scores(const lp_encoder *enc, const float *logits, float *scores) {
    const lp_bert_config *c = lp_encoder_config(enc);
    int64_t L = c->num_labels, top = 0;
    for (int64_t i = 1; i < L; i++)
        if (logits[i] > logits[top]) top = i;
    if (c->regression) {
        for (int64_t i = 0; i < L; i++) scores[i] = logits[i];
    } else if (c->multi_label) {
        for (int64_t i = 0; i < L; i++) scores[i] = (float)(1.0 / (1.0 + exp(-(double)logits[i])));
    } else {
        double sum = 0;
        for (int64_t i = 0; i < L; i++) sum += exp((double)logits[i] - logits[top]);
        for (int64_t i = 0; i < L; i++) scores[i] = (float)(exp((double)logits[i] - logits[top]) / sum);
    }
    return top;
}
